"""Derivatives of every observable of hpjax.predict, for both models.

* forward-mode AD (jax.jvp along each unit tangent: the columns of jax.jacfwd) against a central
  finite difference with Richardson extrapolation, w.r.t. each model parameter and four inputs
  (m_t, BK_f0_a1, ckm_A, tau_Bp), in the two-body region, above the B endpoint and above
  m_K - m_pi;
* reverse-mode AD (jax.grad) against forward mode;
* derivatives are finite at and within 1e-9 GeV of every threshold and at sin(theta) = 0;
* jit and vmap give the numbers of the plain call.

Compile cost: four compilations per model class (see the grad_data fixture). Reverse mode of all
13 observables at once compiles ~5x slower than forward mode on CPU, so the full Jacobian is taken
in forward mode; reverse mode is checked on a random weighted sum of the observables without the
B0 and K_L three-body integrals.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.decays import CHANNELS, endpoint
from hpjax.observables import OBSERVABLES
from hpjax.widths import hadronic_width_table

NAMES = list(OBSERVABLES)
INPUT_NAMES = ("m_t", "BK_f0_a1", "ckm_A", "tau_Bp")
NPAR = 4 + len(INPUT_NAMES)
# reverse mode: the B+ three-body integral plus every observable without a q^2 integral
REV_NAMES = ["BR(B+->K+inv)"] + [n for n in NAMES if not n.endswith("inv)") or n == "BR(h->inv)"]
REV_IDX = np.array([NAMES.index(n) for n in REV_NAMES])
REL_STEP = 1e-5
# the derivative checks do not need optimised machine code; level 0 halves the compile time
FAST = {"xla_backend_optimization_level": 0}
N_VMAP = 100

# (m_hD, sin_theta, y_D or v_D, m_chi or m_AD). m_K - m_pi = 0.354 GeV, m_B - m_K* = 4.384 GeV,
# m_B - m_K = 4.786 GeV: 0.2 is two-body everywhere, 1.0 / 2.5 two-body for B and three-body
# (above m_K - m_pi) for K, 4.0 two-body for both B channels, 7.0 above every endpoint.
POINTS = {
    hpjax.SingletHiggsPortal: [
        (1.0, 6e-3, 1.0, 0.1),
        (0.2, 3e-3, 0.5, 0.05),
        (7.0, 0.05, 1.0, 0.1),
        (2.5, 6e-3, 0.05, 0.3),
        (4.0, 0.01, 2.0, 1.0),
    ],
    hpjax.DarkAbelianHiggs: [
        (1.0, 6e-3, 50.0, 0.1),
        (0.2, 3e-3, 10.0, 0.05),
        (7.0, 0.05, 50.0, 0.1),
        (2.5, 6e-3, 20.0, 0.3),
        (4.0, 0.01, 100.0, 1.0),
    ],
}
CLASSES = list(POINTS)
IDS = [c.__name__ for c in CLASSES]
#: make test checks the singlet's batch; make test-all both models (the dark-Abelian regressions
#: below compile their own small functions)
PER_CLASS = [
    pytest.param(c, id=c.__name__, marks=[pytest.mark.slow] if c is not hpjax.SingletHiggsPortal else [])
    for c in CLASSES
]


def _threshold_points(cls, inputs):
    """Points at (offset 0) and within 1e-9 GeV of every threshold, plus sin(theta) = 0:
    a list of (point, offset)."""
    m_mu, m_h = float(inputs.m_mu), float(inputs.m_h)
    coupling = 1.0 if cls is hpjax.SingletHiggsPortal else 30.0
    pts = []
    for d in (-1e-9, 0.0, 1e-9):
        for ch in CHANNELS:  # m_hD = m_P - m_P'
            pts.append(((float(endpoint(ch, inputs)) + d, 3e-3, coupling, 0.01), d))
        pts.append(((0.6 + d, 3e-3, coupling, 0.3), d))  # m_hD = 2 m_dark
        pts.append(((2.0 * m_mu + d, 3e-3, coupling, 0.01), d))  # h_D -> mu mu
        if cls is hpjax.SingletHiggsPortal:  # h -> chi chi (closes every meson channel)
            pts.append(((1.0, 3e-3, coupling, m_h / 2 + d), d))
        else:  # 2 m_AD = m_B - m_K*: the B0 channel closes, B+ stays open
            pts.append(((1.0, 3e-3, coupling, float(endpoint("B0->K*0", inputs)) / 2 + d), d))
        if cls is hpjax.DarkAbelianHiggs:  # h -> h_D h_D
            pts.append(((m_h / 2 + d, 3e-3, coupling, 0.01), d))
    pts.append(((1.0, 0.0, coupling, 0.1), 1.0))  # no mixing
    pts.append(((0.2, 0.0, coupling, 0.01), 1.0))
    return pts


def _model_and_inputs(cls, p, inputs):
    model = cls.tree_unflatten(None, [p[0], p[1], p[2], p[3]])
    return model, inputs.replace(**{n: p[4 + k] for k, n in enumerate(INPUT_NAMES)})


def _make_f(cls, inputs):
    """Observables (vector in NAMES order) as a function of the 8 parameters."""

    def f(p):
        out = hpjax.predict(*_model_and_inputs(cls, p, inputs))
        return jnp.stack([out[n] for n in NAMES])

    return f


def _full(point, inputs):
    return np.array([*point, *(float(inputs[n]) for n in INPUT_NAMES)])


def _vmap_points(cls, inputs, n=N_VMAP):
    rng = np.random.default_rng(7)
    m = np.exp(rng.uniform(np.log(0.05), np.log(10.0), n))
    s = rng.uniform(-0.02, 0.02, n)
    c = rng.uniform(0.05, 2.0, n) if cls is hpjax.SingletHiggsPortal else rng.uniform(5.0, 200.0, n)
    md = m * rng.uniform(0.0, 0.45, n)
    return np.array([_full(p, inputs) for p in zip(m, s, c, md)])


class _PerClass(dict):
    """grad_data[cls], computed on first use: make test needs only the singlet's batch."""

    def __init__(self, inputs):
        super().__init__()
        self.inputs = inputs

    def __missing__(self, cls):
        self[cls] = _grad_data_for(cls, self.inputs)
        return self[cls]


