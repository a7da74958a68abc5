"""SM B+ -> K+ l l and B0 -> K*0 l l (hpjax.bkll): binned rates against published SM predictions,
lepton-universality ratios, the muon-mass effect at low q^2, quadrature convergence, jit/grad.

Reference SM predictions: flavio, as listed by smelli v2.4.0 on smelli.github.io
(github.com/smelli/smelli.github.io, obs/current/fast_likelihood_quarks.yaml.md at commit
815d57b58468f49a818f7f2698a5d04c7c2804ed and obs/current/likelihood_lfu_fcnc.yaml.md at commit
77023ca79c50f6eb2442e0f7cb245156d8f315ed), column "SM Prediction". flavio's B -> K form factors are
the same GRvDV2023 fit as hpjax's; its B -> K* form factors are BSZ2015 (arXiv:1503.05534), and it
adds the O(alpha_s) QCD-factorisation corrections that hpjax's naive factorisation leaves out.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.bkll import (
    DEFAULT_ORDER_BKLL,
    bkll_covariance,
    bkll_input_info,
    br_bin_sm,
    c7_eff,
    c9_eff,
    dbr_dq2_BKll,
    dbr_dq2_BKstarll,
    formfactors_BK,
    formfactors_BKstar,
    h_loop,
    r_ratio_sm,
    with_bkll_inputs,
)
from hpjax.couplings import ckm

CHANNELS = ("B+->K+", "B0->K*0")
BINS = ((0.1, 1.1), (1.1, 6.0))  # LHCb R_K, R_K* bins (arXiv:2212.09152)

# flavio SM <dBR/dq2> [GeV^-2] per bin (smelli v2.4.0 listing, see module docstring)
FLAVIO_DBR_BKMUMU = {
    (1.1, 2.0): 3.5255788247413956e-08,
    (2.0, 3.0): 3.509527157810387e-08,
    (3.0, 4.0): 3.490846814670739e-08,
    (4.0, 5.0): 3.468941796090319e-08,
    (5.0, 6.0): 3.4428921725000085e-08,
    (0.0, 2.0): 3.420026319955653e-08,
}
FLAVIO_DBR_BKSTARMUMU = {
    (1.1, 2.5): 4.649683561540263e-08,
    (2.5, 4.0): 4.477957674029772e-08,
    (4.0, 6.0): 5.0024246765850203e-08,
    (0.0, 2.0): 8.1592803739156e-08,
}
# flavio SM <Rmue> (likelihood_lfu_fcnc listing)
FLAVIO_R = {
    ("B+->K+", 0.1, 1.1): 0.9932401905878341,
    ("B+->K+", 1.1, 6.0): 1.0007707321646429,
    ("B0->K*0", 0.1, 1.1): 0.9832469434780632,
    ("B0->K*0", 1.1, 6.0): 0.9964543907069227,
}
FLAVIO_R_BPKSTARP_0045_6 = 0.9721534153452408  # <Rmue>(B+->K*ll), q2 in [0.045, 6]


def _flavio_br(table, lo, hi):
    return sum(v * (b - a) for (a, b), v in table.items() if lo <= a and b <= hi)


@pytest.fixture(scope="module")
def inp():
    return hpjax.Inputs.default()


@pytest.fixture(scope="module")
def br():
    """Jitted binned BR (channel and n static)."""
    return jax.jit(br_bin_sm, static_argnums=(0,), static_argnames=("n",))


@pytest.fixture(scope="module")
def table(inp, br):
    """BR for both channels, both leptons, both R_K bins."""
    return {
        (ch, lep, lo, hi): float(br(ch, lo, hi, inp[lep], inp))
        for ch in CHANNELS
        for lep in ("m_mu", "m_e")
        for lo, hi in BINS
    }


# -- published SM predictions --------------------------------------------------------------------------
def test_br_central_bin_vs_flavio(table):
    """BR(l = mu) in [1.1, 6] within 15 % of flavio: B+ -> K+ 1.71e-7 (hpjax +13 %, from the O(alpha_s)
    corrections to C9eff and C7eff that flavio keeps), B0 -> K*0 2.32e-7 (hpjax -5 %)."""
    ref_k = _flavio_br(FLAVIO_DBR_BKMUMU, 1.1, 6.0)
    ref_ks = _flavio_br(FLAVIO_DBR_BKSTARMUMU, 1.1, 6.0)
    assert ref_k == pytest.approx(1.7085e-7, rel=1e-4) and ref_ks == pytest.approx(2.3231e-7, rel=1e-4)
    assert table["B+->K+", "m_mu", 1.1, 6.0] == pytest.approx(ref_k, rel=0.15)
    assert table["B0->K*0", "m_mu", 1.1, 6.0] == pytest.approx(ref_ks, rel=0.15)


def test_br_subbins_vs_flavio(inp, br):
    """B -> K: the low-q2 flavio bin [0, 2] within 15 %, every sub-bin of [1.1, 6] within 20 % (hpjax's
    spectrum rises towards the charm threshold 4 m_c^2 faster than flavio's: +10 % at 1.1-2, +17 % at
    5-6 GeV^2). B -> K*: sub-bins above 2.5 GeV^2 within 15 %."""
    k = {b: float(br("B+->K+", b[0], b[1], inp.m_mu, inp)) / (b[1] - b[0]) for b in FLAVIO_DBR_BKMUMU}
    assert k[0.0, 2.0] == pytest.approx(FLAVIO_DBR_BKMUMU[0.0, 2.0], rel=0.15)
    for b, ref in FLAVIO_DBR_BKMUMU.items():
        assert k[b] == pytest.approx(ref, rel=0.20), b
    for (lo, hi), ref in FLAVIO_DBR_BKSTARMUMU.items():
        if lo >= 2.5:
            assert float(br("B0->K*0", lo, hi, inp.m_mu, inp)) / (hi - lo) == pytest.approx(ref, rel=0.15), (lo, hi)


def test_kstar_photon_pole_region_is_low_in_naive_factorisation(inp, br):
    """Documented limitation: below ~2 GeV^2 B -> K* l l is dominated by the C7 photon pole, which
    naive factorisation underestimates (the O(alpha_s) QCDF corrections raise B -> K* gamma by ~1.5).
    hpjax is 10-25 % below flavio there; this pins the size so that a change is noticed."""
    for lo, hi in ((0.0, 2.0), (1.1, 2.5)):
        ratio = float(br("B0->K*0", lo, hi, inp.m_mu, inp)) / (hi - lo) / FLAVIO_DBR_BKSTARMUMU[lo, hi]
        assert 0.70 < ratio < 0.92, (lo, hi, ratio)


# -- lepton universality -------------------------------------------------------------------------------
def test_R_sm_central_bin_is_one(table):
    for ch in CHANNELS:
        r = table[ch, "m_mu", 1.1, 6.0] / table[ch, "m_e", 1.1, 6.0]
        assert abs(r - 1.0) < 0.01, (ch, r)


def test_R_sm_vs_flavio(table):
    """All four LHCb R bins agree with flavio's SM values to 0.3 % (0.0004 in practice)."""
    for (ch, lo, hi), ref in FLAVIO_R.items():
        r = table[ch, "m_mu", lo, hi] / table[ch, "m_e", lo, hi]
        assert r == pytest.approx(ref, abs=3e-3), (ch, lo, hi, r)


