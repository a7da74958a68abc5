"""The hpjax benchmark suite (`make bench`): scan throughput, gradient cost, NUTS efficiency,
compile latency, import time and peak memory, each against the baselines of
``benchmarks/baselines/`` after checking that they agree with hpjax.

    python benchmarks/run.py [--quick] [--device cpu|gpu] [--sections scan,gradient,...] [--runs 5]
    python benchmarks/run.py --report-only benchmarks/results.json    # rewrite RESULTS.md only

Every figure is the median of ``--runs`` (default 5) timed runs after one untimed warm-up run,
with min/max/IQR in ``results.json``. Writes ``benchmarks/results.json`` and
``benchmarks/RESULTS.md`` (``--out DIR`` elsewhere; ``--quick`` writes ``results_quick.*`` so that
a development run never overwrites the recorded full run; ``--device gpu`` writes
``results_gpu.json`` and ``RESULTS_GPU.md``). ``RESULTS.md`` is the generated table followed by
``benchmarks/NOTES.md`` (the analysis: what bounds each figure).

``--device gpu`` runs the hpjax scan, gradient and NUTS benchmarks on the GPU (JAX_PLATFORMS=cuda;
the baselines stay on the CPU, as a user would run them).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECTIONS = ("scan", "cli_scan", "gradient", "nuts", "emcee", "compile", "import", "memory", "belle2_full", "hypotest")
#: agreement required of every baseline before it is timed
AGREEMENT_TOL = 1e-6

TARGETS = {
    "scan_two_body_pts_per_s": 2e6,
    "scan_both_pts_per_s": 1e6,
    "speedup_vs_quad_both": 1000.0,
    "speedup_vs_quad_two_body": 100.0,
    "speedup_vs_numpy_gl": 3.0,
    "grad_over_value": 4.0,
    "nuts_ess_per_s": 1000.0,
    "nuts_vs_emcee": 100.0,
    "cold_compile_s": 5.0,
    "peak_memory_mb": 2048.0,
}


# ---- set-up ------------------------------------------------------------------------------------
#: set in the process that runs the scan section alone (see _scan_in_own_process)
_FORWARD_ENV = "HPJAX_BENCH_FORWARD_SCAN"


def _configure_jax(device: str):
    """Before jax is imported: platform, and on the CPU one XLA device per core (the scan shards
    over them)."""
    # the persistent compilation cache of `make` (.cache/jax), every program cached: repeated
    # compilations of the same program (each `sample` call traces anew) are loaded, not recompiled
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".cache" / "jax"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    if device == "gpu":
        os.environ.setdefault("JAX_PLATFORMS", "cuda")
    else:
        os.environ["JAX_PLATFORMS"] = "cpu"
        # one device per core and 512-bit vectors on an AVX-512 CPU, as the hpjax command
        from hpjax.inference.distributed import prefer_wide_vectors, use_all_cpu_cores

        use_all_cpu_cores()
        prefer_wide_vectors()
        if os.environ.get(_FORWARD_ENV):  # the scan section's own process: as `hpjax scan`
            from hpjax.inference.distributed import fuse_reductions

            fuse_reductions()


def _machine() -> dict:
    import jax
    import numpy as np
    import scipy

    import hpjax

    info = {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        **_cpu_features(),
        "cpu_count": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "jax": jax.__version__,
        "jaxlib": getattr(jax.lib, "__version__", None) or _version("jaxlib"),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numpyro": _version("numpyro"),
        "arviz": _version("arviz"),
        "emcee": _version("emcee"),
        "hpjax": hpjax.__version__,
        "hpjax_git": _git_rev(),
        "jax_devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "jax_compilation_cache_dir": _repo_relative(os.environ.get("JAX_COMPILATION_CACHE_DIR")),
    }
    return info


def _repo_relative(path):
    """``path`` relative to the checkout (results.json is committed: no machine paths in it)."""
    if not path:
        return path
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return "<outside the checkout>"


def _version(pkg):
    try:
        from importlib.metadata import version

        return version(pkg)
    except Exception:  # noqa: BLE001
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _cpu_features() -> dict:
    """The widest x86 vector extension and the clock /proc/cpuinfo reports: the same "AMD EPYC"
    model name has come with AVX-512 (2026-12-04, 2026-12-08) and without (2026-12-07, `lscpu`), and
    the same code ran 1.4x (scan) to 2x (NUTS) faster on it (benchmarks/NOTES.md, 2026-12-08)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return {}
    info = {}
    for line in lines:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "flags" and "simd" not in info:
            flags = set(value.split())
            info["simd"] = next((f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in flags), "none")
        elif key == "cpu MHz" and "cpu_mhz" not in info:
            info["cpu_mhz"] = round(float(value), 0)
    return info


def _git_rev():
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except Exception:  # noqa: BLE001
        return None


