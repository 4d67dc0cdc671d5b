"""``%memo_explain f(2, 21)`` and ``%memo_clear f(2, 21)``: a call written in a magic's
line, evaluated in the user namespace up to (but not including) the call itself.

The function expression and every argument (``*xs`` and ``**kw`` too) are evaluated
as Python would evaluate them for the call; the function is then asked about those
arguments instead of being called.
"""

from __future__ import annotations

import ast
import types
from typing import Any

from IPython.core.error import UsageError

from .. import messages
from ..engine.methods import BoundMemo
from ..memo import MemoizedFunction, engine_of

_CAPTURE = "__ipycache_arguments__"


def _arguments(*args: Any, **kwargs: Any) -> tuple[tuple, dict]:
    return args, kwargs


def is_call(line: str) -> bool:
    """True if ``line`` is one call expression (``f(2, 21)``, ``obj.method(x=1)``)."""
    try:
        tree = ast.parse(line.strip(), mode="eval")
    except SyntaxError:
        return False
    return isinstance(tree.body, ast.Call)


def memoized_call(
    shell: Any, line: str, magic: str
) -> tuple[MemoizedFunction, tuple, dict[str, Any]]:
    """The @memo function and the arguments ``line`` would call it with, not calling it."""
    if not is_call(line):
        raise UsageError(messages.not_a_call_error(magic, line))
    call = ast.parse(line.strip(), mode="eval").body
    assert isinstance(call, ast.Call)
    probe = ast.Call(ast.Name(_CAPTURE, ast.Load()), call.args, call.keywords)
    tree = ast.Expression(ast.Tuple([call.func, probe], ast.Load()))
    code = compile(ast.fix_missing_locations(tree), f"<%{magic}>", "eval")
    fn, (args, kwargs) = eval(code, shell.user_ns, {_CAPTURE: _arguments})
    if isinstance(fn, (types.MethodType, BoundMemo)) and engine_of(fn.__func__) is not None:
        args = (fn.__self__, *args)  # obj.method(x): self is an argument
        fn = fn.__func__
    engine = engine_of(fn)
    if engine is None:
        raise UsageError(messages.not_memoized_error(magic, ast.unparse(call.func)))
    return engine, args, kwargs
