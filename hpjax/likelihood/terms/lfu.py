"""Lepton-flavour universality: LHCb's R_K, R_K* in q^2 bins, shifted by h_D -> mu mu."""

from __future__ import annotations

import copy

import jax.numpy as jnp
import numpy as np

from ...bkll import br_bin_sm
from ...kinematics import bw_fraction
from .base import TermSetup, register

__all__ = ["LFUTerm", "LFU_CHANNELS"]

#: measured ratio -> (meson channel, two-body production observable)
LFU_CHANNELS = {"R_K": ("B+->K+", "BR(B+->K+hD)"), "R_K*": ("B0->K*0", "BR(B0->K*0hD)")}


@register("correlated_gaussian")
class LFUTerm:
    """R = R_SM + BR(B -> K(*) h_D) BR(h_D -> mu mu) f_bin / BR_SM(ee, bin), f_bin the fraction of
    the h_D Breit-Wigner inside the bin (smooth in m_hD); a correlated Gaussian with asymmetric
    errors. The SM binned rates (:mod:`hpjax.bkll`) are computed once, at construction, from the
    central inputs; :attr:`sm_bins` holds them (production observable, q2_lo, q2_hi, R_SM, BR_SM(ee))."""

    COMBINE = "sum"

    def __init__(self, name: str, measurement, inputs):
        m = measurement
        bad = [o for o in m.observables if o not in LFU_CHANNELS]
        if bad:
            raise ValueError(f"{m.file}: key 'observables': {bad} not supported; valid: {sorted(LFU_CHANNELS)}")
        self.name, self.measurement = name, m
        rows = []
        for obs, (lo, hi) in zip(m.observables, m.q2_bins):
            ch, prod = LFU_CHANNELS[obs]
            ee = float(br_bin_sm(ch, lo, hi, inputs.m_e, inputs))
            mumu = float(br_bin_sm(ch, lo, hi, inputs.m_mu, inputs))
            rows.append((prod, float(lo), float(hi), mumu / ee, ee))
        self.sm_bins = tuple(rows)
        err = np.asarray(m.errors, dtype=float)  # (n, 2) = (up, down)
        self._values = jnp.asarray(m.values, dtype=jnp.float64)
        self._corr = jnp.asarray(m.correlation, dtype=jnp.float64)
        self._up, self._down = jnp.asarray(err[:, 0]), jnp.asarray(err[:, 1])
        self.observables = ("BR(B+->K+hD)", "BR(B0->K*0hD)", "BR(hD->mumu)", "Gamma(hD)")
        self.measurements = (m.name,)
        self.nuisances = ()

    @classmethod
    def from_measurement(cls, m, setup: TermSetup):
        return cls(setup.name, m, setup.inputs)

    def predicted_ratios(self, context):
        preds, mass = context.predictions, context.model.m_hD
        G = mass * preds["Gamma(hD)"]
        pred = []
        for prod, lo, hi, r_sm, ee in self.sm_bins:
            # a stable h_D (G -> 0): the Breit-Wigner is a delta function; finite gradients throughout
            frac = bw_fraction(lo, hi, mass**2, G)
            pred.append(r_sm + preds[prod] * preds["BR(hD->mumu)"] * frac / ee)
        return jnp.stack(pred)

    def logpdf(self, context, params, *, constraints=True):
        pred = self.predicted_ratios(context)
        sigma = jnp.where(pred > self._values, self._up, self._down)
        d = (pred - self._values) / sigma
        return -0.5 * d @ jnp.linalg.solve(self._corr, d)

    def asimov(self, context, params):
        """The measured ratios replaced by the point's predicted ratios (errors, correlation kept)."""
        new = copy.copy(self)
        new._values = self.predicted_ratios(context)
        return new
