"""The term protocol: what every likelihood term answers, and the registry from a measurement's
kind to the class that turns it into a term.

A term (:class:`Term`) has a ``name``, the ``observables`` it needs from
:func:`hpjax.predict`, the ``measurements`` it uses (for citations), the ``nuisances`` it brings
(:class:`NuisanceGroup`: names, constraint centres and widths that become priors for sampling,
start values), and ``logpdf(context, params, *, constraints=True)``: its ln L (chi2 convention,
0 at a perfect fit) at a parameter point, given the :class:`Context` (predicted observables,
model, inputs). :class:`~hpjax.likelihood.Likelihood` only composes terms. Optionally,
``asimov(context, params)`` returns the term on the Asimov data set of a point (its data
replaced by what it expects there): the asymptotic CLs of
:func:`hpjax.inference.adapters.poi_likelihood` needs it of every term.

A new kind of measurement is one class with a ``from_measurement`` class method, registered
with :func:`register`; a term built by hand can be given to ``Likelihood(..., terms=[...])``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import jax.numpy as jnp
import numpy as np

__all__ = [
    "Context",
    "NuisanceGroup",
    "Term",
    "TermSetup",
    "register",
    "term_class",
    "TERM_CLASSES",
    "Combined",
    "asimov_term",
]


@dataclass(frozen=True)
class Context:
    """What a term sees of a parameter point: the predicted observables (name -> array, the
    union of what the likelihood's terms need), the model point and the inputs."""

    predictions: Mapping[str, Any]
    model: Any
    inputs: Any


@dataclass(frozen=True, eq=False)
class NuisanceGroup:
    """Nuisance parameters a term brings: ``names``; the Gaussian ``center`` and ``cov`` of their
    constraint (the sampler's prior); ``start`` values for fits; ``constraint(values)`` the ln of
    the constraint term (None when the owning term includes it in its own logpdf, as Belle II's
    pyhf model does)."""

    names: tuple[str, ...]
    center: np.ndarray
    cov: np.ndarray
    start: np.ndarray
    constraint: Callable | None = None

    @property
    def sigma(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


@runtime_checkable
class Term(Protocol):
    """A likelihood term (see the module docstring)."""

    name: str
    observables: tuple[str, ...]
    measurements: tuple[str, ...]
    nuisances: tuple[NuisanceGroup, ...]

    def logpdf(self, context: Context, params: Mapping, *, constraints: bool = True): ...


@dataclass(frozen=True)
class TermSetup:
    """What a term class may use when it is built from a measurement: the term's name in the
    dataset, the dataset (``{entry: [measurement names]}``), the inputs, the physics options of
    :func:`hpjax.predict` (``prescription``, ``kl_convention``, ``n``), the upper-limit
    ``convention``, and term-specific ``options``."""

    name: str
    dataset: Mapping[str, Any]
    inputs: Any
    physics: Mapping[str, Any] = field(default_factory=dict)
    convention: str = "half_normal"
    options: Mapping[str, Any] = field(default_factory=dict)


def asimov_term(term, context: Context, params: Mapping):
    """``term`` on the Asimov data set of a point (its data replaced by what it expects there,
    Cowan et al. arXiv:1007.1727 sec. 3.2): the term's optional ``asimov(context, params)``
    method; asymptotic hypothesis tests need it."""
    fn = getattr(term, "asimov", None)
    if fn is None:
        raise ValueError(
            f"term {getattr(term, 'name', term)!r} ({type(term).__name__}) has no asimov(context, params) method: "
            f"asymptotic tests need the Asimov data set of every term; leave the term out or add the method"
        )
    return fn(context, params)


#: measurement kind -> term class
TERM_CLASSES: dict[str, type] = {}


def register(kind: str):
    """Class decorator: ``@register("gaussian")`` makes the class the term of that measurement kind."""

    def deco(cls):
        TERM_CLASSES[kind] = cls
        return cls

    return deco


def term_class(kind: str) -> type:
    """The term class registered for measurement kind ``kind``."""
    try:
        return TERM_CLASSES[kind]
    except KeyError:
        raise ValueError(
            f"no likelihood term for measurement kind {kind!r}; registered kinds: {sorted(TERM_CLASSES)}"
        ) from None


class Combined:
    """Several measurements of one dataset entry as one term: the sum of their ln L (independent
    measurements), or the strongest (smallest ln L: overlapping limits on the same quantity)."""

    MODES: ClassVar[tuple[str, ...]] = ("sum", "strongest")

    def __init__(self, name: str, parts, mode: str):
        if mode not in self.MODES:
            raise ValueError(f"mode {mode!r}; valid: {list(self.MODES)}")
        self.name, self.parts, self.mode = name, tuple(parts), mode
        self.observables = tuple(sorted({o for p in self.parts for o in p.observables}))
        self.measurements = tuple(m for p in self.parts for m in p.measurements)
        self.nuisances = tuple(g for p in self.parts for g in p.nuisances)

    def asimov(self, context, params):
        """Each part on its Asimov data set (see :func:`asimov_term`)."""
        return Combined(self.name, [asimov_term(p, context, params) for p in self.parts], self.mode)

    def logpdf(self, context, params, *, constraints=True):
        vals = [p.logpdf(context, params, constraints=constraints) for p in self.parts]
        if len(vals) == 1:
            return vals[0]
        return sum(vals) if self.mode == "sum" else jnp.min(jnp.stack(vals))
