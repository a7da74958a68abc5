"""NUTS on fits/singlet_posterior.toml (spec settings: 4 chains x 1000 after 500) with the CPU time
of each call next to its wall time, so that a figure taken on a loaded machine can be read as
well: ESS per CPU-second, and (ESS / (CPU s / cores)) the rate of an idle machine if the chains
kept every core busy. One compiling call, then ``--runs`` calls with other seeds (the compiled
sampler reused).

    .venv/bin/python benchmarks/nuts_cpu_time.py [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    cfg = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from hpjax.inference.distributed import use_all_cpu_cores

    use_all_cpu_cores()  # one device per core, as hpjax sample (before JAX starts its backend)
    import jax
    import numpy as np

    from benchmarks.run import min_bulk_ess
    from hpjax.inference import sample
    from hpjax.spec import load_spec

    spec = load_spec(ROOT / "fits" / "singlet_posterior.toml")
    lik, priors = spec.build_likelihood(), spec.priors()
    st = {k: spec.tasks["sample"][k] for k in ("num_warmup", "num_samples", "num_chains")}
    rows = []
    for seed in range(cfg.runs + 1):
        load = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        r = sample(lik, priors, seed=seed, **st)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ess, worst = min_bulk_ess({n: np.asarray(r.idata.posterior[v]) for n, v in r.names.items()})
        rows.append(
            {
                "seed": seed,
                "compiles": seed == 0,
                "wall_s": wall,
                "cpu_s": cpu,
                "min_bulk_ess": ess,
                "worst": worst,
                "ess_per_s": ess / wall,
                "ess_per_cpu_s": ess / cpu,
                "idle_estimate_ess_per_s": ess / (cpu / (os.cpu_count() or 1)),
                "max_r_hat": r.max_r_hat,
                "divergences": r.divergences,
                "load_1min_at_start": load,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"devices": [str(d) for d in jax.devices()], "settings": st, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
