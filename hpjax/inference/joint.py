r"""Joint Gauss-Newton fits and profiles of likelihoods with a profiled ``belle2_full`` term.

A profiled ``belle2_full`` term maximises ln L over Belle II's 231 nuisances inside every
evaluation. Putting an outer BFGS over the model parameters on top of it compiles the inner solver
several times (value, gradient, line search) and runs two nested iterations. Here the free model
parameters theta and the nuisances nu are fitted together instead: z = (nu, t) with t the box
coordinates of theta (log10 x for a ``log`` range, x for ``linear``, the standardised u for a
nuisance), one damped, bound-projected Gauss-Newton system per step
(:func:`hpjax.numerics.poisson_gauss_newton_tol`)

    H = diag(1/sigma^2, 0) + J^T diag(n/lambda^2) J + C_rest,   J = [d lambda/d nu, d lambda/d t],

solved through its structure (Woodbury over the nuisances, Schur complement over t), with
d lambda/d t = (d lambda/d factors) (d factors/d t) by forward mode through the spectrum (k
tangents), and C_rest the exact curvature in t of the other terms of the likelihood (none for a
likelihood of ``belle2_full`` alone). It stops on a value tolerance: when the decrement g.dz (the
gain in chi2 the Gauss-Newton model still predicts) is <= ``ftol``, or when no step length gains.
One compiled program serves all starts of a fit (vmap) and all grid points of a profile (vmap).
Errors: the exact Hessian of ln L in (nu, t) at the optimum (jax.hessian), whose inverse's t block
is the profile-likelihood covariance.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..likelihood.terms import Context
from .optimize import FitResult

__all__ = ["joint_term", "joint_best_fit", "joint_profile", "box_coordinates"]

LN10 = math.log(10.0)
#: finite-difference step of the factors' derivatives in the box coordinates (times the box width, at most 1)
FD_STEP = 1e-4
#: step lengths tried along every Gauss-Newton direction (0 keeps the point: monotone)
STEP_LENGTHS = (1.0, 0.5, 0.25, 0.125, 0.0)


def joint_term(lik, alone: bool = False):
    """The ``belle2_full`` term of ``lik`` whose nuisances are profiled, if the joint solver applies
    (exactly one such term), else None. ``alone``: only if it is the likelihood's only term and
    no nuisance parameters float (the fast path, the one ``method="auto"`` takes; other terms go
    through the exact but slower-compiling general path of ``method="joint"``)."""
    if not (hasattr(lik, "terms") and hasattr(lik, "term") and hasattr(lik, "context")):
        return None
    hits = [lik.term(n) for n in lik.terms]
    hits = [t for t in hits if getattr(t, "profiles", False) and hasattr(t, "at_nuisances")]
    if len(hits) != 1:
        return None
    if alone and (list(lik.terms) != [hits[0].name] or tuple(getattr(lik, "nuisances", ()))):
        return None
    return hits[0]


def box_coordinates(t):
    """(to_physical, from_physical, lo, hi, dx/dt) of a :class:`~.optimize.Transform` in the box
    coordinates of the joint solver."""
    if t.kind == "log":
        lo, hi = math.log10(t.low), math.log10(t.high)
        return (lambda c: 10.0**c), (lambda x: jnp.log10(x)), lo, hi, (lambda c: LN10 * 10.0**c)
    if t.kind == "linear":
        return (lambda c: c), (lambda x: x), t.low, t.high, (lambda c: 1.0)
    mean, err = t.low, t.high
    return (lambda c: mean + err * c), (lambda x: (x - mean) / err), -np.inf, np.inf, (lambda c: err)


class _Joint:
    """The pieces of a joint solve at fixed values ``v`` of the parameters ``poi`` (may be none)."""

    def __init__(self, lik, term, tr, poi: list, ftol: float, max_steps: int):
        self.lik, self.term = lik, term
        self.poi = list(poi)
        self.free = [n for n in lik.parameters() if n not in self.poi]
        self.box = [box_coordinates(tr[n]) for n in self.free]
        b = term.model
        self.b, self.nn, self.k = b, b.n_nuisances, len(self.free)
        self.ftol, self.max_steps = float(ftol), int(max_steps)
        # other terms or constrained nuisances contribute to chi2: their curvature in t is exact
        self.alone = list(lik.terms) == [term.name] and not tuple(getattr(lik, "nuisances", ()))

    def params(self, t, v):
        p = {n: v[i] for i, n in enumerate(self.poi)}
        p.update({n: self.box[i][0](t[i]) for i, n in enumerate(self.free)})
        return p

    def total(self, z, v):
        """ln L of the whole likelihood at nuisances z[:nn] and parameters z[nn:] (chi2 convention)."""
        with self.term.at_nuisances(z[: self.nn]):
            return self.lik.log_likelihood(self.params(z[self.nn :], v))

    def factors(self, t, v):
        p = self.params(t, v)
        if not self.alone:
            return self.term.signal_factors(self.lik.context(p), p)
        # only the model point matters to the spectrum: skip tracing every prediction of the context
        lik = self.lik
        vals = [jnp.asarray(p[q] if q in lik.free else d, dtype=jnp.float64) for q, d in lik.model_defaults.items()]
        model = lik.model_class.tree_unflatten(None, vals)
        return self.term.signal_factors(Context({}, model, lik.inputs), p)

    def bounds(self):
        b = self.b
        lo = jnp.concatenate([b.nuisance_bounds[0], jnp.asarray([bx[2] for bx in self.box], dtype=jnp.float64)])
        hi = jnp.concatenate([b.nuisance_bounds[1], jnp.asarray([bx[3] for bx in self.box], dtype=jnp.float64)])
        return lo, hi

    def solve(self, z0, v):
        """Gauss-Newton from z0 at POI values v: (z, decrement, steps, ln L)."""
        from ..numerics.gauss_newton import poisson_gauss_newton_tol

        b, nn = self.b, self.nn
        n_obs, center = b.observed, jnp.asarray(b.nuisance_center)
        curv_nu = jnp.asarray(1.0 / np.asarray(b.nuisance_sigma) ** 2)
        curv = jnp.concatenate([curv_nu, jnp.zeros(self.k)])
        lo, hi = self.bounds()

        def model(z):
            nu, t = z[:nn], z[nn:]
            dfac, fac = jax.jacfwd(lambda t: (self.factors(t, v),) * 2, has_aux=True)(t)
            lam, jn, js = b.stat.expected_and_jacobian(nu, fac)
            J = jnp.concatenate([jn, js @ dfac], axis=1)
            if self.alone:
                g = J.T @ (n_obs / lam - 1.0)
                return lam, J, g.at[:nn].add((center - nu) * curv_nu)
            g = jax.grad(self.total)(z, v)

            def rest(t):  # the other terms: total minus Belle II's statistical model
                return self.total(jnp.concatenate([nu, t]), v) - b.logpdf_factors(self.factors(t, v), nu)

            return lam, J, g, -jax.hessian(rest)(t)

        z, dec, steps = poisson_gauss_newton_tol(
            z0,
            model,
            lambda z: self.total(z, v),
            n_obs,
            curv,
            lo,
            hi,
            self.ftol,
            self.max_steps,
            n_tail=self.k,
            single_row=getattr(b.stat, "single_row", None),
        )
        return z, dec, steps, self.total(z, v)

    # ---- the fast path (a likelihood of belle2_full alone) ------------------------------------
    def t_step(self):
        """Finite-difference steps in the box coordinates: FD_STEP times the box width (at most 1)."""
        width = np.array([bx[3] - bx[2] for bx in self.box], dtype=float)
        return FD_STEP * np.where(np.isfinite(width), np.minimum(width, 1.0), 1.0)

    def stencil(self, t, h):
        """The 3^k points t_c + h (a, b, ...), a, b in {-1, 0, 1}, with t_c = t moved at least h
        inside the box, and t itself first."""
        lo = jnp.asarray([bx[2] for bx in self.box]) + h
        hi = jnp.asarray([bx[3] for bx in self.box]) - h
        tc = jnp.clip(t, lo, hi)
        grid = np.stack(np.meshgrid(*[[-1.0, 0.0, 1.0]] * self.k, indexing="ij"), -1).reshape(-1, self.k)
        return jnp.concatenate([t[None, :], tc[None, :] + grid * h])

    def derivatives(self, F, h):
        """From the factors on :meth:`stencil` (1 + 3^k, 18): the factors at t, their Jacobian D
        (18, k) and second derivatives T2 (18, k, k) by central differences."""
        k = self.k
        f0, G = F[0], F[1:].reshape((3,) * k + (F.shape[-1],))
        mid = (1,) * k
        D, T2 = [], [[None] * k for _ in range(k)]
        for i in range(k):
            up = tuple(2 if a == i else 1 for a in range(k))
            dn = tuple(0 if a == i else 1 for a in range(k))
            D.append((G[up] - G[dn]) / (2 * h[i]))
            T2[i][i] = (G[up] - 2 * G[mid] + G[dn]) / h[i] ** 2
            for j in range(i):

                def ix(a, b, i=i, j=j):
                    return tuple(a if q == i else b if q == j else 1 for q in range(k))

                T2[i][j] = T2[j][i] = (G[ix(2, 2)] - G[ix(2, 0)] - G[ix(0, 2)] + G[ix(0, 0)]) / (4 * h[i] * h[j])
        D = jnp.stack(D, axis=1)
        T2 = jnp.stack([jnp.stack(r, axis=-1) for r in T2], axis=-2)
        return f0, D, T2

    def lean(self, fac, nu):
        v = self.b.logpdf_factors(fac, nu)
        return jnp.where(jnp.isnan(v), -jnp.inf, v)

    def solve_alone(self, z0, v):
        """The joint Gauss-Newton with one evaluation of the spectrum per step (the line-search
        candidates and their difference stencils in one vmap). Returns (z, decrement, steps, ln L,
        (factors, D, T2) at z)."""
        from ..numerics.gauss_newton import RIDGE, structured_solve

        b, nn, k = self.b, self.nn, self.k
        n_obs, center = b.observed, jnp.asarray(b.nuisance_center)
        curv_nu = jnp.asarray(1.0 / np.asarray(b.nuisance_sigma) ** 2)
        curv = jnp.concatenate([curv_nu, jnp.zeros(k)])
        lo, hi = self.bounds()
        h = jnp.asarray(self.t_step())
        ts = jnp.asarray(STEP_LENGTHS)
        single_row = getattr(b.stat, "single_row", None)
        stay = len(STEP_LENGTHS) - 1
        nf = b.sm_nominal.shape[0]

        def body(c):
            z, (fac, D, T2), _, _, it, _ = c
            nu = z[:nn]
            lam, jn, js = b.stat.expected_and_jacobian(nu, fac)
            J = jnp.concatenate([jn, js @ D], axis=1)
            g = (J.T @ (n_obs / lam - 1.0)).at[:nn].add((center - nu) * curv_nu)
            held = ((z <= lo) & (g < 0)) | ((z >= hi) & (g > 0))
            J = jnp.where(held[None, :], 0.0, J)
            d = jnp.where(held, 1.0, curv).at[:nn].multiply(1.0 + RIDGE)
            g = jnp.where(held, 0.0, g)
            dz = structured_solve(g, d, J, n_obs / lam**2, k, single_row)
            first = it == 0  # the first pass only evaluates the start
            dz = jnp.where(first | ~jnp.all(jnp.isfinite(dz)), 0.0, dz)
            cand = jnp.clip(z[None, :] + ts[:, None] * dz[None, :], lo, hi)
            pts = jax.vmap(lambda c: self.stencil(c[nn:], h))(cand)  # (T, S, k)
            F = jax.vmap(jax.vmap(lambda t: self.factors(t, v)))(pts)
            ders = jax.vmap(lambda F: self.derivatives(F, h))(F)
            vals = jax.vmap(lambda c, f: self.lean(f, c[:nn]))(cand, ders[0])
            best = jnp.where(first, stay, jnp.argmax(vals))
            dec = jnp.where(first, jnp.inf, g @ dz)
            ders = tuple(x[best] for x in ders)
            return cand[best], ders, vals[best], dec, it + 1, (best == stay) & ~first

        def cond(c):
            _, _, _, dec, it, stalled = c
            return (it <= self.max_steps) & (dec > self.ftol) & ~stalled

        z0 = jnp.asarray(z0, dtype=jnp.float64)
        ders0 = (jnp.ones(nf), jnp.zeros((nf, k)), jnp.zeros((nf, k, k)))
        c0 = (z0, ders0, jnp.asarray(-jnp.inf), jnp.asarray(jnp.inf), 0, False)
        z, ders, lv, dec, it, _ = jax.lax.while_loop(cond, body, c0)
        return z, dec, it - 1, lv - self.term.reference, ders

    def hessian_alone(self, z, ders):
        """Exact Hessian of ln L in (nu, t) by the chain rule: the lean model's Hessian in
        (nu, factors) by central differences of its analytic gradient, the factors' first and
        second derivatives in t (``ders``, from the solver's stencil)."""
        nn = self.nn
        b = self.b
        fac, D, T2 = ders
        n_obs, center = b.observed, jnp.asarray(b.nuisance_center)
        curv_nu = jnp.asarray(1.0 / np.asarray(b.nuisance_sigma) ** 2)

        def grad(x):
            lam, jn, js = b.stat.expected_and_jacobian(x[:nn], x[nn:])
            r = n_obs / lam - 1.0
            return jnp.concatenate([jn.T @ r + (center - x[:nn]) * curv_nu, js.T @ r])

        x = jnp.concatenate([z[:nn], fac])
        eps = 1e-6 * jnp.maximum(1.0, jnp.abs(x))
        E = jnp.diag(eps)
        n = x.shape[0]
        G = jax.vmap(grad)(jnp.concatenate([x[None, :], x[None, :] + E, x[None, :] - E]))  # one vmap
        gx = G[0]
        H = (G[1 : 1 + n] - G[1 + n :]) / (2 * eps[:, None])
        H = 0.5 * (H + H.T)
        Hnn, Hnf, Hff = H[:nn, :nn], H[:nn, nn:], H[nn:, nn:]
        Htt = D.T @ Hff @ D + jnp.einsum("i,iab->ab", gx[nn:], T2)
        Hnt = Hnf @ D
        return jnp.block([[Hnn, Hnt], [Hnt.T, Htt]])

    def start(self, theta: dict, nuisances=None):
        """z0 from physical values of the free parameters (clipped into their boxes)."""
        nu = self.b.default_start() if nuisances is None else nuisances
        t = [
            float(np.clip(self.box[i][1](float(theta[n])), self.box[i][2], self.box[i][3]))
            for i, n in enumerate(self.free)
        ]
        return jnp.concatenate([jnp.asarray(nu, dtype=jnp.float64), jnp.asarray(t, dtype=jnp.float64)])


def joint_best_fit(lik, term, tr, n_starts: int, seed: int, max_iter: int, ftol: float, init: dict) -> FitResult:
    """Best fit of ``lik`` by the joint Gauss-Newton from ``n_starts`` starts (the initial point and
    random points, drawn as :func:`~.optimize.best_fit` draws them), all in one compiled call."""
    names = list(lik.parameters())
    jt = _Joint(lik, term, tr, [], ftol, max_iter)
    key = jax.random.PRNGKey(seed)
    rnd = np.asarray(jax.random.uniform(key, (max(n_starts - 1, 0), len(names)), minval=-3.0, maxval=3.0))
    starts = [{n: float(init[n]) for n in names}]
    for r in rnd:
        starts.append(
            {n: float(init[n]) if tr[n].kind == "standard" else float(tr[n].forward(r[i])) for i, n in enumerate(names)}
        )
    z0 = jnp.stack([jt.start(s) for s in starts])
    none = jnp.zeros(0)
    if jt.alone:
        z, dec, steps, logl, ders = jax.jit(jax.vmap(lambda z0: jt.solve_alone(z0, none)))(z0)
    else:
        z, dec, steps, logl = jax.jit(jax.vmap(lambda z0: jt.solve(z0, none)))(z0)
        ders = None
    chi2 = -2.0 * np.asarray(logl)
    dec, steps = np.asarray(dec), np.asarray(steps)
    ok = np.isfinite(chi2) & (chi2 < 1e29)
    if not ok.any():
        return FitResult({}, math.inf, False, "no start reached a finite chi2", n_iter=int(np.max(steps)))
    best = int(np.argmin(np.where(ok, chi2, np.inf)))
    zb = z[best]
    params = {n: float(v) for n, v in jt.params(zb[jt.nn :], none).items()}
    conv = (dec <= ftol) & ok
    converged = bool(conv[best])
    if converged:
        msg = (
            f"converged in {int(steps[best])} joint Gauss-Newton steps: predicted chi2 decrease "
            f"{max(float(dec[best]), 0.0):.2g} <= ftol = {ftol:g}"
        )
    elif int(steps[best]) >= max_iter:
        msg = f"NOT converged: {max_iter} joint Gauss-Newton steps with predicted chi2 decrease {dec[best]:.2g} > {ftol:g}"
    else:
        msg = f"NOT converged: no step length gains after {int(steps[best])} steps (decrement {dec[best]:.2g})"
    errors, cov = _errors(jt, zb, names, None if ders is None else tuple(x[best] for x in ders))
    if cov is None:
        msg += "; Hessian not positive definite (minimum at a boundary or flat direction): no errors"
    return FitResult(
        params,
        float(chi2[best]),
        converged,
        msg,
        errors,
        cov,
        int(steps[best]),
        math.nan,
        {"chi2": chi2.tolist(), "converged": conv.tolist()},
    )


def _errors(jt, z, names, ders):
    """Errors of the free parameters from the exact Hessian of ln L in (nu, t) at ``z``."""
    if ders is not None:
        H = np.asarray(jax.jit(jt.hessian_alone)(z, ders))
    else:
        H = np.asarray(jax.jit(jax.hessian(jt.total))(z, jnp.zeros(0)))
    if not np.all(np.isfinite(H)):
        return {}, None
    try:
        cov_all = np.linalg.inv(-H)
        np.linalg.cholesky(-H)
    except np.linalg.LinAlgError:
        return {}, None
    t = np.asarray(z[jt.nn :])
    J = np.array([float(jt.box[i][4](t[i])) for i in range(jt.k)])
    cov = cov_all[jt.nn :, jt.nn :] * np.outer(J, J)
    return {n: float(math.sqrt(cov[i, i])) for i, n in enumerate(names)}, cov


def joint_profile(lik, term, tr, poi_names: list, flat_poi, start: dict, max_iter: int, ftol: float):
    """Profile at the rows of ``flat_poi`` (N, n_poi), every point started from ``start`` (the best
    fit's free parameters), all points in one compiled, vmapped call.
    Returns (chi2 (N,), {name: (N,) profiled values}, converged (N,), steps (N,))."""
    jt = _Joint(lik, term, tr, poi_names, ftol, max_iter)
    z0 = jt.start({n: start[n] for n in jt.free})
    solve = (lambda z0, v: jt.solve_alone(z0, v)[:4]) if jt.alone else jt.solve
    z, dec, steps, logl = jax.jit(jax.vmap(lambda v: solve(z0, v)))(jnp.asarray(flat_poi, dtype=jnp.float64))
    t = np.asarray(z[:, jt.nn :])
    profiled = {n: np.asarray(jt.box[i][0](t[:, i])) for i, n in enumerate(jt.free)}
    chi2 = -2.0 * np.asarray(logl)
    return chi2, profiled, np.asarray(dec) <= ftol, np.asarray(steps)
