"""Kinematic helpers: the Källén function and NaN-safe powers for thresholds.

All functions are pure ``jax.numpy`` and safe under ``grad`` at thresholds: the argument of
every square root is masked with the double-``where`` pattern, so no NaN or inf leaks through
a branch that is not taken.

>>> import jax.numpy as jnp
>>> from hpjax.kinematics import kallen, sqrt_pos
>>> float(kallen(5.0**2, 0.5**2, 1.0**2))
563.0625
>>> float(sqrt_pos(-1.0))
0.0
"""

import jax.numpy as jnp

__all__ = ["kallen", "sqrt_pos", "pow_pos", "beta_threshold"]


def kallen(a, b, c):
    """Källén function lambda(a, b, c) = a^2 + b^2 + c^2 - 2(ab + bc + ca)."""
    return a * a + b * b + c * c - 2.0 * (a * b + b * c + c * a)


def sqrt_pos(x):
    """sqrt(x) for x > 0 and 0 otherwise, with a finite gradient everywhere (0 where x <= 0)."""
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def pow_pos(x, p):
    """x**p for x > 0 and 0 otherwise (p > 0), gradient-safe at x = 0."""
    pos = x > 0
    xs = jnp.where(pos, x, 1.0)
    if isinstance(p, (int, float)) and float(p) == 1.5:
        # x sqrt(x): XLA:CPU lowers a general power to a scalar libm call (~20x slower); the
        # thresholds' beta^3 = (beta^2)^1.5 sits inside every q^2 integrand
        return jnp.where(pos, xs * jnp.sqrt(xs), 0.0)
    return jnp.where(pos, jnp.power(xs, p), 0.0)


def beta_threshold(m2_pair, m_daughter):
    """Velocity factor 1 - 4 m^2/s of a pair of equal-mass daughters (0 below threshold)."""
    pos = m2_pair > 0
    return jnp.maximum(jnp.where(pos, 1.0 - 4.0 * m_daughter**2 / jnp.where(pos, m2_pair, 1.0), 0.0), 0.0)
