"""Artifacts: files a run uploads (``Run.log_artifact``) and downloads of them
(``ApiRun.artifacts``, ``ApiRun.download_artifacts``, ``kiroku artifacts``).

- ``files``: which files a path means, their names, sha256 and part ranges.
- ``storage``: PUTs to storage URLs, which never see the token.
- ``upload``: the background queue and workers of a run's uploads.
- ``multipart``: the parts of one multipart upload, in parallel.
- ``download``: listing, and downloading into a folder from an untrusted server.
"""
