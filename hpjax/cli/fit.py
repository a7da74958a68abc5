"""``hpjax fit | profile | sample``: a fit specification's best fit, profile likelihood and NUTS
posterior, each written with its metadata and figure to the specification's output directory."""

from __future__ import annotations

import time

from .common import Interrupted, check_writable, load_spec, metadata, write_json

__all__ = ["register"]


def register(sub) -> None:
    """Add fit, profile and sample to the subparsers ``sub``."""
    for name, func, text in (
        ("fit", cmd_fit, "best fit and Hessian errors of a fit specification"),
        ("profile", cmd_profile, "profile likelihood (task.profile.poi) of a fit specification"),
        ("sample", cmd_sample, "NUTS posterior (task.sample) of a fit specification"),
    ):
        t = sub.add_parser(name, help=text, description=text)
        t.add_argument("spec", help="fit specification, e.g. fits/singlet_profile_mhD.toml")
        if name == "sample":
            t.add_argument(
                "--show-z", action="store_true", help="also print the whitened nuisance variables nuisance_z[...]"
            )
        t.set_defaults(func=func)


def _best_fit(lik, transforms, opts):
    """BFGS from ``opts['n_starts']`` starts (task.fit or task.profile options)."""
    from ..inference import best_fit

    return best_fit(
        lik,
        transforms=transforms,
        n_starts=opts.get("n_starts", 8),
        seed=opts.get("seed", 0),
        max_iter=opts.get("max_iter", 500),
        ftol=opts.get("ftol"),
    )


def cmd_fit(args) -> int:
    import jax.numpy as jnp

    spec = load_spec(args.spec)
    lik = spec.build_likelihood()
    check_writable(spec.output_dir)
    opts = spec.tasks.get("fit", {})
    t0 = time.perf_counter()
    fit = _best_fit(lik, spec.transforms(lik), opts)
    print(f"{spec.name}: best fit of {lik}")
    print(fit.summary())
    parts = {k: float(v) for k, v in lik.breakdown({k: jnp.asarray(v) for k, v in fit.params.items()}).items()}
    print("  chi2 by term: " + ", ".join(f"{k} {-2 * v:.3g}" for k, v in parts.items()))
    out = spec.output_dir
    write_json(
        out / "fit.json",
        {
            "metadata": metadata(spec, "fit", opts.get("seed", 0)),
            "params": fit.params,
            "errors": fit.errors,
            "chi2": fit.chi2,
            "converged": fit.converged,
            "message": fit.message,
            "chi2_by_term": {k: -2 * v for k, v in parts.items()},
            "starts": fit.starts,
        },
    )
    from ..plotting import chi2_bar_figure

    chi2_bar_figure(parts, out / "fit.png", f"{spec.name}: chi2 by term at the best fit")
    print(f"wrote {out / 'fit.json'} and {out / 'fit.png'}  ({time.perf_counter() - t0:.1f} s)")
    return 0 if fit.converged else 1


