"""The names hpjax's likelihood speaks: observables a measurement may constrain, measurement
kinds, the terms of a dataset and their defaults. One place, read by the measurement database,
the terms, :class:`~hpjax.likelihood.Likelihood`, the fit-specification reader and the CLI.

>>> from hpjax.likelihood.names import DEFAULT_TERMS, TERM_NAMES
>>> "belle2_full" in TERM_NAMES and "belle2_full" not in DEFAULT_TERMS
True
"""

from __future__ import annotations

__all__ = [
    "MEASURED_OBSERVABLES",
    "KINDS",
    "DATASET_TERMS",
    "HIGGS_SCENARIOS",
    "TERM_NAMES",
    "DEFAULT_TERMS",
    "OPTIONAL_TERMS",
    "SM_NUISANCE",
    "UL_CONVENTIONS",
    "DEFAULT_CONVENTION",
    "TERM_OBSERVABLE",
    "PRODUCTION",
    "BELLE2_FULL_DEFAULTS",
    "BELLE2_FULL_CHOICES",
    "BELLE2_FULL_STEPS",
    "BELLE2_FULL_PREFIX",
    "belle2_full_option_problem",
]

#: Observable names a measurement file may use.
MEASURED_OBSERVABLES = (
    "BR(B+->K+inv)",
    "BR(B0->K*0inv)",
    "BR(K+->pi+inv)",
    "BR(KL->pi0inv)",
    "BR(h->inv)",
    "R_K",
    "R_K*",
    "BR(B+->K+nunu)_SM",
    "BR(K+->pi+nunu)",
    "BR(K+->pi+nunu)_SM",
)

#: Kinds of measurement record (one record class and, where it is a likelihood, one term class each).
KINDS = (
    "gaussian",
    "upper_limit",
    "mass_dependent_upper_limit",
    "counts",
    "correlated_gaussian",
    "pyhf_likelihood",
    "mass_dependent_gaussian",
    "offshell_gaussian",
    "relic_density",  # Omega h^2 (terms/relic.py: opt-in RelicTerm; no measurement file ships it)
)

#: Entries of a dataset (``hpjax/data/datasets.toml``) and the observables each accepts.
DATASET_TERMS = {
    "belle2": ("BR(B+->K+inv)",),
    "belle2_full": ("BR(B+->K+inv)",),
    "sm_prediction": ("BR(B+->K+nunu)_SM",),
    "belle_kstar": ("BR(B0->K*0inv)",),
    "na62": ("BR(K+->pi+inv)",),
    "koto": ("BR(KL->pi0inv)",),
    "lfu": ("R_K", "R_K*"),
    "higgs_invisible": ("BR(h->inv)",),
    "babar": ("BR(B+->K+inv)",),
    "koto_nunu": ("BR(KL->pi0inv)",),
    "na62_pinunu": ("BR(K+->pi+nunu)",),
    "sm_kpinunu": ("BR(K+->pi+nunu)_SM",),
}

HIGGS_SCENARIOS = ("lhc", "lhc_cms", "hl_lhc", "ilc", "clic", "fcc_ee")

#: Likelihood terms a :class:`~hpjax.likelihood.Likelihood` can hold (dataset entries that are likelihoods).
TERM_NAMES = (
    "belle2",
    "belle2_full",
    "belle_kstar",
    "na62",
    "koto",
    "higgs_invisible",
    "lfu",
    "babar",
    "koto_nunu",
    "na62_pinunu",
)
#: terms only some datasets have (``latest``: BaBar's B+ -> K+ X recast, KOTO 2021's flat K_L -> pi0 nu nubar
#: limit, NA62's K+ -> pi+ nu nubar rate); a likelihood holds them when asked for by name
OPTIONAL_TERMS = ("babar", "koto_nunu", "na62_pinunu")
#: the terms of ``terms=None``: all but ``belle2_full`` (it replaces ``belle2`` when asked for) and
#: the optional terms
DEFAULT_TERMS = tuple(t for t in TERM_NAMES if t != "belle2_full" and t not in OPTIONAL_TERMS)

#: name of the nuisance parameter for the SM prediction of BR(B+ -> K+ nu nubar)
SM_NUISANCE = "BR(B+->K+nunu)_SM"

#: conventions that turn an upper limit into a likelihood (see :mod:`hpjax.likelihood.stats`)
UL_CONVENTIONS = ("half_normal", "step", "poisson")
DEFAULT_CONVENTION = "half_normal"

#: the predicted observable each term constrains
TERM_OBSERVABLE = {
    "belle2": "BR(B+->K+inv)",
    "belle2_full": "BR(B+->K+inv)",
    "belle_kstar": "BR(B0->K*0inv)",
    "na62": "BR(K+->pi+inv)",
    "koto": "BR(KL->pi0inv)",
    "higgs_invisible": "BR(h->inv)",
    "lfu": "BR(hD->mumu)",
    "babar": "BR(B+->K+inv)",
    "koto_nunu": "BR(KL->pi0inv)",
    "na62_pinunu": "BR(K+->pi+inv)",
}
#: invisible-rate observable -> its two-body production BR (the visible-decay part of a table limit)
PRODUCTION = {
    "BR(K+->pi+inv)": "BR(K+->pi+hD)",
    "BR(KL->pi0inv)": "BR(KL->pi0hD)",
    "BR(B+->K+inv)": "BR(B+->K+hD)",
    "BR(B0->K*0inv)": "BR(B0->K*0hD)",
}

#: options of the ``belle2_full`` term (``Likelihood(..., belle2_full={...})``):
#: nuisances "profile" (maximised inside the term, for fits and scans) or "float" (231 nuisance
#: parameters of the likelihood, for posteriors); sm "dataset" (the SM template scaled to the
#: dataset's SM prediction, the same as the Gaussian term) or "template" (Belle II's mu = 1);
#: smoothing: B-spline degree of the generated-q^2 bins (0-3); steps: Gauss-Newton steps of the profile
#: backend: "lean" (hpjax's own evaluation of the statistical model) or "pyhf" (pyhf's JAX backend, the reference)
BELLE2_FULL_DEFAULTS = {"nuisances": "profile", "sm": "dataset", "smoothing": 2, "steps": 6, "backend": "lean"}
BELLE2_FULL_CHOICES = {
    "nuisances": ("profile", "float"),
    "sm": ("dataset", "template"),
    "smoothing": (0, 1, 2, 3),
    "backend": ("lean", "pyhf"),
}
BELLE2_FULL_STEPS = (1, 50)
#: prefix of the Belle II nuisance parameters when ``belle2_full={"nuisances": "float"}``
BELLE2_FULL_PREFIX = "belle2:"


def belle2_full_option_problem(key: str, value) -> str | None:
    """What is wrong with the ``belle2_full`` option ``key = value`` (None if nothing); shared by
    :class:`~hpjax.likelihood.Likelihood` and the fit-specification reader so both say the same."""
    if key not in BELLE2_FULL_DEFAULTS:
        return f"unknown belle2_full option {key!r}; valid: {sorted(BELLE2_FULL_DEFAULTS)}"
    if key in BELLE2_FULL_CHOICES:
        if value not in BELLE2_FULL_CHOICES[key]:
            return f"{key} = {value!r} is not allowed; valid: {list(BELLE2_FULL_CHOICES[key])}"
        return None
    lo, hi = BELLE2_FULL_STEPS
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        return f"{key} = {value!r} must be an integer in [{lo}, {hi}]"
    return None
