"""Profile likelihoods in one or two parameters of interest.

At every grid point of the parameters of interest (POI), chi2 is minimised over all other free
parameters (model parameters and nuisances) by one vmapped BFGS over the whole grid, warm-started
at the global best fit. Delta chi2 is taken relative to the global minimum (the smaller of the best
fit and the grid minimum); 68 % and 95 % intervals follow from Wilks' theorem (Delta chi2 = 1, 3.84
in one parameter; 2.30, 5.99 in two).

>>> import jax.numpy as jnp
>>> from hpjax.inference.optimize import Transform
>>> from hpjax.inference.profile import profile
>>> class Banana:
...     def parameters(self): return ["x", "y"]
...     def initial_params(self): return {"x": jnp.asarray(0.0), "y": jnp.asarray(0.0)}
...     def chi2(self, p): return (p["x"] - 1.0) ** 2 / 0.25 + (p["y"] - p["x"] ** 2) ** 2 / 0.01
>>> tr = {"x": Transform("linear", -5, 5), "y": Transform("linear", -5, 30)}
>>> prof = profile(Banana(), {"x": jnp.linspace(0.0, 2.0, 41)}, transforms=tr)
>>> [round(v, 3) for v in prof.interval(0.68)[0]]  # x = 1 +- 0.5
[0.5, 1.5]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from ..numerics import capped_chi2
from .joint import joint_profile, joint_term
from .optimize import JOINT_FTOL, best_fit, default_transforms, minimize_batch, value_tolerance

__all__ = ["profile", "ProfileResult", "WILKS"]

#: Delta chi2 thresholds by (number of POI, confidence level)
WILKS = {(1, 0.68): 1.0, (1, 0.95): 3.841458820694124, (2, 0.68): 2.295748928898636, (2, 0.95): 5.991464547107979}


@dataclass
class ProfileResult:
    """Grid, chi2 and the profiled parameters of a 1D or 2D profile likelihood."""

    poi: list[str]
    grid: dict  # name -> 1D grid
    chi2: np.ndarray  # shape of the grid (n,) or (n1, n2)
    chi2_min: float
    best_fit: dict
    profiled: dict = field(default_factory=dict)  # name -> array of grid shape
    converged: np.ndarray | None = None

    @property
    def delta_chi2(self) -> np.ndarray:
        return self.chi2 - self.chi2_min

    def interval(self, cl: float = 0.68) -> list[tuple[float, float]]:
        """1D: the intervals where Delta chi2 <= the Wilks threshold (linear interpolation between
        grid points; an interval that reaches the grid edge ends there)."""
        if len(self.poi) != 1:
            raise ValueError("interval() needs a one-dimensional profile; use region() in 2D")
        level = WILKS[(1, round(cl, 2))]
        x = np.asarray(self.grid[self.poi[0]], dtype=float)
        d = self.delta_chi2 - level
        inside = d <= 0
        out, i = [], 0
        while i < len(x):
            if not inside[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(x) and inside[j + 1]:
                j += 1
            lo = x[i] if i == 0 else x[i - 1] + (x[i] - x[i - 1]) * d[i - 1] / (d[i - 1] - d[i])
            hi = x[j] if j == len(x) - 1 else x[j] + (x[j + 1] - x[j]) * d[j] / (d[j] - d[j + 1])
            out.append((float(lo), float(hi)))
            i = j + 1
        return out

    def region(self, cl: float = 0.68) -> np.ndarray:
        """Boolean mask of the grid inside the CL region (Wilks, as many dof as POI)."""
        return self.delta_chi2 <= WILKS[(len(self.poi), round(cl, 2))]


def profile(
    lik,
    poi: dict,
    transforms: dict | None = None,
    fit=None,
    max_iter: int = 300,
    gtol: float = 1e-6,
    n_starts: int = 8,
    seed: int = 0,
    ftol: float | None = None,
    method: str = "auto",
) -> ProfileResult:
    """Profile ``lik`` over a grid of one or two parameters of interest.

    ``poi`` maps parameter names to 1D grids. ``fit`` is the global best fit (computed if None).
    ``ftol``: a value tolerance of the inner BFGS (stop when a step lowers chi2 by <= ftol;
    default the likelihood's ``value_tolerance``, see :func:`~.optimize.value_tolerance`).
    ``method``: "auto" (the joint Gauss-Newton of :mod:`~.joint` where a profiled ``belle2_full``
    term is the only term, else BFGS), "joint" (any likelihood with one) or "bfgs".
    """
    names = list(lik.parameters())
    poi_names = list(poi)
    if not 1 <= len(poi_names) <= 2:
        raise ValueError(f"profile needs one or two parameters of interest, got {poi_names}")
    bad = [p for p in poi_names if p not in names]
    if bad:
        raise ValueError(f"unknown parameter(s) of interest {bad}; free parameters: {names}")
    tr = (
        default_transforms(lik)
        if transforms is None
        else {**(default_transforms(lik) if hasattr(lik, "nuisances") else {}), **transforms}
    )
    if fit is None:
        fit = best_fit(
            lik, transforms=tr, n_starts=n_starts, seed=seed, max_iter=max_iter, gtol=gtol, ftol=ftol, method=method
        )
    ftol = value_tolerance(lik, ftol)
    grids = [jnp.asarray(poi[p], dtype=jnp.float64) for p in poi_names]
    mesh = jnp.meshgrid(*grids, indexing="ij")
    shape = mesh[0].shape
    flat_poi = jnp.stack([m.ravel() for m in mesh], axis=1)  # (N, n_poi)
    others = [n for n in names if n not in poi_names]

    start = fit.params if fit.params else {n: float(v) for n, v in lik.initial_params().items()}

    def params_of(u, v):
        p = {n: v[i] for i, n in enumerate(poi_names)}
        p.update({n: tr[n].forward(u[i]) for i, n in enumerate(others)})
        return p

    term = joint_term(lik, alone=method == "auto") if method in ("auto", "joint") and others else None
    if term is not None:
        chi2, profiled, converged, _ = joint_profile(
            lik, term, tr, poi_names, flat_poi, start, max_iter, ftol or JOINT_FTOL
        )
        profiled = {n: v.reshape(shape) for n, v in profiled.items()}
        converged = converged.reshape(shape)
    elif others:
        u_start = jnp.stack([tr[n].inverse(jnp.asarray(start[n], dtype=jnp.float64)) for n in others])

        def solve(v):
            f = lambda u: capped_chi2(lik.chi2(params_of(u, v)))  # noqa: E731
            res = minimize_batch(f, u_start[None, :], max_iter, gtol, ftol=ftol)
            return res[0][0], res[1][0], res[2][0], (res[5][0] if ftol is not None else jnp.inf)

        u, chi2, gnorm, dval = jax.jit(jax.vmap(solve))(flat_poi)
        profiled = {n: np.asarray(jax.vmap(tr[n].forward)(u[:, i])).reshape(shape) for i, n in enumerate(others)}
        converged = ((np.asarray(gnorm) <= gtol) | (np.asarray(dval) <= (ftol or 0.0))).reshape(shape)
    else:
        chi2 = jax.jit(jax.vmap(lambda v: lik.chi2(params_of(jnp.zeros(0), v))))(flat_poi)
        profiled, converged = {}, np.ones(shape, dtype=bool)
    chi2 = np.asarray(chi2).reshape(shape)
    chi2 = np.where(chi2 >= 1e29, np.inf, chi2)
    chi2_min = float(min(fit.chi2 if math.isfinite(fit.chi2) else np.inf, np.min(chi2)))
    return ProfileResult(
        poi_names,
        {p: np.asarray(g) for p, g in zip(poi_names, grids)},
        chi2,
        chi2_min,
        dict(fit.params),
        profiled,
        converged,
    )
