"""Code that reads files where no hook sees it: native readers and process pools.

pyarrow, polars, DuckDB, HDF5 and netCDF open files in C, C++ or Rust; work handed to
another process (``ProcessPoolExecutor``, ``multiprocessing.Pool``) reads there.  When
a miss calls into one of them, what it read may be missing from the key, and the miss
note says so once, with the fix (``depends_on``, ``--files``).  Which code calls into
them is found from what the code holds, not from a list of function names: a global,
closure value, argument or cell variable that is such a module, or a function, class
or object of one (``pl``, ``from duckdb import sql``, a DuckDB connection ``con``),
plus pandas' readers that hand the file to one (``pd.read_parquet``, ``pd.read_sql``).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from .. import messages, notify
from ..parts import FileState, Part, PartKind
from .facts import facts_of


class Hinted(Protocol):
    """Which hints an owner was given (the engine's counters): each is said once."""

    readers_hinted: bool
    pools_hinted: bool


# Parts whose value the code holds (not its code, options or defaults as a whole).
VALUE_KINDS = frozenset(
    {
        PartKind.ARGUMENT,
        PartKind.GLOBAL,
        PartKind.CLOSURE,
        PartKind.VARIABLE,
        PartKind.CLASS_ATTRIBUTE,
    }
)

# Module roots whose readers open files natively.
NATIVE_MODULES = frozenset(
    {
        "pyarrow",
        "polars",
        "duckdb",
        "h5py",
        "netCDF4",
        "tables",
        "fastparquet",
        "xarray",
        "zarr",
        "h5netcdf",
        "cv2",
        "deltalake",
        "lance",
    }
)
# pandas functions that read through one of them (or a database driver).
PANDAS_NATIVE = frozenset(
    {
        "read_parquet",
        "read_feather",
        "read_orc",
        "read_hdf",
        "read_sql",
        "read_sql_query",
        "read_sql_table",
    }
)
# Modules whose work runs in other processes, where no hook of this one sees a read.
PROCESS_MODULES = ("multiprocessing", "concurrent.futures.process", "loky", "joblib.parallel")


@dataclass(frozen=True)
class Unseen:
    """What a miss's code calls that reads out of sight, as the code spells it."""

    readers: tuple[str, ...] = ()  # native readers (``pl.scan_parquet``, ``con``)
    pools: tuple[str, ...] = ()  # process pools (``ProcessPoolExecutor``)


def _module_of(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        return getattr(value, "__module__", None) or ""
    return type(value).__module__ or ""


def _kind(value: Any) -> str:
    """ "reader", "pool" or "" for a value the code holds."""
    module = _module_of(value)
    if module.split(".", 1)[0].lstrip("_") in NATIVE_MODULES:  # ``_duckdb`` too
        return "reader"
    if module.startswith(PROCESS_MODULES):
        return "pool"
    return ""


def unseen_work(functions: Iterable[Any], named: Iterable[tuple[str, Any]]) -> Unseen:
    """What ``functions`` (their globals, closures and attribute chains) and the
    ``(name, value)`` pairs a key holds (arguments, a cell's variables) call out of
    the hook's sight."""
    readers: dict[str, None] = {}
    pools: dict[str, None] = {}

    def sort(name: str, value: Any) -> None:
        kind = _kind(value)
        if kind == "reader":
            readers[name] = None
        elif kind == "pool":
            pools[name] = None

    for name, value in named:
        sort(name, value)
    for fn in functions:
        code = getattr(fn, "__code__", None)
        if not isinstance(code, types.CodeType):
            continue
        namespace = getattr(fn, "__globals__", {})
        facts = facts_of(code)
        for name in facts.bare:
            if name in namespace:
                sort(name, namespace[name])
        for chain in facts.chains:
            root = namespace.get(chain[0])
            if root is None:
                continue
            dotted = ".".join(chain)
            if _module_of(root).split(".", 1)[0] == "pandas" and chain[1] in PANDAS_NATIVE:
                readers[dotted] = None
                continue
            kind = _kind(root)
            if kind == "reader":
                readers[dotted] = None
            elif kind == "pool" or _kind(getattr(root, chain[1], None)) == "pool":
                pools[dotted] = None
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                sort(name, cell.cell_contents)
            except ValueError:
                continue
    return Unseen(_spelled(readers), _spelled(pools))


def _spelled(names: dict[str, None]) -> tuple[str, ...]:
    """Sorted, a name left out when the code's use of it is listed (``con.sql``)."""
    return tuple(
        sorted(n for n in names if not any(o.startswith(n + ".") for o in names if o != n))
    )


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
        if isinstance(code, types.CodeType):
            names |= _names_in(code)
    return names


@functools.lru_cache(maxsize=4096)
def _names_in(code: types.CodeType) -> frozenset[str]:
    """The names ``code`` and the code nested in it use (once per code object: a miss
    of a function that read no file asks again)."""
    names: set[str] = set()
    stack = [code]
    while stack:
        found = stack.pop()
        names.update(found.co_names)
        stack.extend(c for c in found.co_consts if isinstance(c, types.CodeType))
    return frozenset(names)


def hint(
    label: str,
    parts: list[Part],
    uses: tuple[Iterable[tuple[str, Any]], Iterable[str]],
    read: tuple[FileState, ...],
    wrote: bool,
    stats: Hinted,
) -> tuple[str, ...]:
    """The native readers a miss's note names, once per function or cell, when the run
    recorded no file (they may have read one unseen); work handed to process pools is
    said once too, in a warning of its own.  ``uses``: a cell's ``(name, value)`` pairs
    and names beyond its key's parts."""
    values, names = uses
    functions = [part.value for part in parts if part.kind is PartKind.CODE]
    held = [
        (part.name, part.value)
        for part in parts
        if part.kind in VALUE_KINDS and (not part.by_name or part.value is not None)
    ]
    unseen = unseen_work(functions, [*held, *values])
    if unseen.pools and not stats.pools_hinted:
        stats.pools_hinted = True
        notify.emit(messages.process_pool_hint(label, unseen.pools))
    if stats.readers_hinted or wrote or any(s.exists and not s.is_dir for s in read):
        return ()  # a file was recorded (its own outputs count too)
    found = unseen.readers
    if not found:  # and the names a native reader is known by, in any module
        found = unseen_readers(code_names(functions) | set(names))
    stats.readers_hinted = bool(found)
    return found


__all__ = [
    "hint",
    "Unseen",
    "unseen_work",
    "unseen_readers",
    "code_names",
    "NATIVE_READERS",
    "NATIVE_MODULES",
    "PANDAS_NATIVE",
    "PROCESS_MODULES",
]