@pytest.fixture(scope="session")
def grad_data(inputs):
    """Per model class (on first use), four compilations: (1) jvp along every unit tangent at the test and
    threshold points, one vmapped batch; (2) jit(vmap(f)) over the finite-difference shifts and
    the 100 vmap-test points; (3) jit(f) for one point, for the Python loop; (4) jit of
    jax.grad(sum_k w_k O_k) for one point (reverse mode)."""
    return _PerClass(inputs)


def _grad_data_for(cls, inputs):
    f = _make_f(cls, inputs)
    base = np.array([_full(p, inputs) for p in POINTS[cls]])
    thr_list = _threshold_points(cls, inputs)
    thr = np.array([_full(p, inputs) for p, _ in thr_list])
    on_kink = np.array([False] * len(base) + [d == 0.0 for _, d in thr_list])
    offset = np.array([np.inf] * len(base) + [abs(d) for _, d in thr_list])
    allp = np.concatenate([base, thr])
    P = np.repeat(allp, NPAR, axis=0)
    T = np.tile(np.eye(NPAR), (len(allp), 1))
    fwd = jax.jit(jax.vmap(lambda p, t: jax.jvp(f, (p,), (t,)))).lower(P, T).compile(compiler_options=FAST)
    prim, tan = (np.asarray(a) for a in fwd(P, T))
    prim = prim.reshape(len(allp), NPAR, -1)[:, 0, :]
    tan = tan.reshape(len(allp), NPAR, -1)

    nfd = len(base) * NPAR
    x = (P[:nfd] * T[:nfd]).sum(axis=1)
    h = REL_STEP * np.abs(x)
    shifts = np.concatenate([P[:nfd] + s * h[:, None] * T[:nfd] for s in (1.0, -1.0, 0.5, -0.5)])
    vpts = _vmap_points(cls, inputs)
    vals = np.asarray(jax.jit(jax.vmap(f))(np.concatenate([shifts, vpts])))
    fd = vals[: len(shifts)]
    d1 = (fd[:nfd] - fd[nfd : 2 * nfd]) / (2 * h[:, None])
    d2 = (fd[2 * nfd : 3 * nfd] - fd[3 * nfd :]) / h[:, None]

    single = jax.jit(f)
    loop = np.array([np.asarray(single(jnp.asarray(p))) for p in vpts])

    def weighted(p, w):
        out = hpjax.predict(*_model_and_inputs(cls, p, inputs), observables=REV_NAMES)
        return jnp.sum(w * jnp.stack([out[n] for n in REV_NAMES]))

    rev = jax.jit(jax.grad(weighted)).lower(allp[0], np.ones(len(REV_IDX))).compile(compiler_options=FAST)
    rng = np.random.default_rng(3)
    o = prim[:, REV_IDX]
    weights = np.where(o != 0, rng.uniform(1.0, 2.0, o.shape) / np.where(o != 0, np.abs(o), 1.0), 0.0)
    rev_grad = np.array([np.asarray(rev(jnp.asarray(p), jnp.asarray(w))) for p, w in zip(allp, weights)])

    return dict(
        npt=len(base),
        nthr=len(thr),
        on_kink=on_kink,
        offset=offset,
        x=x.reshape(len(base), NPAR),
        allp=allp,
        prim=prim,
        tan=tan,
        fd=((4 * d2 - d1) / 3).reshape(len(base), NPAR, -1),
        weights=weights,
        rev=rev_grad,
        rev_fn=rev,
        single=single,
        vpts=vpts,
        vmap=vals[len(shifts) :],
        loop=loop,
    )


