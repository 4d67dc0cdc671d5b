"""The secret key that signs persisted entries: the team's shared secret if one is
set, else this user's key file, created 0600 on first use.

Anyone who can read (or write) the key can forge entries that unpickle as code, so a
key that is short, readable by others or owned by another user is refused, and one
that cannot be read is named with its fix.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from ..config import SETTINGS, from_env

MIN_KEY_BYTES = 32  # a shorter key can be guessed; an empty one signs for anyone


def key_file() -> str:
    import platformdirs

    return os.environ.get("IPYCACHE_KEY_FILE") or os.path.join(
        platformdirs.user_config_dir("ipycache_ext"), "secret.key"
    )


class UnsafeKey(Exception):
    """A secret key that must not sign entries; ``path`` is the key file ("" for the
    team secret), ``problem`` one of "short", "readable", "owner"."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path, self.problem = path, problem


def team_secret() -> str | None:
    """The team's shared secret (setting, else ``$IPYCACHE_SECRET``), if one is set."""
    return SETTINGS.secret_key or from_env("secret_key")


def secret_key() -> bytes:
    """The team key if configured, else this user's key file (created 0600 on first use).

    :class:`UnsafeKey` for an empty team secret, and for a key file that is shorter
    than :data:`MIN_KEY_BYTES`, readable by others or owned by another user: anyone
    who can read (or write) the key can forge entries that unpickle as code.
    """
    shared = team_secret()
    if shared is not None:
        if not shared.strip():
            raise UnsafeKey("", "short")
        return shared.encode()
    path = key_file()
    try:
        try:
            return _read_key_file(path)
        except FileNotFoundError:
            pass
        _create_key_file(path)
        return _read_key_file(path)
    except OSError as exc:
        raise UnreadableKey(path, exc) from exc


class UnreadableKey(Exception):
    """A key file that cannot be read or made (a directory, a symlink, no permission):
    ``path`` names it, ``reason`` is the system's word for what is wrong, so the
    warning names the file and its fix, not only the store that then failed."""

    def __init__(self, path: str, exc: OSError) -> None:
        super().__init__(path, exc)
        self.path = path
        self.reason = exc.strerror or type(exc).__name__


def _read_key_file(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        found = os.fstat(fh.fileno())
        if hasattr(os, "geteuid") and found.st_uid != os.geteuid():
            raise UnsafeKey(path, "owner")
        if found.st_mode & 0o077:
            raise UnsafeKey(path, "readable")
        key = fh.read().strip()
    if len(key) < MIN_KEY_BYTES:
        raise UnsafeKey(path, "short")
    return key


def _create_key_file(path: str) -> None:
    """Write a new random key beside ``path`` and link it into place: a kernel starting
    at the same moment sees the whole key or no file, never an empty one, and the
    first link wins for every kernel."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_hex(32).encode())
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
