"""Self-checks of the independent numpy/scipy reference (tests/reference_scipy.py)."""

import math

import numpy as np
import pytest
from scipy import integrate

try:  # tests/ as a package
    from . import reference_scipy as ref
except ImportError:  # tests/ on sys.path (pytest rootdir-relative import)
    import reference_scipy as ref


INP = dict(
    G_F=1.1663788e-5,
    v=246.0,
    m_h=125.0,
    Gamma_h=4.1e-3,
    hbar=6.582119569e-25,
    m_t=172.57,
    m_b=4.183,
    m_s=0.0935,
    m_d=0.00470,
    m_e=0.51099895e-3,
    m_mu=0.1056583755,
    m_tau=1.77693,
    ckm_lambda=0.22501,
    ckm_A=0.826,
    ckm_rhobar=0.1591,
    ckm_etabar=0.3523,
    m_Bp=5.27941,
    m_B0=5.27972,
    m_Kp=0.493677,
    m_K0=0.497611,
    m_Kstar0=0.89555,
    m_pip=0.13957039,
    m_pi0=0.1349768,
    tau_Bp=1.638e-12,
    tau_B0=1.517e-12,
    tau_Kp=1.2380e-8,
    tau_KL=5.116e-8,
    BK_f0_mR=5.630,
    BK_f0_a0=0.33196382,
    BK_f0_a1=0.33478906,
    BK_f0_a2=0.00372445,
    BKstar_A0_mR=5.336,
    BKstar_A0_a0=0.34214,
    BKstar_A0_a1=-1.14741,
    BKstar_A0_a2=2.37276,
    Kpi_f0_0=1.0,
    Kpi_f0_lambda0=0.0,
)

MODELS = (("singlet", 1.0), ("abelian", 10.0))  # (model, y_D or v_D)
M_DARK = 0.01
SIN = 1e-3


@pytest.fixture
def inp():
    return dict(INP)


def _m_hD(channel):
    return 1.0 if channel.startswith("B") else 0.2


# (a) narrow-width limit ------------------------------------------------------


@pytest.mark.parametrize("model,coupling", MODELS)
@pytest.mark.parametrize("channel", ref.CHANNELS)
def test_narrow_width_limit(inp, channel, model, coupling):
    m = _m_hD(channel)
    gtot = 1e-7 * m
    cos = math.sqrt(1.0 - SIN**2)
    g3, err = ref.gamma_three_body(channel, model, m, SIN, coupling, M_DARK, gtot, inp, return_error=True)
    ginv = ref.gamma_invisible(model, m, coupling, M_DARK, cos)
    nw = ref.gamma_two_body(channel, m, SIN, inp) * ginv / gtot
    assert g3 > 0.0 and err <= 1e-10 * g3
    assert g3 / nw == pytest.approx(1.0, abs=1e-5)


# (b) corrected eqs. (16), (17), (44), (45) written out longhand --------------


def _longhand(channel, model, q2, m_hD, sin, coupling, m_dark, gtot, inp):
    """The corrected paper formulas, written out without any helper of the module
    except form factors, couplings and the Kallen function."""
    cos = math.sqrt(1.0 - sin**2)
    if channel in ("B+->K+", "B0->K*0"):
        c = ref.c_bs(inp)
    elif channel == "K+->pi+":
        c = ref.c_sd(inp)
    else:
        c = ref.c_sd(inp).real  # CP-conserving K_L amplitude
    prop = 1.0 / (q2 - m_hD**2 + 1j * m_hD * gtot) - 1.0 / (q2 - inp["m_h"] ** 2)
    if channel == "B0->K*0":
        mP, mD = inp["m_B0"], inp["m_Kstar0"]
        had = abs(ref.A0_BKstar(q2, inp)) ** 2 / (inp["m_b"] + inp["m_s"]) ** 2
        lam = ref.kallen(q2, mP**2, mD**2) ** 1.5
    else:
        if channel == "B+->K+":
            mP, mD = inp["m_Bp"], inp["m_Kp"]
            ff = ref.f0_BK(q2, inp)
            dm = inp["m_b"] - inp["m_s"]
        else:
            mP, mD = (inp["m_Kp"], inp["m_pip"]) if channel == "K+->pi+" else (inp["m_K0"], inp["m_pi0"])
            ff = ref.f0_Kpi(q2, inp)
            dm = inp["m_s"] - inp["m_d"]
        had = abs(ff) ** 2 * ((mP**2 - mD**2) / dm) ** 2
        lam = ref.kallen(q2, mP**2, mD**2) ** 0.5
    if model == "singlet":  # eqs. (16)/(17) with y_D restored
        y = coupling
        return (
            q2
            * had
            / (512.0 * math.pi**3 * mP**3)
            * abs(c * y * sin * cos * prop) ** 2
            * (1.0 - 4.0 * m_dark**2 / q2) ** 1.5
            * lam
        )
    # eqs. (44)/(45) with 2048 instead of the printed 8192
    vD = coupling
    return (
        had
        / (2048.0 * math.pi**3 * mP**3)
        * abs(c * sin * cos * prop) ** 2
        * (q2**2 - 4.0 * m_dark**2 * q2 + 12.0 * m_dark**4)
        / vD**2
        * (1.0 - 4.0 * m_dark**2 / q2) ** 0.5
        * lam
    )


