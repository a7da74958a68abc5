"""The two Higgs-portal models of the paper, as validated pytrees, and their dark-sector widths.

* :class:`SingletHiggsPortal` (Sec. II): singlet scalar S mixing with H, Dirac dark fermion chi
  with L = y_D S chibar chi. Parameters (m_hD [GeV], sin_theta, y_D, m_chi [GeV]).
* :class:`DarkAbelianHiggs` (Sec. IV): S is the radial mode of the U(1)_D Higgs with VEV v_D; the
  dark photon A_D (mass m_AD) is the invisible final state. Parameters (m_hD, sin_theta, v_D, m_AD).

Models are validated when built from concrete numbers (``ValueError`` naming the parameter, its
value and the allowed range); inside ``jit``/``vmap``/``grad`` they are rebuilt from leaves
without validation. Parameters may be arrays of equal shape (a batch of parameter points).

>>> import hpjax
>>> m = hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.1)
>>> m.m_hD
1.0
>>> hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=2.0, y_D=1.0, m_chi=0.1)
Traceback (most recent call last):
...
ValueError: SingletHiggsPortal: sin_theta = 2.0 is outside the allowed range [-1, 1]
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from .kinematics import sqrt_pos
from .widths import gamma_S_to_ADAD, gamma_S_to_chichi, gamma_S_to_hadrons, gamma_S_to_leptons

__all__ = [
    "Model",
    "SingletHiggsPortal",
    "DarkAbelianHiggs",
    "MODELS",
    "gamma_hD_invisible",
    "gamma_hD_visible",
    "gamma_hD_total",
    "dark_mass",
]

_INF = float("inf")


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


class Model:
    """Common machinery: parameter names, domains, validation and pytree registration."""

    PARAMS: tuple[str, ...] = ()
    #: name -> (low, high, low_inclusive, high_inclusive)
    DOMAIN: dict[str, tuple[float, float, bool, bool]] = {}

    def __init__(self, *args, **params):
        if len(args) > len(self.PARAMS):
            raise TypeError(f"{type(self).__name__} takes parameters {list(self.PARAMS)}; got {len(args)} positional values")
        for p, a in zip(self.PARAMS, args):
            if p in params:
                raise TypeError(f"{type(self).__name__}: parameter {p} given twice; parameters: {list(self.PARAMS)}")
            params[p] = a
        missing = [p for p in self.PARAMS if p not in params]
        extra = sorted(set(params) - set(self.PARAMS))
        name = type(self).__name__
        if missing or extra:
            raise TypeError(f"{name} takes parameters {list(self.PARAMS)}; missing {missing}, unknown {extra}")
        for p in self.PARAMS:
            object.__setattr__(self, p, params[p])
        if all(_is_concrete(params[p]) for p in self.PARAMS):
            self.validate()

    def validate(self) -> None:
        name = type(self).__name__
        for p in self.PARAMS:
            lo, hi, lo_inc, hi_inc = self.DOMAIN[p]
            val = np.asarray(getattr(self, p), dtype=float)
            bad = ~np.isfinite(val) | (val < lo if lo_inc else val <= lo) | (val > hi if hi_inc else val >= hi)
            if np.any(bad):
                shown = val if val.ndim == 0 else val[bad].ravel()[0]
                shown = float(shown)
                rng = f"{'[' if lo_inc else '('}{_fmt(lo)}, {_fmt(hi)}{']' if hi_inc else ')'}"
                raise ValueError(f"{name}: {p} = {shown!r} is outside the allowed range {rng}")
        shapes = {np.shape(getattr(self, p)) for p in self.PARAMS}
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ValueError(f"{name}: parameter shapes {sorted(shapes)} do not broadcast") from None

    def __setattr__(self, key, value):
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace({key}=...)")

    def replace(self, **changes):
        params = {p: getattr(self, p) for p in self.PARAMS}
        params.update(changes)
        return type(self)(**params)

    def params(self) -> dict:
        return {p: getattr(self, p) for p in self.PARAMS}

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.PARAMS)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and all(
            np.array_equal(np.asarray(getattr(self, p)), np.asarray(getattr(other, p))) for p in self.PARAMS
        )

    __hash__ = None

    # pytree protocol: leaves are the parameters; unflatten skips validation
    def tree_flatten(self):
        return tuple(getattr(self, p) for p in self.PARAMS), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        for p, c in zip(cls.PARAMS, children):
            object.__setattr__(obj, p, c)
        return obj

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        jax.tree_util.register_pytree_node_class(cls)
        # a readable signature for help() and IDEs: Model(m_hD, sin_theta, ...)
        cls.__signature__ = inspect.Signature(
            [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in cls.PARAMS])


def _fmt(x: float) -> str:
    if x == _INF:
        return "inf"
    if x == -_INF:
        return "-inf"
    return f"{x:g}"


class SingletHiggsPortal(Model):
    """Singlet Higgs portal with a Dirac dark fermion (paper Sec. II).

    Parameters: ``m_hD`` dark-Higgs mass [GeV] (> 0), ``sin_theta`` h-S mixing ([-1, 1]),
    ``y_D`` dark Yukawa ([0, 4 pi], perturbative), ``m_chi`` dark-fermion mass [GeV] (>= 0).
    """

    PARAMS = ("m_hD", "sin_theta", "y_D", "m_chi")
    DOMAIN = {
        "m_hD": (0.0, _INF, False, False),
        "sin_theta": (-1.0, 1.0, True, True),
        "y_D": (0.0, 4.0 * np.pi, True, True),
        "m_chi": (0.0, _INF, True, False),
    }


class DarkAbelianHiggs(Model):
    """Dark abelian Higgs model (paper Sec. IV): h_D decays to dark photons A_D.

    Parameters: ``m_hD`` [GeV] (> 0), ``sin_theta`` ([-1, 1]), ``v_D`` dark VEV [GeV] (> 0),
    ``m_AD`` dark-photon mass [GeV] (>= 0). The dark gauge coupling is g_D = m_AD / v_D.
    """

    PARAMS = ("m_hD", "sin_theta", "v_D", "m_AD")
    DOMAIN = {
        "m_hD": (0.0, _INF, False, False),
        "sin_theta": (-1.0, 1.0, True, True),
        "v_D": (0.0, _INF, False, False),
        "m_AD": (0.0, _INF, True, False),
    }


MODELS = {"singlet": SingletHiggsPortal, "dark_abelian": DarkAbelianHiggs}


def cos_theta(model):
    """cos(theta) = sqrt(1 - sin^2(theta)), gradient-safe at |sin(theta)| = 1."""
    return sqrt_pos(1.0 - jnp.asarray(model.sin_theta) ** 2)


def dark_mass(model):
    """Mass of the invisible daughter: m_chi (singlet) or m_AD (dark abelian)."""
    return model.m_chi if isinstance(model, SingletHiggsPortal) else model.m_AD


def gamma_hD_invisible(model, m=None):
    """Invisible width of a scalar of mass ``m`` (default m_hD) with the h_D couplings:
    eq. (18) for the singlet model, corrected eq. (46) for the dark abelian model."""
    m = model.m_hD if m is None else m
    c = cos_theta(model)
    if isinstance(model, SingletHiggsPortal):
        return gamma_S_to_chichi(m, model.y_D, model.m_chi, c)
    if isinstance(model, DarkAbelianHiggs):
        return gamma_S_to_ADAD(m, model.v_D, model.m_AD, c)
    raise TypeError(f"unknown model type {type(model).__name__}; valid: {[c.__name__ for c in MODELS.values()]}")


def gamma_hD_visible(model, inputs, m=None):
    """Width of h_D to SM states through the mixing: leptons plus hadrons."""
    m = model.m_hD if m is None else m
    return gamma_S_to_leptons(m, model.sin_theta, inputs) + gamma_S_to_hadrons(m, model.sin_theta, inputs)


def gamma_hD_total(model, inputs):
    """Total h_D width [GeV] at its mass."""
    return gamma_hD_invisible(model) + gamma_hD_visible(model, inputs)
