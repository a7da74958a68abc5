"""Measurement database of hpjax: experimental inputs with their citations.

Every experimental result is one TOML file ``hpjax/data/measurements/<name>.toml`` with a single
``[measurement]`` table; mass(-lifetime) dependent limits point to a CSV file in
``hpjax/data/tables/`` (``#`` provenance header, one column-name line, comma-separated rows).
Named datasets (``paper``, ``latest``) in ``hpjax/data/datasets.toml`` map likelihood terms
(``belle2``, ``sm_prediction``, ``belle_kstar``, ``na62``, ``koto``, ``lfu``, ``higgs_invisible``)
to measurement names. This module is pure Python + numpy (no jax) and validates every file it
reads: a malformed file raises :class:`MeasurementFileError` (a ``ValueError``) naming the file
and the key; an unknown name raises :class:`UnknownNameError` (both a ``KeyError`` and a
``ValueError``) listing the valid names.

Schema of ``[measurement]`` (all kinds): ``name`` (= file stem), ``observable`` (one of
:data:`OBSERVABLES`; ``observables`` list instead for ``correlated_gaussian``), ``experiment``,
``arxiv`` (str or list), ``inspire`` (texkey, str or list, optional), ``reference``, ``kind``,
optional ``notes``, ``source``, ``digitisation``, ``projection``. Per kind:

* ``gaussian``: ``value``, ``error_up``, ``error_down``, optional ``stat``/``syst`` (number or
  ``[up, down]``).
* ``upper_limit``: ``limit``, ``cl`` in (0, 1), optional ``expected_limit``.
* ``counts``: ``limit``, ``cl``, ``counts_total``, ``counts_signal`` and/or ``counts_background``,
  ``background_std``, ``counts_convention`` (flavio ``general_gamma_upper_limit`` fields).
* ``mass_dependent_upper_limit``: ``table``, ``cl``, ``mass_column``, ``value_column``,
  ``value_is_log10``, ``mass_range`` [GeV], ``allow_nan`` (NaN = no limit); with a lifetime axis
  also ``lifetime_column``, ``lifetime_unit`` ("s", "ns" or "ps"), ``lifetime_is_log10``,
  ``lifetime_range`` [s] and optional ``stable_lifetime`` [s].
* ``correlated_gaussian``: ``observables``, ``q2_bins``, ``values``, ``errors`` (``[up, down]``
  per entry), ``correlation``, optional ``stat``/``syst``.

Tables are returned as numpy arrays: ``masses`` [GeV], ``lifetimes`` [s] (or None) and
``values`` = branching-ratio upper limits (not log10), shape ``(n_mass,)`` or
``(n_mass, n_lifetime)``, NaN where the table gives no limit.

Example:

>>> from hpjax.likelihood.measurements import load_measurement, load_dataset
>>> m = load_measurement("belle2_2023_BpKnunu_combined")
>>> m.kind, m.value, m.error_up, m.error_down
('gaussian', 2.3e-05, 7e-06, 7e-06)
>>> load_dataset("paper")["higgs_invisible"]["scenarios"]["lhc"]
'lhc_hinv_paper_TableI'
>>> load_measurement("lhc_hinv_paper_TableI").limit
0.13
>>> t = load_measurement("na62_2025_KpiX")
>>> t.values.shape == (t.masses.size, t.lifetimes.size) == (200, 7)
True
>>> float(t.stable_lifetime)
1e-08
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = [
    "OBSERVABLES",
    "KINDS",
    "TERMS",
    "HIGGS_SCENARIOS",
    "Measurement",
    "MeasurementFileError",
    "UnknownNameError",
    "load_measurement",
    "list_measurements",
    "load_dataset",
    "list_datasets",
    "dataset_description",
    "dataset_measurements",
    "citations",
    "read_table",
]

#: Observable names a measurement file may use.
OBSERVABLES = (
    "BR(B+->K+inv)",
    "BR(B0->K*0inv)",
    "BR(K+->pi+inv)",
    "BR(KL->pi0inv)",
    "BR(h->inv)",
    "R_K",
    "R_K*",
    "BR(B+->K+nunu)_SM",
    "BR(K+->pi+nunu)",
)

KINDS = ("gaussian", "upper_limit", "mass_dependent_upper_limit", "counts", "correlated_gaussian", "pyhf_likelihood")

#: Likelihood terms of a dataset and the observables each accepts.
TERMS = {
    "belle2": ("BR(B+->K+inv)",),
    "belle2_full": ("BR(B+->K+inv)",),
    "sm_prediction": ("BR(B+->K+nunu)_SM",),
    "belle_kstar": ("BR(B0->K*0inv)",),
    "na62": ("BR(K+->pi+inv)",),
    "koto": ("BR(KL->pi0inv)",),
    "lfu": ("R_K", "R_K*"),
    "higgs_invisible": ("BR(h->inv)",),
}

HIGGS_SCENARIOS = ("lhc", "hl_lhc", "ilc", "clic", "fcc_ee")

_LIFETIME_UNITS = {"s": 1.0, "ns": 1e-9, "ps": 1e-12}
_NAME_RE = re.compile(r"^[A-Za-z0-9_.+-]+$")
_ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})$")

_COMMON_KEYS = {
    "name": True, "kind": True, "experiment": True, "arxiv": True, "reference": True,
    "observable": False, "inspire": False, "notes": False, "source": False,
    "digitisation": False, "projection": False,
}
# kind -> {key: required}
_KIND_KEYS = {
    "gaussian": {"value": True, "error_up": True, "error_down": True, "stat": False, "syst": False},
    "upper_limit": {"limit": True, "cl": True, "expected_limit": False},
    "counts": {
        "limit": True, "cl": True, "counts_total": True, "counts_signal": False,
        "counts_background": False, "background_std": True, "counts_convention": True,
    },
    "mass_dependent_upper_limit": {
        "table": True, "cl": True, "mass_column": True, "value_column": True,
        "value_is_log10": True, "mass_range": True, "allow_nan": False,
        "lifetime_column": False, "lifetime_unit": False, "lifetime_is_log10": False,
        "lifetime_range": False, "stable_lifetime": False,
    },
    "pyhf_likelihood": {"workspace": True, "number_densities": True, "constants": True},
    "correlated_gaussian": {
        "observables": True, "q2_bins": True, "values": True, "errors": True,
        "correlation": True, "stat": False, "syst": False,
    },
}


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


@dataclass(frozen=True, eq=False)
class Measurement:
    """One experimental result (see the module docstring for the meaning of each field).

    Fields that do not apply to ``kind`` are None. ``observables`` has one entry per
    measured number (a single entry except for ``correlated_gaussian``); ``observable``
    is the single observable, or the distinct observables joined by ``", "``. ``arxiv`` and
    ``inspire`` are tuples. ``stat``/``syst`` are ``(up, down)`` tuples for ``gaussian`` and
    arrays of shape (n, 2) for ``correlated_gaussian``. ``values`` is the table of BR limits
    for ``mass_dependent_upper_limit`` and the central values for ``correlated_gaussian``.
    Arrays are read-only. ``raw`` is the ``[measurement]`` table as read.
    """

    name: str
    kind: str
    observable: str
    observables: tuple[str, ...]
    experiment: str
    arxiv: tuple[str, ...]
    inspire: tuple[str, ...]
    reference: str
    notes: str = ""
    source: str = ""
    digitisation: str = ""
    projection: bool = False
    file: str = ""
    # gaussian
    value: float | None = None
    error_up: float | None = None
    error_down: float | None = None
    stat: Any = None
    syst: Any = None
    # upper_limit / counts / mass_dependent_upper_limit
    limit: float | None = None
    cl: float | None = None
    expected_limit: float | None = None
    # counts
    counts_total: float | None = None
    counts_signal: float | None = None
    counts_background: float | None = None
    background_std: float | None = None
    counts_convention: str | None = None
    # mass_dependent_upper_limit
    table: str | None = None
    mass_column: str | None = None
    lifetime_column: str | None = None
    value_column: str | None = None
    value_is_log10: bool | None = None
    lifetime_unit: str | None = None
    lifetime_is_log10: bool | None = None
    allow_nan: bool | None = None
    mass_range: tuple[float, float] | None = None
    lifetime_range: tuple[float, float] | None = None
    stable_lifetime: float | None = None
    masses: np.ndarray | None = None
    lifetimes: np.ndarray | None = None
    values: np.ndarray | None = None
    # correlated_gaussian
    q2_bins: np.ndarray | None = None
    errors: np.ndarray | None = None
    correlation: np.ndarray | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def citation(self) -> str:
        """One-line citation: reference, arXiv numbers, INSPIRE keys, digitisation."""
        parts = [self.reference]
        if self.arxiv:
            parts.append(", ".join(f"arXiv:{a}" for a in self.arxiv))
        if self.inspire:
            parts.append("INSPIRE " + ", ".join(self.inspire))
        if self.digitisation:
            parts.append(f"digitised limits: {self.digitisation}")
        return "; ".join(parts)


# --------------------------------------------------------------------------- locating files


def _root(directory: Any = None):
    """The data root (a Traversable): hpjax.data package data, or ``directory``."""
    if directory is None:
        return resources.files("hpjax.data")
    return Path(directory)


def _measurement_dir(directory: Any = None):
    return _root(directory) / "measurements"


def list_measurements(directory: Any = None) -> list[str]:
    """Sorted names of all measurement files (``measurements/*.toml`` under the data root).

    ``directory`` (optional) is a data root with the layout of ``hpjax/data``.
    """
    mdir = _measurement_dir(directory)
    if not mdir.is_dir():
        return []
    return sorted(p.name[: -len(".toml")] for p in mdir.iterdir() if p.name.endswith(".toml") and p.is_file())


def _unknown(what: str, name: Any, valid: Iterable[str]) -> UnknownNameError:
    valid = list(valid)
    return UnknownNameError(
        f"unknown {what} {name!r}; valid {what} names ({len(valid)}): " + ", ".join(valid)
    )


# --------------------------------------------------------------------------- value checks


def _check_keys(table: Mapping, allowed: Mapping[str, bool], file: Any) -> None:
    for key, required in allowed.items():
        if required and key not in table:
            raise MeasurementFileError(file, key, "missing required key")
    for key in table:
        if key not in allowed:
            raise MeasurementFileError(file, key, f"unknown key; allowed keys: {', '.join(sorted(allowed))}")


def _str(table, key, file, *, required=True, default="", choices=None) -> str:
    if key not in table:
        if required:
            raise MeasurementFileError(file, key, "missing required key")
        return default
    val = table[key]
    if not isinstance(val, str):
        raise MeasurementFileError(file, key, f"expected a string, got {type(val).__name__} {val!r}")
    if choices is not None and val not in choices:
        raise MeasurementFileError(file, key, f"{val!r} is not one of: {', '.join(choices)}")
    return val


def _bool(table, key, file, *, required=True, default=False) -> bool:
    if key not in table:
        if required:
            raise MeasurementFileError(file, key, "missing required key")
        return default
    val = table[key]
    if not isinstance(val, bool):
        raise MeasurementFileError(file, key, f"expected true/false, got {type(val).__name__} {val!r}")
    return val


def _num(val, key, file) -> float:
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise MeasurementFileError(file, key, f"expected a number, got {type(val).__name__} {val!r}")
    val = float(val)
    if not math.isfinite(val):
        raise MeasurementFileError(file, key, f"expected a finite number, got {val!r}")
    return val


def _number(table, key, file, *, required=True, positive=False, nonneg=False) -> float | None:
    if key not in table:
        if required:
            raise MeasurementFileError(file, key, "missing required key")
        return None
    val = _num(table[key], key, file)
    if positive and not val > 0:
        raise MeasurementFileError(file, key, f"must be positive, got {val!r}")
    if nonneg and val < 0:
        raise MeasurementFileError(file, key, f"must be non-negative, got {val!r}")
    return val


def _cl(table, file) -> float:
    cl = _number(table, "cl", file)
    if not 0.0 < cl < 1.0:
        raise MeasurementFileError(file, "cl", f"confidence level must lie in (0, 1), got {cl!r}")
    return cl


def _strings(table, key, file, *, required=True) -> tuple[str, ...]:
    if key not in table:
        if required:
            raise MeasurementFileError(file, key, "missing required key")
        return ()
    val = table[key]
    items = [val] if isinstance(val, str) else val
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise MeasurementFileError(file, key, f"expected a string or a list of strings, got {val!r}")
    return tuple(v for v in items if v)


def _updown(val, key, file) -> tuple[float, float]:
    """A positive error: a number (symmetric) or [up, down]."""
    if isinstance(val, list):
        if len(val) != 2:
            raise MeasurementFileError(file, key, f"expected a number or [up, down], got {val!r}")
        up, down = (_num(v, key, file) for v in val)
    else:
        up = down = _num(val, key, file)
    if not (up > 0 and down > 0):
        raise MeasurementFileError(file, key, f"errors must be positive, got {val!r}")
    return (up, down)


def _range(table, key, file, *, required=True) -> tuple[float, float] | None:
    if key not in table:
        if required:
            raise MeasurementFileError(file, key, "missing required key")
        return None
    val = table[key]
    if not isinstance(val, list) or len(val) != 2:
        raise MeasurementFileError(file, key, f"expected [min, max], got {val!r}")
    lo, hi = (_num(v, key, file) for v in val)
    if not (lo < hi) or lo < 0:
        raise MeasurementFileError(file, key, f"expected 0 <= min < max, got {val!r}")
    return (lo, hi)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=float)
    a.flags.writeable = False
    return a


def _matrix(table, key, file, shape_cols: int | None, *, nrows: int | None = None) -> np.ndarray:
    val = table[key]
    if not isinstance(val, list) or not val:
        raise MeasurementFileError(file, key, "expected a non-empty list")
    rows = []
    for row in val:
        if isinstance(row, list):
            rows.append([_num(x, key, file) for x in row])
        else:
            rows.append([_num(row, key, file)])
    widths = {len(r) for r in rows}
    if len(widths) != 1 or (shape_cols is not None and widths != {shape_cols}):
        raise MeasurementFileError(file, key, f"expected rows of length {shape_cols}, got {val!r}")
    if nrows is not None and len(rows) != nrows:
        raise MeasurementFileError(file, key, f"expected {nrows} entries, got {len(rows)}")
    return np.array(rows, dtype=float)


# --------------------------------------------------------------------------- tables


def read_table(path: Any) -> dict[str, np.ndarray]:
    """Read a comma-separated table: ``#`` comment lines, one column-name line, numeric rows.

    Returns column name -> float array (``nan`` entries allowed). Raises
    :class:`MeasurementFileError` naming the file and the column/row at fault.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MeasurementFileError(path, None, f"cannot read table: {exc}") from None
    header: list[str] | None = None
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        cells = [c.strip() for c in s.split(",")]
        if header is None:
            header = cells
            if len(set(header)) != len(header) or not all(header):
                raise MeasurementFileError(path, f"line {lineno}", f"bad column-name line {s!r}")
            continue
        if len(cells) != len(header):
            raise MeasurementFileError(
                path, f"line {lineno}", f"expected {len(header)} comma-separated values, got {len(cells)}"
            )
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise MeasurementFileError(path, f"line {lineno}", f"non-numeric value in {s!r}") from None
    if header is None or not rows:
        raise MeasurementFileError(path, None, "table has no column-name line or no data rows")
    data = np.array(rows, dtype=float)
    return {name: data[:, i] for i, name in enumerate(header)}


def _load_table(tbl: Mapping, file: Any, root: Any) -> dict[str, Any]:
    """Validate the table keys of a mass_dependent_upper_limit and read its table."""
    out: dict[str, Any] = {}
    table = _str(tbl, "table", file)
    if "/" in table or "\\" in table or not table.endswith(".csv"):
        raise MeasurementFileError(file, "table", f"expected a file name '*.csv' under tables/, got {table!r}")
    tpath = root / "tables" / table
    if not tpath.is_file():
        raise MeasurementFileError(file, "table", f"table file {table!r} not found in {root / 'tables'}")
    out["table"] = table
    out["cl"] = _cl(tbl, file)
    mcol = out["mass_column"] = _str(tbl, "mass_column", file)
    vcol = out["value_column"] = _str(tbl, "value_column", file)
    is_log = out["value_is_log10"] = _bool(tbl, "value_is_log10", file)
    allow_nan = out["allow_nan"] = _bool(tbl, "allow_nan", file, required=False, default=False)
    mrange = out["mass_range"] = _range(tbl, "mass_range", file)
    tcol = out["lifetime_column"] = _str(tbl, "lifetime_column", file, required=False, default=None)
    lifetime_keys = ("lifetime_unit", "lifetime_is_log10", "lifetime_range", "stable_lifetime")
    if tcol is None:
        for key in lifetime_keys:
            if key in tbl:
                raise MeasurementFileError(file, key, "given without 'lifetime_column'")
    else:
        unit = out["lifetime_unit"] = _str(tbl, "lifetime_unit", file, choices=tuple(_LIFETIME_UNITS))
        t_log = out["lifetime_is_log10"] = _bool(tbl, "lifetime_is_log10", file)
        trange = out["lifetime_range"] = _range(tbl, "lifetime_range", file)
        stable = out["stable_lifetime"] = _number(tbl, "stable_lifetime", file, required=False, positive=True)
        if stable is not None and not (trange[0] <= stable <= trange[1] * (1 + 1e-9)):
            raise MeasurementFileError(file, "stable_lifetime", f"{stable!r} s lies outside lifetime_range {list(trange)}")

    cols = read_table(tpath)
    for key, col in (("mass_column", mcol), ("value_column", vcol), ("lifetime_column", tcol)):
        if col is not None and col not in cols:
            raise MeasurementFileError(
                file, key, f"column {col!r} not in table {table} (columns: {', '.join(cols)})"
            )
    m = cols[mcol]
    v = cols[vcol]
    if np.isnan(m).any() or np.isinf(m).any():
        raise MeasurementFileError(tpath, mcol, "mass column contains NaN/inf")
    if np.isinf(v).any():
        raise MeasurementFileError(tpath, vcol, "value column contains inf")
    if np.isnan(v).any() and not allow_nan:
        raise MeasurementFileError(
            tpath, vcol, f"value column contains {int(np.isnan(v).sum())} NaN entries but allow_nan is false in {file}"
        )

    if tcol is None:
        if np.any(np.diff(m) <= 0):
            i = int(np.argmax(np.diff(m) <= 0))
            raise MeasurementFileError(
                tpath, mcol, f"mass column not sorted (strictly increasing): row {i + 1} {m[i]!r} >= row {i + 2} {m[i + 1]!r}"
            )
        masses, lifetimes, grid = m, None, v
    else:
        t = cols[tcol]
        if np.isnan(t).any() or np.isinf(t).any():
            raise MeasurementFileError(tpath, tcol, "lifetime column contains NaN/inf")
        if np.any(np.diff(t) < 0):
            raise MeasurementFileError(tpath, tcol, "lifetime column not sorted (rows must be grouped by increasing lifetime)")
        tvals, starts = np.unique(t, return_index=True)
        bounds = list(starts) + [t.size]
        blocks = [m[bounds[i]: bounds[i + 1]] for i in range(len(tvals))]
        for blk in blocks:
            if np.any(np.diff(blk) <= 0):
                raise MeasurementFileError(tpath, mcol, "mass column not sorted (strictly increasing within each lifetime block)")
        masses = blocks[0]
        if any(blk.shape != masses.shape or not np.array_equal(blk, masses) for blk in blocks):
            raise MeasurementFileError(tpath, mcol, "incomplete grid: the masses differ between lifetime blocks")
        grid = np.stack([v[bounds[i]: bounds[i + 1]] for i in range(len(tvals))], axis=1)
        lt = 10.0 ** tvals if out["lifetime_is_log10"] else tvals.copy()
        lifetimes = lt * _LIFETIME_UNITS[out["lifetime_unit"]]
        if not np.all(lifetimes > 0):
            raise MeasurementFileError(tpath, tcol, "lifetimes must be positive")
        trange = out["lifetime_range"]
        if lifetimes[0] < trange[0] * (1 - 1e-9) or lifetimes[-1] > trange[1] * (1 + 1e-9):
            raise MeasurementFileError(
                file, "lifetime_range",
                f"table {table} lifetimes [{lifetimes[0]:.6g}, {lifetimes[-1]:.6g}] s exceed {list(trange)}",
            )

    tol = 1e-9 * max(1.0, abs(mrange[1]))
    if masses[0] < mrange[0] - tol or masses[-1] > mrange[1] + tol:
        raise MeasurementFileError(
            file, "mass_range", f"table {table} masses [{masses[0]!r}, {masses[-1]!r}] exceed {list(mrange)}"
        )
    finite = grid[~np.isnan(grid)]
    if is_log:
        if np.any(finite > 0):
            raise MeasurementFileError(tpath, vcol, "log10 branching-ratio limit > 0 (BR > 1)")
        br = 10.0 ** grid
    else:
        if np.any(finite <= 0) or np.any(finite > 1):
            raise MeasurementFileError(tpath, vcol, "branching-ratio limits must lie in (0, 1]")
        br = grid.copy()
    out["masses"] = _readonly(masses)
    out["lifetimes"] = None if lifetimes is None else _readonly(lifetimes)
    out["values"] = _readonly(br)
    return out


# --------------------------------------------------------------------------- measurements


def _parse_measurement(name: str, path: Any, root: Any) -> Measurement:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MeasurementFileError(path, None, f"TOML syntax error: {exc}") from None
    if set(doc) != {"measurement"} or not isinstance(doc["measurement"], dict):
        raise MeasurementFileError(path, "measurement", "file must contain exactly one [measurement] table")
    tbl = doc["measurement"]
    kind = _str(tbl, "kind", path, choices=KINDS)
    _check_keys(tbl, {**_COMMON_KEYS, **_KIND_KEYS[kind]}, path)
    fname = _str(tbl, "name", path)
    if fname != name:
        raise MeasurementFileError(path, "name", f"name {fname!r} differs from the file name {name!r}")

    kw: dict[str, Any] = dict(
        name=name, kind=kind, file=str(path),
        experiment=_str(tbl, "experiment", path),
        reference=_str(tbl, "reference", path),
        arxiv=_strings(tbl, "arxiv", path),
        inspire=_strings(tbl, "inspire", path, required=False),
        notes=_str(tbl, "notes", path, required=False).strip(),
        source=_str(tbl, "source", path, required=False),
        digitisation=_str(tbl, "digitisation", path, required=False),
        projection=_bool(tbl, "projection", path, required=False, default=False),
        raw=MappingProxyType(dict(tbl)),
    )
    if not kw["arxiv"]:
        raise MeasurementFileError(path, "arxiv", "at least one arXiv number is required")
    for a in kw["arxiv"]:
        if not _ARXIV_RE.match(a):
            raise MeasurementFileError(path, "arxiv", f"{a!r} is not an arXiv number like '2311.14647'")

    if kind == "correlated_gaussian":
        if "observable" in tbl:
            raise MeasurementFileError(path, "observable", "use 'observables' (a list) for kind 'correlated_gaussian'")
        obs = _strings(tbl, "observables", path)
        n = len(obs)
        for o in obs:
            if o not in OBSERVABLES:
                raise MeasurementFileError(path, "observables", f"unknown observable {o!r}; valid: {', '.join(OBSERVABLES)}")
        kw["observables"] = obs
        kw["observable"] = ", ".join(dict.fromkeys(obs))
        kw["values"] = _readonly(_matrix(tbl, "values", path, 1, nrows=n)[:, 0])
        q2 = _matrix(tbl, "q2_bins", path, 2, nrows=n)
        if np.any(q2[:, 0] >= q2[:, 1]) or np.any(q2 < 0):
            raise MeasurementFileError(path, "q2_bins", "each bin must be [lo, hi] with 0 <= lo < hi")
        kw["q2_bins"] = _readonly(q2)
        for key in ("errors", "stat", "syst"):
            if key not in tbl:
                continue
            e = _matrix(tbl, key, path, None, nrows=n)
            if e.shape[1] == 1:
                e = np.repeat(e, 2, axis=1)
            if e.shape[1] != 2 or np.any(e <= 0):
                raise MeasurementFileError(path, key, "expected positive numbers or [up, down] pairs")
            kw[key] = _readonly(e)
        c = _matrix(tbl, "correlation", path, n, nrows=n)
        if not np.allclose(c, c.T, atol=1e-12):
            raise MeasurementFileError(path, "correlation", "matrix is not symmetric")
        if not np.allclose(np.diag(c), 1.0):
            raise MeasurementFileError(path, "correlation", "diagonal must be 1")
        if np.any(np.abs(c) > 1) or np.linalg.eigvalsh(c).min() <= 0:
            raise MeasurementFileError(path, "correlation", "matrix is not positive definite")
        kw["correlation"] = _readonly(c)
        return Measurement(**kw)

    obs = _str(tbl, "observable", path, choices=OBSERVABLES)
    kw["observable"] = obs
    kw["observables"] = (obs,)
    if kind == "gaussian":
        kw["value"] = _number(tbl, "value", path)
        kw["error_up"] = _number(tbl, "error_up", path, positive=True)
        kw["error_down"] = _number(tbl, "error_down", path, positive=True)
        for key in ("stat", "syst"):
            if key in tbl:
                kw[key] = _updown(tbl[key], key, path)
    elif kind == "upper_limit":
        kw["limit"] = _number(tbl, "limit", path, positive=True)
        kw["cl"] = _cl(tbl, path)
        kw["expected_limit"] = _number(tbl, "expected_limit", path, required=False, positive=True)
    elif kind == "counts":
        kw["limit"] = _number(tbl, "limit", path, positive=True)
        kw["cl"] = _cl(tbl, path)
        kw["counts_total"] = _number(tbl, "counts_total", path, nonneg=True)
        kw["counts_signal"] = _number(tbl, "counts_signal", path, required=False)
        kw["counts_background"] = _number(tbl, "counts_background", path, required=False, nonneg=True)
        if kw["counts_signal"] is None and kw["counts_background"] is None:
            raise MeasurementFileError(path, "counts_signal", "give 'counts_signal' or 'counts_background'")
        kw["background_std"] = _number(tbl, "background_std", path, nonneg=True)
        kw["counts_convention"] = _str(tbl, "counts_convention", path)
    elif kind == "mass_dependent_upper_limit":
        kw.update(_load_table(tbl, path, root))
    elif kind == "pyhf_likelihood":
        files = [_str(tbl, "workspace", path), _str(tbl, "constants", path), *_strings(tbl, "number_densities", path)]
        for f in files:
            if not (root / f).is_file():
                raise MeasurementFileError(path, "workspace" if f == files[0] else "number_densities",
                                           f"file {f!r} not found under {root}")
    return Measurement(**kw)


@functools.lru_cache(maxsize=None)
def _load_packaged(name: str) -> Measurement:
    return _load(name, None)


def _load(name: str, directory: Any) -> Measurement:
    if not isinstance(name, str):
        raise TypeError(f"measurement name must be a string, got {type(name).__name__} {name!r}")
    root = _root(directory)
    path = root / "measurements" / f"{name}.toml"
    if not _NAME_RE.match(name) or not path.is_file():
        raise _unknown("measurement", name, list_measurements(directory))
    return _parse_measurement(name, path, root)


def load_measurement(name: str, directory: Any = None) -> Measurement:
    """Load and validate measurement ``name`` (file ``measurements/<name>.toml``).

    ``directory`` (optional) is a data root with the layout of ``hpjax/data``
    (``measurements/``, ``tables/``, ``datasets.toml``); by default the package data of
    ``hpjax.data`` is used (results cached). Unknown name -> :class:`UnknownNameError`;
    malformed file -> :class:`MeasurementFileError`.
    """
    if directory is None and isinstance(name, str):
        return _load_packaged(name)
    return _load(name, directory)


# --------------------------------------------------------------------------- datasets


def _datasets_doc(directory: Any = None) -> tuple[dict, Any]:
    path = _root(directory) / "datasets.toml"
    if not path.is_file():
        raise MeasurementFileError(path, None, "datasets file not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except tomllib.TOMLDecodeError as exc:
        raise MeasurementFileError(path, None, f"TOML syntax error: {exc}") from None


def list_datasets(directory: Any = None) -> list[str]:
    """Names of the datasets in ``datasets.toml`` (in file order)."""
    doc, _ = _datasets_doc(directory)
    return [k for k, v in doc.items() if isinstance(v, dict)]


def _dataset_table(name: str, directory: Any) -> tuple[dict, Any]:
    doc, path = _datasets_doc(directory)
    valid = [k for k, v in doc.items() if isinstance(v, dict)]
    if not isinstance(name, str) or name not in valid:
        raise _unknown("dataset", name, valid)
    return doc[name], path


def _check_term_names(names: list[str], term: str, key: str, path: Any, directory: Any) -> None:
    valid = list_measurements(directory)
    for n in names:
        if n not in valid:
            raise MeasurementFileError(path, key, f"unknown measurement {n!r}; valid names: {', '.join(valid)}")
        m = load_measurement(n, directory)
        bad = [o for o in m.observables if o not in TERMS[term]]
        if bad:
            raise MeasurementFileError(
                path, key, f"measurement {n!r} has observable {bad[0]!r}; term {term!r} accepts {', '.join(TERMS[term])}"
            )


def load_dataset(name: str, directory: Any = None) -> dict[str, Any]:
    """The likelihood terms of dataset ``name`` with their measurement names.

    Returns ``{term: [measurement names]}`` for the terms ``belle2``, ``sm_prediction``,
    ``belle_kstar``, ``na62``, ``koto``, ``lfu`` (always a list, even for one name) and
    ``higgs_invisible -> {"default": scenario, "scenarios": {scenario: measurement name}}``.
    Every referenced measurement is loaded and checked against the term's observable.
    """
    tbl, path = _dataset_table(name, directory)
    out: dict[str, Any] = {}
    for term, val in tbl.items():
        key = f"{name}.{term}"
        if term == "description":
            if not isinstance(val, str):
                raise MeasurementFileError(path, key, "expected a string")
            continue
        if term not in TERMS:
            raise MeasurementFileError(path, key, f"unknown likelihood term; valid terms: {', '.join(TERMS)}, description")
        if term == "higgs_invisible":
            if not isinstance(val, dict) or not isinstance(val.get("scenarios"), dict):
                raise MeasurementFileError(path, key + ".scenarios", "expected a table 'scenarios = {lhc = ..., ...}'")
            extra = set(val) - {"scenarios", "default"}
            if extra:
                raise MeasurementFileError(path, f"{key}.{sorted(extra)[0]}", "unknown key (allowed: scenarios, default)")
            scen = val["scenarios"]
            for s, n in scen.items():
                if s not in HIGGS_SCENARIOS:
                    raise MeasurementFileError(path, f"{key}.scenarios.{s}", f"unknown scenario; valid: {', '.join(HIGGS_SCENARIOS)}")
                if not isinstance(n, str):
                    raise MeasurementFileError(path, f"{key}.scenarios.{s}", "expected a measurement name (string)")
                _check_term_names([n], term, f"{key}.scenarios.{s}", path, directory)
            if "lhc" not in scen:
                raise MeasurementFileError(path, f"{key}.scenarios.lhc", "missing required scenario")
            default = val.get("default", "lhc")
            if default not in scen:
                raise MeasurementFileError(path, f"{key}.default", f"{default!r} is not one of the scenarios {', '.join(scen)}")
            out[term] = {"default": default, "scenarios": dict(scen)}
            continue
        names = [val] if isinstance(val, str) else val
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise MeasurementFileError(path, key, f"expected a measurement name or a list of names, got {val!r}")
        _check_term_names(names, term, key, path, directory)
        out[term] = list(names)
    return out


def dataset_description(name: str, directory: Any = None) -> str:
    """The ``description`` string of dataset ``name`` (empty if none)."""
    tbl, _ = _dataset_table(name, directory)
    return str(tbl.get("description", "")).strip()


def dataset_measurements(name: str, directory: Any = None) -> list[str]:
    """All measurement names used by dataset ``name`` (all Higgs scenarios included), in order."""
    names: list[str] = []
    for term, val in load_dataset(name, directory).items():
        names.extend(val["scenarios"].values() if term == "higgs_invisible" else val)
    return list(dict.fromkeys(names))


def citations(names: str | Iterable[str], directory: Any = None) -> list[str]:
    """One citation line per distinct measurement in ``names`` (see :attr:`Measurement.citation`)."""
    if isinstance(names, str):
        names = [names]
    return list(dict.fromkeys(load_measurement(n, directory).citation for n in names))