def _log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- agreement ---------------------------------------------------------------------------------
def rel_diff(x, ref):
    """|x - ref| / max(|ref|, 1) elementwise (ln L near 0 compared absolutely); equal infinities agree."""
    import numpy as np

    x, ref = np.asarray(x, float), np.asarray(ref, float)
    same_inf = np.isinf(x) & np.isinf(ref) & (np.sign(x) == np.sign(ref))
    d = np.abs(x - ref) / np.maximum(np.abs(ref), 1.0)
    return np.where(same_inf, 0.0, np.where(np.isfinite(d), d, np.inf))


def _check(name, x, ref, tol=AGREEMENT_TOL) -> dict:
    import numpy as np

    d = rel_diff(x, ref)
    out = {
        "max_rel_diff": float(np.max(d)),
        "median_rel_diff": float(np.median(d)),
        "n_points": int(d.size),
        "tol": tol,
        "ok": bool(np.max(d) <= tol),
    }
    _log(
        f"  agreement {name}: max rel diff {out['max_rel_diff']:.2e} over {d.size} points "
        f"({'ok' if out['ok'] else 'FAILED: not timed'})"
    )
    return out


# ---- scan throughput ---------------------------------------------------------------------------
def bench_scan(cfg) -> dict:
    import jax

    from benchmarks._timing import rate, repeat
    from benchmarks.baselines.numpy_gl import PaperLikelihoodGL
    from benchmarks.baselines.scipy_quad import PaperLikelihoodQuad
    from benchmarks.common import chunk_size, grid, paper_likelihood, run_scan, scan_block, scan_function, subset

    runs = cfg.runs
    plat = jax.devices()[0].platform
    devs = jax.devices()
    lik = paper_likelihood()
    fns = {
        "blocked": (scan_function(lik, "blocked", devs), len(devs)),
        "vmap": (scan_function(lik, "vmap", devs[:1]), 1),
    }
    if plat != "cpu":  # on a GPU the vectorised call is the fast one; blocks of 128 would starve it
        fns = {"vmap": (scan_function(lik, "vmap", devs[:1]), 1)}
    head = "blocked" if "blocked" in fns else "vmap"
    if cfg.scan_sizes:
        sizes = cfg.scan_sizes
    elif plat != "cpu":  # issue 16: a GPU's points/s at 10^6 to 10^8 points
        sizes = [10_000, 1_000_000] if cfg.quick else [10_000, 1_000_000, 10_000_000, 100_000_000]
    else:
        sizes = [10_000, 100_000] if cfg.quick else [10_000, 100_000, 1_000_000]
    vmap_sizes = [10_000]
    gl_sizes = [10_000]
    n_quad = 40 if cfg.quick else 200
    gl = PaperLikelihoodGL()
    quad = PaperLikelihoodQuad()
    res = {
        "likelihood": repr(lik),
        "terms": lik.terms,
        "devices": [str(d) for d in devs],
        "headline_mode": head,
        "block": scan_block(),
        "chunk_1e6": {k: chunk_size(10**6, k, plat, nd) for k, (_, nd) in fns.items()},
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "regions": {},
    }
    for region in ("two_body", "both"):
        _log(f"scan: region {region}")
        r = {"hpjax": {}, "numpy_gl": {}, "scipy_quad": {}, "agreement": {}}
        m4, s4 = grid(region, 10_000)
        r["m_hD_range"] = [float(m4.min()), float(m4.max())]
        # -- agreement before timing
        t0 = time.perf_counter()
        ref = {k: run_scan(f, m4, s4, k, plat, nd) for k, (f, nd) in fns.items()}
        r["first_call_s"] = time.perf_counter() - t0  # compilation of every variant's chunk function
        if "vmap" in ref and "blocked" in ref:
            r["agreement"]["blocked_vs_vmap"] = _check("hpjax blocked vs vmap", ref["blocked"], ref["vmap"], 1e-12)
        y = ref[head]
        r["agreement"]["numpy_gl"] = _check("(b) numpy GL", gl.log_likelihood(m4, s4), y)
        mq, sq = subset(m4, s4, n_quad)
        yq = run_scan(fns[head][0], mq, sq, head, plat, fns[head][1])
        r["agreement"]["scipy_quad"] = _check("(a) scipy quad", [quad.log_likelihood(a, b) for a, b in zip(mq, sq)], yq)
        # -- hpjax
        for mode, (f, nd) in fns.items():
            for n in sizes if mode == head else vmap_sizes:
                m, s = grid(region, n)
                t = repeat(lambda: run_scan(f, m, s, mode, plat, nd), runs=runs, warmup=1)
                r["hpjax"].setdefault(mode, {})[str(n)] = {"time_s": t, "pts_per_s": rate(n, t)}
                _log(f"  hpjax {mode:7s} n={n:>8d}: {n / t['median']:.3g} points/s (median of {runs})")
        # -- (b) numpy Gauss-Legendre
        if r["agreement"]["numpy_gl"]["ok"]:
            for n in gl_sizes:
                m, s = grid(region, n)
                t = repeat(lambda: gl.log_likelihood(m, s), runs=runs, warmup=1)
                r["numpy_gl"][str(n)] = {"time_s": t, "pts_per_s": rate(n, t)}
                _log(f"  (b) numpy GL    n={n:>8d}: {n / t['median']:.3g} points/s")
        # -- (a) scipy quad, per point
        if r["agreement"]["scipy_quad"]["ok"]:
            t = repeat(lambda: [quad.log_likelihood(a, b) for a, b in zip(mq, sq)], runs=runs, warmup=1)
            r["scipy_quad"][str(n_quad)] = {"time_s": t, "pts_per_s": rate(n_quad, t)}
            _log(f"  (a) scipy quad  n={n_quad:>8d}: {n_quad / t['median']:.3g} points/s")
        # -- headline numbers
        best_n = str(max(sizes))
        hp = r["hpjax"][head][best_n]["pts_per_s"]["median"]
        r["headline_pts_per_s"] = hp
        r["headline_n"] = int(best_n)
        if r["numpy_gl"]:
            gl_rate = r["numpy_gl"][str(max(gl_sizes))]["pts_per_s"]["median"]
            r["speedup_vs_numpy_gl"] = hp / gl_rate
        if r["scipy_quad"]:
            r["speedup_vs_scipy_quad"] = hp / r["scipy_quad"][str(n_quad)]["pts_per_s"]["median"]
        res["regions"][region] = r
    return res


