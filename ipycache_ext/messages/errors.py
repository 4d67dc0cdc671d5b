"""The texts of errors raised on purpose: unhashable values, bad options, bad magics."""

from __future__ import annotations

from .base import shown_type


def unhashable_error(type_name: str, where: str, func: str, param: str | None) -> str:
    """``type_name`` is ``module.QualName``: the string form ``hash_funcs`` accepts."""
    fix_param = f" or rename {param} to _{param} so it is left out of the key" if param else ""
    return (
        f"cannot hash a {shown_type(type_name)} found in {where} of {func}. "
        f"Fix: pass hash_funcs={{{type_name!r}: lambda obj: <something hashable>}} to @memo"
        f"{fix_param}."
    )


def unhashable_text(
    type_name: str,
    where: str,
    param: str | None,
    subject_kind: str,
    subject_name: str,
    endless: int = 0,
    collect_first: bool = False,
    convert_with: str = "",
) -> str:
    """An :class:`~ipycache_ext.errors.UnhashableTypeError` worded for its subject."""
    if collect_first or convert_with:
        func = subject_name or ("the cell" if subject_kind == "cell" else "the call")
        if convert_with:
            return unreadable_data_error(type_name, where, func, convert_with)
        return lazy_query_error(type_name, where, func)
    if endless:
        return endless_value_error(type_name, where, subject_name or "the cell", endless)
    if subject_kind == "cell":
        return unhashable_in_cell_error(type_name, where, param)
    return unhashable_error(type_name, where, subject_name or "the call", param)


def endless_value_error(type_name: str, where: str, func: str, bound: int) -> str:
    return (
        f"cannot hash the {shown_type(type_name)} found in {where} of {func}: hashing it "
        f"went past {bound:,} objects (a __reduce__ that makes new objects each time it is "
        f"called never ends). Fix: pass hash_funcs={{{type_name!r}: lambda obj: <what "
        "identifies it>} to @memo, or give the class a __reduce__ that returns its state."
    )


def lazy_query_error(type_name: str, where: str, func: str) -> str:
    fix = (
        "call .to_table() on it first and pass the table"
        if type_name.startswith("pyarrow.")
        else "call .collect() on it first and pass the collected DataFrame"
    )
    return (
        f"cannot hash the {shown_type(type_name)} found in {where} of {func}: it is a query "
        "plan, not data (it may scan files whose contents a key of the plan cannot see). "
        f"Fix: {fix}."
    )


def unhashable_in_cell_error(type_name: str, where: str, param: str | None) -> str:
    name = param or "it"
    return (
        f"%%memo cannot hash a {shown_type(type_name)} found in {where}, which the cell reads. "
        f"Fix: rename {name} to _{name} so it is left out of the cell's key, or move its "
        "use into a @memo function that takes it as a _-prefixed parameter."
    )


def user_hash_error(entry: str, type_name: str, where: str, func: str, exc: BaseException) -> str:
    return (
        f"hash_funcs entry {entry} raised {type(exc).__name__}: {exc} while hashing a "
        f"{type_name} found in {where} of {func}. Fix that function, or remove the entry."
    )


def user_hash_text(
    entry: str, type_name: str, where: str, subject_name: str, cause: BaseException
) -> str:
    """A :class:`~ipycache_ext.errors.UserHashError` worded; a cell is its subject's name."""
    return user_hash_error(entry, type_name, where, subject_name or "the call", cause)


def iterator_argument_error(name: str, type_name: str, func: str) -> str:
    return (
        f"cannot hash a {shown_type(type_name)} found in argument {name} of {func}: an "
        "iterator is "
        "consumed by the call, so a result from the cache would leave it unconsumed. Fix: "
        f"pass a list ({name}=list(...)); or, if the result does not depend on it, rename "
        f"{name} to _{name} so it is left out of the key, or pass "
        f"hash_funcs={{{type_name!r}: ...}} to @memo."
    )


def generator_function_error(func: str, is_async: bool = False) -> str:
    """A generator function is refused when decorated, for the reason a function that
    returns an iterator is not cached (:func:`~.notes.iterator_result_warning`)."""
    made = "an async generator" if is_async else "a generator"
    return (
        f"@memo cannot cache the generator function {func}: calling it returns {made}, "
        "an iterator that is used up when read, so a cached copy would come back empty. "
        f"Fix: make {func} return a list (return list(...)) and iterate over that."
    )