def test_points_cover_the_advertised_regions(inputs):
    """The FD points are where the docstring says, and no FD stencil straddles a node of the
    piecewise-linear hadronic-width table (a kink would spoil the finite difference)."""
    e = {ch: float(endpoint(ch, inputs)) for ch in CHANNELS}
    nodes, _ = hadronic_width_table()
    for _cls, pts in POINTS.items():
        ms = [p[0] for p in pts]
        assert any(m < e["K+->pi+"] for m in ms)  # K two-body
        assert any(e["K+->pi+"] < m < e["B0->K*0"] for m in ms)  # B two-body, K three-body
        assert any(m > e["B+->K+"] for m in ms)  # above the B endpoint
        for p in pts:
            assert 2 * p[3] < p[0]  # the invisible decay is open
            assert np.min(np.abs(nodes - p[0])) > 4 * REL_STEP * p[0]


@pytest.mark.slow
@pytest.mark.parametrize("cls", PER_CLASS)
def test_forward_gradient_matches_finite_difference(grad_data, cls):
    d = grad_data[cls]
    npt = d["npt"]
    tan, fd, f0, x = d["tan"][:npt], d["fd"], d["prim"][:npt], d["x"]
    sizeable = 0
    for i in range(npt):
        for k in range(NPAR):
            # FD noise floor: the fixed-order quadrature is smooth in the parameters only to
            # ~1e-13 relative, which a 1e-5 step turns into ~1e-8 |f/x|
            floor = 1e-8 * np.abs(f0[i]) / abs(x[i, k])
            bad = np.abs(tan[i, k] - fd[i, k]) > 1e-6 * np.abs(fd[i, k]) + floor
            assert not np.any(bad), (
                cls.__name__,
                d["allp"][i][:4],
                k,
                [(NAMES[j], tan[i, k, j], fd[i, k, j]) for j in np.nonzero(bad)[0]],
            )
            sizeable += int(np.sum(np.abs(fd[i, k]) > 1e3 * floor))
    # not vacuous: most derivatives are well above the noise floor
    assert sizeable > 0.4 * npt * NPAR * len(NAMES)


@pytest.mark.parametrize("cls", PER_CLASS)
def test_known_derivatives(grad_data, cls):
    """Analytic checks on the AD columns: BR(P->P'hD) ∝ sin^2(theta); BR(B->K(*)...) ∝ |c_bs|^2 ∝ m_t^4
    and ∝ tau_B+ for B+; the h_D and h observables do not depend on those inputs."""
    d = grad_data[cls]
    npt = d["npt"]
    f0, tan, pts = d["prim"][:npt], d["tan"][:npt], d["allp"][:npt]
    for i in range(npt):
        for name in ("BR(B+->K+hD)", "BR(B0->K*0hD)", "BR(K+->pi+hD)", "BR(KL->pi0hD)"):
            j = NAMES.index(name)
            assert tan[i, 1, j] == pytest.approx(2 * f0[i, j] / pts[i, 1], rel=1e-12, abs=0)
        for name in ("BR(B+->K+hD)", "BR(B+->K+inv)", "BR(B0->K*0inv)"):
            j = NAMES.index(name)
            assert f0[i, j] > 0 or name.endswith("hD)")
            assert tan[i, 4, j] == pytest.approx(4 * f0[i, j] / pts[i, 4], rel=1e-9, abs=0)
        j = NAMES.index("BR(B+->K+inv)")
        assert tan[i, 7, j] == pytest.approx(f0[i, j] / pts[i, 7], rel=1e-12, abs=0)
        for name in ("Gamma(hD)", "tau(hD)", "BR(hD->inv)", "BR(h->inv)"):
            assert np.all(tan[i, 4:, NAMES.index(name)] == 0.0)


