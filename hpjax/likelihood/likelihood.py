"""Likelihood: the terms of a dataset (or terms built by hand) as one differentiable log-likelihood.

>>> import hpjax
>>> model = hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.1)
>>> lik = hpjax.Likelihood(model, dataset="paper", terms=["belle2", "higgs_invisible"])
>>> lik.parameters()
['m_hD', 'sin_theta']
>>> p = lik.initial_params()
>>> sorted(lik.breakdown(p))
['belle2', 'higgs_invisible']
>>> float(lik.chi2(p)) < 1.0
True

Terms by name (entries of a dataset, :data:`~hpjax.likelihood.names.TERM_NAMES`): ``belle2``
(Gaussian on SM + new physics, the SM prediction fixed or a nuisance), ``belle2_full`` (Belle II's
published likelihood with the q^2 shape), ``belle_kstar``, ``na62``, ``koto``,
``higgs_invisible`` (scenario ``lhc`` by default, or ``hl_lhc``, ``ilc``, ``clic``, ``fcc_ee``),
``lfu`` (LHCb R_K, R_K* bins shifted by h_D -> mu mu). Each measurement of an entry becomes the
term class registered for its kind (:mod:`hpjax.likelihood.terms`); an object that follows the
:class:`~hpjax.likelihood.terms.Term` protocol may be given in ``terms`` as well. Upper limits use
the convention named per term (``half_normal`` by default, ``step``, or ``poisson`` where counts
are published). The log-likelihood is in the chi2 convention (constants dropped: 0 at a perfect
fit), -inf outside the physical domain, with no NaN in values or gradients.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from ..inputs import Inputs
from ..models import MODELS, Model
from ..numerics.quadrature import DEFAULT_ORDER
from ..observables import predict
from . import measurements as db
from .names import (
    BELLE2_FULL_DEFAULTS,
    BELLE2_FULL_PREFIX,
    DEFAULT_CONVENTION,
    DEFAULT_TERMS,
    SM_NUISANCE,
    TERM_NAMES,
    UL_CONVENTIONS,
    belle2_full_option_problem,
)
from .terms import Combined, Context, Term, TermSetup, asimov_term, input_nuisances, term_class

__all__ = [
    "Likelihood",
    "TERM_NAMES",
    "DEFAULT_TERMS",
    "SM_NUISANCE",
    "BELLE2_FULL_DEFAULTS",
    "BELLE2_FULL_PREFIX",
    "belle2_full_option_problem",
]


def _names(value, what: str) -> list:
    """A list of names from a list/tuple (or one name given as a string); duplicates are an error."""
    if value is None:
        return []
    items = [value] if isinstance(value, (str, Term)) or not hasattr(value, "__iter__") else list(value)
    keys = [i if isinstance(i, str) else getattr(i, "name", repr(i)) for i in items]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"{what}: {dup} given more than once")
    return items


def _recentred(group, values):
    """A nuisance group whose constraint is centred on ``values`` (the Asimov auxiliary data)."""
    if group.constraint is None:
        return group
    centre = jnp.stack([jnp.asarray(v, dtype=jnp.float64) for v in values])
    shift = centre - jnp.asarray(group.center, dtype=jnp.float64)
    old = group.constraint
    return dataclasses.replace(group, constraint=lambda x: old(x - shift))


class Likelihood:
    """Sum of log-likelihood terms for one model.

    Parameters
    ----------
    model : an :class:`hpjax.models.Model` (SingletHiggsPortal, DarkAbelianHiggs, ...)
        Fixes the model and the values of its parameters that are not free.
    dataset : "paper" | "latest"
    terms : term names (entries of the dataset), Term objects, or None for :data:`DEFAULT_TERMS`
    nuisances : names of inputs (see ``Inputs.default().names``) or :data:`SM_NUISANCE` to float
        with Gaussian constraints (correlated where the form-factor set gives a covariance)
    free : model parameters that are free (the rest stay at the model's values; default the
        model class's ``DEFAULT_FREE``, else m_hD and sin_theta)
    conventions : {term: "half_normal" | "step" | "poisson"} for upper-limit terms
    higgs_scenario : "lhc" (default), "hl_lhc", "ilc", "clic", "fcc_ee"
    prescription, kl_convention, n : physics options passed to :func:`hpjax.predict`
    inputs : Inputs (default: ``Inputs.default()``)
    belle2_full : options of the ``belle2_full`` term (:data:`BELLE2_FULL_DEFAULTS`)
    """

    def __init__(
        self,
        model,
        dataset: str = "paper",
        terms=None,
        nuisances=(),
        free=None,
        conventions: Mapping[str, str] | None = None,
        higgs_scenario: str | None = None,
        prescription: str = "unified",
        kl_convention: str = "re",
        n: int = DEFAULT_ORDER,
        inputs: Inputs | None = None,
        belle2_full: Mapping | None = None,
    ):
        if not isinstance(model, Model):
            raise TypeError(
                f"model must be an hpjax model (one of {[c.__name__ for c in MODELS.values()]} or another "
                f"subclass of hpjax.models.Model), got {type(model).__name__}"
            )
        self.model_class = type(model)
        self.model_defaults = {k: float(v) for k, v in model.params().items()}
        self.inputs = Inputs.default() if inputs is None else inputs
        self.dataset_name = dataset
        self.dataset = db.load_dataset(dataset)  # unknown name -> error listing valid ones
        self.options = {"prescription": prescription, "kl_convention": kl_convention, "n": n}

        free = getattr(self.model_class, "DEFAULT_FREE", ("m_hD", "sin_theta")) if free is None else free
        free = tuple(_names(free, "free parameters"))
        bad = [p for p in free if p not in self.model_defaults]  # PARAMS and the optional ones set
        if bad:
            raise ValueError(
                f"unknown free parameter(s) {bad} of {self.model_class.__name__}; valid: {list(self.model_defaults)}"
            )
        self.free = free

        nuisances = tuple(_names(nuisances, "nuisances"))
        valid_nuis = set(self.inputs.names) | {SM_NUISANCE}
        bad = [p for p in nuisances if p not in valid_nuis]
        if bad:
            raise ValueError(f"unknown nuisance parameter(s) {bad}; valid: {sorted(valid_nuis)}")

        terms = list(DEFAULT_TERMS) if terms is None else _names(terms, "terms")
        bad = [t for t in terms if isinstance(t, str) and t not in TERM_NAMES]
        if bad:
            raise ValueError(f"unknown term(s) {bad}; valid terms: {list(TERM_NAMES)}")
        if "belle2" in terms and "belle2_full" in terms:
            raise ValueError("terms 'belle2' and 'belle2_full' describe the same measurement; choose one")
        opts = dict(belle2_full or {})
        for k, v in opts.items():
            problem = belle2_full_option_problem(k, v)
            if problem:
                raise ValueError(f"belle2_full option {problem}")
        self.belle2_full_options = {**BELLE2_FULL_DEFAULTS, **opts}
        conventions = dict(conventions or {})
        bad = {t: c for t, c in conventions.items() if t not in TERM_NAMES or c not in UL_CONVENTIONS}
        if bad:
            raise ValueError(
                f"bad convention(s) {bad}; valid terms {list(TERM_NAMES)}, conventions {list(UL_CONVENTIONS)}"
            )
        scenarios = self.dataset["higgs_invisible"]["scenarios"]
        self.higgs_scenario = higgs_scenario or self.dataset["higgs_invisible"]["default"]
        if self.higgs_scenario not in scenarios:
            raise ValueError(f"unknown higgs_scenario '{self.higgs_scenario}'; valid: {sorted(scenarios)}")

        term_options = {"floating": nuisances, "belle2_full": self.belle2_full_options}
        self._terms = [
            t if not isinstance(t, str) else self._build(t, conventions.get(t, DEFAULT_CONVENTION), term_options)
            for t in terms
        ]
        self._observables = sorted({o for t in self._terms for o in t.observables})
        check = getattr(self.model_class, "check_observables", None)  # e.g. InvisibleX: belle2(_full) only
        for t in self._terms if check else ():
            check(t.observables, t.name)
        self._collect_nuisances(nuisances)

    # ---- construction ------------------------------------------------------------------
    def _measurement_names(self, term: str) -> list[str]:
        if term == "higgs_invisible":
            return [self.dataset["higgs_invisible"]["scenarios"][self.higgs_scenario]]
        if term not in self.dataset:
            raise ValueError(f"dataset '{self.dataset_name}' has no entry '{term}'")
        return list(self.dataset[term])

    def _build(self, name: str, convention: str, options: Mapping):
        setup = TermSetup(name, self.dataset, self.inputs, self.options, convention, options)
        parts = []
        for m in map(db.load_measurement, self._measurement_names(name)):
            parts.append(term_class(m.kind).from_measurement(m, setup))
        if len(parts) == 1:
            return parts[0]
        modes = {getattr(type(p), "COMBINE", "sum") for p in parts}
        if len(modes) > 1:
            raise ValueError(
                f"term '{name}': measurements of kinds that do not combine: {[type(p).__name__ for p in parts]}"
            )
        return Combined(name, parts, modes.pop())

    def _collect_nuisances(self, requested):
        """The nuisance groups: floated inputs first, then the groups the terms bring (each name once)."""
        groups = []
        inputs = [n for n in requested if n != SM_NUISANCE]
        if inputs:
            groups.append(input_nuisances(self.inputs, inputs))
        seen = set(inputs)
        for t in self._terms:
            for g in t.nuisances:
                if not seen.isdisjoint(g.names):
                    if set(g.names) <= seen:
                        continue  # the same group from another term (e.g. the SM prediction)
                    raise ValueError(
                        f"term '{t.name}': nuisance(s) {sorted(seen & set(g.names))} already belong to another term"
                    )
                groups.append(g)
                seen |= set(g.names)
        missing = [n for n in requested if n not in seen]
        if missing:
            raise ValueError(f"nuisance(s) {missing} are used by none of the terms {self.terms}")
        self._input_nuisances = tuple(inputs)
        self._groups = tuple(groups)
        # parameter order: the requested nuisances as given, then the terms' own
        order = list(requested) + [n for g in groups for n in g.names if n not in requested]
        self._nuisance_names = tuple(order)

    # ---- parameters --------------------------------------------------------------------
    def parameters(self) -> list[str]:
        """Names of the free parameters: free model parameters, then nuisances."""
        return list(self.free) + list(self.nuisances)

    @property
    def nuisances(self) -> tuple[str, ...]:
        """Names of the nuisance parameters: the floated inputs and SM prediction in the order
        given, then those the terms bring (``belle2_full`` with ``nuisances="float"``: Belle II's
        231, prefixed :data:`BELLE2_FULL_PREFIX`)."""
        return self._nuisance_names

    def _group_values(self, attr: str) -> dict:
        out = {}
        for g in self._groups:
            out.update(zip(g.names, (float(x) for x in np.asarray(getattr(g, attr)))))
        return out

    def initial_params(self) -> dict:
        """Model defaults for the free model parameters and start values for nuisances (central
        values; Belle II's at the published best fit)."""
        # float64 arrays of a strong type, as jnp.asarray(x, dtype=float64) gives: a point with one
        # value replaced by such an array has the same signature (no second compilation)
        p = {k: jnp.asarray(self.model_defaults[k], dtype=jnp.float64) for k in self.free}
        start = self._group_values("start")
        p.update({n: jnp.asarray(start[n], dtype=jnp.float64) for n in self.nuisances})
        return p

    def nuisance_start(self) -> dict:
        """The start value of each nuisance (floats: safe under a trace)."""
        start = self._group_values("start")
        return {n: start[n] for n in self.nuisances}

    def nuisance_errors(self) -> dict:
        """The constraint width of each nuisance."""
        sig = self._group_values("sigma")
        return {n: sig[n] for n in self.nuisances}

    def nuisance_prior(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(names, means, covariance) of the Gaussian constraints of all nuisances, in
        :meth:`parameters` order (the SM prediction uses the larger of its two errors; Belle II's
        nuisances are centred on pyhf's constraint centres, not the warm start)."""
        names = list(self.nuisances)
        idx = {n: i for i, n in enumerate(names)}
        mu, cov = np.zeros(len(names)), np.zeros((len(names), len(names)))
        for g in self._groups:
            ix = [idx[n] for n in g.names]
            mu[ix] = np.asarray(g.center)
            cov[np.ix_(ix, ix)] = np.asarray(g.cov)
        return names, mu, cov

    def citations(self) -> list[str]:
        return db.citations(sorted({m for t in self._terms for m in t.measurements}))

    @property
    def terms(self) -> list[str]:
        """Names of the terms."""
        return [t.name for t in self._terms]

    @property
    def value_tolerance(self) -> float | None:
        """The smallest change of chi^2 an outer optimiser can resolve (the largest
        ``value_tolerance`` of the terms: those with an inner solver, such as a profiled
        ``belle2_full``), or None where gradients are exact."""
        tols = [t.value_tolerance for t in self._terms if getattr(t, "value_tolerance", None) is not None]
        return max(tols) if tols else None

    def term(self, name: str):
        """The term object called ``name``."""
        for t in self._terms:
            if t.name == name:
                return t
        raise ValueError(f"no term {name!r}; terms: {self.terms}")

    def _check(self, params: Mapping):
        missing = [k for k in self.parameters() if k not in params]
        extra = [k for k in params if k not in self.parameters()]
        if missing or extra:
            raise ValueError(f"parameters must be exactly {self.parameters()}; missing {missing}, unknown {extra}")

    # ---- evaluation --------------------------------------------------------------------
    def _model_and_domain(self, params):
        """The model at ``params`` and whether it is inside the domain. Outside, the physics is
        evaluated at the (validated) default point instead, so that neither values nor
        gradients carry NaN into the masked branch (double-where)."""
        cls = self.model_class
        safe, ok = [], True
        for p in self.model_defaults:  # the model's PARAMS, then its optional parameters that are set
            default = self.model_defaults[p]
            v = jnp.asarray(params[p] if p in self.free else default, dtype=jnp.float64)
            lo, hi, lo_inc, hi_inc = cls.DOMAIN[p]
            inside = jnp.isfinite(v)
            inside &= (v >= lo) if lo_inc else (v > lo)
            inside &= (v <= hi) if hi_inc else (v < hi)
            ok = ok & inside
            safe.append(jnp.where(inside, v, default))
        return cls.tree_unflatten(None, safe), ok

    def _inputs_for(self, params):
        if not self._input_nuisances:
            return self.inputs
        return self.inputs.replace(**{n: params[n] for n in self._input_nuisances})

    def context(self, params, observables=()) -> Context:
        """The :class:`~hpjax.likelihood.terms.Context` the terms see at ``params``; ``observables``
        adds predictions to the terms' own, computed in the same call (each q^2 integral once)."""
        model, _ = self._model_and_domain(params)
        inputs = self._inputs_for(params)
        wanted = tuple(dict.fromkeys((*self._observables, *observables)))
        preds = predict(model, inputs, observables=wanted, **self.options)
        return Context(preds, model, inputs)

    def _evaluate(self, params, constraints: bool = True, ctx: Context | None = None) -> dict:
        self._check(params)
        _, ok = self._model_and_domain(params)
        ctx = self.context(params) if ctx is None else ctx
        out = {t.name: t.logpdf(ctx, params, constraints=constraints) for t in self._terms}
        cons = [g for g in self._groups if g.constraint is not None]
        if constraints and cons:
            out["nuisance_constraints"] = sum(
                g.constraint(jnp.stack([jnp.asarray(params[n], dtype=jnp.float64) for n in g.names])) for g in cons
            )
        return {k: jnp.where(ok, v, -jnp.inf) for k, v in out.items()}

    def breakdown(self, params) -> dict:
        """Per-term log-likelihood (and ``nuisance_constraints`` when constrained nuisances float)."""
        return self._evaluate(params)

    def breakdown_and_predictions(self, params, observables) -> tuple[dict, dict]:
        """:meth:`breakdown` and the predicted ``observables`` at ``params``, from one prediction: a
        q^2 integral that a term and an observable share is computed once (a scan that records
        BR(B+->K+inv) next to the Belle II term integrates B+ -> K+ once, not twice)."""
        ctx = self.context(params, observables)
        return self._evaluate(params, ctx=ctx), {k: ctx.predictions[k] for k in observables}

    def log_likelihood(self, params, constraints: bool = True):
        """Total ln L (chi2 convention); -inf outside the physical domain. With
        ``constraints=False`` the constraint terms of the nuisance parameters are left out
        (a posterior puts them in as priors instead)."""
        return sum(self._evaluate(params, constraints).values())

    def chi2(self, params):
        """-2 ln L."""
        return -2.0 * self.log_likelihood(params)

    def asimov(self, params) -> Likelihood:
        """The same likelihood on the Asimov data set of ``params`` (every term's data replaced by
        what it expects at that point, Cowan et al. arXiv:1007.1727 sec. 3.2; the nuisance
        constraints centred on the point's nuisances): its maximum is at ``params``. ``params``
        may be traced; a term without an ``asimov`` method is an error naming it."""
        self._check(params)
        ctx = self.context(params)
        new = copy.copy(self)
        new._terms = [asimov_term(t, ctx, params) for t in self._terms]
        new._groups = tuple(_recentred(g, [params[n] for n in g.names]) for g in self._groups)
        return new

    def __repr__(self):
        own = [n for n in self.nuisances if n.startswith(BELLE2_FULL_PREFIX)]
        user = [n for n in self.nuisances if not n.startswith(BELLE2_FULL_PREFIX)]
        return (
            f"Likelihood({self.model_class.__name__}, dataset='{self.dataset_name}', terms={self.terms}, "
            f"free={list(self.free)}, nuisances={user}" + (f" + {len(own)} Belle II" if own else "") + ")"
        )