@pytest.mark.parametrize("model,coupling", MODELS)
@pytest.mark.parametrize("channel", ref.CHANNELS)
def test_factorised_integrand_equals_longhand(inp, channel, model, coupling):
    mP, mD = ref.channel_masses(channel, inp)
    qb = (mP - mD) ** 2
    m = _m_hD(channel)
    gtot = 0.05 * m
    for frac in (0.003, 0.1, 0.37, 0.5, 0.81, 0.999):
        q2 = 4 * M_DARK**2 + frac * (qb - 4 * M_DARK**2)
        a = ref.three_body_integrand(q2, channel, model, m, SIN, coupling, M_DARK, gtot, inp)
        b = _longhand(channel, model, q2, m, SIN, coupling, M_DARK, gtot, inp)
        assert a > 0.0
        assert a == pytest.approx(b, rel=1e-11, abs=0.0)
    # outside the physical range the integrand vanishes
    assert ref.three_body_integrand(0.5 * 4 * M_DARK**2, channel, model, m, SIN, coupling, M_DARK, gtot, inp) == 0.0
    assert ref.three_body_integrand(1.01 * qb, channel, model, m, SIN, coupling, M_DARK, gtot, inp) == 0.0


def test_two_body_equations_13_to_15(inp):
    """Eq. (13) longhand for B+ -> K+, eq. (14) for B0 -> K*0, and the kinematic cut."""
    s, m = 6e-3, 1.3
    mB, mK = inp["m_Bp"], inp["m_Kp"]
    eq13 = (
        abs(ref.c_bs(inp)) ** 2
        * s**2
        / (64 * math.pi * mB**3)
        * ref.f0_BK(m**2, inp) ** 2
        * ((mB**2 - mK**2) / (inp["m_b"] - inp["m_s"])) ** 2
        * math.sqrt(ref.kallen(mB**2, mK**2, m**2))
    )
    assert ref.gamma_two_body("B+->K+", m, s, inp) == pytest.approx(eq13, rel=1e-12, abs=0.0)
    mB, mV = inp["m_B0"], inp["m_Kstar0"]
    eq14 = (
        abs(ref.c_bs(inp)) ** 2
        * s**2
        / (64 * math.pi * mB**3)
        * ref.A0_BKstar(m**2, inp) ** 2
        / (inp["m_b"] + inp["m_s"]) ** 2
        * ref.kallen(mB**2, mV**2, m**2) ** 1.5
    )
    assert ref.gamma_two_body("B0->K*0", m, s, inp) == pytest.approx(eq14, rel=1e-12, abs=0.0)
    for ch in ref.CHANNELS:
        mP, mD = ref.channel_masses(ch, inp)
        assert ref.gamma_two_body(ch, mP - mD, s, inp) == 0.0
        assert ref.gamma_two_body(ch, 0.99 * (mP - mD), s, inp) > 0.0
        g = ref.gamma_two_body(ch, 0.5 * (mP - mD), s, inp)
        tau = {"B+->K+": "tau_Bp", "B0->K*0": "tau_B0", "K+->pi+": "tau_Kp", "KL->pi0": "tau_KL"}[ch]
        assert ref.branching_ratio(g, ch, inp) == pytest.approx(g * inp[tau] / inp["hbar"], rel=1e-15, abs=0.0)
    # K_L conventions
    c = ref.c_sd(inp)
    g_re = ref.gamma_two_body("KL->pi0", 0.2, s, inp, kl_convention="re")
    g_im = ref.gamma_two_body("KL->pi0", 0.2, s, inp, kl_convention="im")
    g_abs = ref.gamma_two_body("KL->pi0", 0.2, s, inp, kl_convention="abs")
    assert g_re + g_im == pytest.approx(g_abs, rel=1e-13, abs=0.0)
    assert g_re / g_abs == pytest.approx(c.real**2 / abs(c) ** 2, rel=1e-13, abs=0.0)


