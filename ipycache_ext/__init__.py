"""ipycache_ext: Streamlit's legacy ``@st.cache`` model for Jupyter/IPython.

``from ipycache_ext import memo`` works in plain Python; ``%load_ext ipycache_ext``
adds the magics and puts ``memo`` into the notebook's namespace.
"""

from __future__ import annotations

from typing import Any

from .deps.declared import depends_on
from .errors import MemoError, MemoOptionError, UnhashableTypeError, UserHashError
from .memo import CacheInfo, MemoizedFunction, memo

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    from .ipython.magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .ipython.magics import unload

    unload(ipython)


__all__ = [
    "CacheInfo",
    "MemoError",
    "MemoOptionError",
    "MemoizedFunction",
    "depends_on",
    "UnhashableTypeError",
    "UserHashError",
    "memo",
    "__version__",
    "load_ipython_extension",
    "unload_ipython_extension",
]