# ---- gradient cost -----------------------------------------------------------------------------
def bench_gradient(cfg) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks._timing import repeat
    from benchmarks.common import BLOCK, GRAD_BLOCK, grid, paper_likelihood

    runs = cfg.runs
    out = {}
    # (1) batched over a grid (the scan of a gradient-based fit / profile)
    lik = paper_likelihood()

    def ll(m, s):
        return lik.log_likelihood({"m_hD": m, "sin_theta": s})

    vg = jax.value_and_grad(ll, argnums=(0, 1))
    n = 2048 if cfg.quick else 10240
    m, s = grid("both", n)
    m, s = jnp.asarray(m), jnp.asarray(s)
    fv = jax.jit(lambda m, s: jax.lax.map(lambda a: ll(*a), (m, s), batch_size=BLOCK))
    fg = jax.jit(lambda m, s: jax.lax.map(lambda a: vg(*a), (m, s), batch_size=GRAD_BLOCK))
    tv = repeat(lambda: jax.block_until_ready(fv(m, s)), runs=runs)
    tg = repeat(lambda: jax.block_until_ready(fg(m, s)), runs=runs)
    out["paper_2par_batched_blocked"] = {
        "n": int(m.size),
        "value_s": tv,
        "value_and_grad_s": tg,
        "ratio": tg["median"] / tv["median"],
        "value_block": BLOCK,
        "value_and_grad_block": GRAD_BLOCK,
    }
    _log(
        f"gradient: paper, 2 parameters, {m.size} points (value in blocks of {BLOCK}, value_and_grad in blocks "
        f"of {GRAD_BLOCK}, each the faster block size): value_and_grad / value = "
        f"{tg['median'] / tv['median']:.2f}"
    )
    # (2) one point, the posterior likelihood (9 parameters: what NUTS differentiates)
    from hpjax.spec import load_spec

    plik = load_spec(ROOT / "fits" / "singlet_posterior.toml").build_likelihood()
    p = plik.initial_params()
    f1 = jax.jit(lambda p: plik.log_likelihood(p, constraints=False))
    g1 = jax.jit(jax.value_and_grad(lambda p: plik.log_likelihood(p, constraints=False)))
    k = 50 if cfg.quick else 200

    def loop(f):
        def go():
            for _ in range(k):
                r = f(p)
            jax.block_until_ready(r)

        return go

    tv, tg = repeat(loop(f1), runs=runs), repeat(loop(g1), runs=runs)
    out["posterior_9par_single_point"] = {
        "calls_per_run": k,
        "value_s": tv,
        "value_and_grad_s": tg,
        "value_us_per_call": 1e6 * tv["median"] / k,
        "value_and_grad_us_per_call": 1e6 * tg["median"] / k,
        "ratio": tg["median"] / tv["median"],
    }
    _log(
        f"gradient: posterior, 9 parameters, one point: {1e6 * tv['median'] / k:.0f} us vs "
        f"{1e6 * tg['median'] / k:.0f} us, ratio {tg['median'] / tv['median']:.2f}"
    )
    # (3) the posterior likelihood over a batch of chains' points (vectorised NUTS)
    nb = 256 if cfg.quick else 1024
    rng = np.random.default_rng(0)
    pb = {kk: jnp.asarray(np.asarray(v) * (1.0 + 0.01 * rng.standard_normal(nb))) for kk, v in p.items()}
    fb = jax.jit(jax.vmap(lambda p: plik.log_likelihood(p, constraints=False)))
    gb = jax.jit(jax.vmap(jax.value_and_grad(lambda p: plik.log_likelihood(p, constraints=False))))
    tv = repeat(lambda: jax.block_until_ready(fb(pb)), runs=runs)
    tg = repeat(lambda: jax.block_until_ready(gb(pb)), runs=runs)
    out["posterior_9par_batched_vmap"] = {
        "n": nb,
        "value_s": tv,
        "value_and_grad_s": tg,
        "ratio": tg["median"] / tv["median"],
    }
    _log(f"gradient: posterior, 9 parameters, {nb} points (vmap): ratio {tg['median'] / tv['median']:.2f}")
    out["headline_ratio"] = out["paper_2par_batched_blocked"]["ratio"]
    return out


