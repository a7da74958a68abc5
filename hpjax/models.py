"""The two Higgs-portal models of the paper, as validated pytrees, and their dark-sector widths.

* :class:`SingletHiggsPortal` (Sec. II): singlet scalar S mixing with H, Dirac dark fermion chi
  with L = y_D S chibar chi. Parameters (m_hD [GeV], sin_theta, y_D, m_chi [GeV]).
* :class:`DarkAbelianHiggs` (Sec. IV): S is the radial mode of the U(1)_D Higgs with VEV v_D; the
  dark photon A_D (mass m_AD) is the invisible final state. Parameters (m_hD, sin_theta, v_D, m_AD).

A model is one class: :class:`Model` subclasses declare ``PARAMS`` and ``DOMAIN`` and answer what
the physics needs of them (``dark_mass()``, ``gamma_invisible(m)``, ``gamma_h_invisible(inputs)``;
``gamma_visible`` defaults to a SM-Higgs-like scalar mixed in with sin(theta)). ``predict`` and
``Likelihood`` call only these methods, so a third model is one new class (tests/test_models.py
defines one in the test file alone).

Optional parameters (``OPTIONAL``, keyword only, default None = absent) are part of a point only
when set: ``DarkAbelianHiggs(..., eps=1e-5)`` carries the kinetic mixing (leaves, ``params()``,
validation, a free parameter of a likelihood), ``eps=None`` is the paper's always-invisible A_D
with the four leaves of before.

Models are validated when built from concrete numbers (``ValueError`` naming the parameter, its
value and the allowed range); inside ``jit``/``vmap``/``grad`` they are rebuilt from leaves
without validation. Parameters may be arrays (or lists/tuples, converted to float64 arrays) of
broadcastable shape: a batch of parameter points. Strings, None, complex numbers: ``ValueError``.

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
from .widths import (
    gamma_h_to_ADAD,
    gamma_h_to_chichi,
    gamma_h_to_hDhD,
    gamma_S_to_ADAD,
    gamma_S_to_chichi,
    gamma_S_to_hadrons,
    gamma_S_to_leptons,
    mass_gamma_S_to_ADAD,
    mass_gamma_S_to_ADAD_parts,
    mass_gamma_S_to_chichi,
    mass_gamma_S_to_chichi_parts,
)

__all__ = [
    "Model",
    "SingletHiggsPortal",
    "DarkAbelianHiggs",
    "MODELS",
    "gamma_hD_invisible",
    "gamma_hD_visible",
    "gamma_hD_total",
    "gamma_h_invisible",
    "dark_mass",
    "per_point",
]

_INF = float("inf")


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


class Model:
    """Common machinery: parameter names, domains, validation and pytree registration."""

    PARAMS: tuple[str, ...] = ()
    #: optional parameters: name -> default (None: not set, the physics without it); keyword only,
    #: part of the point (leaves, ``params()``, validation) only when set
    OPTIONAL: dict[str, object] = {}
    #: name -> (low, high, low_inclusive, high_inclusive)
    DOMAIN: dict[str, tuple[float, float, bool, bool]] = {}

    def __init__(self, *args, **params):
        if len(args) > len(self.PARAMS):
            raise TypeError(
                f"{type(self).__name__} takes parameters {list(self.PARAMS)}; got {len(args)} positional values"
            )
        for p, a in zip(self.PARAMS, args):
            if p in params:
                raise TypeError(f"{type(self).__name__}: parameter {p} given twice; parameters: {list(self.PARAMS)}")
            params[p] = a
        missing = [p for p in self.PARAMS if p not in params]
        extra = sorted(set(params) - set(self.PARAMS) - set(self.OPTIONAL))
        name = type(self).__name__
        if missing or extra:
            opt = f" (optional: {list(self.OPTIONAL)})" if self.OPTIONAL else ""
            raise TypeError(f"{name} takes parameters {list(self.PARAMS)}{opt}; missing {missing}, unknown {extra}")
        for p in self.PARAMS:
            object.__setattr__(self, p, self._as_number(p, params[p]))
        for p, default in self.OPTIONAL.items():
            v = params.get(p, default)
            object.__setattr__(self, p, None if v is None else self._as_number(p, v))
        object.__setattr__(self, "_optional_set", tuple(p for p in self.OPTIONAL if getattr(self, p) is not None))
        if all(_is_concrete(getattr(self, p)) for p in self.names()):
            self.validate()

    def names(self) -> tuple[str, ...]:
        """The parameters this point carries: ``PARAMS``, then the ``OPTIONAL`` ones that are set."""
        return self.PARAMS + self._optional_set

    def _as_number(self, p: str, value):
        """A concrete parameter as a real number or array (lists and tuples become float64 arrays,
        a batch of points); anything else (string, None, complex, ragged list) is a ValueError."""
        if not _is_concrete(value):
            return value
        name = type(self).__name__
        rng = self._range_text(p)
        msg = f"{name}: {p} = {value!r} is not a real number or an array of real numbers; allowed range {rng}"
        if isinstance(value, (str, bytes)) or value is None:
            raise ValueError(msg)
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            raise ValueError(msg) from None
        if arr.dtype.kind not in "iuf":  # bool, complex, strings, objects (None, ragged lists)
            raise ValueError(msg)
        if isinstance(value, (list, tuple)):
            return np.asarray(arr, dtype=np.float64)
        return value

    @classmethod
    def _range_text(cls, p: str) -> str:
        lo, hi, lo_inc, hi_inc = cls.DOMAIN[p]
        return f"{'[' if lo_inc else '('}{_fmt(lo)}, {_fmt(hi)}{']' if hi_inc else ')'}"

    def validate(self) -> None:
        name = type(self).__name__
        for p in self.names():
            lo, hi, lo_inc, hi_inc = self.DOMAIN[p]
            val = np.asarray(getattr(self, p), dtype=float)
            bad = ~np.isfinite(val) | (val < lo if lo_inc else val <= lo) | (val > hi if hi_inc else val >= hi)
            if np.any(bad):
                shown = val if val.ndim == 0 else val[bad].ravel()[0]
                shown = float(shown)
                raise ValueError(f"{name}: {p} = {shown!r} is outside the allowed range {self._range_text(p)}")
        shapes = {np.shape(getattr(self, p)) for p in self.names()}
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ValueError(f"{name}: parameter shapes {sorted(shapes)} do not broadcast") from None

    def __setattr__(self, key, value):
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace({key}=...)")

    def replace(self, **changes):
        """A new point with some parameters changed (an optional one set to None is unset)."""
        params = self.params()
        params.update(changes)
        return type(self)(**params)

    def params(self) -> dict:
        """name -> value of the parameters this point carries (:meth:`names`, in that order)."""
        return {p: getattr(self, p) for p in self.names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.names())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return (
            type(self) is type(other)
            and self.names() == other.names()
            and all(np.array_equal(np.asarray(getattr(self, p)), np.asarray(getattr(other, p))) for p in self.names())
        )

    __hash__ = None

    # pytree protocol: leaves are the parameters it carries (the set optional ones are static aux
    # data: eps=None and eps given are two tree structures); unflatten skips validation
    def tree_flatten(self):
        names = self.names()
        return tuple(getattr(self, p) for p in names), names[len(self.PARAMS) :]

    @classmethod
    def tree_unflatten(cls, aux, children):
        """Rebuild from leaves. ``aux`` None: ``children`` are the values of :meth:`params`, i.e.
        ``PARAMS`` followed by the first len(children) - len(PARAMS) optional parameters."""
        children = tuple(children)
        if aux is None:
            aux = tuple(cls.OPTIONAL)[: len(children) - len(cls.PARAMS)]
        obj = object.__new__(cls)
        object.__setattr__(obj, "_optional_set", tuple(aux))
        for p, d in cls.OPTIONAL.items():
            object.__setattr__(obj, p, d)
        for p, c in zip(cls.PARAMS + tuple(aux), children):
            object.__setattr__(obj, p, c)
        return obj

    # ---- what the physics needs of a model (override in a subclass) ----------------------
    def dark_mass(self):
        """Mass [GeV] of each of the two invisible daughters of h_D: the invisible channel opens
        at m = 2 dark_mass (0 for massless daughters)."""
        raise NotImplementedError(f"{type(self).__name__} must define dark_mass()")

    def gamma_invisible(self, m=None):
        """Invisible width [GeV] of a scalar of mass ``m`` (default m_hD) with the h_D couplings;
        an array-valued ``m`` is allowed (the off-shell three-body integrand calls it at every q)."""
        raise NotImplementedError(f"{type(self).__name__} must define gamma_invisible(m)")

    def mass_gamma_invisible(self, q2):
        """q Gamma_inv(q) at q = sqrt(q2) [GeV^2]: what the off-shell q^2 integrands of hpjax.decays
        need at every node. This default takes the square root; a subclass may give a form without it."""
        q = sqrt_pos(q2)
        return q * self.gamma_invisible(q)

    def mass_gamma_invisible_parts(self, q2):
        """(P, B) with q Gamma_inv(q) = P sqrt(B), B in [0, 1] (beta^2 of a pair): the q^2 integrand
        merges the square root with its own. This default is (mass_gamma_invisible, 1)."""
        return self.mass_gamma_invisible(q2), jnp.ones_like(q2)

    def gamma_visible(self, inputs, m=None):
        """Width [GeV] to SM states of a scalar of mass ``m`` (default m_hD): by default a
        SM-Higgs-like scalar mixed in with sin(theta) (leptons plus hadrons)."""
        m = self.m_hD if m is None else m
        return gamma_S_to_leptons(m, self.sin_theta, inputs) + gamma_S_to_hadrons(m, self.sin_theta, inputs)

    def gamma_total(self, inputs):
        """Total h_D width [GeV] at its mass."""
        return self.gamma_invisible() + self.gamma_visible(inputs)

    def gamma_h_invisible(self, inputs):
        """Invisible width [GeV] of the 125 GeV Higgs."""
        raise NotImplementedError(f"{type(self).__name__} must define gamma_h_invisible(inputs)")

    def escape_probability(self, inputs, channel):
        """Probability that the invisible pair of ``channel`` (P -> P' + pair) leaves the
        experiment unseen; None (the default) means always: the pair is invisible by assumption."""
        return None

    def omega_h2(self, inputs, **options):
        """Relic abundance Omega h^2 of the model's dark matter candidate (hpjax.cosmology)."""
        raise ValueError(f"{type(self).__name__} has no relic-density calculation (Omega_chi h^2)")

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        jax.tree_util.register_pytree_node_class(cls)
        # a readable signature for help() and IDEs: Model(m_hD, sin_theta, ...)
        cls.__signature__ = inspect.Signature(
            [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in cls.PARAMS]
            + [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, default=d) for p, d in cls.OPTIONAL.items()]
        )


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

    def dark_mass(self):
        return self.m_chi

    def gamma_invisible(self, m=None):
        """Eq. (18): h_D -> chi chibar."""
        m = self.m_hD if m is None else m
        return gamma_S_to_chichi(m, self.y_D, self.m_chi, cos_theta(self))

    def mass_gamma_invisible(self, q2):
        return mass_gamma_S_to_chichi(q2, self.y_D, self.m_chi, cos_theta(self))

    def mass_gamma_invisible_parts(self, q2):
        return mass_gamma_S_to_chichi_parts(q2, self.y_D, self.m_chi, cos_theta(self))

    def gamma_h_invisible(self, inputs):
        """Eq. (19): h -> chi chibar."""
        return gamma_h_to_chichi(self.y_D, self.m_chi, self.sin_theta, inputs)

    def omega_h2(self, inputs, **options):
        """Omega_chi h^2 from the Boltzmann equation (:func:`hpjax.cosmology.omega_h2_singlet`:
        freeze-out; ``mode="freeze_in"`` with ``T_RH`` for freeze-in); batches point by point."""
        from .cosmology import omega_h2_singlet  # local: cosmology is heavier and optional

        return per_point(lambda m: omega_h2_singlet(m, inputs, **options), self)


