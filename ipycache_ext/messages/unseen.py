"""What the key cannot see, said out loud: the note after a miss that used the network
or a subprocess, work handed to other processes, and the verdicts of ``verify`` and of
``verify_share``'s re-checks."""

from __future__ import annotations

import html

from ..parts import Channel, Touch
from .base import PREFIX, Note, make_note, warning_note

_FIX = {
    Channel.NETWORK: "pass a version or ETag of what it fetches as an argument, or set a ttl",
    Channel.SUBPROCESS: "pass what the command reads (a version, a file) as an argument, "
    "or set a ttl",
    Channel.ENVIRONMENT: "pass the variable's value as an argument",
    Channel.CLOCK: "pass the time as an argument, or set a ttl",
    Channel.RANDOMNESS: "pass a seed as an argument",
    Channel.NATIVE_READER: "declare its files with depends_on(...) (a cell: %%memo --files)",
}


def touch_text(touch: Touch) -> str:
    """``http.client.connect to 127.0.0.1:8000``, ``os.environ``, ``random``."""
    if touch.channel is Channel.SUBPROCESS and touch.detail:
        return f"{touch.via} running {touch.detail}"
    if touch.detail:
        return f"{touch.via} to {touch.detail}"
    return touch.via


def touches_text(touches: tuple[Touch, ...]) -> str:
    """``the network (http.client.connect to 127.0.0.1:8000), a subprocess (...)``."""
    return ", ".join(f"{t.channel.value} ({touch_text(t)})" for t in touches)


def _fixes(touches: tuple[Touch, ...], ttl_option: str) -> str:
    fixes = dict.fromkeys(_FIX[t.channel] for t in touches)
    return "; ".join(fixes).replace("a ttl", f"a ttl ({ttl_option})")


def _ttl_option(kind: str) -> str:
    return "%%memo --ttl SECONDS" if kind == "cell" else "@memo(ttl=SECONDS)"


def unseen_inputs_warning(what: str, touches: tuple[Touch, ...], kind: str) -> Note:
    """Once per function or cell: its run used inputs its key cannot see."""
    return warning_note(
        f"{what} used {touches_text(touches)}, which its key cannot see: a later call "
        "reuses this result even if that answer changes. Fix: "
        f"{_fixes(touches, _ttl_option(kind))}."
    )


def unseen_inputs_line(touches: tuple[Touch, ...]) -> str:
    """``%memo_info NAME``'s line under the heading: what the runs used unseen."""
    return f"the key cannot see: {touches_text(touches)}"


FRESH = "fresh: the stored result equals a new run"
STALE = "STALE: the stored result differs from a new run, and the key saw no change"


def verified_fresh_note(what: str) -> Note:
    text = f"[{PREFIX}] verified {what}: {FRESH}"
    body = f"<b>verified</b> <code>{html.escape(what)}</code>: {html.escape(FRESH)}"
    return make_note("hit", text, body, "#2e7d32")


def verified_stale_warning(what: str, suspects: tuple[Touch, ...], kind: str) -> Note:
    """A stale entry: what the run touched that the key does not cover, and the fix."""
    if suspects:
        cause = f" It used {touches_text(suspects)}. Fix: {_fixes(suspects, _ttl_option(kind))}."
    else:
        cause = (
            " It used nothing the hooks could see: a file read in C, a database or a "
            "service. Fix: declare the files with depends_on(...) (a cell: %%memo --files), "
            "or pass a version as an argument."
        )
    return warning_note(f"verified {what}: {STALE}; the new run's result replaces it.{cause}")


def nothing_to_verify_note(what: str) -> Note:
    text = f"[{PREFIX}] {what} has no stored result to verify: it would run (a miss)"
    body = f"<code>{html.escape(what)}</code> has no stored result to verify"
    return make_note("miss", text, body, "#8a6d00")


def verify_share_warning(what: str, suspects: tuple[Touch, ...], kind: str) -> Note:
    """A hit re-checked by ``verify_share`` gave a different result."""
    return verified_stale_warning(what, suspects, kind)


VERIFY_SHARE_HELP = (
    "Share of hits run again and compared with the stored result (0.02: one in 50; each "
    "costs a run): a differing one is replaced, with a warning. A development-time check."
)


def process_pool_hint(what: str, pools: tuple[str, ...]) -> Note:
    """Once per function or cell whose code hands work to other processes."""
    names = ", ".join(pools)
    return warning_note(
        f"{what} hands work to other processes ({names}); the files they read are not "
        "seen, so an edited file would not be a miss. Fix: declare them inside the "
        'cached code with ipycache_ext.depends_on("data/*.parquet") (a %%memo cell: '
        "--files PATTERN)."
    )


def verify_async_error(func: str) -> str:
    return (
        f"{func} is a coroutine function: verify runs sync functions and cells only. "
        f"Fix: compare await {func}.__memo_wrapped__(...) with a call of {func} yourself."
    )


__all__ = [
    "process_pool_hint",
    "VERIFY_SHARE_HELP",
    "verify_async_error",
    "touch_text",
    "touches_text",
    "unseen_inputs_warning",
    "unseen_inputs_line",
    "verified_fresh_note",
    "verified_stale_warning",
    "nothing_to_verify_note",
    "verify_share_warning",
]
