"""What counts as the user's code, and what is a library.

User code is code defined in ``__main__`` (a notebook or script) or in a file under the
current working directory, the folder the kernel started in (or a folder in
``user_paths``) that is not inside an environment (the stdlib, site-packages, a venv).
User code is traversed when keying; library functions, classes and modules are keyed
by their qualified name.  The starting folder counts because ``%cd data`` must not
turn the project's own modules into libraries: their edits would go unseen.

The answer depends on the working directory, so it is cached per directory; the
directory itself is cached too (``os.getcwd()`` is a system call, and a key asks per
function it reaches) and forgotten when Python's ``os.chdir`` audit event fires.  The
same process-wide audit hook counts :data:`epoch`: it moves on every change of
directory and every assignment to a function's ``__code__``, ``__defaults__`` or
``__kwdefaults__`` (or a class's ``__bases__``), which is what lets a hit trust the
guards of :mod:`.guards` without re-reading those attributes.

The hook is compiled (``ipycache_ext.deps._audit``) where the package was built with a C
compiler: every audited operation in the process (each ``open()``) pays for a hook, and a
Python one costs each about 5 %, most of it before the hook's first line runs.  The
compiled hook calls :func:`_on_audit` only for the events it would act on.  Without it,
:func:`_on_audit` itself is the hook, with the same decisions.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import threading
import types
from collections.abc import Callable
from typing import Any

from .. import messages, notify
from ..config import SETTINGS

try:
    from . import _audit
except ImportError:  # built without a C compiler: the same hook in Python
    _audit = None  # type: ignore[assignment]  # mypy types the name as the module

OWN_PACKAGE = __name__.split(".")[0]


def _environment_roots() -> tuple[str, ...]:
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            paths.add(sysconfig.get_path(name))
        except KeyError:
            pass
    try:
        paths.update(site.getsitepackages())
    except AttributeError:
        pass
    paths.add(site.getusersitepackages() or "")
    return tuple(os.path.realpath(p) + os.sep for p in paths if p)


_ENV_ROOTS = _environment_roots()
_user_module_cache: dict[tuple[str, str, tuple[str, ...]], bool] = {}
_roots_cache: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}

# Events after which an answer cached here, or a guard trusting a function's code,
# may no longer hold: the working directory moved, or a function's code or defaults
# (a class's bases) were assigned.  Raised before the operation: a thread that reads
# the directory in that instant caches the old one (Python gives no after-event).
_MOVES = frozenset({"os.chdir", "object.__setattr__", "object.__delattr__"})
epoch = 0  # bumped by each such event; guards compare it
_cwd: str | None = None
_hooked = False
_hook_lock = threading.Lock()


# Events routed to another reader of the hook (the file recorder) while its list of
# running recorders is not empty: one hook for both, as every hook installed costs
# each audited event in the process (every ``open``) a Python call.
_routed_events: frozenset[str] = frozenset()
_routed_while: list[None] = []
_routed_to: Callable[[str, tuple[Any, ...]], None] | None = None


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    """The audit hook (cannot be removed): one set lookup unless something moved or
    a miss is recording the files it reads."""
    if event in _MOVES:
        global epoch, _cwd
        epoch += 1
        _cwd = None
    elif _routed_while and event in _routed_events and _routed_to is not None:
        _routed_to(event, args)


def route_audit(
    events: frozenset[str], active: list[None], to: Callable[[str, tuple[Any, ...]], None]
) -> None:
    """Send ``events`` to ``to`` while ``active`` is not empty, from the one hook."""
    global _routed_events, _routed_while, _routed_to
    _routed_events, _routed_while, _routed_to = events, active, to
    if _audit is not None:
        _audit.route(events, active)
    watch()


def watch() -> None:
    """Install the audit hook that moves :data:`epoch` (once per process; before any
    answer that relies on it is cached)."""
    global _hooked
    if not _hooked:
        with _hook_lock:
            if not _hooked:
                if _audit is not None:
                    _audit.install(_on_audit, _MOVES)
                else:
                    sys.addaudithook(_on_audit)
                _hooked = True


def hook_kind() -> str:
    """Which audit hook this process has (or would install): "compiled" or "python"."""
    return "python" if _audit is None else "compiled"


def working_directory() -> str:
    """``os.getcwd()``, cached until the next ``os.chdir``."""
    global _cwd
    found = _cwd
    if found is None:
        watch()
        found = _cwd = os.getcwd()
    return found


def _starting_folder() -> str:
    try:
        return os.getcwd()
    except OSError:
        return ""


# The folder the process started in (set again from the shell's ``starting_dir`` when
# the extension loads, in case a ``%cd`` came first); not the filesystem root, under
# which everything would be the user's.
_started_in = _starting_folder()


def set_starting_folder(path: str | None) -> None:
    """The folder the kernel started in: its code stays the user's after a ``%cd``."""
    global _started_in
    if path and path != _started_in:
        _started_in = path
        _roots_cache.clear()
        _user_module_cache.clear()