class DarkAbelianHiggs(Model):
    """Dark abelian Higgs model (paper Sec. IV): h_D decays to dark photons A_D.

    Parameters: ``m_hD`` [GeV] (> 0), ``sin_theta`` ([-1, 1]), ``v_D`` dark VEV [GeV] (> 0),
    ``m_AD`` dark-photon mass [GeV] (>= 0). The dark gauge coupling is g_D = m_AD / v_D.

    Optional ``eps`` (keyword, [0, 1]): the kinetic mixing of A_D. Default None is the paper's
    assumption that A_D always leaves Belle II unseen. With eps given, the B -> K(*) + invisible
    rates are multiplied by the probability that both A_D decay outside the Belle II ECL volume
    (:meth:`escape_probability`, :func:`hpjax.darkphoton.escape_fraction`: decay kinematics of
    B -> K h_D(*) -> K A_D A_D over the on-shell peak and the off-shell continuum, the
    Upsilon(4S) boost, r = 1.62 m), and ``predict`` gives the visible fraction
    ``f_vis(B+->K+)``. K -> pi + invisible (NA62, KOTO: other boosts and decay volumes) is left
    at the paper's assumption (escape probability 1).

    >>> m = DarkAbelianHiggs(1.0, 6e-3, 50.0, 0.1, eps=1e-5)
    >>> m.params()["eps"], DarkAbelianHiggs(1.0, 6e-3, 50.0, 0.1).replace(eps=1e-8).names()[-1]
    (1e-05, 'eps')
    >>> DarkAbelianHiggs(1.0, 6e-3, 50.0, 0.1, eps=2.0)
    Traceback (most recent call last):
    ...
    ValueError: DarkAbelianHiggs: eps = 2.0 is outside the allowed range [0, 1]
    """

    PARAMS = ("m_hD", "sin_theta", "v_D", "m_AD")
    OPTIONAL = {"eps": None}
    DOMAIN = {
        "m_hD": (0.0, _INF, False, False),
        "sin_theta": (-1.0, 1.0, True, True),
        "v_D": (0.0, _INF, False, False),
        "m_AD": (0.0, _INF, True, False),
        "eps": (0.0, 1.0, True, True),
    }

    #: the channels measured at Belle II, where the escape probability applies
    ESCAPE_CHANNELS = ("B+->K+", "B0->K*0")

    def escape_probability(self, inputs, channel):
        """Both A_D decay outside the Belle II ECL volume (B channels, eps given); else None."""
        if self.eps is None or channel not in self.ESCAPE_CHANNELS:
            return None
        from .darkphoton import escape_fraction  # local: darkphoton's escape imports decays

        return per_point(lambda m: escape_fraction(m, m.eps, inputs, channel), self)

    def dark_mass(self):
        return self.m_AD

    def gamma_invisible(self, m=None):
        """Corrected eq. (46): h_D -> A_D A_D."""
        m = self.m_hD if m is None else m
        return gamma_S_to_ADAD(m, self.v_D, self.m_AD, cos_theta(self))

    def mass_gamma_invisible(self, q2):
        return mass_gamma_S_to_ADAD(q2, self.v_D, self.m_AD, cos_theta(self))

    def mass_gamma_invisible_parts(self, q2):
        return mass_gamma_S_to_ADAD_parts(q2, self.v_D, self.m_AD, cos_theta(self))

    def gamma_h_invisible(self, inputs):
        """Eqs. (47) + (48), corrected: h -> A_D A_D and h -> h_D h_D."""
        return gamma_h_to_ADAD(self.v_D, self.m_AD, self.sin_theta, inputs) + gamma_h_to_hDhD(
            self.m_hD, self.v_D, self.sin_theta, inputs
        )


