"""JSON as clients may send it: finite numbers, sane integers, bounded nesting.

Python's ``json`` reads ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON), integers of
any length (a 4,300-digit one is still accepted) and nests until the interpreter's
recursion limit. :func:`loads` reads the same text but refuses those values, reporting
where each one is, so every request body is held to the same rule before any route sees
it. The bounds: integers within ±(2**53 - 1) — what JSON numbers carry exactly across
implementations (RFC 8259 §6), and what the JavaScript UI can hold — floats finite, at
most ``MAX_DEPTH`` levels of arrays and objects.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_INT = 2**53 - 1
MAX_INT_DIGITS = len(str(MAX_INT))
MAX_DEPTH = 32

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    loc: Loc
    msg: str
    type: str


class StrictJsonError(ValueError):
    """The text is not JSON, or holds values this API refuses; ``problems`` says where."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.msg for p in problems))
        self.problems = problems


class _Refused:
    __slots__ = ("msg",)

    def __init__(self, msg: str) -> None:
        self.msg = msg


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a number JSON allows")


def _integer(text: str) -> int | _Refused:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS or abs(value := int(text)) > MAX_INT:
        return _Refused(f"an integer of {digits} digits is beyond ±{MAX_INT}")
    return value


def _float(text: str) -> float | _Refused:
    value = float(text)
    if not math.isfinite(value):
        return _Refused(f"{text[:20]} overflows to a non-finite number")
    return value


def loads(data: str | bytes) -> Any:
    """``json.loads`` that raises :class:`StrictJsonError` for non-finite numbers,
    integers beyond ``MAX_INT``, nesting deeper than ``MAX_DEPTH``, and invalid JSON."""
    try:
        value = json.loads(data, parse_constant=_constant, parse_int=_integer, parse_float=_float)
    except RecursionError:
        raise StrictJsonError(
            [Problem((), f"nested deeper than {MAX_DEPTH} levels", "json_too_deep")]
        ) from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8
        raise StrictJsonError([Problem((), f"not valid JSON: {exc}", "json_invalid")]) from None
    problems = _problems(value)
    if problems:
        raise StrictJsonError(problems)
    return value


def _problems(value: Any, limit: int = 20) -> list[Problem]:
    found: list[Problem] = []
    stack: list[tuple[Any, Loc]] = [(value, ())]
    while stack and len(found) < limit:
        item, loc = stack.pop()
        if isinstance(item, _Refused):
            found.append(Problem(loc, item.msg, "value_not_allowed"))
        elif isinstance(item, dict | list):
            if len(loc) >= MAX_DEPTH:
                found.append(
                    Problem(loc, f"nested deeper than {MAX_DEPTH} levels", "json_too_deep")
                )
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, (*loc, key)) for key, child in reversed(list(pairs)))
    return found