# ---- NUTS --------------------------------------------------------------------------------------
def min_bulk_ess(draws: dict) -> tuple[float, str]:
    """min over parameters of arviz's bulk ESS; ``draws`` maps name -> (chains, draws)."""
    import warnings

    import arviz as az
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = az.convert_to_dataset(
            {
                k.replace("(", "_").replace(")", "_").replace(">", "").replace("+", "p"): np.asarray(v)
                for k, v in draws.items()
            }
        )
        ess = az.ess(ds, method="bulk")
    vals = {k: float(ess[k]) for k in ess.data_vars}
    worst = min(vals, key=vals.get)
    return vals[worst], worst


def _hpjax_physical_draws(res) -> dict:
    import numpy as np

    post = res.idata.posterior
    return {n: np.asarray(post[v]) for n, v in res.names.items()}


def bench_nuts(cfg) -> dict:
    import jax

    from benchmarks._timing import summarise
    from hpjax.inference import sample
    from hpjax.spec import load_spec

    spec = load_spec(ROOT / "fits" / "singlet_posterior.toml")
    lik = spec.build_likelihood()
    priors = spec.priors()
    opts = dict(spec.tasks.get("sample", {}))
    settings = {
        "num_warmup": opts.get("num_warmup", 500),
        "num_samples": opts.get("num_samples", 1000),
        "num_chains": opts.get("num_chains", 4),
    }
    # issue 16: on a GPU, vectorised NUTS with 64 to 1024 chains
    counts = cfg.many_chains or ([8] if jax.devices()[0].platform == "cpu" else [64, 256, 1024])
    warm, draws = (200, 100) if cfg.quick else (300, 200)
    if cfg.quick:
        settings = {"num_warmup": 200, "num_samples": 300, "num_chains": 4}
    # the first count under "many_chains" (the report's row), every count under "many_chains_<n>"
    stages = [("spec", settings)] + [
        ("many_chains" if i == 0 else f"many_chains_{n}", {"num_warmup": warm, "num_samples": draws, "num_chains": n})
        for i, n in enumerate(counts)
    ]
    out = {"likelihood": repr(lik), "device": str(jax.devices()[0]), "chain_counts": counts}
    for label, st in stages:
        _log(f"nuts: {label} {st}")
        t0 = time.perf_counter()
        first = sample(lik, priors, seed=0, chain_method="vectorized", **st)
        first_wall = time.perf_counter() - t0
        rates, ess, walls, rhat, div, steps, grads = [], [], [], [], [], [], []
        for seed in range(1, cfg.runs + 1):
            t0 = time.perf_counter()
            r = sample(lik, priors, seed=seed, chain_method="vectorized", **st)
            wall = time.perf_counter() - t0
            e, worst = min_bulk_ess(_hpjax_physical_draws(r))
            ess.append(e)
            walls.append(wall)
            rates.append(e / wall)
            rhat.append(r.max_r_hat)
            div.append(r.divergences)
            n_steps = r.idata.sample_stats["n_steps"].values  # leapfrog steps per draw (sampling phase)
            steps.append(float(n_steps.mean()))
            grads.append(float(n_steps.sum()) * (st["num_warmup"] + st["num_samples"]) / st["num_samples"] / wall)
            _log(
                f"  seed {seed}: min bulk ESS {e:.0f} ({worst}), {wall:.1f} s -> {e / wall:.1f} ESS/s; "
                f"R-hat {r.max_r_hat:.3f}, {r.divergences} divergences, {steps[-1]:.1f} leapfrog steps per draw"
            )
        out[label] = {
            "settings": st,
            "first_call_s": first_wall,
            "first_call_ess": min_bulk_ess(_hpjax_physical_draws(first))[0],
            "wall_s": summarise(walls),
            "min_bulk_ess": summarise(ess),
            "ess_per_s": summarise(rates),
            "max_r_hat": max(rhat),
            "divergences": div,
            "leapfrog_steps_per_draw": summarise(steps),
            "gradient_evals_per_s_estimate": summarise(grads),
        }
    return out


