"""The byte encoding fed to xxh3: struct packers and the tags of every structured form.

Both hashing paths and the atom helpers write these bytes, and persisted keys depend on
them, so they are spelled once here: a tag changed in one copy and not in another
would make equal values hash differently depending on the path they took.  The tags
of single scalars live with their encoders in :data:`.atoms.ATOMS`.
"""

from __future__ import annotations

import struct

import xxhash

xxh = xxhash.xxh3_128
xxh_digest = xxhash.xxh3_128_digest

pack_q = struct.Struct("<q").pack  # a signed int64: an int atom, a cycle's depth
pack_d = struct.Struct("<d").pack  # a float atom
pack_len = struct.Struct("<Q").pack  # the length of a container

# Containers (walk path, and flat lists of atoms in :mod:`.atoms`): tag + pack_len(n).
LIST = b"L"
TUPLE = b"U"
DICT = b"D"
# Exact sets by the sorted digests of their items; subclasses as REDUCED + name + SUBSET.
SET = b"S"
FROZENSET = b"Z"
SUBSET = b"\0S"
# Any other object: REDUCED + type name + NUL, then what ``__reduce_ex__`` gives, or
# GLOBAL + the name it reduces to.
REDUCED = b"R"
GLOBAL = b"g"
# A reference back up the walk's path (a cycle): REF + pack_q(distance).
REF = b"@"
# Lists of exact ints (int64 buffer) and of exact floats (NaNs made canonical).
INT64S = b"Q"
FLOATS = b"W"
# A value replaced by a hash_funcs entry: USER + entry label + digest of the replacement.
USER = b"user:"
MEMORYVIEW = b"mv"
# An in-memory file (io.BytesIO, io.StringIO): tag + type + position + content.
MEMORY_FILE = b"mf"
# A read-only view of a mapping (types.MappingProxyType): tag + digest of its dict.
MAPPING_PROXY = b"mp"
# A dict's keys(), values() or items(): tag + which + digest of its items, in order.
DICT_VIEW = b"dv"
# A C attribute of a class (a getset descriptor): tag + its class + name.
DESCRIPTOR = b"ds"
# A key component given by its digest rather than its atom encoding.
PART_DIGEST = b"#"
