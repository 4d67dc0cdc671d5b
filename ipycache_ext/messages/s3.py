"""Texts of the S3 object store and of the tiered store."""

from __future__ import annotations

import re

from .base import Note, warning_note


def s3_request_error(kind: str, detail: str) -> str:
    """A failed S3 request in one line: the client's own text spans a screen (the
    request, the retries, the response body), so keep its first line and the S3
    error code."""
    first = detail.strip().splitlines()[0] if detail.strip() else kind
    first = re.sub(r"Server returned non-2xx status code: ", "", first)[:200]
    code = re.search(r"<Code>([^<]+)</Code>", detail)
    return f"{kind}: {first}" + (f" [{code.group(1)}]" if code else "")


def s3_out_of_time(seconds: float) -> str:
    """A call's requests to the store took all the time one call may wait on it."""
    return (
        f"the server took {seconds:g} s over this call's requests (3 x store_timeout, the "
        "most one call waits on the store) without finishing them"
    )


def s3_no_conditional_put_note(where: str) -> Note:
    return warning_note(
        f"the object store at {where} does not support conditional writes (If-None-Match), "
        "so kernels sharing it cannot take a lease: two kernels that miss the same entry at "
        "the same moment may both compute it (the results are the same; one is stored). "
        "Fix: none needed for correctness; to compute each entry once, use a server with "
        "conditional writes (AWS S3, MinIO, recent Ceph)."
    )


__all__ = ["s3_request_error", "s3_out_of_time", "s3_no_conditional_put_note"]


def shared_store_down_warning(far: str, near: str, detail: str, seconds: float) -> Note:
    """The far store of a ``near|far`` store failed: the near one goes on alone."""
    return warning_note(
        f"the shared store at {far} failed ({detail}). New results are kept in {near} and "
        f"in memory; the shared store is left alone for {seconds:g} s, then tried again. "
        "Fix: check that the server is up and reachable from here "
        "(MemoMagics.s3_endpoint, the bucket's credentials)."
    )


__all__ += ["shared_store_down_warning"]