def _in_environment(path: str) -> bool:
    if any(path.startswith(root) for root in _ENV_ROOTS):
        return True
    return "site-packages" in path or "dist-packages" in path


def _user_roots() -> tuple[str, ...]:
    key = (working_directory(), SETTINGS.user_paths)
    found = _roots_cache.get(key)
    if found is None:
        roots = [key[0], *key[1]]
        if _started_in and os.path.dirname(_started_in) != _started_in:
            roots.append(_started_in)
        found = tuple(
            dict.fromkeys(os.path.realpath(os.path.expanduser(r)) + os.sep for r in roots)
        )
        if len(_roots_cache) > 64:
            _roots_cache.clear()
        _roots_cache[key] = found
    return found


def is_user_file(filename: str | None) -> bool:
    """True for a file under the working directory, the starting folder or a configured
    user path, and outside every environment."""
    if not filename or filename.startswith("<"):
        return False
    path = os.path.realpath(filename)
    if _in_environment(path):
        return False
    return any(path.startswith(root) for root in _user_roots())


def is_user_module(name: str | None) -> bool:
    """True for ``__main__`` and for modules whose file is user code (cached)."""
    if not name:
        return False
    if name == "__main__":
        return True
    if name == OWN_PACKAGE or name.startswith(OWN_PACKAGE + "."):
        return False
    key = (name, working_directory(), SETTINGS.user_paths)
    cached = _user_module_cache.get(key)
    if cached is None:
        filename = getattr(sys.modules.get(name), "__file__", None)
        cached = is_user_file(filename)
        _user_module_cache[key] = cached
        if not cached and filename and not _in_environment(os.path.realpath(filename)):
            # Outside the project but not installed either: most likely the user's own
            # code (a src/ folder put on sys.path). Say once how to have it tracked.
            notify.emit(messages.outside_code_note(name, filename))
    return cached


def is_user_function(fn: types.FunctionType) -> bool:
    module = fn.__module__
    if module is None:
        # No module: made by exec() of a string in a namespace without ``__name__``.
        # Code made from a string at run time (``<string>``, ``<cell>``) is the
        # user's: keyed by its code, never by its name alone.
        filename = fn.__code__.co_filename
        return filename.startswith("<") or is_user_file(filename)
    return is_user_module(module)


def is_user_class(cls: type) -> bool:
    return is_user_module(getattr(cls, "__module__", None))


def qualified_name(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "?")
    return f"{module}.{name}"


def unwrap(obj: Any) -> Any:
    """The plain function behind a memoized one, or behind any wrapper that says what it
    wraps (``functools.lru_cache``, ``functools.wraps`` decorators from libraries)."""
    for _ in range(16):
        if isinstance(obj, type) or not callable(obj):
            return obj
        if isinstance(obj, types.FunctionType) and is_user_function(obj):
            return getattr(obj, "__memo_wrapped__", obj)
        if is_user_class(type(obj)):
            return obj  # a callable object of the user's: its state and class count too
        inner = getattr(obj, "__wrapped__", None)
        if inner is None or inner is obj or not callable(inner):
            return obj
        obj = inner
    return obj


def is_user_callable(obj: Any) -> bool:
    obj = unwrap(obj)
    if isinstance(obj, types.FunctionType):
        return is_user_function(obj)
    if isinstance(obj, type):
        return is_user_class(obj)
    return False


_ENVIRONMENT_MODULES = ("IPython.", "ipykernel.", OWN_PACKAGE + ".")


def is_environment(value: Any) -> bool:
    """The shell and its helpers (``get_ipython``): part of the session, not of a result."""
    owner = value.__self__ if isinstance(value, types.MethodType) else value
    return type(owner).__module__.startswith(_ENVIRONMENT_MODULES)


def is_library_ref(value: Any) -> bool:
    if is_environment(value):
        return True
    if isinstance(value, types.ModuleType):
        return not is_user_module(value.__name__)
    if isinstance(value, (types.FunctionType, type, types.BuiltinFunctionType)):
        return not is_user_callable(value)
    return False


def short_name(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or obj)
