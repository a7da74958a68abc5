"""Lepton-flavour universality: LHCb's R_K, R_K* in q^2 bins, shifted by h_D -> mu mu."""

from __future__ import annotations

import copy

import jax.numpy as jnp
import numpy as np

from ...bkll import br_bin_sm
from ...kinematics import bw_cdf
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
        self._edges = np.unique([e for r in rows for e in r[1:3]])
        self._lo_idx = np.searchsorted(self._edges, [r[1] for r in rows])
        self._hi_idx = np.searchsorted(self._edges, [r[2] for r in rows])
        self._prods = tuple(dict.fromkeys(r[0] for r in rows))
        self._prod_idx = np.asarray([self._prods.index(r[0]) for r in rows])
        self._r_sm = np.asarray([r[3] for r in rows])
        self._ee = np.asarray([r[4] for r in rows])
        err = np.asarray(m.errors, dtype=float)  # (n, 2) = (up, down)
        self._values = jnp.asarray(m.values, dtype=jnp.float64)
        self._corr = jnp.asarray(m.correlation, dtype=jnp.float64)
        self._corr_inv = jnp.asarray(np.linalg.inv(np.asarray(m.correlation, dtype=float)))
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
        # one vector over the bins; the Breit-Wigner at each distinct bin edge once (atan2 is a
        # scalar library call per element on XLA:CPU)
        cdf = bw_cdf(jnp.asarray(self._edges), mass**2, G)
        frac = cdf[self._hi_idx] - cdf[self._lo_idx]
        prod = jnp.stack([preds[p] for p in self._prods])[self._prod_idx]
        return self._r_sm + prod * preds["BR(hD->mumu)"] * frac / self._ee

    def logpdf(self, context, params, *, constraints=True):
        pred = self.predicted_ratios(context)
        sigma = jnp.where(pred > self._values, self._up, self._down)
        d = (pred - self._values) / sigma
        return -0.5 * d @ (self._corr_inv @ d)

    def asimov(self, context, params):
        """The measured ratios replaced by the point's predicted ratios (errors, correlation kept)."""
        new = copy.copy(self)
        new._values = self.predicted_ratios(context)
        return new