def bench_emcee(cfg) -> dict:
    import jax
    import numpy as np

    from benchmarks._timing import summarise
    from benchmarks.baselines._common import nuisance_prior
    from benchmarks.baselines.emcee_posterior import SingletPosteriorEmcee, make_pool, run_emcee
    from hpjax.spec import load_spec

    # agreement of the emcee posterior's likelihood and prior with hpjax's
    post = SingletPosteriorEmcee()
    lik = load_spec(ROOT / "fits" / "singlet_posterior.toml").build_likelihood()
    names, mu, cov = lik.nuisance_prior()
    mu_b, cov_b = nuisance_prior(names)
    prior_diff = float(max(np.max(np.abs(mu - mu_b) / np.abs(mu)), np.max(np.abs(cov - cov_b)) / np.max(np.abs(cov))))
    rng = np.random.default_rng(3)
    thetas = post.initial_walkers(6, rng)
    thetas[:, 0] = np.log10([0.6, 1.0, 2.0, 3.0, 4.0, 4.4])
    thetas[:, 1] = np.log10([2e-3, 4e-3, 6e-3, 8e-3, 5e-3, 1e-2])
    ll_b = [post.log_likelihood(t) for t in thetas]
    f = jax.jit(lambda p: lik.log_likelihood(p, constraints=False))
    ll_h = []
    for t in thetas:
        phys = post.physical(t)
        ll_h.append(float(f(dict(zip(lik.parameters(), phys)))))
    chk = _check("(c) emcee posterior likelihood", ll_b, ll_h)
    chk["prior_max_rel_diff"] = prior_diff
    chk["ok"] = chk["ok"] and prior_diff <= AGREEMENT_TOL
    out = {"agreement": chk}
    if not chk["ok"]:
        return out
    procs = os.cpu_count() or 1
    nw, ns = (20, 60) if cfg.quick else (32, 300)
    out["settings"] = {"nwalkers": nw, "nsteps": ns, "burn_in": ns // 3, "processes": procs}
    _log(f"emcee: {nw} walkers x {ns} steps (first third burn-in), {procs} processes")
    rates, ess, walls, acc = [], [], [], []
    pool = make_pool(procs)  # started once, before any clock
    try:
        results = [run_emcee(nw, ns, seed=seed, pool=pool) for seed in range(1, cfg.runs + 1)]
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    for seed, (chain, wall, n_eval, a) in enumerate(results, start=1):
        draws = {n: chain[..., i] for i, n in enumerate(post.names)}
        e, worst = min_bulk_ess(draws)
        rates.append(e / wall)
        ess.append(e)
        walls.append(wall)
        acc.append(a)
        _log(
            f"  seed {seed}: min bulk ESS {e:.0f} ({worst}) in {wall:.1f} s -> {e / wall:.2f} ESS/s, "
            f"{n_eval / wall:.0f} log_prob/s, acceptance {a:.2f}"
        )
    out.update(
        {
            "wall_s": summarise(walls),
            "min_bulk_ess": summarise(ess),
            "ess_per_s": summarise(rates),
            "acceptance": summarise(acc),
            "log_prob_per_s": nw * ns / summarise(walls)["median"],
        }
    )
    return out


# ---- subprocess measurements -------------------------------------------------------------------
def _scan_in_own_process(cfg) -> dict:
    """The scan section in a fresh interpreter set up as ``hpjax scan`` (XLA's fused reductions,
    hpjax.inference.distributed.fuse_reductions, and blocks of 1024): a process-wide XLA flag that
    the gradient and sampler sections, which differentiate, run faster without."""
    with tempfile.TemporaryDirectory(prefix="hpjax-bench-scan-") as tmp:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--sections", "scan", "--runs", str(cfg.runs)]
        cmd += ["--device", cfg.device, "--out", tmp] + (["--quick"] if cfg.quick else [])
        if cfg.scan_sizes:
            cmd += ["--scan-sizes", ",".join(map(str, cfg.scan_sizes))]
        env = dict(os.environ, **{_FORWARD_ENV: "1"})
        p = subprocess.run(cmd, cwd=ROOT, env=env)
        stem = ("results_quick" if cfg.quick else "results") + ("_gpu" if cfg.device == "gpu" else "")
        if p.returncode != 0:
            raise RuntimeError(f"the scan section's process failed ({p.returncode})")
        return json.loads((Path(tmp) / f"{stem}.json").read_text())["scan"]


def _worker(args, env_extra=None, timeout=600) -> dict:
    env = dict(os.environ)
    env.update(env_extra or {})
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run(
        [sys.executable, "-m", "benchmarks.workers", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if p.returncode != 0:
        raise RuntimeError(f"worker {args} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench_compile(cfg) -> dict:
    from benchmarks._timing import summarise

    out = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="hpjax-bench-cache-") as tmp:
        for i in range(cfg.runs):
            d = Path(tmp) / f"cold{i}"  # a fresh, empty persistent cache each time
            out["cold"].append(_worker(["compile", str(d), "--no-scan"]))
            _log(
                f"compile cold {i + 1}: value {out['cold'][-1]['log_likelihood']['total_s']:.2f} s, "
                f"value_and_grad {out['cold'][-1]['value_and_grad']['total_s']:.2f} s"
            )
        warm = Path(tmp) / "cold0"  # populated by the first cold run
        for i in range(cfg.runs):
            out["warm"].append(_worker(["compile", str(warm)]))
            _log(
                f"compile warm {i + 1}: value {out['warm'][-1]['log_likelihood']['total_s']:.2f} s, "
                f"value_and_grad {out['warm'][-1]['value_and_grad']['total_s']:.2f} s"
            )
    summ = {}
    for kind in ("cold", "warm"):
        for fn in ("log_likelihood", "value_and_grad"):
            for part in ("total_s", "compile_s", "trace_lower_s"):
                summ[f"{kind}_{fn}_{part}"] = summarise([r[fn][part] for r in out[kind]])
        summ[f"{kind}_scan_chunk_first_call_s"] = summarise(
            [r["scan_chunk_first_call_s"] for r in out[kind] if "scan_chunk_first_call_s" in r]
        )
        summ[f"{kind}_import_s"] = summarise([r["import_s"] for r in out[kind]])
    out["summary"] = summ
    return out


def bench_import(cfg) -> dict:
    from benchmarks._timing import summarise

    rs = [_worker(["import"]) for _ in range(cfg.runs + 1)][1:]  # first: warm the OS file cache
    out = {k: summarise([r[k] for r in rs]) for k in rs[0]}
    _log(f"import: hpjax {out['total_s']['median']:.2f} s (jax alone {out['jax_s']['median']:.2f} s)")
    return out


def bench_memory(cfg) -> dict:
    from benchmarks._timing import summarise

    n = 100_000 if cfg.quick else 1_000_000
    rs = [_worker(["memory", str(n), "blocked"]) for _ in range(cfg.runs)]
    out = {"n": n, "mode": "blocked", "runs": rs}
    for k in (
        "peak_rss_mb",
        "peak_rss_before_scan_mb",
        "rss_before_scan_mb",
        "max_rss_during_scan_mb",
        "scan_increment_mb",
    ):
        out[k] = summarise([r[k] for r in rs])
    _log(
        f"memory: {n}-point scan, peak RSS {out['peak_rss_mb']['median']:.0f} MB "
        f"(peak before the scan, i.e. import + compilation: {out['peak_rss_before_scan_mb']['median']:.0f} MB; "
        f"during the scan {out['max_rss_during_scan_mb']['median']:.0f} MB, "
        f"+{out['scan_increment_mb']['median']:.0f} MB over the {out['rss_before_scan_mb']['median']:.0f} MB before it)"
    )
    if cfg.quick:  # the hpjax.inference.scan pattern, for reference (not timed in the full run: 10-minute budget)
        rv = _worker(["memory", "20000", "vmap"])
        out["vmap_chunks_reference"] = rv
        _log(
            f"memory: vmap chunks of 10240 ({rv['n']} points), peak RSS {rv['peak_rss_mb']:.0f} MB, "
            f"+{rv['scan_increment_mb']:.0f} MB during the scan"
        )
    return out


def bench_cli_scan(cfg) -> dict:
    """`hpjax scan` as a user runs it (benchmarks/cli_scan_cores.py: fits/fig1_unified.toml refined
    to 1200 x 900 points, a fresh process, XLA_FLAGS unset): steady-state points/s and CPU/wall,
    to set beside the scan section's figure. CPU only (the command's CPU-device logic)."""
    if cfg.device == "gpu":
        return {"skipped": "CPU only"}
    from benchmarks.cli_scan_cores import run as run_cli

    r = run_cli(None)
    _log(
        f"cli_scan: hpjax scan, steady state {r['points_per_s']:.3g} points/s on {r['devices']} device(s), "
        f"CPU/wall {r['cpu_over_wall']:.2f}"
    )
    return r


def bench_hypotest(cfg) -> dict:
    """Look-elsewhere toys (issue 13): 10^4 background-only toys of Belle II's full likelihood
    (231 nuisances and the auxiliary data drawn from their constraints), each profiled over the
    invisible X's mass (23 masses, BR and the nuisances fitted at every mass), in a fresh process
    (`benchmarks/hypotest_bench.py --sections lee`, one XLA CPU device: its vmapped blocks of 500
    toys use the cores through XLA's intra-op threads). ``--quick``: 1000 toys."""
    n_toys = 1000 if cfg.quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lee.json"
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        t0 = time.perf_counter()
        cpu0 = os.times()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "hypotest_bench.py"),
                "--sections",
                "lee",
                "--toys",
                str(n_toys),
                "--out",
                str(out),
            ],
            check=True,
            env=env,
        )
        cpu1 = os.times()
        wall = time.perf_counter() - t0
        lee = json.loads(out.read_text())["lee"]
    cpu = (cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system)
    keep = (
        "n_toys",
        "Z_global",
        "p_global",
        "p_global_error",
        "Z_gross_vitells",
        "Z_local",
        "seconds_toys",
        "seconds_first_block_with_compile",
    )
    return {**{k: lee[k] for k in keep}, "process_wall_s": wall, "process_cpu_s": cpu, "load": os.getloadavg()}


