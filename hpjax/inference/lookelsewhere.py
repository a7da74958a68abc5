r"""Look-elsewhere tools: local p0 versus a scanned parameter (a mass), the global significance
of the largest local excess from background-only toys each profiled over the scan, and the
Gross-Vitells up-crossing estimate (arXiv:1005.1891).

``q0_fn(data, m)`` is any pure function giving the discovery test statistic at mass ``m`` on
``data`` (e.g. ``significance(lik_at(m).with_data(data))["q0"]``, or the closed-form q0 of
:func:`hpjax.inference.adapters.invisible_x_q0`); toys are generated and profiled vmapped.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri

__all__ = ["local_p0", "upcrossings", "gross_vitells", "global_significance"]


def local_p0(q0_fn: Callable, data, masses) -> dict:
    """Local q0, p0 and Z versus a scanned parameter: ``q0_fn(data, m)`` (vmapped over ``masses``).

    >>> q = local_p0(lambda d, m: d * jnp.exp(-m), 4.0, jnp.array([0.0, jnp.log(4.0)]))
    >>> [round(float(z), 3) for z in q["Z"]]
    [2.0, 1.0]
    """
    q0 = jax.vmap(lambda m: q0_fn(data, m))(jnp.asarray(masses))
    z = jnp.sqrt(jnp.maximum(q0, 0.0))
    return {"q0": q0, "p0": ndtr(-z), "Z": z}


def upcrossings(q, u):
    """Number of up-crossings of the level ``u`` by the curve(s) ``q`` (last axis: the scan).

    >>> int(upcrossings(jnp.array([0.0, 2.0, 0.0, 3.0, 1.0, 4.0]), 1.5))
    3
    """
    above = q > u
    return jnp.sum(above[..., 1:] & ~above[..., :-1], axis=-1) + above[..., 0]


def gross_vitells(q_max, n_ref, u_ref: float = 0.5, dof: int = 1):
    r"""Gross-Vitells estimate (arXiv:1005.1891, eq. 2) of the global p-value of a maximal local
    q0 ``q_max``: P(chi^2_dof > q_max)/2 + <N(u_ref)> exp(-(q_max - u_ref)/2) (dof = 1), with
    ``n_ref`` the mean number of up-crossings of the level ``u_ref`` (from a few toys).

    >>> p = gross_vitells(9.0, 0.0)  # no look-elsewhere: the local p0 of 3 sigma
    >>> round(float(p), 5)
    0.00135
    """
    if dof != 1:
        raise ValueError(f"gross_vitells: dof = {dof}; allowed: 1")
    q = jnp.asarray(q_max, dtype=jnp.float64)
    return 0.5 * (1.0 - jax.scipy.special.gammainc(0.5, q / 2.0)) + n_ref * jnp.exp(-(q - u_ref) / 2.0)


def global_significance(
    q0_fn: Callable,
    sample_null: Callable,
    data,
    masses,
    n_toys: int = 10_000,
    key=None,
    u_ref: float = 0.5,
    batch: int = 1000,
    q0_curve: Callable | None = None,
) -> dict:
    """Global significance of the largest local q0 over ``masses``: ``n_toys`` background-only toys
    (``sample_null(key) -> data``), each profiled over the mass grid (max of ``q0_fn`` over
    ``masses``; or ``q0_curve(data)`` -> q0 at all ``masses`` at once, or (q0, ...), when one
    null fit serves every mass, as :func:`hpjax.inference.adapters.invisible_x_q0_curve`);
    ``n_toys`` a multiple of ``batch`` (toys fitted vmapped per block). Returns {"q_max_obs", "Z_local", "p_global", "p_global_error", "Z_global",
    "n_up" (mean up-crossings of ``u_ref`` in the toys), "p_gross_vitells", "Z_gross_vitells",
    "q_max_toys"}.
    """
    masses = jnp.asarray(masses)
    key = jax.random.PRNGKey(1) if key is None else key
    if q0_curve is None:
        curve = jax.vmap(lambda d: jax.vmap(lambda m: q0_fn(d, m))(masses))
    else:
        curve = jax.vmap(lambda d: jax.tree_util.tree_leaves(q0_curve(d))[0])
    if n_toys % min(batch, n_toys):
        raise ValueError(f"global_significance: n_toys = {n_toys} must be a multiple of batch = {batch}")
    q_obs = curve(jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], data))[0]
    keys = jax.random.split(key, n_toys).reshape(-1, min(batch, n_toys), 2)

    def block(ks):
        c = curve(jax.vmap(sample_null)(ks))
        return jnp.max(c, axis=-1), upcrossings(c, u_ref)

    qmax, nup = jax.lax.map(block, keys)
    qmax, nup = qmax.reshape(-1), nup.reshape(-1)
    qm = jnp.max(q_obs)
    p = jnp.mean((qmax >= qm).astype(jnp.float64))  # float64 (a mean of booleans is float32)
    p_gv = gross_vitells(qm, jnp.mean(nup), u_ref)
    return {
        "q_max_obs": qm,
        "Z_local": jnp.sqrt(qm),
        "p_global": p,
        "p_global_error": jnp.sqrt(p * (1 - p) / qmax.size),
        "Z_global": -ndtri(p),
        "n_up": jnp.mean(nup),
        "p_gross_vitells": p_gv,
        "Z_gross_vitells": -ndtri(p_gv),
        "q_max_toys": qmax,
        "q0_obs": q_obs,
    }
