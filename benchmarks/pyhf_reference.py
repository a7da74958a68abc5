"""pyhf's reference numbers for hpjax.inference.hypotest on Belle II's published model (run ONCE).

Usage: ``.venv/bin/python -m benchmarks.pyhf_reference [--out tests/data/pyhf_belle2_reference.json]``

On ``hpjax/data/belle2_knunu/combined_likelihood.json`` (232 parameters, POI ``mu`` in
pyhf's suggested bounds [0, 10]) with pyhf's numpy backend and its scipy optimizer
(``pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())``; minuit raises
``FailedMinimization`` on this model at mu = 6..10, see issue 13) it records

* the free fit (mu_hat, -2 ln L) and the fixed-POI fits at mu = 0 and mu = 1, hence the
  likelihood-ratio significances Z = sqrt(2 (NLL(mu0) - NLL(mu_hat))) against mu0 = 0 and 1;
* ``pyhf.infer.test_statistics.q0`` (Z = sqrt(q0));
* the asymptotic q~_mu CLs, CLs+b, CLb and the expected CLs band (pyhf's order: nsigma = 2, 1,
  0, -1, -2 of the background-only test statistic, i.e. ascending CLs) exactly as
  ``pyhf.infer.hypotest(mu, test_stat="qtilde", return_expected_set=True)`` computes them, with
  pyhf's own fits, at mu = hpjax's observed 95 % limit and its expected band: there CLs (resp.
  the expected CLs) must be 0.05, which checks the limits. (``upper_limit``'s toms748 scan would
  redo the mu-independent fits at each of its ~15 steps.)

With the numpy backend (finite-difference gradients) a fit takes ~5 min under load; with the jax
backend (default) ~10 s; the JSON it writes (tests/data/pyhf_belle2_reference.json) carries the
versions, the command and the wall time, so ``make test`` never runs pyhf's optimisation here.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np

#: mu of the CLs checks: near hpjax's observed 95 % limit (6.841) and its expected band (2.509 median,
#: 1.796 / 3.531 the -1 / +1 sigma edges): CLs (resp. the expected CLs) there is ~0.05
HYPOTEST_MU = (6.841, 2.509, 3.531, 1.796)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/data/pyhf_belle2_reference.json")
    ap.add_argument(
        "--backend",
        default="jax",
        choices=["jax", "numpy"],
        help="pyhf backend (jax: exact gradients for scipy's SLSQP; numpy: finite differences, ~5 min a fit)",
    )
    ap.add_argument("--mu", type=float, nargs="*", default=list(HYPOTEST_MU))
    args = ap.parse_args(argv)

    import pyhf
    import scipy

    if args.backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        pyhf.set_backend("jax", pyhf.optimize.scipy_optimizer(), precision="64b")
    else:
        pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())
    spec = json.loads(resources.files("hpjax.data").joinpath("belle2_knunu", "combined_likelihood.json").read_text())
    ws = pyhf.Workspace(spec)
    model = ws.model()
    tb = pyhf.tensorlib
    data = tb.astensor(ws.data(model))
    poi = model.config.poi_index
    bounds = model.config.suggested_bounds()
    init = model.config.suggested_init()
    fixed = model.config.suggested_fixed()
    t_all = time.time()
    out: dict = {
        "provenance": {
            "script": "benchmarks/pyhf_reference.py",
            "command": "python -m benchmarks.pyhf_reference " + " ".join(argv if argv is not None else sys.argv[1:]),
            "model": "hpjax/data/belle2_knunu/combined_likelihood.json (Belle II B+ -> K+ nu nubar, arXiv:2311.14647)",
            "pyhf": pyhf.__version__,
            "scipy": scipy.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "backend": f"{args.backend} (64b), pyhf.optimize.scipy_optimizer() (SLSQP), suggested init/bounds",
            "method": (
                "pyhf.infer.mle.fit / fixed_poi_fit for every fit; the asymptotic q~ CLs of "
                "pyhf.infer.calculators.AsymptoticCalculator (Asimov data = model.expected_data of the "
                "mu = 0 fit to the data, as generate_asimov_data) with the mu-independent fits done once"
            ),
            "poi_bounds": [float(x) for x in bounds[poi]],
            "n_parameters": int(model.config.npars),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    }

    def log(msg):
        print(f"[{time.time() - t_all:7.1f} s] {msg}", flush=True)

    def free(d):
        p, t = pyhf.infer.mle.fit(
            d, model, init_pars=init, par_bounds=bounds, fixed_params=fixed, return_fitted_val=True
        )
        return np.asarray(p), float(t)

    def cond(mu, d):
        p, t = pyhf.infer.mle.fixed_poi_fit(
            mu, d, model, init_pars=init, par_bounds=bounds, fixed_params=fixed, return_fitted_val=True
        )
        return np.asarray(p), float(t)

    best, t_hat = free(data)
    out["fit"] = {"mu_hat": float(best[poi]), "twice_nll": t_hat}
    log(f"fit mu_hat = {best[poi]:.5f}, -2 ln L = {t_hat:.5f}")
    p0, t0 = cond(0.0, data)
    for mu0, t in ((0.0, t0), (1.0, cond(1.0, data)[1])):
        q = max(t - t_hat, 0.0)
        out[f"fixed_mu{int(mu0)}"] = {"twice_nll": t, "q": q, "Z": float(np.sqrt(q))}
        log(f"mu0 = {mu0}: -2 ln L = {t:.5f}, Z = {np.sqrt(q):.4f}")
        _write(args.out, out, t_all)

    asimov = model.expected_data(tb.astensor(p0))
    best_a, t_hat_a = free(asimov)
    log(f"Asimov (mu' = 0): mu_hat = {best_a[poi]:.5f}")
    out["hypotest_qtilde"] = []
    for mu in args.mu:
        q = max(cond(mu, data)[1] - t_hat, 0.0) if best[poi] <= mu else 0.0
        qa = max(cond(mu, asimov)[1] - t_hat_a, 0.0) if best_a[poi] <= mu else 0.0
        sq, sqa = np.sqrt(q), np.sqrt(qa)
        t = sq - sqa if sq <= sqa else (q - qa) / (2 * sqa)
        clsb, clb = norm_sf(t + sqa), norm_sf(t)
        n = np.array([2.0, 1.0, 0.0, -1.0, -2.0])
        exp = norm_sf(n + sqa) / norm_sf(n)
        out["hypotest_qtilde"].append(
            {
                "mu": mu,
                "q": q,
                "qA": qa,
                "CLs": clsb / clb,
                "CLsb": clsb,
                "CLb": clb,
                "CLs_expected": [float(e) for e in exp],
            }
        )
        log(f"hypotest mu = {mu}: CLs = {clsb / clb:.5f}, expected {[round(float(e), 5) for e in exp]}")
        _write(args.out, out, t_all)
    return 0


def norm_sf(x):
    from scipy.stats import norm

    return float(norm.sf(x)) if np.ndim(x) == 0 else norm.sf(x)


def _write(path, out, t_all):
    out["provenance"]["wall_s"] = round(time.time() - t_all, 1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
