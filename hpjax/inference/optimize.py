"""Best fits: minimise chi2 = -2 ln L with BFGS in an unconstrained parametrisation,
from many starting points at once (vmap), with uncertainties from the Hessian.

Parametrisation (:class:`Transform`): ``log`` ranges map log10(x) in [log10 lo, log10 hi] onto
R with a logistic function (quantities spanning decades: masses, sin(theta), y_D, v_D);
``linear`` ranges map x in [lo, hi] onto R the same way; nuisances are standardised,
x = mean + error * u. Convergence criterion: the infinity norm of the gradient of chi2 with
respect to the unconstrained variables below ``gtol`` (default 1e-6); a fit that stops at
``max_iter`` or at a non-finite chi2 says so in ``message``.

Anything with ``parameters()``, ``chi2(params)`` and ``initial_params()`` can be fitted
(:class:`hpjax.Likelihood` has them).

>>> import jax.numpy as jnp
>>> from hpjax.inference.optimize import best_fit, Transform
>>> class Parabola:
...     def parameters(self): return ["x", "y"]
...     def initial_params(self): return {"x": jnp.asarray(1.0), "y": jnp.asarray(1.0)}
...     def chi2(self, p): return ((p["x"] - 2.0) / 0.1) ** 2 + ((jnp.log10(p["y"]) + 3) / 0.5) ** 2
>>> fit = best_fit(Parabola(), transforms={"x": Transform("linear", -10, 10), "y": Transform("log", 1e-6, 1.0)},
...                n_starts=4, seed=0)
>>> fit.converged, round(float(fit.params["x"]), 6), round(float(fit.params["y"]), 9)
(True, 2.0, 0.001)
>>> round(float(fit.errors["x"]), 6)
0.1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from ..numerics import capped_chi2

__all__ = ["Transform", "FitResult", "best_fit", "default_transforms", "minimize_batch", "value_tolerance", "bfgs"]

#: default ranges of model parameters (kind, low, high), GeV where dimensionful
DEFAULT_RANGES = {
    "m_hD": ("log", 1e-3, 1e2),
    "sin_theta": ("log", 1e-8, 0.5),
    "y_D": ("log", 1e-7, 4 * math.pi),
    "m_chi": ("linear", 0.0, 10.0),
    "v_D": ("log", 1e-1, 1e5),
    "m_AD": ("linear", 0.0, 10.0),
}


@dataclass(frozen=True)
class Transform:
    """Map between a physical parameter x and an unconstrained u in R.

    kind "log": x = 10**(log10 lo + (log10 hi - log10 lo) sigmoid(u)); "linear":
    x = lo + (hi - lo) sigmoid(u); "standard": x = lo + hi * u (lo = mean, hi = error).
    """

    kind: str
    low: float
    high: float

    def __post_init__(self):
        if self.kind not in ("log", "linear", "standard"):
            raise ValueError(f"transform kind '{self.kind}' must be one of ['log', 'linear', 'standard']")
        if self.kind == "log" and not (0 < self.low < self.high):
            raise ValueError(f"log range [{self.low}, {self.high}] needs 0 < low < high")
        if self.kind == "linear" and not self.low < self.high:
            raise ValueError(f"linear range [{self.low}, {self.high}] needs low < high")
        if self.kind == "standard" and not self.high > 0:
            raise ValueError(f"standardised transform needs an error > 0, got {self.high}")

    def forward(self, u):
        """unconstrained u -> physical x"""
        if self.kind == "standard":
            return self.low + self.high * u
        s = jax.nn.sigmoid(u)
        if self.kind == "log":
            a, b = math.log10(self.low), math.log10(self.high)
            return 10.0 ** (a + (b - a) * s)
        return self.low + (self.high - self.low) * s

    def inverse(self, x):
        """physical x -> unconstrained u (x clipped into the open range)"""
        if self.kind == "standard":
            return (x - self.low) / self.high
        if self.kind == "log":
            a, b = math.log10(self.low), math.log10(self.high)
            t = (jnp.log10(x) - a) / (b - a)
        else:
            t = (x - self.low) / (self.high - self.low)
        t = jnp.clip(t, 1e-12, 1 - 1e-12)
        return jnp.log(t) - jnp.log1p(-t)


def default_transforms(lik) -> dict[str, Transform]:
    """Default transforms: :data:`DEFAULT_RANGES` for model parameters, standardised nuisances."""
    out = {}
    errors = lik.nuisance_errors() if hasattr(lik, "nuisance_errors") else {}
    init = lik.initial_params()
    for name in lik.parameters():
        if name in errors:
            out[name] = Transform("standard", float(init[name]), float(errors[name]))
        elif name in DEFAULT_RANGES:
            out[name] = Transform(*DEFAULT_RANGES[name])
        else:
            raise ValueError(f"no default range for parameter '{name}'; give transforms={{'{name}': Transform(...)}}")
    return out


@dataclass
class FitResult:
    """Outcome of :func:`best_fit` (physical parameters, chi2, Hessian errors, diagnostics)."""

    params: dict
    chi2: float
    converged: bool
    message: str
    errors: dict = field(default_factory=dict)
    covariance: np.ndarray | None = None
    n_iter: int = 0
    grad_norm: float = math.nan
    starts: dict = field(default_factory=dict)  # chi2 and convergence of every start

    def summary(self) -> str:
        lines = [f"chi2_min = {self.chi2:.6g}  ({self.message})"]
        for k, v in self.params.items():
            e = self.errors.get(k, math.nan)
            lines.append(f"  {k:<22} = {float(v):.6g} +- {e:.3g}")
        return "\n".join(lines)


#: default value tolerance (chi2) of the joint Gauss-Newton when the likelihood names none
JOINT_FTOL = 1e-7

#: largest step per BFGS iteration in the unconstrained variables (infinity norm)
MAX_STEP = 0.5


def bfgs(f, u, max_iter: int, gtol: float, ftol: float | None = None):
    """Dense BFGS with Armijo backtracking, as one while_loop. The line search calls only f
    (not its gradient), which keeps the compiled program small: one value-and-gradient graph
    plus one value graph.

    ``ftol`` (optional): also stop when an accepted step lowers f by <= ftol (a value tolerance,
    for objectives whose gradient carries noise, such as an inner profile solved to ~1e-9); then a
    sixth output, the last decrease of f, is returned."""
    d = u.shape[0]
    vg = jax.value_and_grad(f)
    f0, g0 = vg(u)
    eye = jnp.eye(d)
    value_stop = ftol is not None
    ftol_ = 0.0 if ftol is None else float(ftol)

    def cond(c):
        u, fu, g, H, k, ok, df = c
        go = (k < max_iter) & (jnp.max(jnp.abs(g)) > gtol) & ok & jnp.isfinite(fu)
        return go & (df > ftol_) if value_stop else go

    def body(c):
        u, fu, g, H, k, _, _ = c
        p = -H @ g
        descent = g @ p < 0
        p = jnp.where(descent, p, -g)
        H = jnp.where(descent, H, eye)
        # trust cap on the step in the unconstrained variables: a logistic unit spans about a
        # quarter of a parameter's range, and a longer first step can land on a plateau (e.g.
        # sin(theta) -> 0, where chi2 is flat) and stall there
        p = p * jnp.minimum(1.0, MAX_STEP / jnp.maximum(jnp.max(jnp.abs(p)), 1e-300))
        slope = g @ p

        def ls_cond(lc):
            alpha, fa, it = lc
            return (it < 40) & ~(fa <= fu + 1e-4 * alpha * slope)

        def ls_body(lc):
            alpha, _, it = lc
            alpha = alpha * 0.5
            return alpha, f(u + alpha * p), it + 1

        alpha, fa, it = jax.lax.while_loop(ls_cond, ls_body, (1.0, f(u + p), 0))
        accepted = fa <= fu + 1e-4 * alpha * slope
        u_new = jnp.where(accepted, u + alpha * p, u)
        f_new, g_new = vg(u_new)
        s_, y = u_new - u, g_new - g
        sy = s_ @ y
        rho = jnp.where(sy > 1e-300, 1.0 / jnp.where(sy > 1e-300, sy, 1.0), 0.0)
        V = eye - rho * jnp.outer(s_, y)
        H_new = jnp.where(sy > 1e-300, V @ H @ V.T + rho * jnp.outer(s_, s_), H)
        return u_new, f_new, g_new, H_new, k + 1, accepted, jnp.where(accepted, fu - f_new, jnp.inf)

    u, fu, g, H, k, ok, df = jax.lax.while_loop(cond, body, (u, f0, g0, eye, 0, True, jnp.asarray(jnp.inf)))
    if value_stop:
        return u, fu, jnp.max(jnp.abs(g)), k, ok, df
    return u, fu, jnp.max(jnp.abs(g)), k, ok


def _optax_lbfgs(f, u, max_iter: int, gtol: float):
    """optax L-BFGS (zoom line search) as one while_loop; same outputs as :func:`bfgs`."""
    import optax

    opt = optax.lbfgs()
    vg = optax.value_and_grad_from_state(f)

    def cond(c):
        u, state, k, g, val = c
        return (k < max_iter) & (g > gtol) & jnp.isfinite(val)

    def body(c):
        u, state, k, _, _ = c
        value, grad = vg(u, state=state)
        updates, state = opt.update(grad, state, u, value=value, grad=grad, value_fn=f)
        return optax.apply_updates(u, updates), state, k + 1, jnp.max(jnp.abs(grad)), value

    val0, g0 = jax.value_and_grad(f)(u)
    u, _, k, _, _ = jax.lax.while_loop(cond, body, (u, opt.init(u), 0, jnp.max(jnp.abs(g0)), val0))
    val, g = jax.value_and_grad(f)(u)
    return u, val, jnp.max(jnp.abs(g)), k, jnp.isfinite(val)


METHODS = {"bfgs": bfgs, "optax_lbfgs": _optax_lbfgs}


def minimize_batch(f, u0, max_iter: int = 500, gtol: float = 1e-6, method: str = "bfgs", ftol: float | None = None):
    """Minimise f(u) (u: (d,)) from a batch of starts u0 (n, d), all at once (vmap).

    ``method``: "bfgs" (default: dense BFGS, compiles fastest) or "optax_lbfgs".
    Returns (u, f(u), |grad|_inf, iterations, line_search_ok) per start; with ``ftol`` (BFGS only:
    also stop when a step lowers f by <= ftol) a sixth output, the last decrease of f."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; valid: {list(METHODS)}")
    if ftol is not None:
        if method != "bfgs":
            raise ValueError(f"ftol (value tolerance) is supported by method 'bfgs' only, not {method!r}")
        return jax.vmap(lambda u: bfgs(f, u, max_iter, gtol, ftol))(u0)
    return jax.vmap(lambda u: METHODS[method](f, u, max_iter, gtol))(u0)


