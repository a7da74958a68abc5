"""XLA's cost analysis of one point of the full `paper` likelihood (issue 16): flops,
transcendental operations and bytes accessed per point, for one point and per point of a vmap over
128. Compare code trees side by side by running this file from each (e.g. a `git worktree` of the
base commit): `python benchmarks/paper_cost.py` prints one line."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402

import hpjax  # noqa: E402


def main() -> None:
    lik = hpjax.Likelihood(hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.0), dataset="paper")

    def ll(m, s):
        return lik.log_likelihood({"m_hD": m, "sin_theta": s})

    def cost(f, *args):
        c = jax.jit(f).lower(*args).compile().cost_analysis()
        return c[0] if isinstance(c, list) else c

    one = cost(ll, 1.0, 6e-3)
    x = np.ones(128)
    batch = cost(jax.vmap(ll), x, x)
    print(
        f"per point: flops {one['flops']:.0f}, transcendentals {one['transcendentals']:.0f} | "
        f"vmap(128)/128: flops {batch['flops'] / 128:.0f}, transcendentals {batch['transcendentals'] / 128:.0f}, "
        f"bytes accessed {batch['bytes accessed'] / 128:.0f}"
    )


if __name__ == "__main__":
    main()
