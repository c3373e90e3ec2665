"""Slack: Block Kit messages posted with ``chat.postMessage`` (``notifier.SlackNotifier``).

Bot scopes: ``chat:write`` (post), ``channels:history`` / ``groups:history`` (find an
earlier attempt's message before posting again), ``users:read.email`` (mention users
by their Slack account; optional), ``files:write`` (comparison chart; optional).
"""