def test_low_bin_muon_mass_effect(inp, table, br):
    """Muon-mass suppression: R < 1 in [0.1, 1.1], larger for K* (photon pole at small q2), and much
    larger when the bin starts at 0.045 GeV^2 ~ 4 m_mu^2 (the R_K*~0.9 regime of the 2017 LHCb bin);
    [0.045, 6] agrees with flavio's B+ -> K*+ value (isospin partner of B0 -> K*0)."""
    rk = table["B+->K+", "m_mu", 0.1, 1.1] / table["B+->K+", "m_e", 0.1, 1.1]
    rks = table["B0->K*0", "m_mu", 0.1, 1.1] / table["B0->K*0", "m_e", 0.1, 1.1]
    assert rks < rk < 1.0
    r = {
        hi: float(br("B0->K*0", 0.045, hi, inp.m_mu, inp) / br("B0->K*0", 0.045, hi, inp.m_e, inp)) for hi in (1.1, 6.0)
    }
    assert 0.85 < r[1.1] < 0.95
    assert r[6.0] == pytest.approx(FLAVIO_R_BPKSTARP_0045_6, abs=0.01)
    assert float(jax.jit(r_ratio_sm, static_argnums=0)("B+->K+", 1.1, 6.0, inp)) == pytest.approx(
        table["B+->K+", "m_mu", 1.1, 6.0] / table["B+->K+", "m_e", 1.1, 6.0], rel=1e-12
    )


