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

import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .facts import facts_of

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


__all__ = ["Unseen", "unseen_work", "NATIVE_MODULES", "PANDAS_NATIVE", "PROCESS_MODULES"]
