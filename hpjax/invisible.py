r"""A model-independent light invisible particle X in B+ -> K+ X: :class:`InvisibleX`.

The parameters are the mass ``m_X`` [GeV], ``br`` = BR(B+ -> K+ X) x P_inv (the probability
that X escapes the detector unseen: decays invisibly, or lives long enough) and the relative
width ``width`` = Gamma_X / m_X. The q^2 = m_X^2 spectrum is two-body (a delta at m_X^2, width =
0) or a Breit-Wigner in q^2, 1 / ((q^2 - m_X^2)^2 + m_X^2 Gamma_X^2), normalised to ``br`` over
the kinematic range (so ``br`` is the invisible rate Belle II sees). Nothing else is assumed
(no coupling to kaons, the Higgs or muons), so the model predicts one observable,
``BR(B+->K+inv)`` (the X rate, the SM neutrinos added by the terms), and the q^2 spectrum of
Belle II's full likelihood
(:func:`hpjax.likelihood.belle2.spectrum.resonance_spectrum`): the terms that apply are
``belle2`` (Gaussian on the total rate) and ``belle2_full`` (the published likelihood with the
X spectrum in Belle II's generated-q^2 bins). Other terms are rejected at construction, e.g.
``Likelihood(InvisibleX(...), terms=["na62"])``: one ``ValueError`` line naming the term.

>>> import hpjax
>>> x = hpjax.InvisibleX(m_X=2.1, br=9.2e-6)
>>> float(hpjax.predict(x, observables=["BR(B+->K+inv)"])["BR(B+->K+inv)"])
9.2e-06
>>> hpjax.InvisibleX(m_X=5.0, br=1e-5)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: InvisibleX: m_X = 5.0 is outside the allowed range [0, 4.785...]
"""

from __future__ import annotations

import inspect

import jax.numpy as jnp

from .inputs import input_info
from .models import Model

__all__ = ["InvisibleX", "X_OBSERVABLES", "M_X_MAX"]

_INFO = input_info()  # plain numbers: importing hpjax must not start a JAX backend (jax.distributed, XLA_FLAGS)
#: kinematic end point m_B+ - m_K+ [GeV] (PDG masses of hpjax/data/inputs.toml)
M_X_MAX = round(float(_INFO["m_Bp"].value - _INFO["m_Kp"].value), 5)
#: the observables an InvisibleX predicts
X_OBSERVABLES = ("BR(B+->K+inv)",)


class InvisibleX(Model):
    """B+ -> K+ X, X invisible (see the module docstring): ``InvisibleX(m_X, br, width=0.0)``.

    Domains: m_X in [0, m_B+ - m_K+], br in [0, 1], width = Gamma_X / m_X in [0, 10].
    """

    PARAMS = ("m_X", "br", "width")
    DOMAIN = {
        "m_X": (0.0, M_X_MAX, True, True),
        "br": (0.0, 1.0, True, True),
        "width": (0.0, 10.0, True, True),
    }
    #: the parameters a Likelihood frees by default
    DEFAULT_FREE = ("m_X", "br")

    def __init__(self, m_X, br, width=0.0):
        super().__init__(m_X=m_X, br=br, width=width)

    # ---- what the physics and the terms ask of the model ----------------------------------
    def invisible_resonance(self):
        """(m_X, width, br): the q^2 spectrum of Belle II's full likelihood (``resonance_spectrum``)."""
        return self.m_X, self.width, self.br

    def predictions(self, inputs, observables):
        """``predict`` of this model: BR(B+->K+inv) = br (the X rate; ``inputs`` unused)."""
        self.check_observables(observables)
        return {o: jnp.asarray(self.br, dtype=jnp.float64) * jnp.ones_like(jnp.asarray(self.m_X)) for o in observables}

    @classmethod
    def check_observables(cls, observables, term: str | None = None) -> None:
        """ValueError (one line) unless every observable is one an InvisibleX predicts."""
        bad = [o for o in observables if o not in X_OBSERVABLES]
        if bad:
            who = f"term {term!r}" if term else "observable(s)"
            raise ValueError(
                f"InvisibleX: {who} needs {bad}, which a model-independent X does not predict; "
                f"it predicts {list(X_OBSERVABLES)} (terms 'belle2', 'belle2_full')"
            )

    def dark_mass(self):
        """X itself is the invisible final state: no pair threshold (0)."""
        return 0.0 * jnp.asarray(self.m_X)

    def gamma_total(self, inputs=None):
        """Gamma_X = width x m_X [GeV]."""
        return jnp.asarray(self.width) * jnp.asarray(self.m_X)


InvisibleX.__signature__ = inspect.Signature(
    [
        inspect.Parameter("m_X", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("br", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("width", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=0.0),
    ]
)
