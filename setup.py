"""The one compiled part of the package, ``ipycache_ext.deps._audit`` (``csrc/audit.c``); the
rest of the build is declared in pyproject.toml.

The extension is optional: where no C compiler or no Python headers are found, the build
warns and goes on, and the package installs the same audit hook written in Python, which
costs each ``open()`` in the process a few per cent more (deps/usercode.py).  Free-threaded
Pythons get the Python hook too: the C hook relies on the GIL to read its settings.
"""

import sysconfig

from setuptools import Extension, setup

AUDIT = Extension("ipycache_ext.deps._audit", ["csrc/audit.c"], optional=True)

setup(ext_modules=[] if sysconfig.get_config_var("Py_GIL_DISABLED") else [AUDIT])
