"""What a code object says about itself, independent of any values: its digest
(bytecode, constants, names and signature shape; not lines, comments or file) and the
names and attribute chains it reads.  Computed once per code object.
"""

from __future__ import annotations

import dis
import threading
import types
from dataclasses import dataclass

import xxhash

from ..hashing.core import DEFAULT
from .imports import ImportRead, import_reads

_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})


@dataclass(frozen=True)
class CodeFacts:
    """What a code object says about itself, independent of any values."""

    digest: bytes
    bare: tuple[str, ...]
    chains: tuple[tuple[str, ...], ...]
    imports: tuple[ImportRead, ...] = ()  # reads through names its own imports bind


_facts_cache: dict[int, tuple[types.CodeType, CodeFacts]] = {}
_facts_lock = threading.Lock()


def _scan_reads(code: types.CodeType, bare: dict[str, None], chains: dict[tuple, None]) -> None:
    chain: list[str] = []

    def close() -> None:
        if not chain:
            return
        if len(chain) == 1:
            bare[chain[0]] = None
        else:
            chains[tuple(chain)] = None
        chain.clear()

    for ins in dis.get_instructions(code):
        if ins.opname in _GLOBAL_OPS:
            close()
            chain.append(ins.argval)
        elif ins.opname in _ATTR_OPS and chain:
            chain.append(ins.argval)
        else:
            close()
    close()
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _scan_reads(const, bare, chains)


def _code_digest(code: types.CodeType) -> bytes:
    """Bytecode, constants, names and signature shape; not lines, comments or file."""
    h = xxhash.xxh3_128()
    h.update(code.co_code)
    h.update(getattr(code, "co_exceptiontable", b""))
    h.update(
        repr(
            (
                code.co_name,
                code.co_argcount,
                code.co_posonlyargcount,
                code.co_kwonlyargcount,
                code.co_flags,
                code.co_names,
                code.co_varnames,
                code.co_freevars,
                code.co_cellvars,
            )
        ).encode()
    )
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            h.update(_code_digest(const))
        else:
            h.update(DEFAULT.digest(const))
    return h.digest()


def facts_of(code: types.CodeType) -> CodeFacts:
    """The cached :class:`CodeFacts` of ``code``."""
    hit = _facts_cache.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    bare: dict[str, None] = {}
    chains: dict[tuple, None] = {}
    _scan_reads(code, bare, chains)
    facts = CodeFacts(
        _code_digest(code),
        tuple(bare),
        tuple(c for c in chains if c[0] not in bare),
        import_reads(code),
    )
    with _facts_lock:
        _facts_cache[id(code)] = (code, facts)
    return facts
