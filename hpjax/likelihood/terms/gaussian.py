"""Gaussian measurements of a rate (Belle II's BR(B+ -> K+ inv), asymmetric errors). Where the
measured rate includes the SM neutrino mode, the dataset's SM prediction is added to the new
physics (and may float as a nuisance)."""

from __future__ import annotations

import copy

from ..measurements import load_measurement
from ..names import SM_NUISANCE
from ..stats import asymmetric_gaussian_logpdf
from .base import TermSetup, register
from .nuisances import sm_nuisance, sm_value

__all__ = ["GaussianTerm", "SM_BACKGROUND"]

#: measured observable -> dataset entry of the SM rate it includes
SM_BACKGROUND = {"BR(B+->K+inv)": "sm_prediction"}


@register("gaussian")
class GaussianTerm:
    """ln L = -(x - value)^2 / (2 sigma^2), sigma = error_up above the value, error_down below;
    x = the predicted observable (+ the SM prediction where the measurement includes it)."""

    COMBINE = "sum"
    _center = None  # the Asimov data's value in place of the measured one (see asimov)

    def __init__(self, name: str, measurement, sm=None, sm_floats: bool = False):
        self.name = name
        self.measurement = measurement
        self.observables = (measurement.observable,)
        self.sm = sm
        self.measurements = (measurement.name,) + ((sm.name,) if sm is not None else ())
        self.nuisances = (sm_nuisance(sm),) if (sm is not None and sm_floats) else ()

    @classmethod
    def from_measurement(cls, m, setup: TermSetup):
        entry = SM_BACKGROUND.get(m.observable)
        sm = load_measurement(setup.dataset[entry][0]) if entry else None
        return cls(setup.name, m, sm, SM_NUISANCE in setup.options.get("floating", ()))

    def expected(self, context, params):
        """The predicted value x the measurement is compared with."""
        x = context.predictions[self.measurement.observable]
        return x + sm_value(params, self.sm) if self.sm is not None else x

    def logpdf(self, context, params, *, constraints=True):
        m = self.measurement
        center = m.value if self._center is None else self._center
        return asymmetric_gaussian_logpdf(self.expected(context, params), center, m.error_up, m.error_down)

    def asimov(self, context, params):
        """This term with the measured value replaced by the prediction at the point (errors kept)."""
        new = copy.copy(self)
        new._center = self.expected(context, params)
        return new