# (c) eq. (21) ------------------------------------------------------------------


def test_eq21_higgs_invisible_bound(inp):
    bound = math.sqrt(8 * math.pi / inp["m_h"] * 0.13 * inp["Gamma_h"])
    # exact value 0.0103521..., i.e. 0.0103 truncated (paper prints "0.01")
    assert bound == pytest.approx(0.010352101651, rel=1e-10, abs=0.0)
    assert bound == pytest.approx(0.0103, abs=6e-5)
    # the HL-LHC number 4.5e-3 of eq. (21) corresponds to BR_inv = 2.5% (text), not 2.25% (Table I)
    hl = math.sqrt(8 * math.pi / inp["m_h"] * 0.025 * inp["Gamma_h"])
    assert hl == pytest.approx(4.5e-3, abs=5e-5)
    # same number from eq. (19): Gamma(h -> chi chi) = BR * Gamma_h at y_D = 1, m_chi -> 0
    assert ref.gamma_h_chichi(1.0, 0.0, bound, inp) == pytest.approx(0.13 * inp["Gamma_h"], rel=1e-13, abs=0.0)


# (d) CKM ---------------------------------------------------------------------------


def test_ckm_unitary_and_wolfenstein(inp):
    V = ref.ckm(inp)
    assert V.shape == (3, 3) and np.iscomplexobj(V)
    assert np.max(np.abs(V @ V.conj().T - np.eye(3))) < 1e-12
    assert np.max(np.abs(V.conj().T @ V - np.eye(3))) < 1e-12
    # exact PDG definitions: rhobar + i etabar = -V_ud V_ub^* / (V_cd V_cb^*),
    # lambda = |V_us| / sqrt(|V_ud|^2 + |V_us|^2), A lambda^2 = lambda |V_cb/V_us|
    rho_eta = -V[0, 0] * np.conj(V[0, 2]) / (V[1, 0] * np.conj(V[1, 2]))
    assert abs(rho_eta - complex(inp["ckm_rhobar"], inp["ckm_etabar"])) < 1e-12
    lam = abs(V[0, 1]) / math.hypot(abs(V[0, 0]), abs(V[0, 1]))
    assert lam == pytest.approx(inp["ckm_lambda"], rel=1e-13, abs=0.0)
    assert lam * abs(V[1, 2] / V[0, 1]) == pytest.approx(inp["ckm_A"] * lam**2, rel=1e-13, abs=0.0)
    # eq. (12) couplings
    pre = 3 * math.sqrt(2) * inp["G_F"] * inp["m_t"] ** 2 / (16 * math.pi**2 * inp["v"])
    assert ref.c_bs(inp) == pytest.approx(pre * inp["m_b"] * V[2, 2] * np.conj(V[2, 1]), rel=1e-14, abs=0.0)
    assert ref.c_sd(inp) == pytest.approx(pre * inp["m_s"] * V[2, 1] * np.conj(V[2, 0]), rel=1e-14, abs=0.0)


# (e) form factors --------------------------------------------------------------------