@pytest.mark.parametrize("cls", PER_CLASS)
def test_reverse_mode_matches_forward_mode(grad_data, cls):
    """jax.grad (reverse mode) of sum_k w_k O_k, random w_k ~ 1/O_k, equals the jvp columns
    contracted with the same weights, at every test point (to 1e-10) and 1e-9 GeV from every
    threshold (to the rounding of the gap there, ~eps M / 1e-9 GeV).
    (Exactly on a threshold the one-sided derivative of sqrt(beta) is infinite and the finite
    value returned depends on the last bit of beta, i.e. on how XLA compiled 1 - 4 m^2/M^2: there
    only finiteness is required.)"""
    d = grad_data[cls]
    keep = ~d["on_kink"]
    want = np.einsum("pjk,pk->pj", d["tan"][keep][:, :, REV_IDX], d["weights"][keep])
    size = np.einsum("pjk,pk->pj", np.abs(d["tan"][keep][:, :, REV_IDX]), d["weights"][keep])
    got = d["rev"][keep]
    assert np.all(np.isfinite(d["rev"]))
    scale = len(REV_IDX) / np.maximum(np.abs(d["allp"][keep]), 1e-3)  # ~ sum_k w_k O_k / x
    # d GeV from a threshold M the gap M - m_hD (or M - 2 m) is known to ~eps M / d relative (the
    # masses' last bits), and the rates and their derivatives go as powers of it: two compiled
    # programs (the vmapped jvp and the single-point grad) may round it differently, so there the
    # tolerance is 4 eps M / d (4e-6 for d = 1e-9 GeV at the B+ endpoint), not 1e-10
    masses = np.max(np.abs(d["allp"][keep][:, [0, 3]]), axis=1)
    rel = np.maximum(1e-10, 4 * np.finfo(float).eps * masses / d["offset"][keep])[:, None]
    bad = np.abs(got - want) > rel * size + 1e-14 * scale
    assert not np.any(bad), [(d["allp"][keep][i][:4], j, got[i, j], want[i, j]) for i, j in zip(*np.nonzero(bad))][:5]
    assert np.mean(size > 1e-3 * scale) > 0.5  # not vacuous


@pytest.mark.slow
@pytest.mark.parametrize("cls", PER_CLASS)
def test_gradients_finite_at_thresholds(grad_data, cls):
    d = grad_data[cls]
    thr = slice(d["npt"], d["npt"] + d["nthr"])
    assert np.all(np.isfinite(d["prim"][thr])), "observable not finite at a threshold"
    bad = ~np.isfinite(d["tan"][thr])
    assert not np.any(bad), [(tuple(d["allp"][d["npt"] + i][:4]), k, NAMES[j]) for i, k, j in zip(*np.nonzero(bad))][
        :10
    ]
    assert np.all(np.isfinite(d["rev"][thr]))


@pytest.mark.parametrize("cls", PER_CLASS)
def test_threshold_points_are_at_the_thresholds(grad_data, inputs, cls):
    """The threshold points really sit on the kinematic edges: each two-body BR switches off at
    its endpoint and h_D -> mu mu opens at 2 m_mu (values from the jvp batch)."""
    d = grad_data[cls]
    pts, vals = d["allp"][d["npt"] :], d["prim"][d["npt"] :]
    for ch in CHANNELS:
        e = float(endpoint(ch, inputs))
        at = np.nonzero(np.abs(pts[:, 0] - e) <= 1.5e-9)[0]
        at = at[np.argsort(pts[at, 0])]
        assert len(at) == 3
        br = vals[at, NAMES.index(f"BR({ch}hD)")]
        assert br[0] > 0 and br[1] == 0 and br[2] == 0, (ch, br)
    m2mu = 2 * float(inputs.m_mu)
    below = np.nonzero(np.abs(pts[:, 0] - (m2mu - 1e-9)) < 1e-12)[0]
    above = np.nonzero(np.abs(pts[:, 0] - (m2mu + 1e-9)) < 1e-12)[0]
    assert vals[below, NAMES.index("BR(hD->mumu)")] == 0
    assert vals[above, NAMES.index("BR(hD->mumu)")] > 0


