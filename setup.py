"""The compiled parts of the package; the rest of the build is declared in pyproject.toml.

- ``ipycache_ext.deps._audit`` (``csrc/audit.c``): the audit hook that sees the files a
  miss reads;
- ``ipycache_ext.hashing._numbers`` (``csrc/numbers.c``): the pickle stream of a long list,
  tuple or dict of numbers, which is what such a value's digest hashes.

Both are optional: where no C compiler or no Python headers are found, the build warns and
goes on, and the package does the same work in Python, with the same results (the same
digests): each ``open()`` in the process costs a few per cent more (deps/usercode.py), and
hashing a list of a million numbers takes as long as ``pickle.dumps`` (hashing/numbers.py).
Free-threaded Pythons get the Python paths too: the C code relies on the GIL.
"""

import sysconfig

from setuptools import Extension, setup

COMPILED = [
    Extension("ipycache_ext.deps._audit", ["csrc/audit.c"], optional=True),
    Extension("ipycache_ext.hashing._numbers", ["csrc/numbers.c"], optional=True),
]

setup(ext_modules=[] if sysconfig.get_config_var("Py_GIL_DISABLED") else COMPILED)
