"""hpjax.models: validation of parameter domains, keyword checking, pytree behaviour."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax

S, D = hpjax.SingletHiggsPortal, hpjax.DarkAbelianHiggs
GOOD = {
    S: dict(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.1),
    D: dict(m_hD=1.0, sin_theta=6e-3, v_D=50.0, m_AD=0.1),
}
FOUR_PI = f"{4 * math.pi:g}"  # 12.5664

# (class, parameter, bad value, value as printed, allowed range as printed)
BAD = [
    (S, "m_hD", 0.0, "0.0", "(0, inf)"),
    (S, "m_hD", -1.0, "-1.0", "(0, inf)"),
    (S, "m_hD", float("nan"), "nan", "(0, inf)"),
    (S, "m_hD", float("inf"), "inf", "(0, inf)"),
    (S, "sin_theta", 1.5, "1.5", "[-1, 1]"),
    (S, "sin_theta", -1.0000001, "-1.0000001", "[-1, 1]"),
    (S, "sin_theta", float("nan"), "nan", "[-1, 1]"),
    (S, "y_D", -0.5, "-0.5", f"[0, {FOUR_PI}]"),
    (S, "y_D", 4 * math.pi + 1e-9, repr(4 * math.pi + 1e-9), f"[0, {FOUR_PI}]"),
    (S, "y_D", float("inf"), "inf", f"[0, {FOUR_PI}]"),
    (S, "m_chi", -0.1, "-0.1", "[0, inf)"),
    (S, "m_chi", float("-inf"), "-inf", "[0, inf)"),
    (D, "m_hD", -2.0, "-2.0", "(0, inf)"),
    (D, "sin_theta", -2.0, "-2.0", "[-1, 1]"),
    (D, "v_D", 0.0, "0.0", "(0, inf)"),
    (D, "v_D", -10.0, "-10.0", "(0, inf)"),
    (D, "v_D", float("nan"), "nan", "(0, inf)"),
    (D, "m_AD", -0.01, "-0.01", "[0, inf)"),
    (D, "m_AD", float("inf"), "inf", "[0, inf)"),
]


@pytest.mark.parametrize("cls,name,value,shown,rng", BAD, ids=[f"{c.__name__}-{n}={v}" for c, n, v, _, _ in BAD])
def test_out_of_domain_raises_with_name_value_and_range(cls, name, value, shown, rng):
    params = dict(GOOD[cls], **{name: value})
    with pytest.raises(ValueError) as exc:
        cls(**params)
    msg = str(exc.value)
    assert f"{name} = {shown}" in msg
    assert rng in msg
    assert cls.__name__ in msg


@pytest.mark.parametrize(
    "cls,name,value,shown,rng",
    [
        (S, "m_hD", [1.0, -2.0, 3.0], "-2.0", "(0, inf)"),
        (S, "sin_theta", [0.1, 0.2, 1.2], "1.2", "[-1, 1]"),
        (S, "y_D", [1.0, -0.25], "-0.25", f"[0, {FOUR_PI}]"),
        (D, "v_D", [10.0, 0.0], "0.0", "(0, inf)"),
        (D, "m_AD", [0.1, float("nan")], "nan", "[0, inf)"),
    ],
)
@pytest.mark.parametrize("array", [np.asarray, jnp.asarray], ids=["numpy", "jax"])
def test_out_of_range_array_element_is_named(cls, name, value, shown, rng, array):
    """A batch of parameter points: the message shows the offending element and the range."""
    params = dict(GOOD[cls], **{name: array(value)})
    with pytest.raises(ValueError) as exc:
        cls(**params)
    msg = str(exc.value)
    assert f"{name} = {shown} " in msg
    assert rng in msg


def test_boundary_values_are_accepted():
    assert S(m_hD=1e-12, sin_theta=1.0, y_D=4 * math.pi, m_chi=0.0).y_D == 4 * math.pi
    assert S(m_hD=1.0, sin_theta=-1.0, y_D=0.0, m_chi=0.0).sin_theta == -1.0
    assert D(m_hD=1.0, sin_theta=0.0, v_D=1e-6, m_AD=0.0).m_AD == 0.0
    m = S(m_hD=jnp.linspace(0.1, 5, 7), sin_theta=jnp.zeros(7), y_D=1.0, m_chi=0.0)
    assert m.m_hD.shape == (7,)


def test_non_broadcastable_shapes_raise():
    with pytest.raises(ValueError, match="broadcast"):
        S(m_hD=jnp.ones(3), sin_theta=jnp.full(2, 0.1), y_D=1.0, m_chi=0.1)


@pytest.mark.parametrize("cls", [S, D], ids=["singlet", "abelian"])
def test_positional_construction_matches_keywords(cls):
    assert cls(*GOOD[cls].values()) == cls(**GOOD[cls])
    assert cls.PARAMS == tuple(GOOD[cls])


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (S, dict(m_hD=1.0, sin_theta=0.1, y_D=1.0, mchi=0.1)),  # misspelt
        (S, dict(m_hD=1.0, sin_theta=0.1, y_D=1.0)),  # missing
        (D, dict(m_hD=1.0, sin_theta=0.1, v_D=10.0, m_AD=0.1, y_D=1.0)),  # extra
        (D, dict(m_hD=1.0, sin_theta=0.1, m_AD=0.1)),  # missing
    ],
)
def test_wrong_keywords_raise_typeerror_listing_parameters(cls, kwargs):
    """Regression: explicit subclass __init__ signatures let Python raise its own TypeError,
    which did not list the parameters."""
    with pytest.raises(TypeError) as exc:
        cls(**kwargs)
    msg = str(exc.value)
    assert all(p in msg for p in cls.PARAMS), msg


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (S, dict(m_hD=1.0, sin_theta=0.1, y_D=1.0, mchi=0.1)),
        (S, dict(m_hD=1.0, sin_theta=0.1, y_D=1.0)),
        (D, dict(m_hD=1.0, sin_theta=0.1, v_D=10.0, m_AD=0.1, y_D=1.0)),
    ],
)
def test_wrong_keywords_raise_typeerror(cls, kwargs):
    """At least the type of the error is right, and it names the offending keyword."""
    with pytest.raises(TypeError) as exc:
        cls(**kwargs)
    odd = (set(kwargs) ^ set(cls.PARAMS)).pop()
    assert odd in str(exc.value)


def test_no_validation_inside_jit():
    """Traced values are not validated: sin_theta = 2.0 passed as a jit argument raises nothing."""

    @jax.jit
    def build(s, m):
        model = S(m_hD=m, sin_theta=s, y_D=1.0, m_chi=0.1)
        return model.sin_theta * 2.0, model.m_hD

    s2, m = build(2.0, -1.0)
    assert float(s2) == 4.0 and float(m) == -1.0
    # vmap traces too
    out = jax.vmap(lambda v: D(m_hD=1.0, sin_theta=0.1, v_D=v, m_AD=0.1).v_D)(jnp.array([-1.0, 0.0]))
    np.testing.assert_array_equal(np.asarray(out), [-1.0, 0.0])
    # ... but a model built from concrete (closed-over) numbers inside jit is still checked
    with pytest.raises(ValueError, match="sin_theta = 2.0"):
        jax.jit(lambda x: S(m_hD=1.0, sin_theta=2.0, y_D=1.0, m_chi=0.1).m_hD * x)(1.0)


@pytest.mark.parametrize("cls", [S, D], ids=["singlet", "abelian"])
def test_models_are_pytrees(cls):
    m = cls(**GOOD[cls])
    leaves, treedef = jax.tree_util.tree_flatten(m)
    assert leaves == list(GOOD[cls].values())
    back = jax.tree_util.tree_unflatten(treedef, leaves)
    assert type(back) is cls and back == m
    doubled = jax.tree_util.tree_map(lambda x: 2 * x, m)
    assert type(doubled) is cls
    assert doubled.params() == {k: 2 * v for k, v in GOOD[cls].items()}
    assert m.params() == GOOD[cls]  # the original is untouched (immutable)
    with pytest.raises(AttributeError):
        m.m_hD = 3.0
    # a pytree of models and arrays goes through jit and comes back as a model
    out = jax.jit(lambda mm: jax.tree_util.tree_map(lambda x: x + 1.0, mm))(m)
    assert type(out) is cls and float(out.m_hD) == GOOD[cls]["m_hD"] + 1.0
    # the same structure for every instance: models with different values share one treedef
    other = cls(**dict(GOOD[cls], m_hD=2.5))
    assert jax.tree_util.tree_structure(other) == treedef


def test_unflatten_does_not_validate():
    """Documented: rebuilding from leaves (what jit/vmap/grad do) skips validation."""
    m = S(**GOOD[S])
    neg = jax.tree_util.tree_map(lambda x: -x, m)
    assert neg.m_hD == -1.0
    with pytest.raises(ValueError, match="m_hD = -1.0"):
        neg.validate()


@pytest.mark.parametrize("cls", [S, D], ids=["singlet", "abelian"])
def test_replace_validates(cls):
    m = cls(**GOOD[cls])
    r = m.replace(sin_theta=0.5)
    assert r.sin_theta == 0.5 and m.sin_theta == GOOD[cls]["sin_theta"]
    assert type(r) is cls
    with pytest.raises(ValueError, match=r"sin_theta = 2\.0 .*\[-1, 1\]"):
        m.replace(sin_theta=2.0)
    with pytest.raises(ValueError, match=r"m_hD = -3\.0 .*\(0, inf\)"):
        m.replace(m_hD=-3.0)
    with pytest.raises(TypeError):
        m.replace(not_a_parameter=1.0)


# ---- parameter types (issue 10) ------------------------------------------------------------------


@pytest.mark.parametrize("cls", [S, D])
@pytest.mark.parametrize("value", ["1.0", "abc", None, 1 + 0j, True, [1.0, None], [[1.0], [1.0, 2.0]], object()])
def test_non_numeric_parameter_is_a_valueerror_at_construction(cls, value):
    with pytest.raises(
        ValueError,
        match=rf"^{cls.__name__}: sin_theta = .* is not a real number or an array of real "
        r"numbers; allowed range \[-1, 1\]$",
    ):
        cls(**{**GOOD[cls], "sin_theta": value})


@pytest.mark.parametrize("cls", [S, D])
def test_list_and_tuple_parameters_are_a_batch(cls):
    masses = [0.5, 1.0, 2.0]
    m = cls(**{**GOOD[cls], "m_hD": masses, "sin_theta": (6e-3, 6e-3, 6e-3)})
    assert isinstance(m.m_hD, np.ndarray) and m.m_hD.dtype == np.float64 and m.m_hD.shape == (3,)
    br = hpjax.predict(m, observables=["BR(B+->K+hD)"])["BR(B+->K+hD)"]
    single = [
        float(hpjax.predict(cls(**{**GOOD[cls], "m_hD": x}), observables=["BR(B+->K+hD)"])["BR(B+->K+hD)"])
        for x in masses
    ]
    np.testing.assert_allclose(np.asarray(br), single, rtol=1e-13)
    with pytest.raises(ValueError, match=r"m_hD = -1.0 is outside the allowed range \(0, inf\)"):
        cls(**{**GOOD[cls], "m_hD": [1.0, -1.0]})


# ---- a third model is one class (issue 11) -------------------------------------------------------


class InvisibleWidthPortal(hpjax.models.Model):
    """A singlet scalar mixed with h whose dark width is purely invisible and massless:
    Gamma_inv(m) = r cos^2(theta) m, Gamma(h -> inv) = r sin^2(theta) m_h (defined here only)."""

    PARAMS = ("m_hD", "sin_theta", "r")
    DOMAIN = {"m_hD": (0.0, math.inf, False, False), "sin_theta": (-1.0, 1.0, True, True), "r": (0.0, 1.0, True, True)}

    def dark_mass(self):
        return 0.0

    def gamma_invisible(self, m=None):
        m = self.m_hD if m is None else m
        return self.r * (1.0 - self.sin_theta**2) * m

    def gamma_h_invisible(self, inputs):
        return self.r * self.sin_theta**2 * inputs.m_h


def test_third_model_is_one_class_in_predict_and_likelihood():
    """With r = y_D^2 / (8 pi) it is the singlet model at m_chi = 0 (beta = 1 in eqs. 18-19): every
    observable and every ln L term agree, through code that never heard of it."""
    y = 0.7
    third = InvisibleWidthPortal(m_hD=[0.05, 0.3, 1.0, 2.5], sin_theta=6e-3, r=y**2 / (8 * math.pi))
    singlet = S(m_hD=[0.05, 0.3, 1.0, 2.5], sin_theta=6e-3, y_D=y, m_chi=0.0)
    a, b = hpjax.predict(third), hpjax.predict(singlet)
    assert set(a) == set(hpjax.OBSERVABLES)
    for k in a:
        np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b[k]), rtol=1e-12, atol=0, err_msg=k)
    with pytest.raises(ValueError, match=r"InvisibleWidthPortal: r = 2.0 is outside the allowed range \[0, 1\]"):
        InvisibleWidthPortal(1.0, 6e-3, 2.0)

    p = {"m_hD": 1.2, "sin_theta": 5e-3}
    lt = hpjax.Likelihood(InvisibleWidthPortal(1.0, 6e-3, y**2 / (8 * math.pi)), dataset="paper")
    ls = hpjax.Likelihood(S(1.0, 6e-3, y, 0.0), dataset="paper")
    bt, bs = lt.breakdown(p), ls.breakdown(p)
    assert set(bt) == set(bs)
    for k in bt:
        np.testing.assert_allclose(float(bt[k]), float(bs[k]), rtol=1e-12, atol=1e-300, err_msg=k)


def test_a_model_without_the_physics_says_what_is_missing():
    class Bare(hpjax.models.Model):
        PARAMS = ("m_hD", "sin_theta")
        DOMAIN = {"m_hD": (0.0, math.inf, False, False), "sin_theta": (-1.0, 1.0, True, True)}

    with pytest.raises(NotImplementedError, match="Bare must define gamma_invisible"):
        hpjax.predict(Bare(1.0, 6e-3), observables=["BR(hD->inv)"])


def test_no_isinstance_dispatch_on_model_classes():
    """Physics modules ask the model (its methods), never test its class."""
    import pathlib
    import re

    root = pathlib.Path(hpjax.__file__).parent
    names = "|".join(["SingletHiggsPortal", "DarkAbelianHiggs", "Model", "MODELS"])
    hits = [
        f"{p.relative_to(root)}:{i}"
        for p in root.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(rf"isinstance\([^)]*\b({names})\b", line)
        and "hpjax.models.Model" not in line
        and not re.search(r"isinstance\(model, Model\)", line)
    ]
    assert not hits, hits


@pytest.mark.parametrize(
    "model",
    [
        hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=0.1, y_D=0.7, m_chi=0.2),
        hpjax.DarkAbelianHiggs(m_hD=1.0, sin_theta=0.1, v_D=3.0, m_AD=0.2),
    ],
    ids=["singlet", "dark_abelian"],
)
def test_mass_gamma_invisible_is_q_times_the_width(model):
    """The square-root-free q Gamma_inv(q) of the q^2 integrands equals the base-class form
    sqrt(q2) Gamma_inv(sqrt(q2)) below, at and above the 2 m_dark threshold, gradients included."""
    from hpjax.models import Model

    q2 = jnp.array([0.0, 1e-6, 0.159, 0.16, 0.1600001, 0.5, 4.0, 30.0])
    got = model.mass_gamma_invisible(q2)
    want = Model.mass_gamma_invisible(model, q2)
    # 1e-7 above threshold beta^2 = 1 - 4 m^2/q2 is conditioned ~1e6: both forms carry 1e-10 there
    np.testing.assert_allclose(np.delete(got, 4), np.delete(want, 4), rtol=1e-13, atol=0.0)
    np.testing.assert_allclose(got[4], want[4], rtol=1e-9)
    assert float(got[0]) == 0.0 and float(got[2]) == 0.0 and float(got[5]) > 0.0
    g = jax.vmap(jax.grad(model.mass_gamma_invisible))(q2)
    gw = jax.vmap(jax.grad(lambda x: Model.mass_gamma_invisible(model, x)))(q2[4:])
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[5:], gw[1:], rtol=1e-12)
    np.testing.assert_allclose(g[4], gw[0], rtol=1e-8)


@pytest.mark.parametrize(
    "model",
    [
        hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=0.1, y_D=0.7, m_chi=0.2),
        hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=0.1, y_D=0.7, m_chi=0.0),
        hpjax.DarkAbelianHiggs(m_hD=1.0, sin_theta=0.1, v_D=3.0, m_AD=0.2),
    ],
    ids=["singlet", "singlet_massless", "dark_abelian"],
)
def test_mass_gamma_invisible_parts_give_the_width(model):
    """q Gamma_inv(q) = P sqrt(B) (the form whose square root the q^2 integrand merges with its
    own) equals mass_gamma_invisible below, at and above threshold, and so do the base class's
    default parts (mass_gamma_invisible, 1); B in [0, 1] and 0 below threshold."""
    from hpjax.models import Model

    q2 = jnp.array([1e-12, 1e-6, 0.159, 0.16, 0.1600001, 0.5, 4.0, 30.0])
    want = model.mass_gamma_invisible(q2)
    for P, B in (model.mass_gamma_invisible_parts(q2), Model.mass_gamma_invisible_parts(model, q2)):
        assert np.all((np.asarray(B) >= 0.0) & (np.asarray(B) <= 1.0))
        got = P * jnp.sqrt(B)
        np.testing.assert_allclose(np.delete(got, 4), np.delete(want, 4), rtol=1e-13, atol=0.0)
        np.testing.assert_allclose(got[4], want[4], rtol=1e-9)