def bench_belle2_full(cfg) -> dict:
    """Profiled ln L of Belle II's full likelihood (231 nuisances, 6 Gauss-Newton steps) over a
    (m_hD, sin theta) grid of the singlet: the lean statistical model (analytic Jacobian, Woodbury
    solve) against the pyhf-backed one in the same run; agreement over the grid; memory per point
    (XLA's temporary buffers of the compiled vmapped profile, divided by the points)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import hpjax
    from benchmarks._timing import rate, repeat
    from hpjax.likelihood.belle2_full import Belle2Full

    n_m, n_s = (20, 10) if cfg.quick else (50, 40)
    masses, sins = np.geomspace(0.1, 4.5, n_m), np.geomspace(1e-3, 2e-2, n_s)
    M, S = (a.ravel() for a in np.meshgrid(masses, sins, indexing="ij"))
    lean, ref = Belle2Full(backend="lean"), Belle2Full(backend="pyhf")
    spec = jax.jit(jax.vmap(lambda m, s: lean.np_yields(lean.spectrum(hpjax.SingletHiggsPortal(m, s, 1.0, 0.0)))))
    ys = spec(jnp.asarray(M), jnp.asarray(S))
    out = {"grid": [n_m, n_s], "n_points": int(len(M)), "steps": 6}
    n = len(M)
    for name, b, block in (("lean", lean, 256), ("pyhf", ref, 32)):
        one = jax.vmap(lambda y, b=b: b.profile(y, 1.0, steps=6)[0])
        f = jax.jit(one)
        pad = jnp.concatenate([ys, jnp.repeat(ys[-1:], -n % block, axis=0)])
        blocks = pad.reshape(-1, block, ys.shape[-1])
        t0 = time.perf_counter()
        c = f.lower(blocks[0]).compile()
        compile_s = time.perf_counter() - t0
        vals = []

        def run(c=c, blocks=blocks, vals=vals):
            vals[:] = [c(x) for x in blocks]
            jax.block_until_ready(vals)

        # the pyhf path is timed once over the grid (minutes); the lean one cfg.runs times
        timing = repeat(run, runs=1 if name == "pyhf" else cfg.runs, warmup=0)
        mem = c.memory_analysis()
        out[name] = {
            "pts_per_s": rate(n, timing),
            "compile_s": compile_s,
            "block": block,
            "temp_bytes_per_point": mem.temp_size_in_bytes / block,
        }
        out[name + "_values"] = np.concatenate([np.asarray(v) for v in vals])[:n]
        _log(
            f"belle2_full {name}: {out[name]['pts_per_s']['median']:.0f} profiled points/s over {n} points, "
            f"{out[name]['temp_bytes_per_point'] / 1e6:.3f} MB/point, compilation {compile_s:.0f} s"
        )
    diff = np.abs(out.pop("lean_values") - out.pop("pyhf_values"))
    out["max_abs_diff_lnL"] = float(np.max(diff))
    out["speedup"] = out["lean"]["pts_per_s"]["median"] / out["pyhf"]["pts_per_s"]["median"]
    _log(
        f"belle2_full: lean {out['speedup']:.0f}x pyhf; max |ln L lean - pyhf| = {out['max_abs_diff_lnL']:.1e} "
        f"over {n} points"
    )
    out["commands"] = _belle2_full_commands(("lean",) if cfg.quick else ("lean", "pyhf"))
    return out


def _belle2_full_commands(backends) -> dict:
    """Wall time of ``hpjax fit fits/belle2_full_fit.toml`` and ``hpjax profile
    fits/belle2_full_profile_mhD.toml`` (100 masses) per backend: fresh processes without the
    persistent compilation cache (compilation included), outputs in a temporary directory."""
    import re

    import numpy as np

    out = {}
    exe = str(Path(sys.executable).with_name("hpjax"))
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            row = {}
            for task, name in (("fit", "belle2_full_fit.toml"), ("profile", "belle2_full_profile_mhD.toml")):
                text = (ROOT / "fits" / name).read_text()
                text = text.replace("[likelihood.belle2_full]\n", f'[likelihood.belle2_full]\nbackend = "{backend}"\n')
                text = re.sub(r'directory = ".*"', f'directory = "{tmp}/{backend}_{task}"', text)
                path = Path(tmp) / f"{backend}_{name}"
                path.write_text(text)
                t0 = time.perf_counter()
                r = subprocess.run([exe, task, str(path)], env=env, capture_output=True, text=True)
                wall = time.perf_counter() - t0
                res = (
                    json.loads((Path(tmp) / f"{backend}_{task}" / f"{task}.json").read_text())
                    if r.returncode == 0
                    else {}
                )
                row[task] = {"wall_s": wall, "rc": r.returncode}
                if task == "fit" and res:
                    row[task].update(chi2=res["chi2"], params=res["params"], errors=res["errors"])
                elif res:
                    row[task].update(delta_chi2=res["delta_chi2"], converged=all(res["converged"]))
                _log(f"belle2_full {backend}: hpjax {task} {name} {wall:.1f} s (rc {r.returncode})")
            out[backend] = row
    if all(b in out and out[b]["profile"].get("delta_chi2") for b in ("lean", "pyhf")):
        d = np.abs(np.subtract(out["lean"]["profile"]["delta_chi2"], out["pyhf"]["profile"]["delta_chi2"]))
        out["max_abs_diff_profile_delta_chi2"] = float(np.max(d))
    return out


# ---- report ------------------------------------------------------------------------------------
def _int_list(text: str) -> list[int]:
    """'1e6,1e7' -> [1000000, 10000000] (argparse type: positive whole numbers)."""
    out = []
    for part in text.split(","):
        try:
            v = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a number") from None
        if v < 1 or v != int(v):
            raise argparse.ArgumentTypeError(f"{part!r} is not a whole number >= 1")
        out.append(int(v))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, for development (minutes)")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per figure (after one warm-up)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    ap.add_argument(
        "--many-chains",
        type=_int_list,
        default=None,
        help="chain counts of the vectorised many-chain NUTS runs, comma-separated (default 8 on a CPU, "
        "64,256,1024 on a GPU)",
    )
    ap.add_argument(
        "--scan-sizes",
        type=_int_list,
        default=None,
        help="grid sizes of the scan section's timed hpjax runs, comma-separated, e.g. 1e6,1e7,1e8 (default "
        "1e4,1e5,1e6 on a CPU, 1e4,1e6,1e7,1e8 on a GPU); the largest is the headline",
    )
    ap.add_argument(
        "--report-only",
        type=Path,
        metavar="RESULTS_JSON",
        help="only rewrite the markdown report of an earlier run's results.json",
    )
    cfg = ap.parse_args(argv)
    if cfg.report_only:
        from benchmarks.report import write_report

        res = json.loads(cfg.report_only.read_text())
        stem = cfg.report_only.stem
        write_report(res, cfg.report_only.with_name("RESULTS.md" if stem == "results" else f"{stem.upper()}.md"))
        return 0
    sections = [s for s in cfg.sections.split(",") if s]
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {bad}; valid: {list(SECTIONS)}")
    if cfg.runs < 1:
        ap.error("--runs must be >= 1")
    _configure_jax(cfg.device)
    import jax

    if cfg.device == "gpu" and jax.devices()[0].platform != "gpu":
        raise SystemExit(f"--device gpu: no GPU visible to JAX (devices: {jax.devices()})")
    t_start = time.perf_counter()
    results = {
        "machine": _machine(),
        "config": {"quick": cfg.quick, "device": cfg.device, "runs": cfg.runs, "sections": sections},
        "targets": TARGETS,
    }
    _log(
        f"hpjax benchmarks on {results['machine']['cpu']} ({os.cpu_count()} cores), JAX devices "
        f"{results['machine']['jax_devices']}"
    )
    funcs = {
        "scan": bench_scan if os.environ.get(_FORWARD_ENV) or cfg.device != "cpu" else _scan_in_own_process,
        "cli_scan": bench_cli_scan,
        "gradient": bench_gradient,
        "nuts": bench_nuts,
        "emcee": bench_emcee,
        "compile": bench_compile,
        "import": bench_import,
        "memory": bench_memory,
        "belle2_full": bench_belle2_full,
        "hypotest": bench_hypotest,
    }
    for s in sections:
        t0 = time.perf_counter()
        try:
            results[s] = funcs[s](cfg)
        except Exception as e:  # noqa: BLE001 - record and go on: one broken section must not hide the rest
            import traceback

            traceback.print_exc()
            results[s] = {"error": f"{type(e).__name__}: {e}"}
        results[s]["section_wall_s"] = time.perf_counter() - t0
        _log(f"{s}: {results[s]['section_wall_s']:.0f} s")
    results["machine"]["load_average_end"] = os.getloadavg()
    results["total_wall_s"] = time.perf_counter() - t_start
    stem = "results_quick" if cfg.quick else "results"
    if cfg.device == "gpu":
        stem += "_gpu"
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / f"{stem}.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    from benchmarks.report import write_report

    md = write_report(results, cfg.out / ("RESULTS.md" if stem == "results" else f"{stem.upper()}.md"))
    if not os.environ.get(_FORWARD_ENV):  # the scan section's process: its parent reports
        print(md)
    _log(f"done in {results['total_wall_s']:.0f} s: {cfg.out / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
