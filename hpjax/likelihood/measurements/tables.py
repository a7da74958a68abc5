"""Mass(-lifetime) dependent limit tables: reading a CSV file and validating a table measurement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .checks import MeasurementFileError, boolean, confidence_level, number, readonly, string, value_range

__all__ = ["read_table", "load_table", "load_gaussian_table", "LIFETIME_UNITS"]

#: lifetime units a table may use, in seconds
LIFETIME_UNITS = {"s": 1.0, "ns": 1e-9, "ps": 1e-12}


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


def table_file(tbl: Mapping, file: Any, root: Any) -> tuple[str, Any]:
    """The record's ``table`` key (a ``*.csv`` file name under tables/) and the path of that file."""
    table = string(tbl, "table", file)
    if "/" in table or "\\" in table or not table.endswith(".csv"):
        raise MeasurementFileError(file, "table", f"expected a file name '*.csv' under tables/, got {table!r}")
    tpath = root / "tables" / table
    if not tpath.is_file():
        raise MeasurementFileError(file, "table", f"table file {table!r} not found in {root / 'tables'}")
    return table, tpath


def load_table(tbl: Mapping, file: Any, root: Any) -> dict[str, Any]:
    """Validate the table keys of a mass_dependent_upper_limit and read its table."""
    out: dict[str, Any] = {}
    table, tpath = table_file(tbl, file, root)
    out["table"] = table
    out["cl"] = confidence_level(tbl, file)
    mcol = out["mass_column"] = string(tbl, "mass_column", file)
    vcol = out["value_column"] = string(tbl, "value_column", file)
    is_log = out["value_is_log10"] = boolean(tbl, "value_is_log10", file)
    allow_nan = out["allow_nan"] = boolean(tbl, "allow_nan", file, required=False, default=False)
    mrange = out["mass_range"] = value_range(tbl, "mass_range", file)
    tcol = out["lifetime_column"] = string(tbl, "lifetime_column", file, required=False, default=None)
    lifetime_keys = ("lifetime_unit", "lifetime_is_log10", "lifetime_range", "stable_lifetime")
    if tcol is None:
        for key in lifetime_keys:
            if key in tbl:
                raise MeasurementFileError(file, key, "given without 'lifetime_column'")
    else:
        out["lifetime_unit"] = string(tbl, "lifetime_unit", file, choices=tuple(LIFETIME_UNITS))
        out["lifetime_is_log10"] = boolean(tbl, "lifetime_is_log10", file)
        trange = out["lifetime_range"] = value_range(tbl, "lifetime_range", file)
        stable = out["stable_lifetime"] = number(tbl, "stable_lifetime", file, required=False, positive=True)
        if stable is not None and not (trange[0] <= stable <= trange[1] * (1 + 1e-9)):
            raise MeasurementFileError(
                file, "stable_lifetime", f"{stable!r} s lies outside lifetime_range {list(trange)}"
            )

    cols = read_table(tpath)
    for key, col in (("mass_column", mcol), ("value_column", vcol), ("lifetime_column", tcol)):
        if col is not None and col not in cols:
            raise MeasurementFileError(file, key, f"column {col!r} not in table {table} (columns: {', '.join(cols)})")
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
                tpath,
                mcol,
                f"mass column not sorted (strictly increasing): row {i + 1} {m[i]!r} >= row {i + 2} {m[i + 1]!r}",
            )
        masses, lifetimes, grid = m, None, v
    else:
        t = cols[tcol]
        if np.isnan(t).any() or np.isinf(t).any():
            raise MeasurementFileError(tpath, tcol, "lifetime column contains NaN/inf")
        if np.any(np.diff(t) < 0):
            raise MeasurementFileError(
                tpath, tcol, "lifetime column not sorted (rows must be grouped by increasing lifetime)"
            )
        tvals, starts = np.unique(t, return_index=True)
        bounds = list(starts) + [t.size]
        blocks = [m[bounds[i] : bounds[i + 1]] for i in range(len(tvals))]
        for blk in blocks:
            if np.any(np.diff(blk) <= 0):
                raise MeasurementFileError(
                    tpath, mcol, "mass column not sorted (strictly increasing within each lifetime block)"
                )
        masses = blocks[0]
        if any(blk.shape != masses.shape or not np.array_equal(blk, masses) for blk in blocks):
            raise MeasurementFileError(tpath, mcol, "incomplete grid: the masses differ between lifetime blocks")
        grid = np.stack([v[bounds[i] : bounds[i + 1]] for i in range(len(tvals))], axis=1)
        lt = 10.0**tvals if out["lifetime_is_log10"] else tvals.copy()
        lifetimes = lt * LIFETIME_UNITS[out["lifetime_unit"]]
        if not np.all(lifetimes > 0):
            raise MeasurementFileError(tpath, tcol, "lifetimes must be positive")
        trange = out["lifetime_range"]
        if lifetimes[0] < trange[0] * (1 - 1e-9) or lifetimes[-1] > trange[1] * (1 + 1e-9):
            raise MeasurementFileError(
                file,
                "lifetime_range",
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
        br = 10.0**grid
    else:
        if np.any(finite <= 0) or np.any(finite > 1):
            raise MeasurementFileError(tpath, vcol, "branching-ratio limits must lie in (0, 1]")
        br = grid.copy()
    out["masses"] = readonly(masses)
    out["lifetimes"] = None if lifetimes is None else readonly(lifetimes)
    out["values"] = readonly(br)
    return out


def load_gaussian_table(tbl: Mapping, file: Any, root: Any) -> dict[str, Any]:
    """Validate the keys of a ``mass_dependent_gaussian`` record and read its table: per mass a
    central value and the lower and upper edges of an interval that is ``interval_sigma``
    standard deviations wide on each side (asymmetric Gaussian)."""
    out: dict[str, Any] = {}
    table, tpath = table_file(tbl, file, root)
    out["table"] = table
    keys = ("mass_column", "central_column", "lower_column", "upper_column")
    cols_named = {k: string(tbl, k, file) for k in keys}
    out.update(cols_named)
    out["mass_range"] = value_range(tbl, "mass_range", file)
    out["interval_sigma"] = number(tbl, "interval_sigma", file, positive=True)
    out["escape_length"] = number(tbl, "escape_length", file, positive=True)
    out["parent_beta_gamma"] = number(tbl, "parent_beta_gamma", file, nonneg=True)
    cols = read_table(tpath)
    for key, col in cols_named.items():
        if col not in cols:
            raise MeasurementFileError(file, key, f"column {col!r} not in table {table} (columns: {', '.join(cols)})")
    m, c, lo, hi = (cols[cols_named[k]] for k in keys)
    for key, v in zip(keys, (m, c, lo, hi), strict=True):
        if not np.all(np.isfinite(v)):
            raise MeasurementFileError(tpath, cols_named[key], "column contains NaN/inf")
    if np.any(np.diff(m) <= 0):
        raise MeasurementFileError(tpath, cols_named["mass_column"], "mass column not sorted (strictly increasing)")
    # lower may exceed central by round-off (ALPaca's Belle II file has 2.2e-22 over a central 0)
    bad = (lo < 0) | (c < 0) | (lo > c + 1e-18) | (hi <= c)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise MeasurementFileError(
            tpath, f"row {i + 1}", f"need 0 <= lower <= central < upper, got {lo[i]!r}, {c[i]!r}, {hi[i]!r}"
        )
    lo = np.minimum(lo, c)
    mrange = out["mass_range"]
    tol = 1e-9 * max(1.0, abs(mrange[1]))
    if m[0] < mrange[0] - tol or m[-1] > mrange[1] + tol:
        raise MeasurementFileError(
            file, "mass_range", f"table {table} masses [{m[0]!r}, {m[-1]!r}] exceed {list(mrange)}"
        )
    out["masses"], out["central"], out["lower"], out["upper"] = (readonly(v) for v in (m, c, lo, hi))
    return out
