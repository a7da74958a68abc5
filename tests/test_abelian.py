"""hpjax.abelian: the map (m_h, m_hD, sin_theta, m_AD; v, v_D) -> Lagrangian parameters of the
potential (B1), its minimisation (B2)-(B3), the mass matrix, and the stability condition (35)/(36).

The potential (B1) in unitary gauge, H^dag H = (v + h)^2/2, Phi_S^2 = (v_D + S)^2/2, is built here
independently and differentiated with jax: its gradient at (h, S) = (0, 0) is (B2)-(B3) and its
Hessian there is the scalar mass matrix.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.abelian import is_stable, lagrangian_parameters, min_stable_m_hD, stability_margin

POINTS = [  # (m_hD, sin_theta, v_D, m_AD)
    (1.0, 6e-3, 50.0, 0.1),
    (0.3, -0.02, 10.0, 0.05),
    (7.0, 0.05, 200.0, 1.0),
    (80.0, 0.3, 40.0, 3.0),
    (300.0, -0.6, 500.0, 10.0),  # heavier than h
]


def _potential(p, v, vD):
    """V(h, S) of eq. (B1) with the signs as printed: -mu_H^2 |H|^2 + lambda_H |H|^4 - mu_S^2 Phi^2
    + lambda_S Phi^4 + lambda_SH Phi^2 |H|^2."""

    def V(fields):
        h, s = fields
        HH = (v + h) ** 2 / 2
        PP = (vD + s) ** 2 / 2
        return (
            -p["mu_H2"] * HH
            + p["lambda_H"] * HH**2
            - p["mu_S2"] * PP
            + p["lambda_S"] * PP**2
            + p["lambda_SH"] * PP * HH
        )

    return V


def _mass_matrix(p, v, vD):
    return np.asarray(jax.hessian(_potential(p, v, vD))(jnp.zeros(2)))


@pytest.mark.parametrize("point", POINTS)
def test_exact_map_reproduces_the_masses(inputs, point):
    model = hpjax.DarkAbelianHiggs(*point)
    m_hD, s = point[0], point[1]
    v, vD, m_h = float(inputs.v), point[2], float(inputs.m_h)
    p = {k: float(x) for k, x in lagrangian_parameters(model, inputs, exact=True).items()}
    M2 = _mass_matrix(p, v, vD)
    # the Hessian is the textbook mass matrix [[2 lH v^2, lSH v vD], [lSH v vD, 2 lS vD^2]]
    np.testing.assert_allclose(
        M2,
        [[2 * p["lambda_H"] * v**2, p["lambda_SH"] * v * vD], [p["lambda_SH"] * v * vD, 2 * p["lambda_S"] * vD**2]],
        rtol=1e-12,
        atol=1e-9,
    )
    w, U = np.linalg.eigh(M2)
    np.testing.assert_allclose(np.sort(w), np.sort([m_h**2, m_hD**2]), rtol=1e-12)
    # mixing angle from the eigenvectors (basis (H, S)): the h_D eigenvector's H component is
    # +-sin(theta) and its S component +-cos(theta)
    vec = U[:, int(np.argmin(np.abs(w - m_hD**2)))]
    assert abs(vec[0]) == pytest.approx(abs(s), rel=1e-9, abs=1e-13)
    assert abs(vec[1]) == pytest.approx(math.sqrt(1 - s * s), rel=1e-12)
    # g_D = m_AD / v_D (eq. 37: m_AD = g_D v_D)
    assert p["g_D"] == pytest.approx(point[3] / vD, rel=1e-15)


@pytest.mark.parametrize("point", POINTS[:3])
def test_exact_map_reduces_to_eqs_33_34(inputs, point):
    """For m_h |sin| << m_hD << m_h the exact map tends to the paper's (33)-(34): lambda_H = m_h^2/2v^2,
    lambda_S = m_hD^2/2v_D^2, |lambda_SH| = |sin| m_h^2/(v v_D) (the sign is a convention, see the
    next test)."""
    small = hpjax.DarkAbelianHiggs(*point).replace(m_hD=1e-3, sin_theta=1e-10)
    ex, ap = (lagrangian_parameters(small, inputs, exact=e) for e in (True, False))
    for k in ("lambda_H", "lambda_S"):
        assert float(ex[k]) == pytest.approx(float(ap[k]), rel=1e-6), k
    assert abs(float(ex["lambda_SH"])) == pytest.approx(abs(float(ap["lambda_SH"])), rel=1e-6)
    v, m_h = float(inputs.v), float(inputs.m_h)
    assert float(ap["lambda_H"]) == pytest.approx(m_h**2 / (2 * v**2), rel=1e-15)
    assert float(ap["lambda_S"]) == pytest.approx(1e-6 / (2 * point[2] ** 2), rel=1e-12)
    assert abs(float(ap["lambda_SH"])) == pytest.approx(1e-10 * m_h**2 / (v * point[2]), rel=1e-12)


def test_exact_map_follows_the_documented_rotation(inputs):
    """The exact map uses the paper's rotation (8)-(9), as hpjax.abelian documents:
    lambda_SH v v_D = s c (m_hD^2 - m_h^2). (Regression: the code had the opposite sign.)"""
    s, m_hD, vD = 0.05, 2.0, 50.0
    model = hpjax.DarkAbelianHiggs(m_hD, s, vD, 0.1)
    p = {k: float(x) for k, x in lagrangian_parameters(model, inputs, exact=True).items()}
    v, m_h = float(inputs.v), float(inputs.m_h)
    c = math.sqrt(1 - s * s)
    # eqs. (8)-(9): H = c h + s h_D, S = -s h + c h_D, so h_D = (s, c) in the (H, S) basis
    w, U = np.linalg.eigh(_mass_matrix(p, v, vD))
    vec = U[:, int(np.argmin(np.abs(w - m_hD**2)))]
    vec = vec * np.sign(vec[1])
    assert vec[0] == pytest.approx(s, rel=1e-9)
    assert p["lambda_SH"] * v * vD == pytest.approx(s * c * (m_hD**2 - m_h**2), rel=1e-12)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "approx"])
@pytest.mark.parametrize("point", POINTS)
def test_mu_parameters_satisfy_minimisation(inputs, point, exact):
    """(B2)-(B3): dV/dv = dV/dv_D = 0 at the VEVs, i.e. the gradient of V(h, S) vanishes at the
    origin; (B4) with v^2, v_D^2 on the left (the printed (B4) drops the squares)."""
    model = hpjax.DarkAbelianHiggs(*point)
    v, vD = float(inputs.v), point[2]
    p = {k: float(x) for k, x in lagrangian_parameters(model, inputs, exact=exact).items()}
    grad = np.asarray(jax.grad(_potential(p, v, vD))(jnp.zeros(2)))
    scale = p["mu_H2"] * v + abs(p["mu_S2"]) * vD
    assert np.all(np.abs(grad) <= 1e-12 * scale)
    # (B2), (B3) literally
    assert -p["mu_H2"] + p["lambda_H"] * v**2 + 0.5 * p["lambda_SH"] * vD**2 == pytest.approx(0, abs=1e-12 * p["mu_H2"])
    assert -p["mu_S2"] + p["lambda_S"] * vD**2 + 0.5 * p["lambda_SH"] * v**2 == pytest.approx(
        0, abs=1e-12 * abs(p["mu_S2"]) + 1e-12
    )
    det = p["lambda_H"] * p["lambda_S"] - 0.25 * p["lambda_SH"] ** 2
    if abs(det) > 1e-9 * p["lambda_H"] * p["lambda_S"]:
        assert (p["lambda_S"] * p["mu_H2"] - 0.5 * p["lambda_SH"] * p["mu_S2"]) / det == pytest.approx(v**2, rel=1e-8)
        assert (p["lambda_H"] * p["mu_S2"] - 0.5 * p["lambda_SH"] * p["mu_H2"]) / det == pytest.approx(vD**2, rel=1e-8)


def test_exact_margin_is_positive_everywhere(inputs):
    """4 lambda_H lambda_S - lambda_SH^2 = m_h^2 m_hD^2 / (v^2 v_D^2) > 0 for the exact map."""
    m = np.geomspace(1e-3, 500.0, 60)
    s = np.concatenate([-np.geomspace(0.999, 1e-6, 15), [0.0], np.geomspace(1e-6, 0.999, 15)])
    mm, ss = (jnp.asarray(a.ravel()) for a in np.meshgrid(m, s))
    model = hpjax.DarkAbelianHiggs(mm, ss, jnp.full_like(mm, 30.0), jnp.full_like(mm, 0.01))
    margin = np.asarray(stability_margin(model, inputs, exact=True))
    assert np.all(margin > 0)
    assert np.all(np.asarray(is_stable(model, inputs, exact=True)))
    p = lagrangian_parameters(model, inputs, exact=True)
    v, m_h = float(inputs.v), float(inputs.m_h)
    four = 4 * np.asarray(p["lambda_H"]) * np.asarray(p["lambda_S"])
    lhs = four - np.asarray(p["lambda_SH"]) ** 2
    rhs = m_h**2 * np.asarray(mm) ** 2 / (v**2 * 30.0**2)
    assert np.all(np.abs(lhs - rhs) <= 1e-13 * four)  # the difference cancels up to ~1e-16 of its terms


def test_approximate_margin_negative_exactly_below_eq36_line(inputs):
    """Paper's map: margin = 1 - m_h^2 sin^2 / m_hD^2 < 0 exactly when m_hD < m_h |sin(theta)|."""
    m_h = float(inputs.m_h)
    m = np.geomspace(1e-3, 200.0, 80)
    s = np.concatenate([-np.geomspace(0.9, 1e-5, 20), [0.0], np.geomspace(1e-5, 0.9, 20)])
    mm, ss = (a.ravel() for a in np.meshgrid(m, s))
    keep = np.abs(mm - m_h * np.abs(ss)) > 1e-9 * mm  # off the line itself
    mm, ss = mm[keep], ss[keep]
    model = hpjax.DarkAbelianHiggs(jnp.asarray(mm), jnp.asarray(ss), jnp.full(mm.shape, 50.0), jnp.full(mm.shape, 0.1))
    margin = np.asarray(stability_margin(model, inputs, exact=False))
    below = mm < m_h * np.abs(ss)
    assert below.sum() > 100 and (~below).sum() > 100
    np.testing.assert_array_equal(margin < 0, below)
    np.testing.assert_array_equal(np.asarray(is_stable(model, inputs, exact=False)), ~below)
    np.testing.assert_allclose(margin, 1 - m_h**2 * ss**2 / mm**2, rtol=1e-10, atol=1e-12)


def test_min_stable_m_hD(inputs):
    assert float(min_stable_m_hD(6e-3, inputs)) == pytest.approx(0.75, rel=1e-12)
    assert float(min_stable_m_hD(-6e-3)) == pytest.approx(0.75, rel=1e-12)
    assert float(min_stable_m_hD(4e-3)) == pytest.approx(0.5, rel=1e-12)  # the text's "500 MeV"
    # the boundary of the approximate stability region
    on = hpjax.DarkAbelianHiggs(0.75 * (1 + 1e-9), 6e-3, 50.0, 0.1)
    off = hpjax.DarkAbelianHiggs(0.75 * (1 - 1e-9), 6e-3, 50.0, 0.1)
    assert float(stability_margin(on, inputs)) > 0 > float(stability_margin(off, inputs))
