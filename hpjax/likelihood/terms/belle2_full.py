"""Belle II's published likelihood (kind ``pyhf_likelihood``) as a term: the model's q^2
spectrum as signal in Belle II's statistical model (:mod:`hpjax.likelihood.belle2_full`), its
231 nuisances profiled inside the term or floating as parameters ``belle2:<name>``; ln L minus
that of the published SM-shaped best fit."""

from __future__ import annotations

import contextlib
import copy

import jax.numpy as jnp
import numpy as np

from ..measurements import load_measurement
from ..names import BELLE2_FULL_DEFAULTS, BELLE2_FULL_PREFIX, SM_NUISANCE
from .base import NuisanceGroup, TermSetup, register
from .nuisances import sm_nuisance, sm_value

__all__ = ["Belle2FullTerm"]


@register("pyhf_likelihood")
class Belle2FullTerm:
    """Options (:data:`~hpjax.likelihood.names.BELLE2_FULL_DEFAULTS`): ``nuisances`` "profile" or
    "float", ``sm`` "dataset" or "template", ``smoothing``, ``steps``, ``backend`` "lean" or "pyhf"."""

    COMBINE = "sum"

    def __init__(self, name: str, measurement, sm, options, physics, sm_floats: bool = False):
        from ..belle2_full import BR_TEMPLATE, Belle2Full

        self.name, self.measurement, self.sm = name, measurement, sm
        self.options = {**BELLE2_FULL_DEFAULTS, **dict(options)}
        o = self.options
        self.model = Belle2Full(
            smoothing=o["smoothing"], n=physics["n"], prescription=physics["prescription"], backend=o["backend"]
        )
        self._br_template = BR_TEMPLATE
        self.reference = self.model.reference_logpdf
        self.observables = ("BR(B+->K+inv)",)
        self.measurements = (measurement.name, sm.name)
        groups = [sm_nuisance(sm)] if sm_floats else []
        if o["nuisances"] == "float":
            b = self.model
            names = tuple(BELLE2_FULL_PREFIX + n for n in b.nuisance_names)
            sig = np.asarray(b.nuisance_sigma, dtype=float)
            groups.append(
                NuisanceGroup(
                    names,
                    np.asarray(b.nuisance_center, dtype=float),
                    np.diag(sig**2),
                    np.asarray(b.default_start(), dtype=float),
                    None,
                )
            )
        self.nuisances = tuple(groups)
        self._float_names = groups[-1].names if o["nuisances"] == "float" else ()
        # the inner Gauss-Newton profile is converged to ~1e-8 in ln L: an outer optimiser should
        # stop on a change of chi2 below this, not on a gradient tolerance it cannot meet
        self.value_tolerance = 1e-7 if o["nuisances"] == "profile" else None
        self._at = None  # nuisances given by a joint fit (see at_nuisances)
        self._data = None  # (main counts, aux data) in place of the observed ones (see asimov)

    @classmethod
    def from_measurement(cls, m, setup: TermSetup):
        sm = load_measurement(setup.dataset["sm_prediction"][0])
        floating = setup.options.get("floating", ())
        return cls(setup.name, m, sm, setup.options.get("belle2_full", {}), setup.physics, SM_NUISANCE in floating)

    @property
    def profiles(self) -> bool:
        """Whether the Belle II nuisances are profiled inside the term (``nuisances = "profile"``)."""
        return self.options["nuisances"] == "profile"

    def _mu_sm(self, params):
        return sm_value(params, self.sm) / self._br_template if self.options["sm"] == "dataset" else 1.0

    def signal_factors(self, context, params):
        """The 18 per-bin signal factors of the statistical model at ``params`` (context from
        ``Likelihood.context``): what a joint fit differentiates with respect to the parameters."""
        b = self.model
        return b.signal_factors(b.np_yields(b.spectrum(context.model, context.inputs)), self._mu_sm(params))

    @contextlib.contextmanager
    def at_nuisances(self, nuisances):
        """Within this block :meth:`logpdf` evaluates the statistical model at the given Belle II
        ``nuisances`` (231,) instead of profiling them: a joint fit over parameters and nuisances
        (:mod:`hpjax.inference.joint`) traces the likelihood through it."""
        old, self._at = self._at, nuisances
        try:
            yield
        finally:
            self._at = old

    def _nuisances_at(self, params):
        """The Belle II nuisances a point uses when they are not profiled (else None)."""
        if self._at is not None:
            return self._at
        if self._float_names:
            return jnp.stack([jnp.asarray(params[n], dtype=jnp.float64) for n in self._float_names])
        return None

    def logpdf(self, context, params, *, constraints=True):
        b, o = self.model, self.options
        br_bins = b.spectrum(context.model, context.inputs)
        mu_sm = self._mu_sm(params)
        nuis = self._nuisances_at(params)
        if nuis is not None:
            v = b.logpdf(br_bins, nuis, mu_sm, constraints=constraints, data=self._data)
        else:
            v = b.profiled_logpdf(br_bins, mu_sm, steps=o["steps"], data=self._data)
        return jnp.where(jnp.isnan(v), -jnp.inf, v) - self.reference

    def asimov(self, context, params):
        """This term on the Asimov data set of the point: main counts = the expected counts,
        auxiliary data = the nuisances (profiled at the point, or the point's own when they
        float), pyhf's ``expected_data``."""
        b, o = self.model, self.options
        y = b.np_yields(b.spectrum(context.model, context.inputs))
        mu_sm = self._mu_sm(params)
        nuis = self._nuisances_at(params)
        if nuis is None:
            nuis = b.profile(y, mu_sm, steps=o["steps"], data=self._data)[1]
        new = copy.copy(self)
        new._data = b.asimov_data(b.signal_factors(y, mu_sm), nuis)
        return new
