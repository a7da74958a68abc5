"""Issue 15 theory options (Inputs fields, default = today's numbers): the light-quark term of the
effective vertex (``vertex_light_quark``) and the h_D -> hadrons model (``hD_hadrons_model``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.decays import gamma_two_body


@pytest.fixture(scope="module")
def inp():
    return hpjax.Inputs.default()


def test_vertex_light_quark_factors(inp):
    full = inp.replace(vertex_light_quark=1.0)
    r_bs = float(inp.m_s / inp.m_b)
    r_sd = float(inp.m_d / inp.m_s)
    expect = {
        "B+->K+": (1 + r_bs) ** 2,
        "B0->K*0": (1 - r_bs) ** 2,
        "K+->pi+": (1 + r_sd) ** 2,
        "KL->pi0": (1 + r_sd) ** 2,
    }

    @jax.jit
    def rates(i):
        return jnp.stack([gamma_two_body(ch, 0.1, 1e-3, i) for ch in expect])

    ratio = np.asarray(rates(full) / rates(inp))
    np.testing.assert_allclose(ratio, list(expect.values()), rtol=1e-12)
    # the numbers quoted in the docs: +4.5 %, -4.4 %, +10.3 % with hpjax's quark masses
    np.testing.assert_allclose(ratio[:3] - 1, [0.0452, -0.0442, 0.1031], atol=5e-4)
    assert float(inp.vertex_light_quark) == 0.0  # default: eq. (12) as printed


def test_vertex_option_range(inp):
    with pytest.raises(ValueError, match="vertex_light_quark"):
        inp.replace(vertex_light_quark=2.0)