def test_reverse_mode_closed_channel_is_finite(inputs):
    """Regression: with 2 m_AD >= m_P - m_P' (closed channel) jax.grad was NaN: the masked
    integral evaluated gamma_S_to_ADAD at q^2 = 0 (0/0) and the reverse pass multiplied the NaN by
    the zero cotangent of jnp.where. Reproducer: jax.grad(lambda m: hpjax.predict(
    hpjax.DarkAbelianHiggs(1.0, 6e-3, 50.0, m), observables=["BR(K+->pi+inv)"])["BR(K+->pi+inv)"])(0.3);
    here the B+ channel at m_AD = 3 GeV, the derivative in the model parameters and the inputs."""
    cls = hpjax.DarkAbelianHiggs

    def br(p):
        return hpjax.predict(*_model_and_inputs(cls, p, inputs), observables=["BR(B+->K+inv)"])["BR(B+->K+inv)"]

    rev = jax.jit(jax.grad(br)).lower(_full((1.0, 6e-3, 50.0, 3.0), inputs)).compile(compiler_options=FAST)
    g = np.asarray(rev(jnp.asarray(_full((1.0, 6e-3, 50.0, 3.0), inputs))))
    assert np.all(np.isfinite(g)) and np.all(g == 0.0)


def test_massless_dark_photon_broad_hD_is_finite(inputs):
    """Regression: m_AD = 0 with a broad h_D (Gamma/m > 1/30) gave NaN (nodes clipped to q^2 = 0,
    gamma_S_to_ADAD(0, ...) = 0/0). Reproducer:
    hpjax.predict(hpjax.DarkAbelianHiggs(1.0, 6e-3, 0.5, 0.0))["BR(B+->K+inv)"]."""
    obs = hpjax.predict(hpjax.DarkAbelianHiggs(1.0, 6e-3, 0.5, 0.0), inputs)
    assert float(obs["Gamma(hD)"]) > 1.0 / 30.0  # broad
    assert all(np.isfinite(float(v)) for v in obs.values())


def test_gradient_through_inputs_pytree(grad_data, inputs):
    """jax.grad w.r.t. the Inputs pytree: read the leaves by name; they equal the jvp columns."""
    cls = hpjax.SingletHiggsPortal
    model = cls(*POINTS[cls][0])
    name = "BR(B+->K+hD)"
    g = jax.jit(jax.grad(lambda inp: hpjax.predict(model, inp, observables=[name])[name]))(inputs)
    assert isinstance(g, hpjax.Inputs)
    tan = grad_data[cls]["tan"][0]
    for k, n in enumerate(INPUT_NAMES):
        assert float(getattr(g, n)) == pytest.approx(tan[4 + k, NAMES.index(name)], rel=1e-12, abs=0)
    assert float(g.m_Bp) != 0.0 and float(g.G_F) != 0.0
    assert float(g.tau_B0) == 0.0 and float(g.m_h) == 0.0  # not used by this observable


@pytest.mark.parametrize("cls", PER_CLASS)
def test_vmap_equals_python_loop(grad_data, cls):
    """100 points through jit(vmap(...)) equal a Python loop over the single-point jitted call."""
    d = grad_data[cls]
    vm, loop = d["vmap"], d["loop"]
    assert vm.shape == loop.shape == (N_VMAP, len(NAMES))
    assert np.all(np.isfinite(vm))
    assert np.sum(vm > 0) > 0.5 * vm.size
    # the batched and the single-point programs may round differently (up to 1.1e-13 seen with
    # make test's compiler settings)
    np.testing.assert_allclose(vm, loop, rtol=1e-12, atol=0)


@pytest.mark.parametrize("cls", PER_CLASS)
def test_jit_equals_plain_call(grad_data, inputs, cls):
    """The plain (eager, Python floats) predict equals the jitted one."""
    d = grad_data[cls]
    i = 3
    model = cls(*(float(v) for v in d["vpts"][i][:4]))
    plain = hpjax.predict(model, inputs)
    np.testing.assert_allclose(np.array([float(plain[k]) for k in NAMES]), d["loop"][i], rtol=1e-13, atol=0)
