"""Cosmology of the dark fermion of the singlet model (paper Sec. III): the paper's estimates
(eqs. 26-30) and the relic abundance from the Boltzmann equation.

Estimates (as printed, with their normalisations as function arguments):
:func:`hubble` (26), :func:`sin_theta_critical` (27), :func:`sigma_v_estimate` (28),
:func:`omega_freeze_out_estimate` (29), :func:`omega_freeze_in_estimate` (30).

The calculation: Y = n_chi/s for one Dirac species (chi and chibar equal),

    dY/dx = -sqrt(pi/45) M_Pl m_chi g_*^{1/2}(T) <sigma v>(x) / x^2 (Y^2 - Y_eq^2),   x = m_chi/T,

g_*^{1/2} = (g_s/sqrt(g_rho)) (1 + dln g_s/dln T / 3), g_rho and g_s from Borsanyi et al. 2016
(Nature 539, 69, arXiv:1606.07494, table S2; hpjax/data/cosmology/), linear in log T; Y_eq with
g = 2 and the exact K_2. Solved for ln Y with diffrax's Kvaerno5 (implicit, stiff) from x = 1 to
x = 1000; differentiable in every parameter. Omega h^2 = 2 m_chi Y_inf s_0 / (rho_c/h^2) (chi
plus chibar). <sigma v> is the Gondolo-Gelmini average (Nucl. Phys. B 360 (1991) 145) of
chi chibar -> h_D*, h* -> SM through s-channel h_D and h exchange, with the resonance:

    sigma(s) = y_D^2 cos^2(theta) (s - 4 m^2) Gamma_SM(sqrt s) / (2 sqrt(s) beta_i) |P_hD - P_h|^2,

Gamma_SM(mu) the width of a scalar of mass mu with the h_D couplings to SM states (leptons and
hadrons of hpjax.widths), integrated in s on hpjax.quadrature's Breit-Wigner rule. Open only
for chi chibar -> SM (chi chibar -> h_D h_D, open for m_chi > m_hD, is not included).

Freeze-in (Sec. III B), through the same solver: :func:`solve_yield_freeze_in` (chi empty at the
reheating temperature, produced by f fbar -> chi chibar with the source <sigma v> Y_eq^2 of the
same cross section, resonance included; ``omega_h2_singlet(model, mode="freeze_in", T_RH=...)``)
and :func:`yield_decays` / :func:`omega_h2_decays` (h_D -> chi chibar of a thermal h_D, the
paper's 'y_D ~ 1e-12': the solver gives 1.9e-12 for Omega h^2 = 0.12 at m_hD = 1 GeV, m_chi =
0.1 GeV). The s-channel freeze-in from T_RH equals the decay freeze-in from the same T_RH to
1e-5 where Gamma_chi << Gamma_SM (tests/test_cosmology.py). Omega_chi h^2 is the observable
"Omega_chi h^2" of :func:`hpjax.predict` (on request) and the opt-in likelihood term
:class:`hpjax.likelihood.terms.RelicTerm`.

>>> from hpjax.cosmology import hubble, omega_freeze_out_estimate
>>> float(hubble(1.0, g_star=73.48)) > 1e-18
True
>>> omega_freeze_out_estimate()
1e+20
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np

from .inputs import Inputs, parse_inputs
from .kinematics import sqrt_pos
from .numerics.quadrature import bw_segments, gauss_legendre
from .widths import gamma_S_to_hadrons, gamma_S_to_leptons

__all__ = [
    "constants",
    "g_rho",
    "g_s",
    "g_star_half",
    "hubble",
    "sin_theta_critical",
    "sigma_v_estimate",
    "omega_freeze_out_estimate",
    "omega_freeze_in_estimate",
    "k1e",
    "k2e",
    "y_eq",
    "sigma_v_thermal",
    "solve_yield",
    "omega_h2",
    "omega_h2_from_yield",
    "omega_h2_singlet",
    "solve_yield_freeze_in",
    "yield_decays",
    "yield_decays_estimate",
    "omega_h2_decays",
    "omega_h2_standard_swave",
    "planck_logpdf",
    "planck_upper_logpdf",
]


@functools.cache
def constants() -> dict:
    path = resources.files("hpjax.data").joinpath("cosmology", "constants.toml")
    return parse_inputs(tomllib.loads(path.read_text()), "hpjax/data/cosmology/constants.toml", ranges=False)


def _c(name):
    return constants()[name].value


@functools.cache
def _geff_table():
    text = resources.files("hpjax.data").joinpath("cosmology", "geff_borsanyi2016.txt").read_text()
    t = np.loadtxt(text.splitlines(), comments="#")
    return t[:, 0] - 3.0, t[:, 1], t[:, 1] / t[:, 2]  # log10(T/GeV), g_rho, g_s


def g_rho(T):
    """g_rho(T) (energy density), T in GeV."""
    lt, gr, _ = _geff_table()
    return jnp.interp(jnp.log10(T), jnp.asarray(lt), jnp.asarray(gr))


def g_s(T):
    """g_s(T) (entropy density), T in GeV."""
    lt, _, gs = _geff_table()
    return jnp.interp(jnp.log10(T), jnp.asarray(lt), jnp.asarray(gs))


def g_star_half(T):
    """g_*^{1/2} = g_s/sqrt(g_rho) (1 + dln g_s/dln T / 3) (piecewise-linear table derivative)."""
    lt, _, gs = _geff_table()
    slope = np.diff(np.log(gs)) / np.diff(lt * np.log(10.0))
    lt_s = jnp.asarray(lt)
    i = jnp.clip(jnp.searchsorted(lt_s, jnp.log10(T)) - 1, 0, len(slope) - 1)
    inside = (jnp.log10(T) > lt[0]) & (jnp.log10(T) < lt[-1])
    d = jnp.where(inside, jnp.asarray(slope)[i], 0.0)
    return g_s(T) / jnp.sqrt(g_rho(T)) * (1.0 + d / 3.0)


# ---- the paper's estimates --------------------------------------------------------------------


def hubble(T, g_star=None, M_Pl=1.2e19):
    """Eq. (26): H = 1.67 sqrt(g_*) T^2/M_Pl [GeV] (g_* from the table unless given; the paper's
    M_Pl = 1.2e19 GeV by default)."""
    g = g_rho(T) if g_star is None else g_star
    return 1.67 * jnp.sqrt(g) * T**2 / M_Pl


def sin_theta_critical(m_hD, m_f=0.1056583755, H_coefficient=1e-18, inputs: Inputs | None = None):
    """Eq. (27) from its definition: Gamma(h_D -> f fbar) = sin^2 m_f^2 m_hD/(8 pi v^2) equal to
    H(T = m_hD) = H_coefficient (T/GeV)^2 (the right side of 26). Returns sin(theta_cr)."""
    inputs = Inputs.default() if inputs is None else inputs
    return jnp.sqrt(8.0 * jnp.pi * inputs.v**2 * H_coefficient * m_hD / m_f**2)


def sigma_v_estimate(y_D, sin_theta, m_chi, m_hD, v2, inputs: Inputs | None = None):
    """Eq. (28), first line: y_D^2 sin^2 m_e^2/(4 pi v^2) m_chi^2/m_hD^4 v_chi^2 [GeV^-2]."""
    inputs = Inputs.default() if inputs is None else inputs
    return y_D**2 * sin_theta**2 * inputs.m_e**2 / (4.0 * jnp.pi * inputs.v**2) * m_chi**2 / m_hD**4 * v2


def omega_freeze_out_estimate(y_D=1e-4, sin_theta=1e-3, m_chi=0.1, m_hD=1.0):
    """Eq. (29) as printed: 1e20 (1e-4/y_D)^2 (1e-3/sin)^2 (0.1 GeV/m_chi)^2 (m_hD/GeV)^4."""
    return 1e20 * (1e-4 / y_D) ** 2 * (1e-3 / sin_theta) ** 2 * (0.1 / m_chi) ** 2 * m_hD**4


def omega_freeze_in_estimate(y_D=1e-4, sin_theta=1e-3, m_chi=0.1, m_hD=1.0):
    """Eq. (30) as printed: 2e-3 (y_D/1e-4)^2 (sin/1e-3)^2 (m_chi/0.1 GeV)^4 (GeV/m_hD)^4."""
    return 2e-3 * (y_D / 1e-4) ** 2 * (sin_theta / 1e-3) ** 2 * (m_chi / 0.1) ** 4 / m_hD**4


# ---- Bessel functions and equilibrium --------------------------------------------------------


@functools.cache
def _bessel_nodes(n=48):
    t, w = gauss_legendre(n)
    return 7.0 * t, 7.0 * w


def _kne(nu, z):
    """e^z K_nu(z) for nu = 1, 2 and z >= 0.5: K_nu(z) = int_0^inf exp(-z cosh t) cosh(nu t) dt
    with cosh t = 1 + v^2/z: (2/sqrt z) int_0^inf e^{-v^2} C_nu(1 + v^2/z)/sqrt(2 + v^2/z) dv."""
    v, w = _bessel_nodes()
    z = jnp.asarray(z)[..., None]
    c = 1.0 + v**2 / z
    cn = c if nu == 1 else 2.0 * c * c - 1.0
    return 2.0 / jnp.sqrt(z[..., 0]) * jnp.sum(w * jnp.exp(-(v**2)) * cn / jnp.sqrt(2.0 + v**2 / z), -1)


def k1e(z):
    """e^z K_1(z) (z >= 0.5)."""
    return _kne(1, z)


def k2e(z):
    """e^z K_2(z) (z >= 0.5)."""
    return _kne(2, z)


def y_eq(x, m_chi, g=2.0):
    """Equilibrium yield n_eq/s of one species with g internal states (Maxwell-Boltzmann)."""
    T = m_chi / x
    return 45.0 * g / (4.0 * jnp.pi**4) * x**2 * k2e(x) * jnp.exp(-x) / g_s(T)


def _log_y_eq(x, m_chi, g=2.0):
    T = m_chi / x
    return jnp.log(45.0 * g / (4.0 * jnp.pi**4)) + 2.0 * jnp.log(x) + jnp.log(k2e(x)) - x - jnp.log(g_s(T))


# ---- thermal average ---------------------------------------------------------------------------


def sigma_v_thermal(x, m_chi, m_hD, sin_theta, y_D, inputs: Inputs | None = None, n: int = 24):
    """Gondolo-Gelmini <sigma v> [GeV^-2] of chi chibar -> SM by s-channel h_D and h at x = m/T."""
    inputs = Inputs.default() if inputs is None else inputs
    m = m_chi
    T = m / x
    c2 = 1.0 - sin_theta**2
    M = m_hD**2
    g_inv = y_D**2 * c2 * m_hD * jnp.maximum(1.0 - 4.0 * m**2 / M, 0.0) ** 1.5 / (8.0 * jnp.pi)
    gam = g_inv + gamma_S_to_leptons(m_hD, sin_theta, inputs) + gamma_S_to_hadrons(m_hD, sin_theta, inputs)
    G = m_hD * gam
    a = 4.0 * m**2
    b = (2.0 * m + 40.0 * T) ** 2
    mh2 = inputs.m_h**2

    def J(s):
        rs = jnp.sqrt(s)
        gsm = gamma_S_to_leptons(rs, sin_theta, inputs) + gamma_S_to_hadrons(rs, sin_theta, inputs)
        d = sqrt_pos(s - a)
        # sigma (s - 4m^2) sqrt(s) |P_hD - P_h|^-2 ... = y^2 c^2 (s - 4m^2)^{3/2} sqrt(s) Gamma_SM / 2
        sig_fac = y_D**2 * c2 * d**3 * rs * gsm / 2.0
        h = ((mh2 - M) ** 2 + G**2) / (mh2 - s) ** 2  # |P_hD - P_h|^2 ((s - M)^2 + G^2)
        z = rs / T
        return sig_fac * h * k1e(z) * jnp.exp(-(z - 2.0 * x))  # K1(z)/K2(x)^2 up to k2e(x)^-2

    total = sum(jnp.sum(w * J(xs)) for xs, w in bw_segments(a, b, M, G, n))
    return total / (8.0 * m**4 * T * k2e(x) ** 2)


# ---- Boltzmann equation ------------------------------------------------------------------------


def _lam(x, m_chi, sv):
    T = m_chi / x
    return jnp.sqrt(jnp.pi / 45.0) * _c("M_Pl") * m_chi * g_star_half(T) * sv / x**2


def solve_yield(sigma_v, m_chi, params, x0: float = 1.0, x1: float = 1000.0, rtol: float = 1e-6):
    """Y(x1) of one Dirac species from the Boltzmann equation, starting in equilibrium at x0.
    ``sigma_v(x, params)`` -> <sigma v> [GeV^-2]; differentiable in m_chi and params."""

    def rhs(x, w, args):
        m, p = args
        lw_eq = _log_y_eq(x, m)
        return -_lam(x, m, sigma_v(x, p)) * (jnp.exp(w) - jnp.exp(2.0 * lw_eq - w))

    w0 = _log_y_eq(jnp.asarray(x0, dtype=jnp.float64), m_chi)
    return jnp.exp(_solve_linear(rhs, w0, x0, x1, (m_chi, params), rtol, 1e-6))


def omega_h2_from_yield(Y, m_chi):
    """Omega h^2 = 2 m Y s0/(rho_c/h^2) (chi and chibar)."""
    return 2.0 * m_chi * Y * _c("s0") / _c("rho_crit_over_h2")


def omega_h2(sigma_v, m_chi, params, **kw):
    """Omega_chi h^2 of a Dirac fermion with thermally averaged cross section ``sigma_v``."""
    return omega_h2_from_yield(solve_yield(sigma_v, m_chi, params, **kw), m_chi)


def omega_h2_singlet(model, inputs: Inputs | None = None, n: int = 24, mode: str = "freeze_out", T_RH=None, **kw):
    """Omega_chi h^2 of the singlet model's chi from the Boltzmann equation.

    ``mode="freeze_out"``: chi starts in equilibrium at x = 1 (the paper's Sec. III A).
    ``mode="freeze_in"``: chi starts empty at the reheating temperature ``T_RH`` [GeV] (default
    m_chi/0.5, the lowest x the Bessel functions here take) and is produced by f fbar -> chi chibar
    through the same s-channel h_D/h cross section (detailed balance: the source is
    <sigma v> Y_eq^2), the paper's Sec. III B (eq. 30); the resonance, i.e. f fbar -> h_D -> chi
    chibar through a thermal h_D, is part of it. Freeze-in from the decays of an equilibrium
    h_D alone: :func:`omega_h2_decays`."""
    inputs = Inputs.default() if inputs is None else inputs
    if mode not in ("freeze_out", "freeze_in"):
        raise ValueError(f"omega_h2_singlet: mode = {mode!r}; allowed: 'freeze_out', 'freeze_in'")

    def sv(x, p):
        m_hD, s, y, m = p
        return sigma_v_thermal(x, m, m_hD, s, y, inputs, n)

    p = tuple(jnp.asarray(v, dtype=jnp.float64) for v in (model.m_hD, model.sin_theta, model.y_D, model.m_chi))
    if mode == "freeze_in":
        x0 = 0.5 if T_RH is None else p[3] / T_RH
        return omega_h2_from_yield(solve_yield_freeze_in(sv, p[3], p, x0=x0, **kw), p[3])
    return omega_h2(sv, p[3], p, **kw)


# ---- freeze-in ---------------------------------------------------------------------------------


def _solve_linear(rhs, y0, x0, x1, args, rtol, atol):
    import diffrax

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs),
        diffrax.Kvaerno5(),
        t0=x0,
        t1=x1,
        dt0=1e-3,
        y0=y0,
        args=args,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=16384,
        saveat=diffrax.SaveAt(t1=True),
    )
    return sol.ys[-1]


def solve_yield_freeze_in(sigma_v, m_chi, params, x0=0.5, x1: float = 1000.0, rtol: float = 1e-7):
    """Y(x1) of one Dirac species starting from Y = 0 at x0 (freeze-in: dY/dx = lam (Y_eq^2 - Y^2),
    the equation of :func:`solve_yield`), solved for z = Y/Y_eq(x0) with diffrax's Kvaerno5."""
    x0 = jnp.asarray(x0, dtype=jnp.float64)
    scale = jnp.exp(_log_y_eq(x0, m_chi))

    def rhs(x, z, args):
        m, p = args
        r_eq = jnp.exp(_log_y_eq(x, m)) / scale
        return _lam(x, m, sigma_v(x, p)) * scale * (r_eq**2 - z**2)

    return scale * _solve_linear(rhs, 0.0 * scale, x0, x1, (m_chi, params), rtol, 1e-22)


def _decay_source(x, m_hD, gamma):
    """dY_chi/dx from h_D -> chi chibar of an equilibrium h_D (g = 1), x = m_hD/T."""
    T = m_hD / x
    pref = 45.0 * _c("M_Pl") * gamma / (4.0 * jnp.pi**4 * jnp.sqrt(4.0 * jnp.pi**3 / 45.0) * m_hD**2)
    return pref * g_star_half(T) / g_s(T) ** 2 * x**3 * k1e(x) * jnp.exp(-x)


def yield_decays(m_hD, gamma, x0: float = 0.5, x1: float = 100.0, rtol: float = 1e-8, from_zero=False):
    """Y_chi (per species) from freeze-in by h_D -> chi chibar decays of an h_D in equilibrium:
    dY/dx = Gamma n_eq K_1/K_2 / (s H x) (1 + dln g_s/3 dln T), n_eq of one real scalar, x = m_hD/T,
    integrated with the solver from x0 = 0.5 (the piece below x0, where K_1 ~ 1/x, added
    analytically: int_0^x0 x^3 K_1 = x0^3/3 to 3 %; ``from_zero``: Y = 0 at x0, a universe
    reheated to T = m_hD/x0). Inverse decays (Y << Y_eq) neglected."""
    m_hD = jnp.asarray(m_hD, dtype=jnp.float64)
    x0 = jnp.asarray(x0, dtype=jnp.float64)
    T0 = m_hD / x0
    pref0 = 45.0 * _c("M_Pl") * gamma / (4.0 * jnp.pi**4 * jnp.sqrt(4.0 * jnp.pi**3 / 45.0) * m_hD**2)
    y0 = jnp.where(from_zero, 0.0, pref0 * g_star_half(T0) / g_s(T0) ** 2 * x0**3 / 3.0)
    scale = pref0 / g_s(T0) ** 1.5  # the order of the result: keeps the solver's tolerances relative
    rhs = lambda x, z, args: _decay_source(x, m_hD, gamma) / scale  # noqa: E731
    return scale * _solve_linear(rhs, y0 / scale, x0, x1, None, rtol, 1e-12)


def yield_decays_estimate(m_hD, gamma, T=None):
    """Hall, Jedamzik, March-Russell, West (JHEP 03 (2010) 080, eq. 2.5, g = 1):
    Y = 135 Gamma M_Pl / (8 pi^3 1.66 g_s sqrt(g_rho) m_hD^2), g's at T (default m_hD/3)."""
    T = m_hD / 3.0 if T is None else T
    return (
        135.0
        * gamma
        * _c("M_Pl")
        / (8.0 * jnp.pi**3 * jnp.sqrt(4.0 * jnp.pi**3 / 45.0) * g_s(T) * jnp.sqrt(g_rho(T)) * m_hD**2)
    )


def omega_h2_decays(model, **kw):
    """Omega_chi h^2 (chi + chibar) from freeze-in by h_D -> chi chibar decays (the paper's last
    paragraph of Sec. III B: 'requires y_D ~ 1e-12')."""
    gam = model.gamma_invisible()
    return omega_h2_from_yield(yield_decays(model.m_hD, gam, **kw), model.m_chi)


def omega_h2_standard_swave(sigma0, m_chi, g=2.0):
    """Kolb-Turner freeze-out approximation (The Early Universe, eqs. 5.43-5.45, n = 0) for a
    constant <sigma v> = sigma0 [GeV^-2], times 2 for chi + chibar."""
    M = _c("M_Pl")
    xf = 20.0
    for _ in range(20):
        T = m_chi / xf
        xf = jnp.log(0.038 * g * M * m_chi * sigma0 / jnp.sqrt(g_rho(T))) - 0.5 * jnp.log(xf)
    T = m_chi / xf
    Y = 3.79 * xf / (g_s(T) / jnp.sqrt(g_rho(T)) * M * m_chi * sigma0)
    return omega_h2_from_yield(Y, m_chi)


def planck_logpdf(omega_h2_value):
    """Gaussian log-density of Planck 2018 Omega_c h^2 = 0.120 +- 0.001 (arXiv:1807.06209)."""
    mu, sig = _c("omega_dm_h2"), constants()["omega_dm_h2"].error
    return -0.5 * ((omega_h2_value - mu) / sig) ** 2 - jnp.log(sig * jnp.sqrt(2.0 * jnp.pi))


def planck_upper_logpdf(omega_h2_value):
    """One-sided version (chi may be a fraction of the dark matter): flat below 0.120, Gaussian
    fall-off above it (normalised to the flat value at the central value)."""
    mu, sig = _c("omega_dm_h2"), constants()["omega_dm_h2"].error
    z = jnp.maximum(omega_h2_value - mu, 0.0) / sig
    return -0.5 * z**2


_ = jax  # jax is used by callers through jit/grad of these functions
