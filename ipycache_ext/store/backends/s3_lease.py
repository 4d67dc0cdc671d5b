"""The compute lease on an S3 store: a small object ``locks/<key>`` holding its holder's
token and expiry, created with ``If-None-Match: *`` so one kernel of a team wins, and
taken over with ``If-Match`` once it no longer holds, so of two kernels taking it over
one wins.

A lease holds while its holder is not a dead process of this host, its claimed expiry
is ahead, and this kernel first saw this version of it less than one lifetime ago:
whatever expiry it claims (a planted lease, a kernel whose clock runs ahead), it costs
one lifetime at most, and a live holder renews it, which makes a new version.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ... import messages, notify
from ...config import SETTINGS
from .holders import holder_is_dead
from .s3_bound import LOCKS
from .s3_errors import fault, no_bucket, refuses_conditional_puts

T = TypeVar("T")
_SEEN_KEPT = 4096  # leases remembered for when this kernel first saw them


class S3Lease:
    """The lease methods of :class:`.s3.S3Backend` (kept apart: the backend's module
    holds the entries)."""

    _obs: Any
    _store: Any
    where: str
    _no_conditional_put: bool
    # Lease -> (its version, when this kernel first saw that version, monotonic).
    _seen: dict[str, tuple[str, float]]
    # Leases this kernel holds -> (token, when it last wrote them, monotonic).
    _mine: dict[str, tuple[str, float]]

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def _request(self, work: Callable[[], T]) -> T:
        """``work()`` within the call's deadline (:meth:`.s3.S3Backend._request`)."""
        raise NotImplementedError

    def _read_lock(self, key: str) -> tuple[str, float, str | None] | None:
        """(token, expiry, etag) of the lease object, or None if there is none."""

        def read() -> tuple[Any, bytes]:
            found = self._obs.get(self._store, LOCKS + key)
            return found, bytes(found.bytes())

        try:
            found, body = self._request(read)
            record = json.loads(body)
        except FileNotFoundError as exc:
            no_bucket(exc)
            return None
        except ValueError:
            return ("", 0.0, None)  # unreadable: treat as expired
        return str(record["token"]), float(record["expires"]), found.meta["e_tag"]

    def _lock_body(self, token: str, lease: float) -> bytes:
        return json.dumps({"token": token, "expires": time.time() + lease}).encode()

    def _honoured(self, key: str, token: str, expires: float, version: str) -> bool:
        """Whether the lease read on ``key`` still holds: its holder is not a dead
        process of this host, its claimed expiry is ahead, and this kernel first saw
        this version of it less than one lease lifetime ago (a planted lease, or one
        written by a kernel whose clock runs ahead, then costs one lifetime at most;
        a live holder renews it, which makes a new version)."""
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is None or seen[0] != version:
            if len(self._seen) >= _SEEN_KEPT:
                self._seen.pop(next(iter(self._seen)))
            seen = self._seen[key] = (version, now)
        if holder_is_dead(token):
            return False
        return expires > time.time() and now - seen[1] < SETTINGS.lease_seconds

    def try_lock(self, key: str, token: str, lease: float) -> bool:
        """Create the lease object only if there is none (``If-None-Match: *``); take
        over one that no longer holds (:meth:`_honoured`) only if it is unchanged
        since read (``If-Match``), so of two kernels taking it over one wins."""
        if self._no_conditional_put:
            return True
        errors = self._obs.exceptions
        body = self._lock_body(token, lease)
        try:
            self._request(lambda: self._obs.put(self._store, LOCKS + key, body, mode="create"))
            self._mine[key] = (token, time.monotonic())
            return True
        except errors.AlreadyExistsError:
            pass
        except (errors.NotSupportedError, NotImplementedError) as exc:
            return self._without_conditional_put(exc)
        except Exception as exc:
            if refuses_conditional_puts(exc):
                return self._without_conditional_put(exc)
            raise fault(exc) from None
        try:
            held = self._read_lock(key)
            if held is None:  # released meanwhile: try again next round
                return False
            holder, expires, etag = held
            if self._honoured(key, holder, expires, etag or f"{holder}|{expires}"):
                return False
            if etag is None:
                self.delete(LOCKS + key)
                return False
            self._request(
                lambda: self._obs.put(self._store, LOCKS + key, body, mode={"e_tag": etag})
            )
            self._mine[key] = (token, time.monotonic())
            return True
        except (errors.PreconditionError, errors.AlreadyExistsError):
            return False  # another kernel took it over first
        except Exception as exc:
            raise fault(exc) from None

    def break_stale(self, key: str, lease: float) -> bool:
        """Nothing to break apart from :meth:`try_lock`: it takes over a lease that no
        longer holds (a dead holder's at once) in one conditional put, which a
        delete here could not do safely (it might delete a lease taken over
        meanwhile).  :meth:`holder` names no holder for such a lease."""
        return False

    def _without_conditional_put(self, exc: BaseException) -> bool:
        """The server refuses conditional puts: no lease at all from now on, said once."""
        self._no_conditional_put = True
        notify.emit(messages.s3_no_conditional_put_note(self.where))
        return True

    def renew(self, key: str, token: str, lease: float) -> None:
        held = self._read_lock(key)
        if held is not None and held[0] == token:
            mode: Any = {"e_tag": held[2]} if held[2] else "overwrite"
            body = self._lock_body(token, lease)
            with contextlib.suppress(self._obs.exceptions.PreconditionError):
                self._request(lambda: self._obs.put(self._store, LOCKS + key, body, mode=mode))
                self._mine[key] = (token, time.monotonic())

    def holder(self, key: str) -> str | None:
        """The token of the lease on ``key`` while it holds (:meth:`_honoured`)."""
        held = self._read_lock(key)
        if held is None:
            return None
        holder, expires, etag = held
        honoured = self._honoured(key, holder, expires, etag or f"{holder}|{expires}")
        return holder if honoured else None

    def unlock(self, key: str, token: str) -> None:
        """Delete this kernel's lease.  Written by it less than half a lifetime ago, it
        is still its own (only a kernel whose clock runs that far ahead would have
        taken it over): deleted without reading it first, one request fewer for
        every miss."""
        mine = self._mine.pop(key, None)
        fresh = mine is not None and time.monotonic() - mine[1] < SETTINGS.lease_seconds / 2
        if mine is not None and mine[0] == token and fresh:
            self.delete(LOCKS + key)
            return
        held = self._read_lock(key)
        if held is not None and held[0] == token:
            self.delete(LOCKS + key)
