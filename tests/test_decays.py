"""Meson decay rates against the independent scipy reference (tests/reference_scipy.py):
adaptive quadrature, narrow-width limit, continuity at the kinematic endpoints."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference_scipy as ref

import hpjax
from hpjax.decays import CHANNELS, endpoint, gamma_invisible, gamma_three_body, gamma_two_body
from hpjax.models import gamma_hD_invisible, gamma_hD_total

MODEL_KIND = {hpjax.SingletHiggsPortal: "singlet", hpjax.DarkAbelianHiggs: "abelian"}
M_DARK = 0.01
SIN = 3e-3


def _coupling_for_width(cls, m, ratio):
    """y_D or v_D giving Gamma_inv/m_hD = ratio (m_dark << m)."""
    if cls is hpjax.SingletHiggsPortal:
        return math.sqrt(8 * math.pi * ratio)
    return m / math.sqrt(32 * math.pi * ratio)


def _grid(inputs):
    """(cls, m_hD, coupling) points: masses from 0.01 to 20 GeV, each threshold +- 1 MeV,
    Gamma_hD/m_hD from 1e-8 to 0.3."""
    ends = [float(endpoint(ch, inputs)) for ch in CHANNELS]
    masses = [0.01, 0.05, 0.15, 0.3, 1.0, 3.0, 8.0, 20.0, 2 * M_DARK + 1e-3]
    for e in ends:
        masses += [e - 1e-3, e + 1e-3]
    pts = []
    for cls in (hpjax.SingletHiggsPortal, hpjax.DarkAbelianHiggs):
        for m in masses:
            for ratio in (1e-8, 1e-4, 1e-2, 0.3):
                pts.append((cls, m, _coupling_for_width(cls, m, ratio)))
    return pts


@pytest.fixture(scope="session")
def batch_rates(inputs):
    """hpjax rates on the whole grid: one jitted, vmapped call per model class and channel."""
    out = {}
    for cls in (hpjax.SingletHiggsPortal, hpjax.DarkAbelianHiggs):
        pts = [p for p in _grid(inputs) if p[0] is cls]
        m = jnp.array([p[1] for p in pts])
        c = jnp.array([p[2] for p in pts])
        model = cls(m, jnp.full_like(m, SIN), c, jnp.full_like(m, M_DARK))

        @jax.jit
        def rates(model):
            g3 = {ch: gamma_three_body(ch, model, inputs) for ch in CHANNELS}
            return g3, gamma_hD_total(model, inputs)

        g3, gtot = rates(model)
        for i, p in enumerate(pts):
            out[p] = ({ch: float(g3[ch][i]) for ch in CHANNELS}, float(gtot[i]))
    return out


@pytest.mark.parametrize("kind", ["singlet", "abelian"])
@pytest.mark.parametrize("channel", list(CHANNELS))
def test_three_body_matches_adaptive_quadrature(batch_rates, inp_dict, kind, channel):
    worst = 0.0
    for (cls, m, coup), (g3, gtot) in batch_rates.items():
        if MODEL_KIND[cls] != kind:
            continue
        want = ref.gamma_three_body(channel, kind, m, SIN, coup, M_DARK, gtot, inp_dict)
        got = g3[channel]
        assert want > 0
        rel = abs(got / want - 1)
        worst = max(worst, rel)
        assert rel < 1e-6, (cls.__name__, m, coup, got, want)
    assert worst < 1e-6


def test_two_body_matches_reference(inputs, inp_dict):
    for ch in CHANNELS:
        for m in (0.0, 0.05, 0.2, 1.0, 3.0):
            want = ref.gamma_two_body(ch, m, SIN, inp_dict)
            got = float(gamma_two_body(ch, m, SIN, inputs))
            if want == 0:
                assert got == 0
            else:
                assert got == pytest.approx(want, rel=1e-12, abs=0)


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_narrow_width_limit(inputs, channel):
    """Three-body / (two-body x BR(h_D -> inv)) = 1 + O(Gamma/m), y_D in {1e-3, 0.1, 1},
    v_D in {10, 50} GeV."""
    m = 1.0 if channel.startswith("B") else 0.2
    models = [hpjax.SingletHiggsPortal(m, SIN, y, M_DARK) for y in (1e-3, 0.1, 1.0)]
    models += [hpjax.DarkAbelianHiggs(m, SIN, v, M_DARK) for v in (10.0, 50.0)]
    for model in models:
        g3 = float(gamma_three_body(channel, model, inputs))
        gtot = float(gamma_hD_total(model, inputs))
        br = float(gamma_hD_invisible(model)) / gtot
        g2 = float(gamma_two_body(channel, m, SIN, inputs))
        ratio = g3 / (g2 * br)
        # O(Gamma/m): the coefficient is O(1) for chi chi and ~10 for A_D A_D, whose
        # off-shell width grows like q^4 over the q^2 range
        assert abs(ratio - 1) < 15 * gtot / m + 1e-6, (model, ratio, gtot / m)


@pytest.mark.parametrize(
    "models",
    [
        [hpjax.SingletHiggsPortal(1.0, SIN, y, M_DARK) for y in (0.3, 0.03)],
        [hpjax.DarkAbelianHiggs(1.0, SIN, v, M_DARK) for v in (10.0, 100.0)],
    ],
)
def test_narrow_width_limit_is_approached_linearly(inputs, models):
    """The deviation from the two-body rate shrinks in proportion to Gamma/m (here by 100)."""
    devs = []
    for model in models:
        br = float(gamma_hD_invisible(model) / gamma_hD_total(model, inputs))
        two = float(gamma_two_body("B+->K+", 1.0, SIN, inputs)) * br
        devs.append(float(gamma_three_body("B+->K+", model, inputs)) / two - 1)
    assert devs[1] / devs[0] == pytest.approx(0.01, rel=0.3)


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_continuous_across_endpoint(inputs, channel):
    e = float(endpoint(channel, inputs))
    model = hpjax.SingletHiggsPortal(jnp.array([e - 1e-9, e, e + 1e-9]), SIN, 1.0, M_DARK)
    g = np.asarray(gamma_invisible(channel, model, inputs))
    assert np.all(g > 0)
    assert np.max(np.abs(g / g[1] - 1)) < 1e-6


def test_paper_prescription_is_two_body_below_endpoint(inputs):
    model = hpjax.SingletHiggsPortal(1.0, SIN, 1.0, M_DARK)
    br = gamma_hD_invisible(model) / gamma_hD_total(model, inputs)
    paper = gamma_invisible("B+->K+", model, inputs, prescription="paper")
    assert float(paper) == pytest.approx(float(gamma_two_body("B+->K+", 1.0, SIN, inputs) * br), rel=1e-14)
    above = model.replace(m_hD=6.0)
    assert float(gamma_invisible("B+->K+", above, inputs, prescription="paper")) == float(
        gamma_three_body("B+->K+", above, inputs)
    )


def test_paper_prescription_differs_within_a_width_of_the_endpoint(inputs):
    """Within about a width of m_B - m_K the on-shell two-body rate (-> 0 as lambda^{1/2}) misses
    the part of the Breit-Wigner that the unified integral keeps; far below they agree to
    O(Gamma/m). This is the difference the README quantifies."""
    e = float(endpoint("B+->K+", inputs))
    model = hpjax.SingletHiggsPortal(jnp.array([e - 1e-2, e - 1e-4]), SIN, 0.1, M_DARK)  # Gamma/m = 4e-4
    paper = np.asarray(gamma_invisible("B+->K+", model, inputs, prescription="paper"))
    unified = np.asarray(gamma_invisible("B+->K+", model, inputs))
    assert unified[0] / paper[0] == pytest.approx(1.0, abs=0.02)
    assert unified[1] / paper[1] > 1.5


def test_below_threshold_and_zero_mixing_give_zero(inputs):
    model = hpjax.SingletHiggsPortal(1.0, 0.0, 1.0, M_DARK)
    assert float(gamma_invisible("B+->K+", model, inputs)) == 0.0
    heavy = hpjax.SingletHiggsPortal(1.0, SIN, 1.0, 3.0)  # 2 m_chi > m_B - m_K
    assert float(gamma_invisible("B+->K+", heavy, inputs)) == 0.0


def test_unknown_options_are_rejected(inputs):
    model = hpjax.SingletHiggsPortal(1.0, SIN, 1.0, M_DARK)
    with pytest.raises(ValueError, match="valid"):
        gamma_invisible("B+->K+", model, inputs, prescription="nope")
    with pytest.raises(ValueError, match="valid channels"):
        gamma_two_body("B->X", 1.0, SIN, inputs)
