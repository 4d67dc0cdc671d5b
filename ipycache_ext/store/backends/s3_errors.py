"""A failed S3 request as this store reports it: short, and told apart by kind (a
missing bucket from a missing object, a server without conditional puts from any
other refusal)."""

from __future__ import annotations

import re

from ... import messages
from .deadline import Spent


class S3Fault(OSError):
    """A failed S3 request, worded short: obstore's own errors carry the whole request
    and response, far too long for a warning."""


def fault(exc: BaseException) -> S3Fault:
    if isinstance(exc, S3Fault):
        return exc
    if isinstance(exc, Spent):
        return S3Fault(messages.s3_out_of_time(exc.seconds))
    return S3Fault(messages.s3_request_error(type(exc).__name__, str(exc)))


# A server's answer that it has no conditional puts: the status, not any "501" in the
# error's text (its request id or its timing, "in 501.2ms", may hold one).
_NOT_IMPLEMENTED = re.compile(r"status(?: code)?:? 501\b|\b501 Not Implemented|NotImplemented")


def refuses_conditional_puts(exc: BaseException) -> bool:
    """True if a failed conditional put says the server does not implement them."""
    return bool(_NOT_IMPLEMENTED.search(str(exc)))


def no_bucket(exc: FileNotFoundError) -> None:
    """A missing bucket is a fault, not a missing object (both are a 404)."""
    if "NoSuchBucket" in str(exc):
        raise fault(exc) from None
