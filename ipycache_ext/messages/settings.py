"""Errors of the kernel-wide settings (``%config MemoMagics.<name>``, a profile's
``c.MemoMagics.<name>``, or ``ipycache_ext.config.SETTINGS``): a bad value is one line
saying what is accepted."""

from __future__ import annotations

from .base import Note, warning_note


def unknown_store_error(location: str, scheme: str, supported: tuple[str, ...]) -> str:
    urls = ", ".join(f"{name}://" for name in supported)
    return (
        f"MemoMagics.store {location!r}: no store is served over {scheme}://. The "
        f"supported URLs are {urls}; anything else is a directory. Fix: use a "
        "directory (~/cache, C:\\cache), redis://host:port/db, s3://bucket/prefix, or "
        "dir|s3://bucket/prefix (a local copy in front of a team store)."
    )


def unknown_store_warning(location: str, scheme: str, supported: tuple[str, ...]) -> Note:
    """The same, met when the store opens (set in Python or in the environment): results
    are still returned and kept in memory."""
    return warning_note(
        "the persistent cache is not used: results are returned and kept in memory only. "
        + unknown_store_error(location, scheme, supported)
    )


# Each setting's help, as ``%config MemoMagics`` shows it (``config.py`` declares the
# settings and names them here; the environment variables are added from there).
NOTES_HELP = "Show the cache miss/hit notes in cell output (warnings always show)."
SPINNER_DELAY_HELP = "Seconds a cache miss runs before the cell shows what is running."
PERSIST_HELP = "Write every @memo/%%memo entry to the persistent store by default."
STORE_HELP = (
    "Persistent store: a directory, redis://host:port/db, s3://bucket/prefix, or "
    "dir|s3://... (a local read-through cache of a team store). Empty: {env}, else the "
    "user cache directory."
)
MAX_DISK_BYTES_HELP = "Size bound of a directory store or an S3 prefix (least recently used out)."
SECRET_KEY_HELP = (
    "Shared key that signs persisted entries (a team store). Empty: {env}, else a per-user key."
)
LEASE_SECONDS_HELP = "Seconds a compute lease holds before another kernel may take it over."
S3_ENDPOINT_HELP = (
    "Endpoint of a non-AWS S3 server (http allowed on 127.0.0.1). Empty: {env}, ~/.aws, else AWS."
)
STORE_TIMEOUT_HELP = "Seconds a remote (Redis, S3) store may stay silent in a call."
STORE_RETRY_SECONDS_HELP = "Seconds a failed remote store is skipped (memory or dir| only)."
USER_PATHS_HELP = (
    "Folders besides the working directory whose code is yours (traversed, so editing "
    "it makes results miss), e.g. a src/ next to the notebooks (also {env})."
)
TRACK_FILES_HELP = (
    "Files a cached function or cell reads (and directories it lists) join its key: a "
    "changed file is a miss naming it."
)
MAX_MEMORY_HELP = (
    'Memory all cached results may hold together: bytes (1000000000), a size ("1GB", '
    '"512 MiB"), or a share of RAM ("25%"); "" for no bound. Least recently used out, '
    "results of earlier code first; a result bigger than this is returned but not kept."
)


def setting_help(text: str, env: tuple[str, ...]) -> str:
    """A setting's help naming the environment variables it is read from (at
    ``{env}``), so the help and the code that reads them cannot name different ones."""
    return text.replace("{env}", ", ".join(f"${name}" for name in env))


__all__ = [
    "unknown_store_error",
    "unknown_store_warning",
    "setting_help",
    "NOTES_HELP",
    "SPINNER_DELAY_HELP",
    "PERSIST_HELP",
    "STORE_HELP",
    "MAX_DISK_BYTES_HELP",
    "SECRET_KEY_HELP",
    "LEASE_SECONDS_HELP",
    "S3_ENDPOINT_HELP",
    "STORE_TIMEOUT_HELP",
    "STORE_RETRY_SECONDS_HELP",
    "USER_PATHS_HELP",
    "TRACK_FILES_HELP",
    "MAX_MEMORY_HELP",
]
