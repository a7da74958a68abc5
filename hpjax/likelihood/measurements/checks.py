"""Checks of the values in a measurement file: each returns the value or raises
:class:`MeasurementFileError` naming the file and the key."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "UnknownNameError",
    "MeasurementFileError",
    "unknown",
    "check_keys",
    "typed",
    "string",
    "boolean",
    "num",
    "number",
    "confidence_level",
    "strings",
    "up_down",
    "value_range",
    "readonly",
    "matrix",
]


class UnknownNameError(KeyError, ValueError):
    """Unknown measurement or dataset name; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class MeasurementFileError(ValueError):
    """A malformed data file; ``file`` and ``key`` name the offending file and key/column."""

    def __init__(self, file: Any, key: str | None, message: str):
        self.file = str(file)
        self.key = key
        where = f"key '{key}'" if key is not None else "file"
        super().__init__(f"{self.file}: {where}: {message}")


def check_keys(table: Mapping, allowed: Mapping[str, bool], file: Any) -> None:
    for key, required in allowed.items():
        if required and key not in table:
            raise MeasurementFileError(file, key, "missing required key")
    for key in table:
        if key not in allowed:
            raise MeasurementFileError(file, key, f"unknown key; allowed keys: {', '.join(sorted(allowed))}")


def typed(table, key, file, typ, expected, required):
    """``table[key]`` checked to be a ``typ`` (``expected`` names it in the error); None when the
    key is absent and not required (TOML has no null, so None cannot be a value)."""
    if key not in table:
        if required:
            raise MeasurementFileError(file, key, "missing required key")
        return None
    val = table[key]
    if not isinstance(val, typ):
        raise MeasurementFileError(file, key, f"expected {expected}, got {type(val).__name__} {val!r}")
    return val


def string(table, key, file, *, required=True, default="", choices=None) -> str:
    val = typed(table, key, file, str, "a string", required)
    if val is None:
        return default
    if choices is not None and val not in choices:
        raise MeasurementFileError(file, key, f"{val!r} is not one of: {', '.join(choices)}")
    return val


def boolean(table, key, file, *, required=True, default=False) -> bool:
    val = typed(table, key, file, bool, "true/false", required)
    return default if val is None else val


def num(val, key, file) -> float:
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise MeasurementFileError(file, key, f"expected a number, got {type(val).__name__} {val!r}")
    val = float(val)
    if not math.isfinite(val):
        raise MeasurementFileError(file, key, f"expected a finite number, got {val!r}")
    return val


def number(table, key, file, *, required=True, positive=False, nonneg=False) -> float | None:
    if key not in table:
        if required:
            raise MeasurementFileError(file, key, "missing required key")
        return None
    val = num(table[key], key, file)
    if positive and not val > 0:
        raise MeasurementFileError(file, key, f"must be positive, got {val!r}")
    if nonneg and val < 0:
        raise MeasurementFileError(file, key, f"must be non-negative, got {val!r}")
    return val


def confidence_level(table, file) -> float:
    cl = number(table, "cl", file)
    if not 0.0 < cl < 1.0:
        raise MeasurementFileError(file, "cl", f"confidence level must lie in (0, 1), got {cl!r}")
    return cl


def strings(table, key, file, *, required=True) -> tuple[str, ...]:
    if key not in table:
        if required:
            raise MeasurementFileError(file, key, "missing required key")
        return ()
    val = table[key]
    items = [val] if isinstance(val, str) else val
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise MeasurementFileError(file, key, f"expected a string or a list of strings, got {val!r}")
    return tuple(v for v in items if v)


def up_down(val, key, file) -> tuple[float, float]:
    """A positive error: a number (symmetric) or [up, down]."""
    if isinstance(val, list):
        if len(val) != 2:
            raise MeasurementFileError(file, key, f"expected a number or [up, down], got {val!r}")
        up, down = (num(v, key, file) for v in val)
    else:
        up = down = num(val, key, file)
    if not (up > 0 and down > 0):
        raise MeasurementFileError(file, key, f"errors must be positive, got {val!r}")
    return (up, down)


def value_range(table, key, file, *, required=True) -> tuple[float, float] | None:
    if key not in table:
        if required:
            raise MeasurementFileError(file, key, "missing required key")
        return None
    val = table[key]
    if not isinstance(val, list) or len(val) != 2:
        raise MeasurementFileError(file, key, f"expected [min, max], got {val!r}")
    lo, hi = (num(v, key, file) for v in val)
    if not (lo < hi) or lo < 0:
        raise MeasurementFileError(file, key, f"expected 0 <= min < max, got {val!r}")
    return (lo, hi)


def readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=float)
    a.flags.writeable = False
    return a


def matrix(table, key, file, shape_cols: int | None, *, nrows: int | None = None) -> np.ndarray:
    val = table[key]
    if not isinstance(val, list) or not val:
        raise MeasurementFileError(file, key, "expected a non-empty list")
    rows = []
    for row in val:
        if isinstance(row, list):
            rows.append([num(x, key, file) for x in row])
        else:
            rows.append([num(row, key, file)])
    widths = {len(r) for r in rows}
    if len(widths) != 1 or (shape_cols is not None and widths != {shape_cols}):
        raise MeasurementFileError(file, key, f"expected rows of length {shape_cols}, got {val!r}")
    if nrows is not None and len(rows) != nrows:
        raise MeasurementFileError(file, key, f"expected {nrows} entries, got {len(rows)}")
    return np.array(rows, dtype=float)


def unknown(what: str, name: Any, valid: Iterable[str]) -> UnknownNameError:
    valid = list(valid)
    return UnknownNameError(f"unknown {what} {name!r}; valid {what} names ({len(valid)}): " + ", ".join(valid))