def test_threshold_and_endpoint(inp, br):
    """Zero below 4 m_l^2 and above (m_B - m_V)^2; the bin is clipped to the physical region."""
    thr = float(4 * inp.m_mu**2)
    for ch in CHANNELS:
        assert float(br(ch, 0.0, 0.04, inp.m_mu, inp)) == 0.0
        assert float(br(ch, 0.0, 30.0, inp.m_mu, inp)) == pytest.approx(
            float(br(ch, thr, 30.0, inp.m_mu, inp)), rel=1e-12
        )
    q2 = jnp.array([0.01, 0.0446, 23.0, 30.0])  # 4 m_mu^2 = 0.04466
    both = jax.jit(lambda q: (dbr_dq2_BKll(q, inp.m_mu, inp), dbr_dq2_BKstarll(q, inp.m_mu, inp)))(q2)
    assert all(np.all(np.asarray(v) == 0.0) for v in both)


# -- formulas ------------------------------------------------------------------------------------------
def test_massless_BK_closed_form(inp):
    """For m_l = 0 the B -> K rate is G_F^2 alpha^2 |V|^2 lam^{3/2} f+^2 (|F_V|^2 + C10^2)/(1536 pi^5 m_B^3),
    an independent check of the lepton-mass-dependent a_l, c_l implementation."""
    q2 = jnp.linspace(0.2, 20.0, 7)
    x = with_bkll_inputs(inp)
    mB, mK = inp.m_Bp, inp.m_Kp
    fp, _, fT = formfactors_BK(q2, x)
    FV = c9_eff(q2, x) + 2 * inp.m_b / (mB + mK) * c7_eff(x) * fT / fp
    V = ckm(inp)
    lam = (mB**2 - mK**2 - q2) ** 2 - 4 * mK**2 * q2
    rate = (
        inp.G_F**2
        * x.bkll_alpha_em**2
        * jnp.abs(V[2, 2] * V[2, 1]) ** 2
        * lam**1.5
        * fp**2
        * (jnp.abs(FV) ** 2 + x.bkll_C10**2)
        / (1536 * math.pi**5 * mB**3)
    )
    np.testing.assert_allclose(dbr_dq2_BKll(q2, 0.0, inp), rate * inp.tau_Bp / inp.hbar, rtol=1e-12)


def test_formfactor_constraints(inp):
    """Exact relations used for the coefficients missing from the fit; C7eff, C9eff sanity."""
    fp, f0, _ = formfactors_BK(0.0, inp)
    assert float(f0) == float(fp)
    ff = formfactors_BKstar(0.0, inp)
    mB, mV = inp.m_B0, inp.m_Kstar0
    assert float(ff["T2"]) == pytest.approx(float(ff["T1"]), rel=1e-14)
    assert float(ff["A12"]) == pytest.approx(float(ff["A0"] * (mB**2 - mV**2) / (8 * mB * mV)), rel=1e-14)
    assert float(c7_eff(inp)) == pytest.approx(-0.3096, abs=1e-4)
    c9 = complex(c9_eff(3.0, inp))
    assert 4.3 < c9.real < 5.0 and 0 < c9.imag < 0.2


def test_h_loop_continuous_at_charm_threshold(inp):
    """h(q2, m_c) is continuous across q2 = 4 m_c^2 (z = 1) and reduces to h(q2, 0) for m -> 0."""
    mc = 1.2730
    t = 4 * mc**2
    lo, hi = complex(h_loop(t * (1 - 1e-9), mc, 4.2)), complex(h_loop(t * (1 + 1e-9), mc, 4.2))
    assert abs(lo - hi) < 1e-3
    assert complex(h_loop(3.0, 1e-6, 4.2)) == pytest.approx(complex(h_loop(3.0, 0.0, 4.2)), abs=1e-9)


