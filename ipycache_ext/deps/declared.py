"""Files the user declares (``depends_on``, ``%%memo --files``) for readers Python's
``open`` does not see, and the names of those native readers, for the hint a miss
gives when it saw no file read."""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Iterable
from types import CodeType

from .files import first_sight, recording


def depends_on(*patterns: str | os.PathLike[str]) -> None:
    """Declare files the running cached code depends on, for readers Python's ``open``
    does not see (pyarrow's and polars' native readers, HDF5, a database file).

    Call it inside a ``@memo`` function or a ``%%memo`` cell: each pattern is a path
    or a glob (``"data/*.parquet"``, ``**`` allowed).  The matching files join the
    entry's key, and so does the listing of the directories a glob looked in (a new
    matching file is a change).  A pattern that matches nothing is kept (its creation
    is a change) and said in a warning when the entry is stored.  Outside a miss it
    does nothing.
    """
    recorders = recording()
    if not recorders:
        return
    for pattern in patterns:
        text = os.fsdecode(os.fspath(pattern))
        # A glob's own listings are recorded by the hook: a new match is a change.
        paths = glob.glob(text, recursive=True) if glob.has_magic(text) else [text]
        relative = not os.path.isabs(text)
        if not paths or not os.path.lexists(paths[0]):
            for recorder in recorders:
                recorder.unmatched.append(text)
        for found in paths:
            path = os.path.abspath(found)
            is_dir = os.path.isdir(path)
            seen = first_sight(path, is_dir)
            for recorder in recorders:
                recorder.note_read(path, is_dir, seen, relative)


# Readers that open files natively (C++, Rust, C), out of the audit hook's sight:
# pyarrow, polars, pandas' parquet/feather/orc/HDF5 paths, h5py, netCDF, OpenCV, the
# databases.  Names as the code spells them (``pq.read_table``, ``pl.scan_csv``).
NATIVE_READERS = frozenset(
    {
        "read_parquet",
        "scan_parquet",
        "read_table",
        "read_feather",
        "read_ipc",
        "scan_ipc",
        "read_orc",
        "read_hdf",
        "read_delta",
        "scan_delta",
        "read_avro",
        "read_csv",
        "scan_csv",
        "read_ndjson",
        "scan_ndjson",
        "read_excel",
        "read_database",
        "read_sql",
        "open_dataset",
        "open_mfdataset",
        "imread",
        "File",
        "connect",
        "dataset",
    }
)


def unseen_readers(names: Iterable[str]) -> tuple[str, ...]:
    """Which of the names a miss's code uses are native file readers (sorted)."""
    return tuple(sorted(NATIVE_READERS.intersection(names)))


def code_names(functions: Iterable[object]) -> set[str]:
    """Every global and attribute name the code of ``functions`` uses, nested code
    (comprehensions, inner functions) included."""
    names: set[str] = set()
    for fn in functions:
        code = getattr(fn, "__code__", None)
        if isinstance(code, CodeType):
            names |= _names_in(code)
    return names


@functools.lru_cache(maxsize=4096)
def _names_in(code: CodeType) -> frozenset[str]:
    """The names ``code`` and the code nested in it use (once per code object: a miss
    of a function that read no file asks again)."""
    names: set[str] = set()
    stack = [code]
    while stack:
        found = stack.pop()
        names.update(found.co_names)
        stack.extend(c for c in found.co_consts if isinstance(c, CodeType))
    return frozenset(names)


__all__ = ["depends_on", "NATIVE_READERS", "unseen_readers", "code_names"]
