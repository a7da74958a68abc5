"""Inputs: every number the physics formulas use, as one differentiable pytree.

Values, uncertainties, units and citations are read from ``hpjax/data/inputs.toml`` (and the
form-factor sets of ``hpjax/data/formfactors/sets.toml``); nothing numerical is hard-coded here.
The pytree's leaves are the values, so ``jax.grad`` flows through any input and any input can
become a nuisance parameter. Metadata (errors, citations, covariances) stays outside the pytree.

>>> from hpjax.inputs import Inputs
>>> inp = Inputs.default()
>>> float(inp.m_Bp)
5.27941
>>> inp2 = inp.replace(m_t=162.5)
>>> float(inp2.m_t), float(inp.m_t)
(162.5, 172.57)
>>> inp.error("m_t") > 0
True
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Inputs",
    "InputInfo",
    "input_info",
    "formfactor_sets",
    "DEFAULT_FORMFACTORS",
    "RANGES",
    "range_problem",
    "parse_inputs",
]

DEFAULT_FORMFACTORS = "table2"


_INF = float("inf")
_POS = (0.0, _INF, False, False)  # a mass, width, lifetime, VEV, coupling constant: > 0
_REAL = (-_INF, _INF, False, False)  # any finite real number
#: allowed range of every input, (low, high, low_inclusive, high_inclusive); an input missing here
#: is an error when hpjax/data/inputs.toml is read, so a new input must declare its range
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    **{
        k: _POS
        for k in (
            "G_F",
            "v",
            "m_h",
            "Gamma_h",
            "hbar",
            "hbar_c",
            "m_t",
            "m_b",
            "m_s",
            "m_d",
            "m_e",
            "m_mu",
            "m_tau",
            "m_Bp",
            "m_B0",
            "m_Kp",
            "m_K0",
            "m_Kstar0",
            "m_pip",
            "m_pi0",
            "tau_Bp",
            "tau_B0",
            "tau_Kp",
            "tau_KL",
            "BK_f0_mR",
            "BKstar_A0_mR",
        )
    },
    # Wolfenstein parameters: the range in which the exact PDG relations stay real (s23 = A lambda^2 < 1)
    "ckm_lambda": (0.0, 0.5, False, False),
    "ckm_A": (0.0, 3.0, False, True),
    "ckm_rhobar": (-2.0, 2.0, True, True),
    "ckm_etabar": (-2.0, 2.0, True, True),
    # theory options (issue 15): the light-quark term of the vertex, the h_D -> hadrons model weight
    "vertex_light_quark": (0.0, 1.0, True, True),
    "hD_hadrons_model": (-2.0, 3.0, True, True),
    # form-factor coefficients and the K -> pi normalisation and slope: any finite real number
    **{
        k: _REAL
        for k in (
            "BK_f0_a0",
            "BK_f0_a1",
            "BK_f0_a2",
            "BKstar_A0_a0",
            "BKstar_A0_a1",
            "BKstar_A0_a2",
            "Kpi_f0_0",
            "Kpi_f0_lambda0",
        )
    },
}


def _fmt(x: float) -> str:
    return "inf" if x == _INF else "-inf" if x == -_INF else f"{x:g}"


def range_text(name: str) -> str:
    """The allowed range of input ``name`` as an interval, e.g. ``(0, inf)``."""
    lo, hi, lo_inc, hi_inc = RANGES[name]
    return f"{'[' if lo_inc else '('}{_fmt(lo)}, {_fmt(hi)}{']' if hi_inc else ')'}"


def range_problem(name: str, value) -> str | None:
    """What is wrong with the concrete value(s) of input ``name`` (None if nothing)."""
    if isinstance(value, (str, bytes, bool)) or value is None:
        return f"{name} = {value!r} is not a real number; allowed range {range_text(name)}"
    try:
        val = np.asarray(value)
    except (TypeError, ValueError):
        return f"{name} = {value!r} is not a real number; allowed range {range_text(name)}"
    if val.dtype.kind not in "iuf":
        return f"{name} = {value!r} is not a real number; allowed range {range_text(name)}"
    val = val.astype(float)
    lo, hi, lo_inc, hi_inc = RANGES[name]
    bad = ~np.isfinite(val) | (val < lo if lo_inc else val <= lo) | (val > hi if hi_inc else val >= hi)
    if np.any(bad):
        shown = float(val if val.ndim == 0 else val[bad].ravel()[0])
        return f"{name} = {shown!r} is outside the allowed range {range_text(name)}"
    return None


@dataclass(frozen=True)
class InputInfo:
    """Metadata of one input: value, 1-sigma error, unit, citation and notes."""

    name: str
    value: float
    error: float
    unit: str
    source: str
    note: str = ""
    scheme: str = ""


def _read_toml(*parts: str) -> tuple[dict, str]:
    path = resources.files("hpjax.data").joinpath(*parts)
    label = "hpjax/data/" + "/".join(parts)
    try:
        return tomllib.loads(path.read_text()), label
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - data files are tested
        raise ValueError(f"{label}: malformed TOML: {exc}") from exc


def parse_inputs(data: Mapping, label: str, ranges: bool = True) -> dict[str, InputInfo]:
    out = {}
    for name, entry in data.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"{label}: key '{name}' must be a table with value/error/unit/source")
        for key, typ in (("value", (int, float)), ("error", (int, float)), ("unit", str), ("source", str)):
            if key not in entry:
                raise ValueError(f"{label}: key '{name}.{key}' is missing")
            if not isinstance(entry[key], typ) or isinstance(entry[key], bool):
                raise ValueError(f"{label}: key '{name}.{key}' has the wrong type {type(entry[key]).__name__}")
        if entry["error"] < 0:
            raise ValueError(f"{label}: key '{name}.error' = {entry['error']} must be >= 0")
        if not ranges:  # constants of another module's own table (darkphoton, cosmology): no Inputs range
            problem = None
        elif name not in RANGES:
            raise ValueError(f"{label}: key '{name}' has no allowed range in hpjax.inputs.RANGES")
        else:
            problem = range_problem(name, entry["value"])
        if problem:
            raise ValueError(f"{label}: key '{name}.value': {problem}")
        out[name] = InputInfo(
            name=name,
            value=float(entry["value"]),
            error=float(entry["error"]),
            unit=entry["unit"],
            source=entry["source"],
            note=entry.get("note", ""),
            scheme=entry.get("scheme", ""),
        )
    return out


@functools.cache
def _base_info() -> dict[str, InputInfo]:
    data, label = _read_toml("inputs.toml")
    return parse_inputs(data, label)


@functools.cache
def formfactor_sets() -> dict[str, dict]:
    """The selectable form-factor sets (name -> description, source, values, covariance)."""
    data, label = _read_toml("formfactors", "sets.toml")
    base = _base_info()
    for name, entry in data.items():
        for key in ("description", "source", "values", "covariance_names", "covariance"):
            if key not in entry:
                raise ValueError(f"{label}: key '{name}.{key}' is missing")
        for k in list(entry["values"]) + list(entry.get("errors", {})) + list(entry["covariance_names"]):
            if k not in base:
                raise ValueError(f"{label}: key '{name}' names unknown input '{k}'")
        for k, v in entry["values"].items():
            problem = range_problem(k, v)
            if problem:
                raise ValueError(f"{label}: key '{name}.values.{k}': {problem}")
        cov = np.asarray(entry["covariance"], dtype=float)
        n = len(entry["covariance_names"])
        if cov.shape != (n, n) or not np.allclose(cov, cov.T):
            raise ValueError(f"{label}: key '{name}.covariance' must be a symmetric {n}x{n} matrix")
        if np.min(np.linalg.eigvalsh(cov)) <= 0:
            raise ValueError(f"{label}: key '{name}.covariance' is not positive definite")
    return data


def input_info(formfactors: str = DEFAULT_FORMFACTORS) -> dict[str, InputInfo]:
    """Metadata of every input for the chosen form-factor set."""
    sets = formfactor_sets()
    if formfactors not in sets:
        raise ValueError(f"unknown form-factor set '{formfactors}'; valid sets: {sorted(sets)}")
    fs = sets[formfactors]
    info = dict(_base_info())
    cov_names = fs["covariance_names"]
    cov = np.asarray(fs["covariance"], dtype=float)
    for name, val in fs["values"].items():
        old = info[name]
        info[name] = InputInfo(name, float(val), old.error, old.unit, fs["source"], old.note, old.scheme)
    for name, err in fs.get("errors", {}).items():
        old = info[name]
        info[name] = InputInfo(name, old.value, float(err), old.unit, fs["source"], old.note, old.scheme)
    if formfactors != DEFAULT_FORMFACTORS:
        for i, name in enumerate(cov_names):
            old = info[name]
            info[name] = InputInfo(
                name, old.value, float(np.sqrt(cov[i, i])), old.unit, old.source, old.note, old.scheme
            )
    return info


@jax.tree_util.register_pytree_node_class
class Inputs:
    """All numerical inputs as a pytree of scalars (float64).

    Build with :meth:`Inputs.default`, read a value as an attribute (``inp.m_t``), override with
    :meth:`replace`. ``formfactors`` names the form-factor set (static, not a leaf).
    """

    __slots__ = ("_values", "_formfactors")

    def __init__(self, values: Mapping[str, jax.Array | float], formfactors: str = DEFAULT_FORMFACTORS):
        for k, v in values.items():  # concrete values are validated; traced ones (jit, grad) are not
            if k in RANGES and not isinstance(v, jax.core.Tracer):
                problem = range_problem(k, v)
                if problem:
                    raise ValueError(f"Inputs: {problem}")
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_formfactors", formfactors)

    # -- construction --------------------------------------------------------------------
    @classmethod
    def default(cls, formfactors: str = DEFAULT_FORMFACTORS, **overrides) -> Inputs:
        """Central values from ``hpjax/data``; keyword arguments override inputs by name."""
        info = input_info(formfactors)
        values = {k: jnp.asarray(v.value, dtype=jnp.float64) for k, v in info.items()}
        inp = cls(values, formfactors)
        return inp.replace(**overrides) if overrides else inp

    def replace(self, **overrides) -> Inputs:
        """A copy with some inputs replaced (values may be traced arrays)."""
        unknown = sorted(set(overrides) - set(self._values))
        if unknown:
            raise ValueError(f"unknown input(s) {unknown}; valid names: {sorted(self._values)}")
        values = dict(self._values)
        for k, v in overrides.items():
            if not isinstance(v, jax.core.Tracer):
                problem = range_problem(k, v)
                if problem:
                    raise ValueError(f"Inputs.replace: {problem}")
            values[k] = jnp.asarray(v, dtype=jnp.float64) if not isinstance(v, jax.Array) else v
        return Inputs(values, self._formfactors)

    def in_range(self):
        """True (a traced boolean inside jit) where every input lies in its allowed range
        (:data:`RANGES`): what a likelihood needs to return -inf, not garbage, at a nuisance
        value outside the physical region during a traced fit."""
        ok = True
        for k, v in self._values.items():
            if k in RANGES:
                lo, hi, lo_inc, hi_inc = RANGES[k]
                ok = ok & jnp.all(
                    jnp.isfinite(v) & ((v >= lo) if lo_inc else (v > lo)) & ((v <= hi) if hi_inc else (v < hi))
                )
        return ok

    # -- access --------------------------------------------------------------------------
    def __getattr__(self, name: str):
        values = object.__getattribute__(self, "_values")
        try:
            return values[name]
        except KeyError:
            raise AttributeError(f"Inputs has no input '{name}'; valid names: {sorted(values)}") from None

    def __setattr__(self, name, value):
        raise AttributeError("Inputs is immutable; use inputs.replace(name=value)")

    def __getitem__(self, name: str):
        return self.__getattr__(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._values)

    @property
    def formfactors(self) -> str:
        return self._formfactors

    def as_dict(self) -> dict[str, float]:
        """Concrete values as plain floats (fails inside a trace)."""
        return {k: float(v) for k, v in self._values.items()}

    def info(self, name: str) -> InputInfo:
        info = input_info(self._formfactors)
        if name not in info:
            raise ValueError(f"unknown input '{name}'; valid names: {sorted(info)}")
        return info[name]

    def error(self, name: str) -> float:
        return self.info(name).error

    def citation(self, name: str) -> str:
        return self.info(name).source

    def covariance(self, names: list[str]) -> np.ndarray:
        """Covariance of the named inputs: the form-factor set's correlated block where it
        covers them, the squared errors on the diagonal otherwise."""
        fs = formfactor_sets()[self._formfactors]
        cov_names = fs["covariance_names"]
        cov = np.asarray(fs["covariance"], dtype=float)
        out = np.diag([self.error(n) ** 2 for n in names])
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if a in cov_names and b in cov_names:
                    out[i, j] = cov[cov_names.index(a), cov_names.index(b)]
        return out

    def __repr__(self) -> str:
        return f"Inputs({len(self._values)} inputs, formfactors='{self._formfactors}')"

    # -- pytree --------------------------------------------------------------------------
    def tree_flatten(self):
        keys = tuple(sorted(self._values))
        return tuple(self._values[k] for k in keys), (keys, self._formfactors)

    @classmethod
    def tree_unflatten(cls, aux, children):
        keys, formfactors = aux
        obj = object.__new__(cls)
        object.__setattr__(obj, "_values", dict(zip(keys, children)))
        object.__setattr__(obj, "_formfactors", formfactors)
        return obj
