"""Misses running at once in several threads: each is told about its own output only,
and the streams are exactly the original ones once they are all done."""

from __future__ import annotations

import sys
import threading

from conftest import Notes, Tally

from ipycache_ext import memo

# The runs wait on each other through these; they are not part of what is computed.
SYNC = {threading.Event: lambda e: b"", threading.Barrier: lambda b: b""}


def test_a_silent_function_beside_a_printing_one_gets_no_output_warning(
    notes: Notes, tally: Tally
) -> None:
    both_running = threading.Barrier(2, timeout=10)
    printed = threading.Event()

    @memo(hash_funcs=SYNC)
    def loud(x: int) -> int:
        tally(("loud", x))
        both_running.wait()
        print("loud output")
        printed.set()
        return x

    @memo(hash_funcs=SYNC)
    def quiet(x: int) -> int:
        tally(("quiet", x))
        both_running.wait()
        assert printed.wait(10)  # the other thread printed while this one ran
        return x

    out, err = sys.stdout, sys.stderr
    threads = [threading.Thread(target=f, args=(1,)) for f in (loud, quiet)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tally) == 2
    warned = notes.texts("warning")
    assert len(warned) == 1 and "loud" in warned[0] and "quiet" not in warned[0]
    assert sys.stdout is out and sys.stderr is err


def test_misses_ending_out_of_order_leave_the_original_streams(notes: Notes) -> None:
    first_in = threading.Event()
    second_in = threading.Event()
    second_may_end = threading.Event()

    @memo(hash_funcs=SYNC)
    def first() -> int:
        first_in.set()
        assert second_in.wait(10)  # both run now
        return 1

    @memo(hash_funcs=SYNC)
    def second() -> int:
        assert first_in.wait(10)
        second_in.set()
        assert second_may_end.wait(10)
        return 2

    out, err = sys.stdout, sys.stderr
    a = threading.Thread(target=first)
    b = threading.Thread(target=second)
    a.start()
    b.start()
    a.join()  # the first miss ends while the second, started after it, still runs
    second_may_end.set()
    b.join()
    assert sys.stdout is out and sys.stderr is err
    assert notes.texts("warning") == []


def test_nested_misses_both_see_the_inner_one_s_output(notes: Notes) -> None:
    @memo
    def inner() -> int:
        print("inner output")
        return 1

    @memo
    def outer() -> int:
        return inner() + 1

    out = sys.stdout
    assert outer() == 2
    warned = notes.texts("warning")
    assert len(warned) == 2 and sys.stdout is out
