"""The audit actions Kiroku knows. Registering the same name twice is an error.

Each action has a stable dotted name (what the API filters on) and a human
template rendered with the event's labels.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditAction:
    name: str
    template: str


_ACTIONS: dict[str, AuditAction] = {}


def register(name: str, template: str) -> AuditAction:
    if name in _ACTIONS:
        raise ValueError(f"audit action {name!r} is registered twice")
    action = AuditAction(name, template)
    _ACTIONS[name] = action
    return action


def get(name: str) -> AuditAction:
    try:
        return _ACTIONS[name]
    except KeyError:
        raise KeyError(
            f"audit action {name!r} is not registered; add it in apps/audit/registry.py"
        ) from None


def names() -> list[str]:
    return sorted(_ACTIONS)


PROJECT_CREATE = register("project.create", "{actor} created project {target}")
PROJECT_UPDATE = register("project.update", "{actor} updated project {target}")
PROJECT_DELETE = register("project.delete", "{actor} deleted project {target}")
PROJECT_RESTORE = register("project.restore", "{actor} restored project {target}")
PROJECT_PURGE = register("project.purge", "{actor} purged deleted project {target}")
MEMBER_ADD = register("member.add", "{actor} added {target} to the project")
MEMBER_ROLE_CHANGE = register("member.role_change", "{actor} changed the role of {target}")
MEMBER_REMOVE = register("member.remove", "{actor} removed {target} from the project")
TOKEN_CREATE = register("token.create", "{actor} created token {target}")
TOKEN_REVOKE = register("token.revoke", "{actor} revoked token {target}")
RUN_CREATE = register("run.create", "{actor} created run {target}")
RUN_UPDATE = register("run.update", "{actor} edited run {target}")
RUN_FINISH = register("run.finish", "{actor} ended run {target}")
RUN_CI_REPORT = register("run.ci_report", "{actor} reported CI results for run {target}")
RUN_RESUME = register("run.resume", "{actor} resumed run {target}")
RUN_CRASH = register("run.crash", "{actor} marked run {target} as crashed")
RUN_DELETE = register("run.delete", "{actor} deleted run {target}")
RUN_RESTORE = register("run.restore", "{actor} restored run {target}")
RUN_PURGE = register("run.purge", "{actor} purged deleted run {target}")
ARTIFACT_CREATE = register("artifact.create", "{actor} started uploading artifact {target}")
ARTIFACT_COMPLETE = register("artifact.complete", "{actor} uploaded artifact {target}")
ARTIFACT_DOWNLOAD = register("artifact.download", "{actor} downloaded artifact {target}")
ARTIFACT_DELETE = register("artifact.delete", "{actor} deleted artifact {target}")
# Comments and share links (apps/collab)
COMMENT_CREATE = register("comment.create", "{actor} commented on {target}")
COMMENT_EDIT = register("comment.edit", "{actor} edited a comment on {target}")
COMMENT_DELETE = register("comment.delete", "{actor} deleted a comment on {target}")
SHARE_LINK_CREATE = register("share_link.create", "{actor} shared {target} by link")
SHARE_LINK_REVOKE = register("share_link.revoke", "{actor} revoked a share link of {target}")
SHARE_LINK_ACCESS = register("share_link.access", "someone opened a share link of {target}")
SETTINGS_SHARING = register("settings.sharing", "{actor} changed link sharing of the project")
# Team accounts: invitations by email (apps/projects/invitations.py)
INVITE_CREATE = register("invite.create", "{actor} invited {target}")
INVITE_REVOKE = register("invite.revoke", "{actor} revoked the invitation of {target}")
INVITE_ACCEPT = register("invite.accept", "{actor} accepted the invitation sent to {target}")

# A project's settings (name, description, baseline...) changed.
# project.update stays registered for the events recorded under it before.
SETTINGS_UPDATE = register("settings.update", "{actor} edited the settings of project {target}")

# Saved comparisons (apps/collab): a member saved a comparison of runs.
COMPARISON_CREATE = register("comparison.create", "{actor} saved comparison {target}")

# Notifications (apps/notifications): where messages go (destinations, whose
# credentials are never in the metadata) and when (rules).
DESTINATION_CREATE = register("destination.create", "{actor} connected destination {target}")
DESTINATION_UPDATE = register("destination.update", "{actor} edited destination {target}")
DESTINATION_DELETE = register("destination.delete", "{actor} removed destination {target}")
DESTINATION_TEST = register(
    "destination.test", "{actor} sent a test message to destination {target}"
)
RULE_CREATE = register("rule.create", "{actor} added notification rule {target}")
RULE_UPDATE = register("rule.update", "{actor} edited notification rule {target}")
RULE_DELETE = register("rule.delete", "{actor} removed notification rule {target}")

# Service tokens act only through their role: whether a project's service tokens
# keep working after their creator leaves it.
SETTINGS_SERVICE_TOKENS = register(
    "settings.service_tokens",
    "{actor} changed whether service tokens outlive their creator in project {target}",
)

# The model registry (apps/registry): models, versions, aliases, promotion requests.
MODEL_CREATE = register("model.create", "{actor} registered model {target}")
MODEL_UPDATE = register("model.update", "{actor} edited model {target}")
MODEL_DELETE = register("model.delete", "{actor} deleted model {target}")
MODEL_VERSION_CREATE = register("model.version_create", "{actor} registered {target}")
MODEL_VERSION_UPDATE = register("model.version_update", "{actor} edited {target}")
MODEL_VERSION_ARCHIVE = register("model.version_archive", "{actor} archived {target}")
MODEL_VERSION_RESTORE = register("model.version_restore", "{actor} unarchived {target}")
MODEL_DOWNLOAD = register("model.download", "{actor} downloaded the files of {target}")
MODEL_ALIAS_MOVE = register("model.alias_move", "{actor} moved alias {target}")
MODEL_ALIAS_DELETE = register("model.alias_delete", "{actor} removed alias {target}")
MODEL_ALIAS_PROTECT = register(
    "model.alias_protect", "{actor} changed the protection of alias {target}"
)
MODEL_PROMOTION_REQUEST = register("model.promotion_request", "{actor} asked to promote {target}")
MODEL_PROMOTION_DECIDE = register(
    "model.promotion_decide", "{actor} decided on the promotion request {target}"
)
