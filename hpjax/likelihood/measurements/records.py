"""Measurement records: one frozen dataclass per kind, parsed and validated from a TOML file.

Every record has the common fields of :class:`Measurement` (name, kind, observable(s),
experiment, arXiv numbers, reference, notes, source, file, ...) and the fields of its kind only:
:class:`Gaussian`, :class:`UpperLimit`, :class:`Counts`, :class:`MassDependentUpperLimit`,
:class:`CorrelatedGaussian`, :class:`PyhfLikelihood`; the fits and recasts of
:mod:`.records_fits` (:class:`~.records_fits.MassDependentGaussian`, :class:`~.records_fits.OffshellGaussian`) add
themselves to it. :data:`RECORDS` maps a kind to its class.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ..names import KINDS, MEASURED_OBSERVABLES
from .checks import (
    MeasurementFileError,
    boolean,
    check_keys,
    confidence_level,
    matrix,
    number,
    readonly,
    string,
    strings,
    up_down,
)
from .tables import load_table

__all__ = [
    "Measurement",
    "Gaussian",
    "UpperLimit",
    "Counts",
    "MassDependentUpperLimit",
    "CorrelatedGaussian",
    "PyhfLikelihood",
    "RECORDS",
    "parse_measurement",
]

_ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})$")

_COMMON_KEYS = {
    "name": True,
    "kind": True,
    "experiment": True,
    "arxiv": True,
    "reference": True,
    "observable": False,
    "inspire": False,
    "notes": False,
    "source": False,
    "digitisation": False,
    "projection": False,
}


@dataclass(frozen=True, eq=False, kw_only=True)
class Measurement:
    """The fields every measurement has. ``observables`` has one entry per measured number (a
    single entry except for ``correlated_gaussian``); ``observable`` is the single observable, or
    the distinct observables joined by ``", "``. ``arxiv`` and ``inspire`` are tuples; arrays are
    read-only; ``raw`` is the ``[measurement]`` table as read."""

    KEYS = {}  # kind-specific keys: {key: required}

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

    @classmethod
    def parse(cls, tbl: Mapping, path: Any, root: Any) -> dict:
        """The kind-specific fields of ``tbl`` (validated)."""
        return {}


@dataclass(frozen=True, eq=False, kw_only=True)
class Gaussian(Measurement):
    """A measured value with asymmetric errors; optional ``stat``/``syst`` ``(up, down)``."""

    KEYS = {"value": True, "error_up": True, "error_down": True, "stat": False, "syst": False}
    value: float
    error_up: float
    error_down: float
    stat: tuple[float, float] | None = None
    syst: tuple[float, float] | None = None

    @classmethod
    def parse(cls, tbl, path, root):
        kw = {
            "value": number(tbl, "value", path),
            "error_up": number(tbl, "error_up", path, positive=True),
            "error_down": number(tbl, "error_down", path, positive=True),
        }
        for key in ("stat", "syst"):
            if key in tbl:
                kw[key] = up_down(tbl[key], key, path)
        return kw


@dataclass(frozen=True, eq=False, kw_only=True)
class UpperLimit(Measurement):
    """An upper limit ``limit`` at confidence level ``cl``."""

    KEYS = {"limit": True, "cl": True, "expected_limit": False}
    limit: float
    cl: float
    expected_limit: float | None = None

    @classmethod
    def parse(cls, tbl, path, root):
        return {
            "limit": number(tbl, "limit", path, positive=True),
            "cl": confidence_level(tbl, path),
            "expected_limit": number(tbl, "expected_limit", path, required=False, positive=True),
        }


@dataclass(frozen=True, eq=False, kw_only=True)
class Counts(Measurement):
    """An upper limit with its published event counts (flavio ``general_gamma_upper_limit`` fields)."""

    KEYS = {
        "limit": True,
        "cl": True,
        "counts_total": True,
        "counts_signal": False,
        "counts_background": False,
        "background_std": True,
        "counts_convention": True,
    }
    limit: float
    cl: float
    counts_total: float
    counts_signal: float | None
    counts_background: float | None
    background_std: float
    counts_convention: str

    @classmethod
    def parse(cls, tbl, path, root):
        kw = {
            "limit": number(tbl, "limit", path, positive=True),
            "cl": confidence_level(tbl, path),
            "counts_total": number(tbl, "counts_total", path, nonneg=True),
            "counts_signal": number(tbl, "counts_signal", path, required=False),
            "counts_background": number(tbl, "counts_background", path, required=False, nonneg=True),
        }
        if kw["counts_signal"] is None and kw["counts_background"] is None:
            raise MeasurementFileError(path, "counts_signal", "give 'counts_signal' or 'counts_background'")
        kw["background_std"] = number(tbl, "background_std", path, nonneg=True)
        kw["counts_convention"] = string(tbl, "counts_convention", path)
        return kw


@dataclass(frozen=True, eq=False, kw_only=True)
class MassDependentUpperLimit(Measurement):
    """A table of BR limits versus mass (and lifetime): ``masses`` [GeV], ``lifetimes`` [s] or
    None, ``values`` (BR, not log10) of shape (n_mass,) or (n_mass, n_lifetime), NaN = no limit."""

    KEYS = {
        "table": True,
        "cl": True,
        "mass_column": True,
        "value_column": True,
        "value_is_log10": True,
        "mass_range": True,
        "allow_nan": False,
        "lifetime_column": False,
        "lifetime_unit": False,
        "lifetime_is_log10": False,
        "lifetime_range": False,
        "stable_lifetime": False,
    }
    table: str
    cl: float
    mass_column: str
    value_column: str
    value_is_log10: bool
    allow_nan: bool
    mass_range: tuple[float, float]
    masses: np.ndarray
    values: np.ndarray
    lifetimes: np.ndarray | None = None
    lifetime_column: str | None = None
    lifetime_unit: str | None = None
    lifetime_is_log10: bool | None = None
    lifetime_range: tuple[float, float] | None = None
    stable_lifetime: float | None = None

    @classmethod
    def parse(cls, tbl, path, root):
        return load_table(tbl, path, root)


@dataclass(frozen=True, eq=False, kw_only=True)
class CorrelatedGaussian(Measurement):
    """Correlated measurements in q^2 bins: ``values``, ``errors`` (n, 2) = (up, down),
    ``correlation`` (n, n), ``q2_bins`` (n, 2); optional ``stat``/``syst`` (n, 2)."""

    KEYS = {
        "observables": True,
        "q2_bins": True,
        "values": True,
        "errors": True,
        "correlation": True,
        "stat": False,
        "syst": False,
    }
    q2_bins: np.ndarray
    values: np.ndarray
    errors: np.ndarray
    correlation: np.ndarray
    stat: np.ndarray | None = None
    syst: np.ndarray | None = None

    @classmethod
    def parse(cls, tbl, path, root):
        n = len(strings(tbl, "observables", path))
        kw = {"values": readonly(matrix(tbl, "values", path, 1, nrows=n)[:, 0])}
        q2 = matrix(tbl, "q2_bins", path, 2, nrows=n)
        if np.any(q2[:, 0] >= q2[:, 1]) or np.any(q2 < 0):
            raise MeasurementFileError(path, "q2_bins", "each bin must be [lo, hi] with 0 <= lo < hi")
        kw["q2_bins"] = readonly(q2)
        for key in ("errors", "stat", "syst"):
            if key not in tbl:
                continue
            e = matrix(tbl, key, path, None, nrows=n)
            if e.shape[1] == 1:
                e = np.repeat(e, 2, axis=1)
            if e.shape[1] != 2 or np.any(e <= 0):
                raise MeasurementFileError(path, key, "expected positive numbers or [up, down] pairs")
            kw[key] = readonly(e)
        c = matrix(tbl, "correlation", path, n, nrows=n)
        if not np.allclose(c, c.T, atol=1e-12):
            raise MeasurementFileError(path, "correlation", "matrix is not symmetric")
        if not np.allclose(np.diag(c), 1.0):
            raise MeasurementFileError(path, "correlation", "diagonal must be 1")
        if np.any(np.abs(c) > 1) or np.linalg.eigvalsh(c).min() <= 0:
            raise MeasurementFileError(path, "correlation", "matrix is not positive definite")
        kw["correlation"] = readonly(c)
        return kw


@dataclass(frozen=True, eq=False, kw_only=True)
class PyhfLikelihood(Measurement):
    """A published pyhf workspace with the files that reinterpret it (paths under the data root)."""

    KEYS = {"workspace": True, "number_densities": True, "constants": True}
    workspace: str
    number_densities: tuple[str, ...]
    constants: str

    @classmethod
    def parse(cls, tbl, path, root):
        kw = {
            "workspace": string(tbl, "workspace", path),
            "constants": string(tbl, "constants", path),
            "number_densities": strings(tbl, "number_densities", path),
        }
        for key, files in (
            ("workspace", [kw["workspace"], kw["constants"]]),
            ("number_densities", kw["number_densities"]),
        ):
            for f in files:
                if not (root / f).is_file():
                    raise MeasurementFileError(path, key, f"file {f!r} not found under {root}")
        return kw


#: measurement kind -> record class (:mod:`.records_fits` adds its kinds)
RECORDS = {
    "gaussian": Gaussian,
    "upper_limit": UpperLimit,
    "counts": Counts,
    "mass_dependent_upper_limit": MassDependentUpperLimit,
    "correlated_gaussian": CorrelatedGaussian,
    "pyhf_likelihood": PyhfLikelihood,
}


def _observables(tbl, kind, path) -> dict:
    if kind == "correlated_gaussian":
        if "observable" in tbl:
            raise MeasurementFileError(path, "observable", "use 'observables' (a list) for kind 'correlated_gaussian'")
        obs = strings(tbl, "observables", path)
        for o in obs:
            if o not in MEASURED_OBSERVABLES:
                raise MeasurementFileError(
                    path, "observables", f"unknown observable {o!r}; valid: {', '.join(MEASURED_OBSERVABLES)}"
                )
        return {"observables": obs, "observable": ", ".join(dict.fromkeys(obs))}
    obs = string(tbl, "observable", path, choices=MEASURED_OBSERVABLES)
    return {"observable": obs, "observables": (obs,)}


def parse_measurement(name: str, path: Any, root: Any) -> Measurement:
    """Read and validate the measurement file ``path`` (stem ``name``) into its record."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MeasurementFileError(path, None, f"TOML syntax error: {exc}") from None
    except UnicodeDecodeError:
        raise MeasurementFileError(path, None, "not a UTF-8 text file") from None
    if set(doc) != {"measurement"} or not isinstance(doc["measurement"], dict):
        raise MeasurementFileError(path, "measurement", "file must contain exactly one [measurement] table")
    tbl = doc["measurement"]
    kind = string(tbl, "kind", path, choices=KINDS)
    cls = RECORDS[kind]
    check_keys(tbl, {**_COMMON_KEYS, **cls.KEYS}, path)
    fname = string(tbl, "name", path)
    if fname != name:
        raise MeasurementFileError(path, "name", f"name {fname!r} differs from the file name {name!r}")
    kw: dict[str, Any] = dict(
        name=name,
        kind=kind,
        file=str(path),
        experiment=string(tbl, "experiment", path),
        reference=string(tbl, "reference", path),
        arxiv=strings(tbl, "arxiv", path),
        inspire=strings(tbl, "inspire", path, required=False),
        notes=string(tbl, "notes", path, required=False).strip(),
        source=string(tbl, "source", path, required=False),
        digitisation=string(tbl, "digitisation", path, required=False),
        projection=boolean(tbl, "projection", path, required=False, default=False),
        raw=MappingProxyType(dict(tbl)),
    )
    if not kw["arxiv"]:
        raise MeasurementFileError(path, "arxiv", "at least one arXiv number is required")
    for a in kw["arxiv"]:
        if not _ARXIV_RE.match(a):
            raise MeasurementFileError(path, "arxiv", f"{a!r} is not an arXiv number like '2311.14647'")
    kw.update(_observables(tbl, kind, path))
    kw.update(cls.parse(tbl, path, root))
    return cls(**kw)
