"""Every user-visible note, warning and error text, so the wording stays consistent.

A :class:`Note` carries a text/plain form (always) and a compact HTML form (for
Jupyter).  How notes reach the user is :mod:`ipycache_ext.notify`'s business.  The
texts are grouped by subject in the modules of this package; everything is
importable from here (``messages.miss_note``).
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .disk import *  # noqa: F403
from .entries import *  # noqa: F403
from .errors import *  # noqa: F403
from .files import *  # noqa: F403
from .notes import *  # noqa: F403
from .reasons import *  # noqa: F403
from .s3 import *  # noqa: F403
from .settings import *  # noqa: F403
from .store import *  # noqa: F403
from .unseen import *  # noqa: F403