def memo_above_descriptor_error(kind: str, func: str) -> str:
    return (
        f"@memo cannot wrap a {kind} ({func}): put @memo underneath it, next to the "
        f"function:\n    @{kind}\n    @memo\n    def {func.rsplit('.', 1)[-1]}(...): ..."
    )


def memo_on_partial_error(func: str) -> str:
    return (
        f"@memo cannot wrap a functools.partial of {func}: memoize the function and make "
        f"the partial of that: functools.partial(memo({func}), ...)."
    )


def unknown_cache_name(name: str, known: list[str], magic: str = "memo_clear") -> str:
    listing = ", ".join(known) if known else "nothing is memoized yet"
    return f"%{magic}: no memoized function or cell named {name!r} (known: {listing})."


def no_store_error() -> str:
    return (
        "--store: the persistent store could not be opened (see the warning above); set "
        "%config MemoMagics.store to a directory or redis://host:port/db."
    )


def empty_statement_error() -> str:
    return "%memo needs a statement, e.g. %memo df = load(path); for a whole cell use %%memo."


def bad_cell_option_error(name: str, value: object, expected: str) -> str:
    return f"%%memo option {name} {value!r} is not valid: expected {expected}."


def bad_option_error(name: str, value: object, expected: str) -> str:
    return f"@memo option {name}={value!r} is not valid: expected {expected}."


def unknown_option_error(name: str, known: list[str], aliases: list[str] | None = None) -> str:
    """``aliases``: other names accepted for some of ``known`` (Streamlit's)."""
    also = f" (also {', '.join(aliases)}, as in Streamlit's st.cache)" if aliases else ""
    return f"@memo has no option {name}=...: the options are {', '.join(known)}{also}."


def exact_match_error(match: object) -> str:
    return (
        f"hashing.register(..., exact=True) needs a type or a tuple of types, not {match!r}: "
        "exact=True means values of exactly that type."
    )


def option_given_twice_error(given: str, name: str) -> str:
    return f"@memo option {given}=... is another name for {name}=...: give only one of them."


def recursion_cycle_error(call: str) -> str:
    return (
        f"{call} calls itself with the same arguments while computing its own result, "
        f"so it would wait for itself forever (the cycle is {call} -> ... -> {call}). Fix: "
        "give the recursion a base case that changes the arguments, or take @memo off "
        "the function that recurses."
    )


def unreadable_data_error(type_name: str, where: str, func: str, convert_with: str) -> str:
    return (
        f"cannot hash the {shown_type(type_name)} found in {where} of {func}: its data "
        f"cannot be read out as buffers. Fix: pass value.{convert_with} instead, or give "
        f"@memo hash_funcs={{{type_name!r}: lambda value: <what identifies it>}}."
    )


def open_file_argument_error(name: str, type_name: str, func: str) -> str:
    """An open file passed to a @memo function: the call reads it from its position,
    which its key cannot see, and a hit would leave it unread."""
    return (
        f"cannot hash the open file ({shown_type(type_name)}) in argument {name} of {func}: "
        "the call reads it from where it stands, and a result from the cache would leave "
        f"it unread. Fix: pass its path instead ({name}=path, then open it inside the "
        "function: the file's contents join the key), or its contents (f.read())."
    )


def copy_and_mutation_error() -> str:
    return (
        "@memo options copy=True and allow_output_mutation=True contradict each other: "
        "copy=True hands each call its own copy of the result, allow_output_mutation=True "
        "hands out the cached object itself. Fix: keep copy=True to mutate results freely "
        "(each call pays for a copy), or allow_output_mutation=True to share one object."
    )


__all__ = [
    "open_file_argument_error",
    "copy_and_mutation_error",
    "endless_value_error",
    "recursion_cycle_error",
    "memo_above_descriptor_error",
    "memo_on_partial_error",
    "exact_match_error",
    "unhashable_error",
    "unhashable_text",
    "unhashable_in_cell_error",
    "lazy_query_error",
    "user_hash_error",
    "user_hash_text",
    "iterator_argument_error",
    "generator_function_error",
    "unknown_cache_name",
    "no_store_error",
    "empty_statement_error",
    "bad_cell_option_error",
    "bad_option_error",
    "unknown_option_error",
    "option_given_twice_error",
    "unreadable_data_error",
]