def cmd_profile(args) -> int:
    import numpy as np

    from ..inference import profile
    from ..spec import axis_values

    spec = load_spec(args.spec)
    opts = spec.tasks.get("profile")
    if opts is None or "poi" not in opts:
        raise SystemExit(f"hpjax: {spec.path.name}: key 'task.profile.poi': missing; give the parameters of interest")
    lik = spec.build_likelihood()
    check_writable(spec.output_dir)
    tr = spec.transforms(lik)
    t0 = time.perf_counter()
    fit = _best_fit(lik, tr, opts)
    poi = {a: axis_values(s, spec.free[a]) for a, s in opts["poi"].items()}
    prof = profile(lik, poi, transforms=tr, fit=fit, max_iter=opts.get("max_iter", 300), ftol=opts.get("ftol"))
    print(f"{spec.name}: profile of {lik} in {prof.poi}")
    print(fit.summary())
    result = {
        "metadata": metadata(spec, "profile", opts.get("seed", 0)),
        "poi": prof.poi,
        "grid": {k: v.tolist() for k, v in prof.grid.items()},
        "chi2": prof.chi2.tolist(),
        "delta_chi2": prof.delta_chi2.tolist(),
        "chi2_min": prof.chi2_min,
        "best_fit": prof.best_fit,
        "profiled": {k: np.asarray(v).tolist() for k, v in prof.profiled.items()},
        "converged": np.asarray(prof.converged).tolist(),
    }
    if len(prof.poi) == 1:
        for cl in (0.68, 0.95):
            iv = prof.interval(cl)
            result[f"interval_{int(cl * 100)}"] = iv
            print(f"  {int(cl * 100)}% CL (Wilks) {prof.poi[0]}: " + ", ".join(f"[{a:.4g}, {b:.4g}]" for a, b in iv))
    if not np.all(prof.converged):
        print(f"  warning: {int(np.sum(~np.asarray(prof.converged)))} grid points did not converge")
    out = spec.output_dir
    write_json(out / "profile.json", result)
    from ..plotting import profile_figure

    profile_figure(prof, out / "profile.png", spec.name)
    print(f"wrote {out / 'profile.json'} and {out / 'profile.png'}  ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_sample(args) -> int:
    from ..inference import corner_plot, distributed, sample
    from ..inference.sample import SampleInterrupted
    from ..likelihood.likelihood import BELLE2_FULL_PREFIX

    distributed.use_all_cpu_cores()  # chains over every core, as hpjax scan (before JAX starts its backend)

    spec = load_spec(args.spec)
    opts = spec.tasks.get("sample", {})
    lik = spec.build_likelihood()
    out = spec.output_dir
    check_writable(out)
    t0 = time.perf_counter()
    num_samples = opts.get("num_samples", 1000)

    def save(res):
        res.to_netcdf(out / "posterior.nc")
        shown = []
        for n in lik.parameters():
            if n.startswith(BELLE2_FULL_PREFIX):
                continue
            pr = res.priors.get(n)
            shown.append(f"log10_{res.names[n]}" if pr is not None and pr.kind == "log_uniform" else n)
        corner_plot(res, out / "corner.png", var_names=shown)

    try:
        # the draws come in segments, so that a Ctrl-C keeps the finished ones
        res = sample(
            lik,
            spec.priors(),
            num_warmup=opts.get("num_warmup", 500),
            num_samples=num_samples,
            num_chains=opts.get("num_chains", 4),
            seed=opts.get("seed", 0),
            target_accept=opts.get("target_accept", 0.8),
            dense_mass=opts.get("dense_mass", False),
            max_tree_depth=opts.get("max_tree_depth", 10),
            segments=min(opts.get("segments", 4), num_samples),
            metadata=metadata(spec, "sample", opts.get("seed", 0)),
        )
    except SampleInterrupted as exc:
        if exc.result is None:
            raise Interrupted(
                "hpjax sample: interrupted before the first draws (warmup or compilation); nothing was written"
            ) from None
        save(exc.result)
        raise Interrupted(
            f"hpjax sample: interrupted; kept {exc.done} of {exc.total} draws per chain in "
            f"{out / 'posterior.nc'} and {out / 'corner.png'} (a partial run: check its R-hat)"
        ) from None
    print(f"{spec.name}: NUTS posterior of {lik}")
    # Belle II's 231 nuisances (belle2_full, nuisances = "float") are summarised in one line; the
    # full table is in posterior.nc
    b2_sites = {res.names[n] for n in lik.parameters() if n.startswith(BELLE2_FULL_PREFIX)}
    b2_rows = [r for r in res.summary.index if r in b2_sites or any(f"[{x}]" in r for x in b2_sites)]
    print(res.summary_text(show_z=args.show_z, drop=b2_rows))
    if b2_rows:
        sub = res.summary.loc[b2_rows]
        print(
            f"  ({len(b2_sites)} Belle II nuisances: max R-hat {sub['r_hat'].max():.4f}, min bulk ESS "
            f"{sub['ess_bulk'].min():.0f}; full table in posterior.nc)"
        )
    print(
        f"  max R-hat {res.max_r_hat:.4f}, min bulk ESS {res.min_ess_bulk:.0f}, min tail ESS "
        f"{res.min_ess_tail:.0f}, divergences {res.divergences} ({100 * res.divergence_fraction:.2f} %)"
    )
    for name, (lo, hi) in res.credible_intervals(0.68).items():
        if not name.startswith(BELLE2_FULL_PREFIX):
            print(f"  68% credible interval {name}: [{lo:.4g}, {hi:.4g}]")
    save(res)
    print(f"wrote {out / 'posterior.nc'} and {out / 'corner.png'}  ({time.perf_counter() - t0:.1f} s)")
    if not res.ok:
        for p in res.problems:
            print(f"  PROBLEM: {p}")
        return 1
    return 0