def value_tolerance(lik, ftol: float | None = None) -> float | None:
    """The value tolerance of a fit: ``ftol`` if given, else the likelihood's own
    ``value_tolerance`` attribute (e.g. one with an inner profile of its nuisances), else None
    (gradient tolerance only)."""
    return ftol if ftol is not None else getattr(lik, "value_tolerance", None)


def hessian_fd(grad_fn, u, rel_step: float = 1e-5):
    """Hessian by central differences of a (compiled) gradient, symmetrised."""
    u = np.asarray(u, dtype=float)
    d = u.size
    H = np.zeros((d, d))
    for j in range(d):
        h = rel_step * max(1.0, abs(u[j]))
        e = np.zeros(d)
        e[j] = h
        H[:, j] = (np.asarray(grad_fn(jnp.asarray(u + e))) - np.asarray(grad_fn(jnp.asarray(u - e)))) / (2 * h)
    return 0.5 * (H + H.T)


def best_fit(
    lik,
    transforms: dict | None = None,
    n_starts: int = 8,
    seed: int = 0,
    max_iter: int = 500,
    gtol: float = 1e-6,
    init: dict | None = None,
    method: str = "auto",
    ftol: float | None = None,
) -> FitResult:
    """Global best fit of ``lik`` (minimum of ``lik.chi2``) from ``n_starts`` starting points:
    the initial parameters plus random points spread over the transform ranges. ``ftol``: also
    stop (converged) when a BFGS step lowers chi2 by <= ftol (default :func:`value_tolerance`).

    ``method``: "auto" (default: the joint Gauss-Newton of :mod:`~.joint` over the parameters and
    the nuisances of a profiled ``belle2_full`` term where it is the only term and no nuisance
    floats; else "bfgs"), "joint" (any likelihood with one profiled belle2_full term), "bfgs" or
    "optax_lbfgs"."""
    names = list(lik.parameters())
    tr = (
        default_transforms(lik)
        if transforms is None
        else {**(default_transforms(lik) if hasattr(lik, "nuisances") else {}), **transforms}
    )
    missing = [n for n in names if n not in tr]
    if missing:
        raise ValueError(f"no transform for parameter(s) {missing}; parameters: {names}")
    init = lik.initial_params() if init is None else init

    def to_params(u):
        return {n: tr[n].forward(u[i]) for i, n in enumerate(names)}

    def objective(u):
        c = lik.chi2(to_params(u))
        return capped_chi2(c)

    u_init = jnp.stack([tr[n].inverse(jnp.asarray(init[n], dtype=jnp.float64)) for n in names])
    key = jax.random.PRNGKey(seed)
    rnd = jax.random.uniform(key, (max(n_starts - 1, 0), len(names)), minval=-3.0, maxval=3.0)
    # nuisances start at their central values
    is_nuis = jnp.array([tr[n].kind == "standard" for n in names])
    rnd = jnp.where(is_nuis, 0.0, rnd)
    u0 = jnp.concatenate([u_init[None, :], rnd], axis=0)
    ftol = value_tolerance(lik, ftol)
    from .joint import joint_best_fit, joint_term

    term = joint_term(lik, alone=method == "auto") if method in ("auto", "joint") else None
    if method == "joint" and term is None:
        raise ValueError("method 'joint' needs a likelihood with a profiled belle2_full term")
    if term is not None:
        return joint_best_fit(lik, term, tr, n_starts, seed, max_iter, ftol or JOINT_FTOL, init)
    method = "bfgs" if method == "auto" else method
    res = jax.jit(lambda u0: minimize_batch(objective, u0, max_iter, gtol, method, ftol))(u0)
    u, val, gnorm, iters, ls_ok = res[:5]
    val = np.asarray(val)
    gnorm = np.asarray(gnorm)
    dval = np.asarray(res[5]) if ftol is not None else np.full(val.shape, np.inf)
    ok = np.isfinite(val) & (val < 1e29)
    if not ok.any():
        return FitResult({}, math.inf, False, "no start reached a finite chi2", n_iter=int(np.max(iters)))
    best = int(np.argmin(np.where(ok, val, np.inf)))
    params = {k: float(v) for k, v in to_params(u[best]).items()}
    converged = bool(gnorm[best] <= gtol or dval[best] <= (ftol or 0.0))
    if converged and gnorm[best] > gtol:
        msg = (
            f"converged in {int(iters[best])} iterations: chi2 decreased by {dval[best]:.2g} <= ftol = {ftol:g} "
            f"(|grad chi2|_inf = {gnorm[best]:.2g})"
        )
    elif converged:
        msg = f"converged in {int(iters[best])} iterations, |grad chi2|_inf = {gnorm[best]:.2g} <= {gtol:g}"
    elif int(iters[best]) >= max_iter:
        msg = f"NOT converged: {max_iter} iterations reached with |grad chi2|_inf = {gnorm[best]:.2g} > {gtol:g}"
    elif not bool(np.asarray(ls_ok)[best]):
        msg = (
            f"NOT converged: line search found no decrease after {int(iters[best])} iterations, "
            f"|grad chi2|_inf = {gnorm[best]:.2g} > {gtol:g} (non-smooth chi2? try a smooth convention)"
        )
    else:
        msg = f"NOT converged: stopped after {int(iters[best])} iterations, |grad chi2|_inf = {gnorm[best]:.2g}"
    errors, cov = _hessian_errors(objective, u[best], names, tr)
    if cov is None:
        msg += "; Hessian not positive definite (minimum at a boundary or flat direction): no errors"
    starts = {"chi2": val.tolist(), "converged": ((gnorm <= gtol) | (dval <= (ftol or 0.0))).tolist()}
    return FitResult(
        params, float(val[best]), converged, msg, errors, cov, int(iters[best]), float(gnorm[best]), starts
    )


def _hessian_errors(objective, u, names, tr):
    """Errors from the Hessian of chi2 in the unconstrained variables (finite differences of
    the compiled gradient), mapped to the physical parameters: cov_x = J (H_u/2)^-1 J^T,
    J = dx/du (exact at a minimum, where the gradient vanishes)."""
    H = hessian_fd(jax.jit(jax.grad(objective)), u)
    if not np.all(np.isfinite(H)):
        return {}, None
    try:
        np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return {}, None
    J = np.array([float(jax.grad(lambda t, n=n: tr[n].forward(t))(u[i])) for i, n in enumerate(names)])
    cov = 2.0 * np.linalg.inv(H) * np.outer(J, J)
    return {n: float(math.sqrt(cov[i, i])) for i, n in enumerate(names)}, cov