def test_data_file():
    info = bkll_input_info()
    for name, entry in info.items():
        assert name.startswith("bkll_") and entry.source and entry.unit, name
    # GRvDV2023 full-precision means, and errors = sqrt(diag(cov))
    assert info["bkll_BK_fp_a0"].value == 0.33196382 and info["bkll_BKstar_T23_a2"].value == 1.82128227
    names = ["bkll_BK_fp_a0", "bkll_BK_fT_a2", "bkll_BKstar_A0_a2", "bkll_BKstar_V_a1"]
    cov = bkll_covariance(names)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), [info[n].error for n in names], rtol=1e-6)
    assert cov[0, 1] == 4.99544851e-04 and cov[0, 2] == 0.0  # B->K and B->K* uncorrelated
    # the project's Table II A0 and f0 coefficients are the rounded GRvDV2023 ones
    base = hpjax.Inputs.default()
    assert info["bkll_BKstar_A0_a1"].value == pytest.approx(float(base.BKstar_A0_a1), abs=5e-4)
    assert info["bkll_BK_f0_a1"].value == pytest.approx(float(base.BK_f0_a1), abs=5e-4)


# -- numerics and autodiff -----------------------------------------------------------------------------
def test_quadrature_converges(inp, br):
    for ch in CHANNELS:
        for lep in ("m_mu", "m_e"):
            for lo, hi in BINS:
                a = float(br(ch, lo, hi, inp[lep], inp, n=DEFAULT_ORDER_BKLL))
                b = float(br(ch, lo, hi, inp[lep], inp, n=2 * DEFAULT_ORDER_BKLL))
                assert abs(a / b - 1) < 1e-8, (ch, lep, lo, hi, a / b - 1)


def test_jit_grad_vmap(inp):
    """Finite gradients w.r.t. form-factor coefficients (checked against finite differences) and
    w.r.t. every input; vmap over q2 with d/dq2."""
    x = with_bkll_inputs(inp)

    @jax.jit
    def f(a0_fp, a1_V):
        y = x.replace(bkll_BK_fp_a0=a0_fp, bkll_BKstar_V_a1=a1_V)
        return br_bin_sm("B+->K+", 1.1, 6.0, y.m_mu, y), br_bin_sm("B0->K*0", 0.1, 1.1, y.m_mu, y)

    a0, a1 = x.bkll_BK_fp_a0, x.bkll_BKstar_V_a1
    g0, g1 = (float(v) for v in jax.jit(jax.grad(lambda a, b: sum(f(a, b)), argnums=(0, 1)))(a0, a1))
    assert np.isfinite(g0) and g0 > 0 and np.isfinite(g1) and g1 != 0.0
    h = 1e-6
    assert g0 == pytest.approx(float((f(a0 + h, a1)[0] - f(a0 - h, a1)[0]) / (2 * h)), rel=1e-6)
    assert g1 == pytest.approx(float((f(a0, a1 + h)[1] - f(a0, a1 - h)[1]) / (2 * h)), rel=1e-6)
    # BR(K) ~ f+^2: d ln BR / d ln a0(f+) ~ 2
    assert g0 * float(a0) / float(f(a0, a1)[0]) == pytest.approx(2.0, abs=0.3)
    # the whole inputs pytree differentiates (CKM, masses, lifetimes, Wilson coefficients)
    gi = jax.jit(jax.grad(lambda y: br_bin_sm("B+->K+", 1.1, 6.0, y.m_mu, y)))(x)
    assert all(np.isfinite(float(v)) for v in jax.tree_util.tree_leaves(gi))
    assert float(gi.bkll_C9) > 0 and float(gi.ckm_A) > 0 and float(gi.bkll_BK_fT_a0) < 0
    # vmap over q2, with d/dq2
    q2 = jnp.linspace(0.05, 19.0, 50)

    @jax.jit
    def spectra(q2):
        return [
            jax.vmap(jax.value_and_grad(lambda q: fn(q, inp.m_mu, inp)))(q2) for fn in (dbr_dq2_BKll, dbr_dq2_BKstarll)
        ]

    for v, dq in spectra(q2):
        assert np.all(np.asarray(v) > 0) and np.all(np.isfinite(np.asarray(dq)))


def test_unknown_channel(inp):
    with pytest.raises(ValueError, match="unknown channel"):
        br_bin_sm("B0->K0", 1.1, 6.0, inp.m_mu, inp)
