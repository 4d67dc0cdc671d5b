"""pyarrow Datasets, keyed by the files they read; those they cannot be are refused.

A ``pyarrow.dataset.Dataset`` holds no data: it is a list of files and how to read
them, read only when scanned.  A dataset on the local disk is hashed as its format,
schema, partitioning expression and each file's path, size and modification time, so
an edited file gives another key; the same files are recorded as the miss's reads
(:mod:`ipycache_ext.deps.pathlike`), so an edit with the same size and time is still
seen by the hit's check.  A dataset held in memory is hashed as its table.  A dataset
on another filesystem (S3, GCS, HDFS), or of another kind, is refused like a polars
``LazyFrame``: the fix is to read it first (``.to_table()``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import xxhash

from ..errors import UnhashableTypeError
from .handlers import register
from .wire import pack_len

if TYPE_CHECKING:
    from .core import Hasher

_MODULES = ("pyarrow._dataset", "pyarrow.parquet.core", "pyarrow.parquet")
_KINDS = frozenset({"FileSystemDataset", "InMemoryDataset", "UnionDataset", "ParquetDataset"})


def is_dataset(value: Any) -> bool:
    tp = type(value)
    return tp.__module__ in _MODULES and tp.__name__ in _KINDS


def local_files(value: Any) -> tuple[str, ...] | None:
    """The files a dataset on the local disk reads, sorted; None for one that is not
    on the local disk or not a file dataset."""
    inner = getattr(value, "_dataset", value)  # a pyarrow.parquet.ParquetDataset
    if type(inner).__name__ != "FileSystemDataset":
        return None
    if type(inner.filesystem).__name__ != "LocalFileSystem":
        return None
    return tuple(sorted(os.path.abspath(path) for path in inner.files))


def digest_dataset(value: Any, hasher: Hasher) -> bytes:
    inner = getattr(value, "_dataset", value)
    kind = type(inner).__name__
    if kind == "InMemoryDataset":
        return xxhash.xxh3_128_digest(b"pa.InMemoryDataset|" + hasher.digest(inner.to_table()))
    if kind == "UnionDataset":
        h = xxhash.xxh3_128(b"pa.UnionDataset|")
        for child in inner.children:
            h.update(digest_dataset(child, hasher))
        return h.digest()
    files = local_files(inner)
    if files is None:
        name = f"{type(value).__module__.split('.')[0]}.{type(value).__qualname__}"
        raise UnhashableTypeError(type_name=name, collect_first=True)
    h = xxhash.xxh3_128(b"pa.FileSystemDataset|" + type(inner.format).__name__.encode())
    h.update(inner.schema.serialize().to_pybytes())
    h.update(str(inner.partition_expression).encode())
    for path in files:
        try:
            found = os.stat(path)
            size, mtime = found.st_size, found.st_mtime_ns
        except OSError:
            size, mtime = -1, 0
        encoded = path.encode("utf-8", "surrogateescape")
        h.update(pack_len(len(encoded)) + encoded + size.to_bytes(8, "little", signed=True))
        h.update(mtime.to_bytes(8, "little", signed=True))
    return h.digest()


register(is_dataset, digest_dataset, root="pyarrow")
