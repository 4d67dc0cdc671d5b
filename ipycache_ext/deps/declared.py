"""Files the user declares (``depends_on``, ``%%memo --files``) for readers Python's
``open`` does not see.  Which code calls such readers, for the hint a miss gives, is
:mod:`.native`'s."""

from __future__ import annotations

import glob
import os

from .files import first_sight
from .recording import current


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
    recorders = current()  # a thread the miss started reads for it too
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


__all__ = ["depends_on"]
