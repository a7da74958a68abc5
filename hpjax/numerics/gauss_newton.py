r"""Damped, bound-projected Gauss-Newton for Poisson likelihoods with Gaussian constraints, its
Newton system solved through its structure.

For ln L(z) = sum_i [n_i ln lambda_i(z) - lambda_i(z)] + c(z), with c a sum of independent
Gaussian constraints (constant diagonal curvature -d) on the first n - k parameters and k free
("tail") parameters (a POI, a signal strength: d = 0), Fisher scoring uses the curvature

    H = diag(d) + J^T diag(w) J,      w_i = n_i / lambda_i^2,   J = d lambda / d z  (m x n),

a diagonal plus a rank-m term. :func:`structured_solve` solves H x = g with the Woodbury identity
(one m x m Cholesky factorisation: m = 30 for Belle II against n = 231 nuisances) and a k x k
Schur complement for the free parameters, in O(m^2 n) instead of the O(n^3) of a dense solve.

:func:`poisson_gauss_newton` iterates a fixed number of steps (``lax.scan``: jit- and
vmappable): the step x, the best of the step lengths ``ts`` (monotone, NaN-safe), clipped to the
bounds; a variable on its bound whose gradient points outwards is held there (its row and column
of H become the identity, its gradient 0: projected Newton).

>>> import jax, jax.numpy as jnp
>>> jax.config.update("jax_enable_x64", True)
>>> J = jnp.array([[1.0, 2.0, 0.5], [0.0, 1.0, 3.0]]); d = jnp.array([2.0, 1.0, 0.0]); w = jnp.array([0.5, 2.0])
>>> H = jnp.diag(d) + J.T @ (w[:, None] * J); g = jnp.array([1.0, -1.0, 2.0])
>>> bool(jnp.allclose(structured_solve(g, d, J, w, n_tail=1), jnp.linalg.solve(H, g)))
True
>>> J1 = J.at[1, 0].set(0.0)  # column 0 now has its only nonzero in row 0
>>> H1 = jnp.diag(d) + J1.T @ (w[:, None] * J1)
>>> bool(jnp.allclose(structured_solve(g, d, J1, w, 1, single_row=[0, -1]), jnp.linalg.solve(H1, g)))
True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_factor, cho_solve

__all__ = ["structured_solve", "poisson_gauss_newton", "poisson_gauss_newton_tol"]

#: relative ridge added to the diagonal of the Newton system (as the dense solver did)
RIDGE = 1e-10


def structured_solve(g, d, J, w, n_tail: int = 0, single_row=None, tail_curv=None):
    """Solve (diag(d) + J^T diag(w) J) x = g for x (plus ``tail_curv``, an optional
    (n_tail, n_tail) matrix added to the block of the tail parameters).

    ``d`` (n,) must be positive on the first n - ``n_tail`` entries (Woodbury on that block); the
    last ``n_tail`` entries may have d = 0 (Schur complement). ``J`` (m, n), ``w`` (m,) >= 0.
    ``single_row`` (optional, static numpy (n - n_tail,) ints): for columns of J known to have
    their only nonzero in one row (a per-bin factor such as a staterror gamma), that row; -1 for
    dense columns. Such columns then cost O(1) each instead of O(m^2).
    """
    n = g.shape[0]
    nh = n - n_tail
    m = J.shape[0]
    sw = jnp.sqrt(jnp.maximum(w, 0.0))
    Jw = J * sw[:, None]
    dh = d[:nh]
    if single_row is None:
        Jh = Jw[:, :nh]
        Jd = Jh / dh  # (m, nh)
        K = jnp.eye(m) + Jd @ Jh.T
        cf = cho_factor(K, lower=True)

        def a_inv(v):  # v (nh, r)
            return v / dh[:, None] - Jd.T @ cho_solve(cf, Jd @ v)
    else:
        single_row = np.asarray(single_row)
        dense = np.flatnonzero(single_row < 0)
        sparse = np.flatnonzero(single_row >= 0)
        rows = single_row[sparse]
        hot = (rows[None, :] == np.arange(m)[:, None]).astype(float)  # (m, n_sparse)
        Jde = Jw[:, dense]
        Jdd = Jde / dh[dense]
        vs = Jw[rows, sparse]  # the single nonzeros
        vds = vs / dh[sparse]
        K = jnp.eye(m) + Jdd @ Jde.T + jnp.diag(hot @ (vs * vds))
        cf = cho_factor(K, lower=True)

        def a_inv(v):
            u = cho_solve(cf, Jdd @ v[dense] + hot @ (vds[:, None] * v[sparse]))
            out = v / dh[:, None]
            out = out.at[dense].add(-(Jdd.T @ u))
            return out.at[sparse].add(-vds[:, None] * u[rows])

    if n_tail == 0:
        return a_inv(g[:, None])[:, 0]
    Jh, Jt = Jw[:, :nh], Jw[:, nh:]
    B = Jh.T @ Jt  # (nh, k)
    X = a_inv(jnp.concatenate([g[:nh, None], B], axis=1))
    S = Jt.T @ Jt + jnp.diag(d[nh:]) - B.T @ X[:, 1:]
    if tail_curv is not None:
        S = S + tail_curv
    ds = jnp.diag(S)
    S = S + jnp.diag(jnp.where(ds == 0.0, 1.0, RIDGE * jnp.abs(ds)))
    xt = jnp.linalg.solve(S, g[nh:] - B.T @ X[:, 0])
    return jnp.concatenate([X[:, 0] - X[:, 1:] @ xt, xt])


def _gn_step(model, logp, n_obs, curv, lo, hi, n_tail, ts, single_row):
    """One damped, projected Gauss-Newton step: z -> (best candidate, decrement g.dz, index of
    the chosen step length)."""
    nh = curv.shape[0] - n_tail

    def safe_logp(z):
        v = logp(z)
        return jnp.where(jnp.isnan(v), -jnp.inf, v)

    def step(z):
        out = model(z)
        lam, J, g = out[:3]
        tail_curv = out[3] if len(out) > 3 else None
        held = ((z <= lo) & (g < 0)) | ((z >= hi) & (g > 0))
        J = jnp.where(held[None, :], 0.0, J)
        d = jnp.where(held, 1.0, curv)
        d = d.at[:nh].multiply(1.0 + RIDGE)
        g = jnp.where(held, 0.0, g)
        if tail_curv is not None:
            ht = held[nh:]
            tail_curv = jnp.where(ht[:, None] | ht[None, :], 0.0, tail_curv)
        dz = structured_solve(g, d, J, n_obs / lam**2, n_tail, single_row, tail_curv)
        cand = jnp.clip(z[None, :] + ts[:, None] * dz[None, :], lo, hi)
        vals = jax.vmap(safe_logp)(cand)
        best = jnp.argmax(vals)
        return cand[best], g @ dz, best

    return step


def poisson_gauss_newton(
    z0, model, logp, n_obs, curv, lo, hi, steps: int, n_tail: int = 0, ts=(1.0, 0.5, 0.25, 0.125, 0.0), single_row=None
):
    """``steps`` damped, projected Gauss-Newton steps from ``z0``.

    ``model(z)`` returns (lambda (m,), J (m, n), gradient of ln L (n,)); ``logp(z)`` ln L; ``curv``
    (n,) the constraint curvature (1/sigma^2; 0 on the last ``n_tail`` free parameters); ``lo``,
    ``hi`` the bounds; ``single_row`` see :func:`structured_solve`. Returns (z, Newton decrement g.dz of the last step: ~2x the remaining gain).
    """
    curv = jnp.asarray(curv, dtype=jnp.float64)
    ts = jnp.asarray(ts, dtype=jnp.float64)
    n_obs = jnp.asarray(n_obs, dtype=jnp.float64)
    one = _gn_step(model, logp, n_obs, curv, lo, hi, n_tail, ts, single_row)

    def step(carry, _):
        z, _ = carry
        z, dec, _ = one(z)
        return (z, dec), None

    (z, dec), _ = jax.lax.scan(step, (jnp.asarray(z0, dtype=jnp.float64), jnp.asarray(jnp.inf)), None, length=steps)
    return z, dec


def poisson_gauss_newton_tol(
    z0,
    model,
    logp,
    n_obs,
    curv,
    lo,
    hi,
    tol: float,
    max_steps: int,
    n_tail: int = 0,
    ts=(1.0, 0.5, 0.25, 0.125, 0.0),
    single_row=None,
):
    """:func:`poisson_gauss_newton` until the Newton decrement g.dz (the gain in 2 ln L, i.e. in
    chi2, that the Gauss-Newton model still predicts) is <= ``tol``, or the line search keeps the
    point (no step length gains), or ``max_steps`` (``lax.while_loop``: jit- and vmappable; under
    vmap every member runs until the last has stopped, the stopped ones unchanged). ``model`` may
    return a fourth output, the (n_tail, n_tail) curvature of further terms in the tail parameters.
    Returns (z, decrement of the last step, steps taken)."""
    ts = tuple(float(t) for t in ts)
    stay = len(ts) - 1 if ts[-1] == 0.0 else -1
    curv = jnp.asarray(curv, dtype=jnp.float64)
    ts = jnp.asarray(ts, dtype=jnp.float64)
    n_obs = jnp.asarray(n_obs, dtype=jnp.float64)
    one = _gn_step(model, logp, n_obs, curv, lo, hi, n_tail, ts, single_row)

    def cond(c):
        _, dec, k, stalled = c
        return (k < max_steps) & (dec > tol) & ~stalled

    def body(c):
        z, _, k, _ = c
        z, dec, best = one(z)
        return z, dec, k + 1, best == stay

    z0 = jnp.asarray(z0, dtype=jnp.float64)
    z, dec, k, _ = jax.lax.while_loop(cond, body, (z0, jnp.asarray(jnp.inf), 0, False))
    return z, dec, k
