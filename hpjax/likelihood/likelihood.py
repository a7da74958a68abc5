"""Likelihood: the measurements of a dataset as one differentiable log-likelihood.

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

Terms (names as in the datasets): ``belle2`` (Gaussian on SM + new physics, the SM prediction
fixed or a nuisance), ``belle_kstar``, ``na62``, ``koto``, ``higgs_invisible`` (scenario
``lhc`` by default, or ``hl_lhc``, ``ilc``, ``clic``, ``fcc_ee``), ``lfu`` (LHCb R_K, R_K* bins
shifted by h_D -> mu mu). Upper limits use the convention
named per term (``half_normal`` by default, ``step``, or ``poisson`` where counts are published).
The log-likelihood is in the chi2 convention (constants dropped: 0 at a perfect fit), -inf
outside the physical domain, with no NaN in values or gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable, Mapping

import jax.numpy as jnp
import numpy as np

from ..inputs import Inputs
from ..models import MODELS, Model
from ..observables import predict
from ..quadrature import DEFAULT_ORDER
from . import measurements as db
from .terms import (
    UL_CONVENTIONS,
    LimitTable,
    PoissonCounts,
    asymmetric_gaussian_logpdf,
    half_normal_logpdf,
    sigma_from_limit,
    step_logpdf,
)

__all__ = ["Likelihood", "TERM_NAMES", "DEFAULT_TERMS", "SM_NUISANCE", "BELLE2_FULL_DEFAULTS", "BELLE2_FULL_PREFIX",
           "belle2_full_option_problem"]

TERM_NAMES = ("belle2", "belle2_full", "belle_kstar", "na62", "koto", "higgs_invisible", "lfu")
#: the terms of ``terms=None``: all but ``belle2_full``, which replaces ``belle2`` when asked for
DEFAULT_TERMS = tuple(t for t in TERM_NAMES if t != "belle2_full")
#: options of the ``belle2_full`` term (``Likelihood(..., belle2_full={...})``):
#: nuisances "profile" (maximised inside the term, for fits and scans) or "float" (231 nuisance
#: parameters of the likelihood, for posteriors); sm "dataset" (the SM template scaled to the
#: dataset's SM prediction, the same as the Gaussian term) or "template" (Belle II's mu = 1);
#: smoothing: B-spline degree of the generated-q^2 bins (0-3); steps: Gauss-Newton steps of the profile
BELLE2_FULL_DEFAULTS = {"nuisances": "profile", "sm": "dataset", "smoothing": 2, "steps": 6}
_BELLE2_FULL_CHOICES = {"nuisances": ("profile", "float"), "sm": ("dataset", "template"), "smoothing": (0, 1, 2, 3)}
_BELLE2_FULL_STEPS = (1, 50)


def belle2_full_option_problem(key: str, value) -> str | None:
    """What is wrong with the ``belle2_full`` option ``key = value`` (None if nothing); shared by
    :class:`Likelihood` and the fit-specification reader so both say the same."""
    if key not in BELLE2_FULL_DEFAULTS:
        return f"unknown belle2_full option {key!r}; valid: {sorted(BELLE2_FULL_DEFAULTS)}"
    if key in _BELLE2_FULL_CHOICES:
        if value not in _BELLE2_FULL_CHOICES[key]:
            return f"{key} = {value!r} is not allowed; valid: {list(_BELLE2_FULL_CHOICES[key])}"
        return None
    lo, hi = _BELLE2_FULL_STEPS
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        return f"{key} = {value!r} must be an integer in [{lo}, {hi}]"
    return None
#: prefix of the Belle II nuisance parameters when ``belle2_full={"nuisances": "float"}``
BELLE2_FULL_PREFIX = "belle2:"
#: name of the nuisance parameter for the SM prediction of BR(B+ -> K+ nu nubar)
SM_NUISANCE = "BR(B+->K+nunu)_SM"

# observable each term constrains
_TERM_OBSERVABLE = {
    "belle2": "BR(B+->K+inv)",
    "belle2_full": "BR(B+->K+inv)",
    "belle_kstar": "BR(B0->K*0inv)",
    "na62": "BR(K+->pi+inv)",
    "koto": "BR(KL->pi0inv)",
    "higgs_invisible": "BR(h->inv)",
    "lfu": "BR(hD->mumu)",
}
# production BR used for the visible-decay (lifetime) part of a table limit
_PRODUCTION = {"na62": "BR(K+->pi+hD)", "koto": "BR(KL->pi0hD)"}


@dataclass(frozen=True)
class _Term:
    name: str
    observables: tuple[str, ...]
    logpdf: Callable  # (preds, params) -> scalar
    measurements: tuple[str, ...]
    convention: str


def _quantile(cl: float) -> float:
    return NormalDist().inv_cdf(0.5 * (1.0 + cl))


class Likelihood:
    """Sum of log-likelihood terms of a dataset for one model.

    Parameters
    ----------
    model : SingletHiggsPortal | DarkAbelianHiggs
        Fixes the model and the values of its parameters that are not free.
    dataset : "paper" | "latest"
    terms : list of term names, or None for all of :data:`TERM_NAMES`
    nuisances : names of inputs (see ``Inputs.default().names``) or :data:`SM_NUISANCE` to float
        with Gaussian constraints (correlated where the form-factor set gives a covariance)
    free : model parameters that are free (the rest stay at the model's values)
    conventions : {term: "half_normal" | "step" | "poisson"} for upper-limit terms
    higgs_scenario : "lhc" (default), "hl_lhc", "ilc", "clic", "fcc_ee"
    prescription, kl_convention, n : physics options passed to :func:`hpjax.predict`
    inputs : Inputs (default: ``Inputs.default()``)
    belle2_full : options of the ``belle2_full`` term (:data:`BELLE2_FULL_DEFAULTS`)
    """

    def __init__(self, model, dataset: str = "paper", terms=None, nuisances=(), free=("m_hD", "sin_theta"),
                 conventions: Mapping[str, str] | None = None, higgs_scenario: str | None = None,
                 prescription: str = "unified", kl_convention: str = "re", n: int = DEFAULT_ORDER,
                 inputs: Inputs | None = None, belle2_full: Mapping | None = None):
        if not isinstance(model, Model):
            raise TypeError(f"model must be an hpjax model (one of {[c.__name__ for c in MODELS.values()]} or another "
                            f"subclass of hpjax.models.Model), got {type(model).__name__}")
        self.model_class = type(model)
        self.model_defaults = {k: float(v) for k, v in model.params().items()}
        self.inputs = Inputs.default() if inputs is None else inputs
        self.dataset_name = dataset
        self.dataset = db.load_dataset(dataset)  # unknown name -> error listing valid ones
        self.options = {"prescription": prescription, "kl_convention": kl_convention, "n": n}

        free = tuple(free)
        bad = [p for p in free if p not in self.model_class.PARAMS]
        if bad:
            raise ValueError(f"unknown free parameter(s) {bad} of {self.model_class.__name__}; "
                             f"valid: {list(self.model_class.PARAMS)}")
        self.free = free

        valid_nuis = set(self.inputs.names) | {SM_NUISANCE}
        bad = [p for p in nuisances if p not in valid_nuis]
        if bad:
            raise ValueError(f"unknown nuisance parameter(s) {bad}; valid: {sorted(valid_nuis)}")
        self._nuis_user = tuple(nuisances)

        terms = list(DEFAULT_TERMS) if terms is None else list(terms)
        bad = [t for t in terms if t not in TERM_NAMES]
        if bad:
            raise ValueError(f"unknown term(s) {bad}; valid terms: {list(TERM_NAMES)}")
        if "belle2" in terms and "belle2_full" in terms:
            raise ValueError("terms 'belle2' and 'belle2_full' describe the same measurement; choose one")
        opts = dict(belle2_full or {})
        bad = [k for k in opts if k not in BELLE2_FULL_DEFAULTS]
        if bad:
            raise ValueError(f"unknown belle2_full option(s) {bad}; valid: {sorted(BELLE2_FULL_DEFAULTS)}")
        for k, v in opts.items():
            problem = belle2_full_option_problem(k, v)
            if problem:
                raise ValueError(f"belle2_full option {problem}")
        self.belle2_full_options = {**BELLE2_FULL_DEFAULTS, **opts}
        self._b2_nuis: list[str] = []
        conventions = dict(conventions or {})
        bad = {t: c for t, c in conventions.items() if t not in TERM_NAMES or c not in UL_CONVENTIONS}
        if bad:
            raise ValueError(f"bad convention(s) {bad}; valid terms {list(TERM_NAMES)}, conventions {list(UL_CONVENTIONS)}")
        scenarios = self.dataset["higgs_invisible"]["scenarios"]
        self.higgs_scenario = higgs_scenario or self.dataset["higgs_invisible"]["default"]
        if self.higgs_scenario not in scenarios:
            raise ValueError(f"unknown higgs_scenario '{self.higgs_scenario}'; valid: {sorted(scenarios)}")

        self._terms = [self._build_term(t, conventions.get(t, "half_normal")) for t in terms]
        self._observables = sorted({o for t in self._terms for o in t.observables})
        self._build_constraints()

    # ---- construction of terms ---------------------------------------------------------
    def _measurements_of(self, term: str) -> list:
        if term == "higgs_invisible":
            names = [self.dataset["higgs_invisible"]["scenarios"][self.higgs_scenario]]
        else:
            names = self.dataset[term]
        return [db.load_measurement(n) for n in names]

    def _build_term(self, term: str, convention: str) -> _Term:
        ms = self._measurements_of(term)
        obs = _TERM_OBSERVABLE[term]
        if term == "belle2":
            return self._belle2_term(ms)
        if term == "belle2_full":
            return self._belle2_full_term(ms)
        if term == "lfu":
            return self._lfu_term(ms)
        parts = []
        observables = {obs}
        for m in ms:
            if m.kind == "mass_dependent_upper_limit":
                parts.append(self._table_part(term, m, convention))
                observables |= {_PRODUCTION.get(term, obs), "BR(hD->inv)", "tau(hD)"}
            elif m.kind in ("upper_limit", "counts"):
                parts.append(self._limit_part(obs, m, convention))
            else:
                raise ValueError(f"{m.file}: kind '{m.kind}' cannot serve term '{term}'")

        def logpdf(preds, params, parts=tuple(parts)):
            vals = [p(preds) for p in parts]
            return vals[0] if len(vals) == 1 else jnp.min(jnp.stack(vals))  # overlapping tables: strongest

        return _Term(term, tuple(sorted(observables)), logpdf, tuple(m.name for m in ms), convention)

    def _belle2_term(self, ms) -> _Term:
        sm = db.load_measurement(self.dataset["sm_prediction"][0])
        self._sm = sm
        gauss = [m for m in ms if m.kind == "gaussian"]
        if len(gauss) != len(ms):
            raise ValueError(f"term 'belle2' needs gaussian measurements; got {[m.kind for m in ms]}")

        def logpdf(preds, params):
            sm_val = params.get(SM_NUISANCE, sm.value)
            total = sm_val + preds["BR(B+->K+inv)"]
            return sum(asymmetric_gaussian_logpdf(total, m.value, m.error_up, m.error_down) for m in gauss)

        return _Term("belle2", ("BR(B+->K+inv)",), logpdf, tuple(m.name for m in ms), "gaussian")

    def _belle2_full_term(self, ms) -> _Term:
        """Belle II's published pyhf likelihood with the model's q^2 spectrum as signal
        (:mod:`hpjax.likelihood.belle2_full`); ln L minus that of the published SM-shaped best fit."""
        from .belle2_full import BR_TEMPLATE, Belle2Full

        if len(ms) != 1 or ms[0].kind != "pyhf_likelihood":
            raise ValueError(f"term 'belle2_full' needs one pyhf_likelihood measurement; got {[m.name for m in ms]}")
        o = self.belle2_full_options
        b = Belle2Full(smoothing=o["smoothing"], n=self.options["n"], prescription=self.options["prescription"])
        self.belle2_full = b
        ref = b.reference_logpdf
        sm = db.load_measurement(self.dataset["sm_prediction"][0])
        self._sm = sm
        if o["nuisances"] == "float":
            self._b2_nuis = [BELLE2_FULL_PREFIX + n for n in b.nuisance_names]
        names = tuple(self._b2_nuis)

        def logpdf(preds, params, constraints=True):
            br_bins = b.spectrum(preds["_model"], preds["_inputs"])
            if o["sm"] == "dataset":
                mu_sm = jnp.asarray(params.get(SM_NUISANCE, sm.value), dtype=jnp.float64) / BR_TEMPLATE
            else:
                mu_sm = 1.0
            if names:
                nuis = jnp.stack([jnp.asarray(params[n], dtype=jnp.float64) for n in names])
                v = b.logpdf(br_bins, nuis, mu_sm, constraints=constraints)
            else:
                v = b.profiled_logpdf(br_bins, mu_sm, steps=o["steps"])
            return jnp.where(jnp.isnan(v), -jnp.inf, v) - ref

        return _Term("belle2_full", ("BR(B+->K+inv)",), logpdf, (ms[0].name,), "pyhf")

    def _lfu_term(self, ms) -> _Term:
        """R_K, R_K* in q^2 bins: R = R_SM + BR(B -> K(*) h_D) BR(h_D -> mu mu) f_bin / BR_SM(ee, bin),
        f_bin the fraction of the h_D Breit-Wigner inside the bin (smooth in m_hD). The SM binned
        rates (hpjax.bkll) are computed once, at construction, from the central inputs."""
        from ..bkll import br_bin_sm

        if len(ms) != 1 or ms[0].kind != "correlated_gaussian":
            raise ValueError(f"term 'lfu' needs one correlated_gaussian measurement; got {[m.name for m in ms]}")
        m = ms[0]
        chan = {"R_K": ("B+->K+", "BR(B+->K+hD)"), "R_K*": ("B0->K*0", "BR(B0->K*0hD)")}
        bad = [o for o in m.observables if o not in chan]
        if bad:
            raise ValueError(f"{m.file}: key 'observables': {bad} not supported; valid: {sorted(chan)}")
        inp = self.inputs
        rows = []
        for obs, (lo, hi) in zip(m.observables, m.q2_bins):
            ch, prod = chan[obs]
            ee = float(br_bin_sm(ch, lo, hi, inp.m_e, inp))
            mumu = float(br_bin_sm(ch, lo, hi, inp.m_mu, inp))
            rows.append((prod, float(lo), float(hi), mumu / ee, ee))
        values = jnp.asarray(m.values, dtype=jnp.float64)
        err = np.asarray(m.errors, dtype=float)  # (n, 2) = (up, down)
        corr = jnp.asarray(m.correlation, dtype=jnp.float64)
        up, down = jnp.asarray(err[:, 0]), jnp.asarray(err[:, 1])
        self._lfu_sm = rows

        def logpdf(preds, params):
            mass = preds["_m_hD"]
            G = mass * preds["Gamma(hD)"]
            # a stable h_D (G = 0): the Breit-Wigner is a delta function, frac = 1 inside the bin;
            # double-where so that neither x/0 nor its gradient reaches the result
            wide = G > 0
            G_s = jnp.where(wide, G, 1.0)
            pred = []
            for prod, lo, hi, r_sm, ee in rows:
                bw = (jnp.arctan((hi - mass**2) / G_s) - jnp.arctan((lo - mass**2) / G_s)) / jnp.pi
                delta = jnp.where((mass**2 > lo) & (mass**2 < hi), 1.0, 0.0)
                frac = jnp.where(wide, bw, delta)
                pred.append(r_sm + preds[prod] * preds["BR(hD->mumu)"] * frac / ee)
            pred = jnp.stack(pred)
            sigma = jnp.where(pred > values, up, down)
            d = (pred - values) / sigma
            return -0.5 * d @ jnp.linalg.solve(corr, d)

        obs = ("BR(B+->K+hD)", "BR(B0->K*0hD)", "BR(hD->mumu)", "Gamma(hD)")
        return _Term("lfu", obs, logpdf, (m.name,), "correlated_gaussian")

    @staticmethod
    def _limit_part(obs: str, m, convention: str):
        if convention == "half_normal":
            sigma = sigma_from_limit(m.limit, m.cl)
            return lambda preds: half_normal_logpdf(preds[obs], sigma)
        if convention == "step":
            return lambda preds: step_logpdf(preds[obs], m.limit)
        if m.kind != "counts":
            raise ValueError(f"{m.file}: convention 'poisson' needs published counts; this measurement has "
                             f"kind '{m.kind}'. Valid conventions here: ['half_normal', 'step']")
        b0 = m.counts_total - (m.counts_signal or 0.0)
        pc = PoissonCounts(m.counts_total, b0, m.background_std, limit=m.limit, cl=m.cl, name=m.file)
        return lambda preds: pc.logpdf(preds[obs])

    @staticmethod
    def _table_part(term: str, m, convention: str):
        if convention == "poisson":
            raise ValueError(f"{m.file}: convention 'poisson' needs published counts; a mass-dependent table has "
                             f"none. Valid conventions here: ['half_normal', 'step']")
        table = LimitTable(m.masses, m.values, m.lifetimes, name=m.file)
        z = _quantile(m.cl)
        inv_obs = _TERM_OBSERVABLE[term]
        prod_obs = _PRODUCTION[term]

        def ratio(preds):
            """prediction / limit: invisible decays against the stable-X limit, visible h_D decays
            against the limit at the h_D lifetime (escape probability encoded in the table)."""
            mass = preds["_m_hD"]
            r_inv = preds[inv_obs] / table.limit(mass)
            if m.lifetimes is None:
                return r_inv
            vis = preds[prod_obs] * (1.0 - preds["BR(hD->inv)"])
            return r_inv + vis / table.limit(mass, preds["tau(hD)"])

        if convention == "step":
            return lambda preds: jnp.where(ratio(preds) <= 1.0, 0.0, -jnp.inf)
        return lambda preds: -0.5 * (z * ratio(preds)) ** 2

    def _build_constraints(self):
        names = [n for n in self._nuis_user if n != SM_NUISANCE]
        self._nuis_inputs = names
        if names:
            cov = self.inputs.covariance(names)
            if np.any(np.diag(cov) <= 0):
                zero = [n for n, c in zip(names, np.diag(cov)) if c <= 0]
                raise ValueError(f"nuisance(s) {zero} have zero uncertainty in hpjax/data and cannot float")
            self._nuis_mu = jnp.asarray([float(self.inputs[n]) for n in names])
            self._nuis_cov_inv = jnp.asarray(np.linalg.inv(cov))
        if SM_NUISANCE in self._nuis_user and not hasattr(self, "_sm"):
            self._sm = db.load_measurement(self.dataset["sm_prediction"][0])

    # ---- parameters --------------------------------------------------------------------
    def parameters(self) -> list[str]:
        """Names of the free parameters: free model parameters, then nuisances."""
        return list(self.free) + list(self.nuisances)

    @property
    def nuisances(self) -> tuple[str, ...]:
        """Names of the nuisance parameters: the floated inputs, then (``belle2_full`` with
        ``nuisances="float"``) Belle II's 231, prefixed :data:`BELLE2_FULL_PREFIX`."""
        return tuple(self._nuis_user) + tuple(self._b2_nuis)

    def initial_params(self) -> dict:
        """Model defaults for the free model parameters and central values for nuisances."""
        p = {k: jnp.asarray(self.model_defaults[k]) for k in self.free}
        for n in self._nuis_user:
            p[n] = jnp.asarray(self._sm.value if n == SM_NUISANCE else float(self.inputs[n]))
        if self._b2_nuis:  # the published best fit's nuisances
            for n, v in zip(self._b2_nuis, np.asarray(self.belle2_full.default_start())):
                p[n] = jnp.asarray(float(v))
        return p

    def nuisance_errors(self) -> dict:
        out = {}
        for n in self._nuis_user:
            out[n] = float(max(self._sm.error_up, self._sm.error_down)) if n == SM_NUISANCE else self.inputs.error(n)
        if self._b2_nuis:
            out.update(zip(self._b2_nuis, (float(x) for x in self.belle2_full.nuisance_sigma)))
        return out

    def citations(self) -> list[str]:
        names = sorted({m for t in self._terms for m in t.measurements}
                       | ({self._sm.name} if hasattr(self, "_sm") else set()))
        return db.citations(names)

    @property
    def terms(self) -> list[str]:
        return [t.name for t in self._terms]

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
        for p in cls.PARAMS:
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
        if not self._nuis_inputs:
            return self.inputs
        return self.inputs.replace(**{n: params[n] for n in self._nuis_inputs})

    def _evaluate(self, params, constraints: bool = True) -> dict:
        self._check(params)
        model, ok = self._model_and_domain(params)
        inputs = self._inputs_for(params)
        preds = predict(model, inputs, observables=self._observables, **self.options)
        preds["_m_hD"] = model.m_hD
        preds["_model"], preds["_inputs"] = model, inputs
        out = {t.name: (t.logpdf(preds, params, constraints) if t.name == "belle2_full" else t.logpdf(preds, params))
               for t in self._terms}
        if not constraints:
            return {k: jnp.where(ok, v, -jnp.inf) for k, v in out.items()}
        cons = 0.0
        if self._nuis_inputs:
            x = jnp.stack([jnp.asarray(params[n], dtype=jnp.float64) for n in self._nuis_inputs])
            d = x - self._nuis_mu
            cons = cons - 0.5 * d @ self._nuis_cov_inv @ d
        if SM_NUISANCE in self._nuis_user:
            sm = self._sm
            cons = cons + asymmetric_gaussian_logpdf(params[SM_NUISANCE], sm.value, sm.error_up, sm.error_down)
        if self._nuis_user:
            out["nuisance_constraints"] = cons
        return {k: jnp.where(ok, v, -jnp.inf) for k, v in out.items()}

    def breakdown(self, params) -> dict:
        """Per-term log-likelihood (and ``nuisance_constraints`` when nuisances float)."""
        return self._evaluate(params)

    def log_likelihood(self, params, constraints: bool = True):
        """Total ln L (chi2 convention); -inf outside the physical domain. With
        ``constraints=False`` the Gaussian constraints of the nuisance parameters are left out
        (a posterior puts them in as priors instead)."""
        parts = self._evaluate(params, constraints)
        return sum(parts.values())

    def nuisance_prior(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(names, means, covariance) of the Gaussian constraints of all nuisances, in
        :meth:`parameters` order (the SM prediction uses the larger of its two errors)."""
        names = list(self.nuisances)
        init = self.initial_params()
        mu = np.array([float(init[n]) for n in self._nuis_user])
        if self._b2_nuis:  # pyhf's constraint centres (theta = 0, gamma = 1), not the warm start
            mu = np.concatenate([mu, self.belle2_full.nuisance_center])
        cov = np.zeros((len(names), len(names)))
        inp = [n for n in self._nuis_user if n != SM_NUISANCE]
        if inp:
            c = self.inputs.covariance(inp)
            idx = [names.index(n) for n in inp]
            cov[np.ix_(idx, idx)] = c
        if SM_NUISANCE in names:
            i = names.index(SM_NUISANCE)
            cov[i, i] = max(self._sm.error_up, self._sm.error_down) ** 2
        if self._b2_nuis:
            k = len(self._nuis_user)
            cov[k:, k:] = np.diag(self.belle2_full.nuisance_sigma ** 2)
        return names, mu, cov

    def chi2(self, params):
        """-2 ln L."""
        return -2.0 * self.log_likelihood(params)

    def __repr__(self):
        return (f"Likelihood({self.model_class.__name__}, dataset='{self.dataset_name}', terms={self.terms}, "
                f"free={list(self.free)}, nuisances={list(self._nuis_user)}"
                + (f" + {len(self._b2_nuis)} Belle II" if self._b2_nuis else "") + ")")