def test_bsz_form_factors(inp):
    assert ref.f0_BK(0.0, inp) == inp["BK_f0_a0"]
    assert ref.A0_BKstar(0.0, inp) == inp["BKstar_A0_a0"]
    assert ref.f0_Kpi(0.0, inp) == inp["Kpi_f0_0"]
    # z(t0) = 0 and explicit (A6) at one q2
    mB, mK = inp["m_Bp"], inp["m_Kp"]
    tp, tm = (mB + mK) ** 2, (mB - mK) ** 2
    t0 = tp * (1 - math.sqrt(1 - tm / tp))
    assert abs(ref.bsz_z(t0, mB, mK)) < 1e-15
    q2 = 10.0

    def z(t):
        return (math.sqrt(tp - t) - math.sqrt(tp - t0)) / (math.sqrt(tp - t) + math.sqrt(tp - t0))

    dz = z(q2) - z(0.0)
    expect = (inp["BK_f0_a0"] + inp["BK_f0_a1"] * dz + inp["BK_f0_a2"] * dz**2) / (1 - q2 / inp["BK_f0_mR"] ** 2)
    assert ref.f0_BK(q2, inp) == pytest.approx(expect, rel=1e-14, abs=0.0)
    inp2 = dict(inp, Kpi_f0_lambda0=0.02)
    assert ref.f0_Kpi(0.1, inp2) == pytest.approx(1.0 + 0.02 * 0.1 / inp["m_pip"] ** 2, rel=1e-15, abs=0.0)


# extra: dark-sector widths (corrected eqs. (46)-(48)) --------------------------------


def test_scalar_widths(inp):
    # h -> ZZ analogue fixes the +12 in eqs. (46), (47): Gamma = G_F m^3/(16 sqrt2 pi) sqrt(1-4x)(1-4x+12x^2)
    mZ, m = 91.1876, 200.0
    x = mZ**2 / m**2
    GF = 1.0 / (math.sqrt(2) * inp["v"] ** 2)
    hzz = GF * m**3 / (16 * math.sqrt(2) * math.pi) * math.sqrt(1 - 4 * x) * (1 - 4 * x + 12 * x**2)
    assert ref.gamma_hD_ADAD(m, inp["v"], mZ, 1.0) == pytest.approx(hzz, rel=1e-13, abs=0.0)
    # h and h_D formulas agree with sin <-> cos
    assert ref.gamma_h_ADAD(10.0, 0.1, 0.3, inp) == pytest.approx(
        ref.gamma_hD_ADAD(inp["m_h"], 10.0, 0.1, 0.3), rel=1e-14, abs=0.0
    )
    assert ref.gamma_h_chichi(0.7, 1.0, 0.3, inp) == pytest.approx(
        ref.gamma_hD_chichi(inp["m_h"], 0.7, 1.0, 0.3), rel=1e-14, abs=0.0
    )
    # eq. (48) corrected: m_hD -> 0 gives sin^2 m_h^3 / (32 pi v_D^2)
    assert ref.gamma_h_hDhD(0.0, 50.0, 0.01, inp) == pytest.approx(
        1e-4 * 125.0**3 / (32 * math.pi * 2500.0), rel=1e-14, abs=0.0
    )
    assert ref.gamma_h_hDhD(1.0, 50.0, 0.01, inp) == pytest.approx(
        1e-4 * (125.0**2 + 2.0) ** 2 / (32 * math.pi * 125.0 * 2500.0) * math.sqrt(1 - 4 / 125.0**2), rel=1e-14, abs=0.0
    )
    # thresholds
    assert ref.gamma_hD_chichi(0.2, 1.0, 0.1, 1.0) == 0.0
    assert ref.gamma_hD_ADAD(0.2, 10.0, 0.1, 1.0) == 0.0
    assert ref.gamma_h_hDhD(62.5, 10.0, 0.1, inp) == 0.0
    lep = ref.gamma_hD_leptons(1.0, 0.01, inp)
    mm = inp["m_mu"]
    expect = sum(1e-4 * ml**2 / (8 * math.pi * 246.0**2) * (1 - 4 * ml**2) ** 1.5 for ml in (inp["m_e"], mm))
    assert lep == pytest.approx(expect, rel=1e-14, abs=0.0)


# extra: robustness of the three-body integration against an independent method ---------