MODELS = {"singlet": SingletHiggsPortal, "dark_abelian": DarkAbelianHiggs}


def per_point(fn, model):
    """``fn(point)`` over a batch of model points (vmap over the broadcast parameters; one
    point: ``fn(model)``)."""
    shape = jnp.broadcast_shapes(*(jnp.shape(jnp.asarray(p)) for p in model.params().values()))
    if shape == ():
        return fn(model)
    leaves, tree = jax.tree_util.tree_flatten(model)
    flat = [jnp.broadcast_to(jnp.asarray(v, dtype=jnp.float64), shape).ravel() for v in leaves]
    return jax.vmap(fn)(jax.tree_util.tree_unflatten(tree, flat)).reshape(shape)


def cos_theta(model):
    """cos(theta) = sqrt(1 - sin^2(theta)), gradient-safe at |sin(theta)| = 1."""
    return sqrt_pos(1.0 - jnp.asarray(model.sin_theta) ** 2)


def dark_mass(model):
    """Mass of the invisible daughter (``model.dark_mass()``): m_chi (singlet) or m_AD (dark abelian)."""
    return model.dark_mass()


def gamma_hD_invisible(model, m=None):
    """Invisible width of a scalar of mass ``m`` (default m_hD) with the h_D couplings
    (``model.gamma_invisible(m)``): eq. (18) for the singlet model, corrected eq. (46) for the
    dark abelian model."""
    return model.gamma_invisible(m)


def gamma_hD_visible(model, inputs, m=None):
    """Width of h_D to SM states through the mixing (``model.gamma_visible``): leptons plus hadrons."""
    return model.gamma_visible(inputs, m)


def gamma_hD_total(model, inputs):
    """Total h_D width [GeV] at its mass (``model.gamma_total``)."""
    return model.gamma_total(inputs)


def gamma_h_invisible(model, inputs):
    """Invisible width of the 125 GeV Higgs [GeV] (``model.gamma_h_invisible``): eq. (19) for the
    singlet model; eqs. (47) + (48) (corrected) for the dark abelian model."""
    return model.gamma_h_invisible(inputs)
