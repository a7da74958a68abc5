"""The dark photon of the dark abelian Higgs model (paper Sec. IV A): widths, lifetime, the
kinetic-mixing estimates (42)-(43), and the probability that both A_D from B -> K h_D -> K A_D A_D
decay outside Belle II.

Widths (GeV) of a dark photon of mass m coupled to e Q_f eps (eq. 31):

* leptons, full mass dependence:
  Gamma(A_D -> l+ l-) = eps^2 alpha m / 3 (1 + 2 m_l^2/m^2) sqrt(1 - 4 m_l^2/m^2);
  its heavy limit eps^2 e^2 m / (12 pi) is eq. (39), and it vanishes at m = 2 m_l.
* hadrons: Gamma = eps^2 alpha m / 3 * R(m) (eq. 40 with the massless muon width). R(m) below
  2 GeV is Darkcast's vector-meson-dominance sum over its 8 exclusive final states, from its 12
  grids R_mu^{F,V} with the dark-photon coefficients [R_rho + R_omega + R_phi - 2 R_(omega,phi)]
  (Ilten, Soreq, Williams, Xue, arXiv:1801.04847; grids edge-held as Darkcast does). Above 2 GeV
  R is the PDG 2020 compilation of sigma(e+e- -> hadrons)/sigma(e+e- -> mu+mu-), smoothed with a
  Gaussian kernel of width 1% of sqrt(s) (the compilation scatters between experiments); narrow
  charmonium and bottomonium peaks are not in the compilation and not in R. Held constant above
  30 GeV (and the Z is not part of a photon-like coupling: use m < 30 GeV).
* total width, lifetime tau = hbar/Gamma, c tau = hbar c / Gamma: :func:`gamma_total`,
  :func:`lifetime`, :func:`ctau`.

Agreement with FORESEE's Darkcast c tau table (ctau_DarkCast.txt, eps = 1, 0.01-10 GeV, 999 masses;
tests/test_darkphoton.py::test_ctau_vs_foresee_darkcast): 0.01-2 GeV: 0.074 % at every mass
(a constant offset of the two constant sets, peaks and thresholds included); 2-3 GeV and
4.5-10 GeV: within 4.3 % (median 1.2 %), the difference between the measured R and Darkcast's
VMD sum held at its 2 GeV value plus a perturbative c cbar width; 3.0-4.5 GeV: up to 21 % longer
c tau than Darkcast, because Darkcast opens c cbar perturbatively at 2 m_c = 3.0 GeV, while the
measured R has no open charm below the D Dbar threshold (3.73 GeV) and resolves the psi(3770) to
psi(4415) region.

Kinetic-mixing estimates: :func:`eps_1loop` (eq. 42) = e g_D/(16 pi^2) with g_D = m_AD/v_D, and
:func:`eps_3loop` (eq. 43) = eps_1loop * m_h^2 sin(theta)/(16 pi^2 v v_D). The formula (43)
gives 3.1e-11 at its own normalisation point, not the printed 1e-10 (docs/paper-errata.md).

Escape from Belle II (:func:`p_escape`): e+e- -> Upsilon(4S) (boost beta*gamma = 0.287 along
the beam axis) -> B Bbar (dN/dcos = 3/4 sin^2), B -> K h_D (isotropic), h_D -> A_D A_D
(isotropic, back to back); each A_D decays outside the detector volume with probability
exp(-L Gamma m_AD/(hbar c |p|)), L the distance from the interaction point to the surface of a
cylinder of radius 1.62 m between z = -1.02 m and +1.96 m: the outer surface of Belle II's
electromagnetic calorimeter (Belle NIM A 479 (2002) 117, re-used in Belle II, arXiv:1011.0352;
why this surface: hpjax/data/darkphoton/constants.toml). A fixed Gauss-Legendre product rule
over the five angles makes it jit/vmap/grad-able. :func:`escape_fraction` averages it over the
q^2 spectrum of B -> K + A_D A_D (on-shell peak and off-shell continuum, through
:func:`hpjax.decays.three_body_integrand`).

>>> from hpjax.darkphoton import gamma_ll, eps_1loop, ctau
>>> from hpjax.inputs import Inputs
>>> inp = Inputs.default()
>>> round(float(gamma_ll(1.0, 1.0, inp.m_mu) / (0.0072973525643 / 3)), 4)   # mu mu at 1 GeV
0.9992
>>> round(float(eps_1loop(0.1, 50.0)) * 1e6, 2)
3.84
>>> round(float(ctau(0.1, 1e-7)), 1)   # metres
81.1
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

import jax.numpy as jnp
import numpy as np

from .inputs import Inputs, parse_inputs
from .kinematics import kallen, sqrt_pos
from .numerics.tables import Grid

__all__ = [
    "constants",
    "gamma_ll",
    "gamma_leptons",
    "r_hadrons",
    "gamma_hadrons",
    "gamma_total",
    "lifetime",
    "ctau",
    "hadronic_r_table",
    "eps_1loop",
    "eps_3loop",
    "escape_nodes",
    "p_escape",
    "visible_fraction",
    "escape_fraction",
    "detector",
]

_DATA = ("darkphoton",)
#: mass [GeV] where R switches from Darkcast's VMD grids to the PDG compilation
R_SWITCH = 2.0
#: top of the smoothed PDG table; R is held constant above
R_TOP = 30.0

_VMD_FILES = {  # grid -> coefficient of the dark photon (Darkcast pars.py/model.py, see data README)
    "rf.pi+_pi-.rho0.dat": 1.0,
    "rf.pi+_pi-_pi+_pi-.rho0.dat": 1.0,
    "rf.pi+_pi-_pi0_pi0.rho0.dat": 1.0,
    "rf.other.rho0.dat": 1.0,
    "rf.pi+_pi-_pi0.omega.dat": 1.0,
    "rf.pi0_gamma.omega.dat": 1.0,
    "rf.other.omega.dat": 1.0,
    "rf.pi+_pi-_pi0.phi.dat": 1.0,
    "rf.K_K.phi.dat": 1.0,
    "rf.K_K_pi.phi.dat": 1.0,
    "rf.other.phi.dat": 1.0,
    "rf.pi+_pi-_pi0.omega_phi.dat": -2.0,
}


@functools.cache
def constants() -> dict:
    """The constants of hpjax/data/darkphoton/constants.toml (name -> InputInfo)."""
    path = resources.files("hpjax.data").joinpath(*_DATA, "constants.toml")
    return parse_inputs(tomllib.loads(path.read_text()), "hpjax/data/darkphoton/constants.toml", ranges=False)


def _c(name):
    return constants()[name].value


def detector() -> dict:
    """The detector volume outside which both dark photons must decay: ECL outer surface [m]."""
    return {"radius": _c("ecl_outer_radius"), "z_forward": _c("ecl_z_forward"), "z_backward": _c("ecl_z_backward")}


def load_columns(*parts, ncol=2) -> np.ndarray:
    """Numeric columns of a data file under hpjax/data (lines starting with '#' or '*' skipped)."""
    text = resources.files("hpjax.data").joinpath(*parts).read_text()
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "*"))]
    arr = np.loadtxt(rows, ndmin=2)
    label = "hpjax/data/" + "/".join(parts)
    if arr.shape[1] < ncol or not np.all(np.isfinite(arr[:, :ncol])):
        raise ValueError(f"{label}: expected at least {ncol} finite numeric columns")
    return arr


@functools.cache
def hadronic_r_table() -> tuple[np.ndarray, np.ndarray]:
    """(masses [GeV], R) of the hadronic width: Darkcast VMD sum up to 2 GeV, smoothed PDG R
    above (see module doc). Piecewise linear in between nodes."""
    grids = [(load_columns(*_DATA, "width", "darkcast_vmd", f), c) for f, c in _VMD_FILES.items()]
    m_lo = np.unique(np.concatenate([g[:, 0] for g, _ in grids]))
    m_lo = m_lo[m_lo <= R_SWITCH]
    # np.interp holds the edge values outside each grid, as Darkcast's utils.Dataset does; the sum
    # of piecewise-linear grids on the union of their nodes is exact
    r_lo = sum(c * np.interp(m_lo, g[:, 0], g[:, 1]) for g, c in grids)
    r_lo = np.maximum(r_lo, 0.0)
    pdg = load_columns(*_DATA, "width", "R_ratio_PDG2020_via_GAMBIT.dat")
    pdg = pdg[pdg[:, 0] < 40.0]  # below the Z: photon-like coupling only
    m_hi = np.concatenate([np.arange(R_SWITCH + 0.005, 12.0, 0.005), np.arange(12.0, R_TOP + 1e-9, 0.05)])
    sig = 0.01 * m_hi[:, None]
    w = np.exp(-0.5 * ((pdg[None, :, 0] - m_hi[:, None]) / sig) ** 2)
    r_hi = (w * pdg[None, :, 1]).sum(1) / w.sum(1)
    return np.concatenate([m_lo, m_hi]), np.concatenate([r_lo, r_hi])


def _pref(m, eps):
    return eps**2 * _c("alpha") * m / 3.0


def gamma_ll(m_AD, eps, m_l):
    """Gamma(A_D -> l+ l-) [GeV] = eps^2 alpha m/3 (1 + 2 r) sqrt(1 - 4 r), r = m_l^2/m^2; zero
    below threshold (gradient-safe)."""
    m = jnp.asarray(m_AD, dtype=jnp.float64)
    pos = m > 0
    r = m_l**2 / jnp.where(pos, m, 1.0) ** 2
    return jnp.where(pos, _pref(m, eps) * (1.0 + 2.0 * r) * sqrt_pos(1.0 - 4.0 * r), 0.0)


def gamma_leptons(m_AD, eps, inputs: Inputs | None = None):
    """Sum of Gamma(A_D -> l+ l-) over e, mu, tau [GeV]."""
    inputs = Inputs.default() if inputs is None else inputs
    return sum(gamma_ll(m_AD, eps, ml) for ml in (inputs.m_e, inputs.m_mu, inputs.m_tau))


def r_hadrons(m_AD):
    """R(m) entering Gamma(A_D -> hadrons) = eps^2 alpha m/3 R (zero below the first Darkcast
    threshold, pi0 gamma at 0.14 GeV)."""
    grid, rs = _hadronic_r_grid()
    return grid.interp(m_AD, rs, left=0.0, right=rs[-1])


@functools.cache
def _hadronic_r_grid():
    """The R table as (Grid, values): an O(1) lookup (hpjax.numerics.tables) instead of a binary search."""
    ms, rs = hadronic_r_table()
    return Grid(ms), rs


def gamma_hadrons(m_AD, eps):
    """Gamma(A_D -> hadrons) [GeV] (eq. 40 with Darkcast's VMD below 2 GeV, PDG R above)."""
    return _pref(jnp.asarray(m_AD, dtype=jnp.float64), eps) * r_hadrons(m_AD)


def gamma_total(m_AD, eps, inputs: Inputs | None = None):
    """Total width of the minimal dark photon [GeV] (no dark-sector decay channel)."""
    return gamma_leptons(m_AD, eps, inputs) + gamma_hadrons(m_AD, eps)


def lifetime(m_AD, eps, inputs: Inputs | None = None):
    """Proper lifetime hbar/Gamma [s] (inf below the e+e- threshold)."""
    inputs = Inputs.default() if inputs is None else inputs
    return inputs.hbar / gamma_total(m_AD, eps, inputs)


def ctau(m_AD, eps, inputs: Inputs | None = None):
    """Proper decay length hbar c/Gamma [m]."""
    inputs = Inputs.default() if inputs is None else inputs
    return inputs.hbar_c / gamma_total(m_AD, eps, inputs)


# ---- kinetic-mixing estimates (eqs. 42, 43) ----------------------------------------------------


def eps_1loop(m_AD, v_D):
    """Eq. (42): eps ~ e g_D/(16 pi^2), g_D = m_AD/v_D (masses in GeV)."""
    e = jnp.sqrt(4.0 * jnp.pi * _c("alpha"))
    return e * (m_AD / v_D) / (16.0 * jnp.pi**2)


def eps_3loop(m_AD, v_D, sin_theta, inputs: Inputs | None = None):
    """Eq. (43): eps ~ e g_D/(16 pi^2) * m_h^2 sin(theta)/(16 pi^2 v v_D)."""
    inputs = Inputs.default() if inputs is None else inputs
    return eps_1loop(m_AD, v_D) * inputs.m_h**2 * sin_theta / (16.0 * jnp.pi**2 * inputs.v * v_D)


# ---- escape from Belle II -----------------------------------------------------------------------

DEFAULT_ORDERS = (6, 8, 8, 8, 8)


@functools.cache
def escape_nodes(orders: tuple = DEFAULT_ORDERS):
    """Product-rule nodes and weights over (cos theta_B, cos theta_h, phi_h, cos theta_A, phi_A):
    Gauss-Legendre in the cosines (B with the 3/4 sin^2 weight), midpoint rule in the azimuths.
    Returns a dict of flat numpy arrays; the weights sum to 1."""
    if len(orders) != 5 or any((not isinstance(n, int)) or n < 2 for n in orders):
        raise ValueError(f"escape orders = {orders!r} must be five integers >= 2")
    nb, nh, nph, na, npa = orders
    cb, wb = np.polynomial.legendre.leggauss(nb)
    wb = wb * 0.75 * (1.0 - cb**2)
    ch, wh = np.polynomial.legendre.leggauss(nh)
    ca, wa = np.polynomial.legendre.leggauss(na)
    ph = 2.0 * np.pi * (np.arange(nph) + 0.5) / nph
    pa = 2.0 * np.pi * (np.arange(npa) + 0.5) / npa
    grid = np.meshgrid(cb, ch, ph, ca, pa, indexing="ij")
    wgrid = np.meshgrid(wb, wh / 2.0, np.full(nph, 1.0 / nph), wa / 2.0, np.full(npa, 1.0 / npa), indexing="ij")
    w = np.prod(np.stack([g.ravel() for g in wgrid]), axis=0)
    names = ("cos_B", "cos_h", "phi_h", "cos_A", "phi_A")
    out = {k: g.ravel() for k, g in zip(names, grid)}
    out["w"] = w / w.sum()
    return out


def _boost(E, p, beta):
    """4-vector (E, p) from the rest frame of a body moving with velocity ``beta`` (3-vectors
    as tuples of arrays) to the frame where it moves: no division by |beta|."""
    b2 = sum(b * b for b in beta)
    g = 1.0 / jnp.sqrt(1.0 - b2)
    pb = sum(pi * bi for pi, bi in zip(p, beta))
    k = g * g / (g + 1.0) * pb + g * E
    return g * (E + pb), tuple(pi + bi * k for pi, bi in zip(p, beta))


def _unit(c, phi):
    s = sqrt_pos(1.0 - c * c)
    return (s * jnp.cos(phi), s * jnp.sin(phi), c)


def _exit_length(p, det):
    """Distance from the IP to the detector surface along the direction of p [m]."""
    px, py, pz = p
    pt = jnp.sqrt(px * px + py * py)
    pn = jnp.sqrt(px * px + py * py + pz * pz)
    tiny = 1e-300
    lr = det["radius"] * pn / jnp.maximum(pt, tiny)
    lz = jnp.where(pz > 0, det["z_forward"], det["z_backward"]) * pn / jnp.maximum(jnp.abs(pz), tiny)
    return jnp.minimum(lr, lz)


def _lab_momenta(m_B, m_K, q, m_AD, nodes, betagamma, m_ups):
    """Lab 3-momenta of the two A_D at every node."""
    p_star = sqrt_pos((m_ups / 2.0) ** 2 - m_B**2)
    E_B = jnp.sqrt(p_star**2 + m_B**2)
    beta_B = tuple(x * p_star / E_B for x in _unit(nodes["cos_B"], 0.0 * nodes["cos_B"]))
    p_h = sqrt_pos(kallen(m_B**2, m_K**2, q**2)) / (2.0 * m_B)
    E_h = jnp.sqrt(p_h**2 + q**2)
    beta_h = tuple(x * p_h / E_h for x in _unit(nodes["cos_h"], nodes["phi_h"]))
    p_a = sqrt_pos(q**2 / 4.0 - m_AD**2)
    n_a = _unit(nodes["cos_A"], nodes["phi_A"])
    bz = betagamma / jnp.sqrt(1.0 + betagamma**2)
    zero = 0.0 * nodes["cos_B"]
    out = []
    for sign in (1.0, -1.0):
        E, p = q / 2.0, tuple(sign * p_a * x for x in n_a)
        E, p = _boost(E, p, beta_h)
        E, p = _boost(E, p, beta_B)
        E, p = _boost(E, p, (zero, zero, zero + bz))
        out.append(p)
    return out


def _p_escape_q(m_B, m_K, q, m_AD, gamma_A, hbar_c, nodes, det, betagamma, m_ups):
    pw = _lab_momenta(m_B, m_K, q, m_AD, nodes, betagamma, m_ups)
    expo = 0.0
    for p in pw:
        pn = jnp.sqrt(sum(x * x for x in p))
        kappa = gamma_A * m_AD / (hbar_c * jnp.maximum(pn, 1e-30))  # decays per metre
        expo = expo + kappa * _exit_length(p, det)
    return jnp.sum(jnp.asarray(nodes["w"]) * jnp.exp(-expo))


def _setup(channel, inputs, orders, radius):
    from .decays import CHANNELS  # local: decays imports models

    if channel not in CHANNELS or CHANNELS[channel].transition != "bs":
        raise ValueError(
            f"p_escape: channel = {channel!r}; allowed: B channels {[c for c, v in CHANNELS.items() if v.transition == 'bs']}"
        )
    ch = CHANNELS[channel]
    det = detector()
    if radius is not None:
        det = dict(det, radius=radius)
    nodes = {k: jnp.asarray(v) for k, v in escape_nodes(tuple(orders)).items()}
    return inputs[ch.parent], inputs[ch.daughter], det, nodes


def p_escape(
    m_hD,
    m_AD,
    eps,
    inputs: Inputs | None = None,
    channel: str = "B+->K+",
    *,
    orders: tuple = DEFAULT_ORDERS,
    radius=None,
    betagamma=None,
):
    """Probability that both A_D of B -> K h_D(-> A_D A_D) decay outside the Belle II ECL volume
    (two-body decay, h_D of mass m_hD on shell). ``radius`` [m] overrides the barrel radius,
    ``betagamma`` the Upsilon(4S) boost. Smooth in (m_hD, m_AD, eps); 1 below the e+e-
    threshold of A_D; jit/vmap/grad-able (fixed quadrature, static ``orders``).

    >>> round(float(p_escape(1.0, 0.1, 1e-8)), 3), float(p_escape(1.0, 0.1, 1e-4)) < 1e-6
    (1.0, True)
    """
    inputs = Inputs.default() if inputs is None else inputs
    m_B, m_K, det, nodes = _setup(channel, inputs, orders, radius)
    bg = _c("betagamma_belle2") if betagamma is None else betagamma
    gA = gamma_total(m_AD, eps, inputs)
    return _p_escape_q(
        m_B,
        m_K,
        jnp.asarray(m_hD, dtype=jnp.float64),
        jnp.asarray(m_AD, dtype=jnp.float64),
        gA,
        inputs.hbar_c,
        nodes,
        det,
        bg,
        _c("m_Upsilon4S"),
    )


def visible_fraction(m_hD, m_AD, eps, inputs: Inputs | None = None, channel: str = "B+->K+", **kw):
    """1 - p_escape: the fraction of B -> K h_D -> K A_D A_D events with at least one A_D decaying
    inside the Belle II ECL volume (the events that do not look like B -> K + invisible)."""
    return 1.0 - p_escape(m_hD, m_AD, eps, inputs, channel, **kw)


def escape_fraction(
    model,
    eps,
    inputs: Inputs | None = None,
    channel: str = "B+->K+",
    *,
    n: int = 16,
    orders: tuple = (4, 6, 6, 6, 6),
    radius=None,
    betagamma=None,
):
    """Average of the escape probability over the q^2 spectrum of B -> K + A_D A_D (the
    Breit-Wigner peak of h_D and the off-shell continuum, weights dGamma/dq^2 of
    :func:`hpjax.decays.three_body_integrand` on the q^2 rule of hpjax.numerics.quadrature): the factor
    multiplying the invisible rate. One model point (use vmap for batches).

    >>> import hpjax
    >>> m = hpjax.DarkAbelianHiggs(m_hD=1.0, sin_theta=6e-3, v_D=50.0, m_AD=0.1)
    >>> round(float(escape_fraction(m, 1e-8)), 3)
    1.0
    """
    from .decays import three_body_integrand
    from .models import gamma_hD_total
    from .numerics.quadrature import bw_segments

    inputs = Inputs.default() if inputs is None else inputs
    m_B, m_K, det, nodes = _setup(channel, inputs, orders, radius)
    bg = _c("betagamma_belle2") if betagamma is None else betagamma
    m_AD = jnp.asarray(model.m_AD, dtype=jnp.float64)
    gA = gamma_total(m_AD, eps, inputs)
    M = jnp.asarray(model.m_hD, dtype=jnp.float64) ** 2
    G = jnp.sqrt(M) * gamma_hD_total(model, inputs)
    a, b = (2.0 * m_AD) ** 2, (m_B - m_K) ** 2
    ok = (b > a) & (G > 0)
    a_s, b_s, G_s = jnp.where(ok, a, 1.0), jnp.where(ok, b, 2.0), jnp.where(ok, G, 1.0)
    num = den = 0.0
    pesc = lambda q: _p_escape_q(m_B, m_K, q, m_AD, gA, inputs.hbar_c, nodes, det, bg, _c("m_Upsilon4S"))  # noqa: E731
    import jax

    for x, w in bw_segments(a_s, b_s, M, G_s, n):
        f = w * three_body_integrand(channel, model, inputs, x, G_s)
        num = num + jnp.sum(f * jax.vmap(pesc)(sqrt_pos(x)))
        den = den + jnp.sum(f)
    return jnp.where(ok & (den > 0), num / jnp.where(den > 0, den, 1.0), 1.0)