def _alt_three_body(channel, model, m, sin, coupling, m_dark, gtot, inp, K=10.0):
    """tan substitution around the pole (|q2 - m^2| < K m Gamma) + QAWS algebraic
    end-point weights elsewhere."""
    mP, mD = ref.channel_masses(channel, inp)
    qa, qb = 4 * m_dark**2, (mP - mD) ** 2
    m2, w = m * m, m * gtot
    xa, xb = qa - m2, qb - m2
    al = 1.5 if model == "singlet" else 0.5
    be = 1.5 if channel == "B0->K*0" else 0.5
    args = (channel, model, m, sin, coupling, m_dark, gtot, inp, "re")
    tot = 0.0
    lo, hi = max(xa, -K * w), min(xb, K * w)
    segs = []
    if lo < hi:

        def g(p):
            return (
                ref._integrand_parts(
                    *args, w * math.tan(p), m2 + w * math.tan(p), m2 + w * math.tan(p) - qa, qb - m2 - w * math.tan(p)
                )
                * w
                / math.cos(p) ** 2
            )

        tot += integrate.quad(g, math.atan(lo / w), math.atan(hi / w), epsabs=0, epsrel=1e-13, limit=1000)[0]
        if xa < lo:
            segs.append((xa, lo, al, 0.0))
        if hi < xb:
            segs.append((hi, xb, 0.0, be))
    else:
        segs.append((xa, xb, al, be))
    for a, b, p, q in segs:

        def h(x, p=p, q=q):
            return ref._integrand_parts(*args, x, m2 + x, 1.0 if p else x - xa, 1.0 if q else xb - x)

        tot += integrate.quad(h, a, b, weight="alg", wvar=(p, q), epsabs=0, epsrel=1e-13, limit=1000)[0]
    return tot


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("rel_width", [1e-9, 1e-3, 0.5])
@pytest.mark.parametrize("where", ["inside", "at_upper", "just_outside_upper", "below_threshold", "far_above"])
@pytest.mark.parametrize(
    "channel,model,coupling", [("B+->K+", "singlet", 1.0), ("B0->K*0", "abelian", 10.0), ("KL->pi0", "singlet", 1.0)]
)
def test_three_body_integration_robust(inp, channel, model, coupling, where, rel_width):
    mP, mD = ref.channel_masses(channel, inp)
    qa, qb = 4 * M_DARK**2, (mP - mD) ** 2
    m2 = {
        "inside": 0.3 * qb,
        "at_upper": qb,
        "just_outside_upper": qb * (1 + 3 * rel_width),
        "below_threshold": 0.8 * qa,
        "far_above": 4 * mP**2,
    }[where]
    m = math.sqrt(m2)  # "just_outside_upper": pole ~3 widths (3 m Gamma) beyond the edge
    gtot = rel_width * m
    g3, err = ref.gamma_three_body(channel, model, m, SIN, coupling, M_DARK, gtot, inp, return_error=True)
    assert g3 > 0.0 and err <= 1e-10 * g3
    alt = _alt_three_body(channel, model, m, SIN, coupling, M_DARK, gtot, inp)
    assert g3 == pytest.approx(alt, rel=1e-9, abs=0.0)


def test_three_body_closed_range_and_scaling(inp):
    mP, mD = ref.channel_masses("K+->pi+", inp)
    # 2 m_dark above m_P - m_P': no phase space
    assert ref.gamma_three_body("K+->pi+", "singlet", 0.2, SIN, 1.0, 0.5 * (mP - mD) + 1e-6, 1e-3, inp) == 0.0
    # overall coupling scaling: singlet ~ y_D^2 (with fixed total width), abelian ~ 1/v_D^2
    a = ref.gamma_three_body("B+->K+", "singlet", 2.0, SIN, 1.0, M_DARK, 0.01, inp)
    b = ref.gamma_three_body("B+->K+", "singlet", 2.0, SIN, 3.0, M_DARK, 0.01, inp)
    assert b / a == pytest.approx(9.0, rel=1e-10, abs=0.0)
    a = ref.gamma_three_body("B0->K*0", "abelian", 2.0, SIN, 10.0, M_DARK, 0.01, inp)
    b = ref.gamma_three_body("B0->K*0", "abelian", 2.0, SIN, 20.0, M_DARK, 0.01, inp)
    assert b / a == pytest.approx(0.25, rel=1e-10, abs=0.0)
