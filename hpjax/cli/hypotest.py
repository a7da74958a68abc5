"""``hpjax hypotest SPEC``: upper limits and significances for an invisible X in Belle II's full
likelihood, from a TOML specification (``fits/invisible_x_limits.toml``,
``fits/belle2_significance.toml``), and limits on a model parameter from every term of a dataset
(``fits/singlet_limits.toml``), written as NetCDF and CSV with metadata, and figures.

The specification::

    [hypotest]
    task = "limits"            # or "significance"
    masses = {start = 0.1, stop = 4.5, num = 23}   # m_X [GeV], or a list
    widths = [0.0, 0.01]       # Gamma_X / m_X (limits: one curve each; significance: the first)
    cl = 0.95                  # limits
    mu_sm = 1.0                # SM signal strength (1: Belle II's SM template, as published)
    toys = 1000                # significance: background-only toys for the global p-value
    seed = 0
    [output]
    directory = "results/invisible_x_limits"
    formats = ["png"]

Task ``model_limits``: CLs limits on a model parameter (``poi``, default sin_theta) versus another
(``mass``, default m_hD; ``masses`` are its values) from any likelihood of a fit specification: the
file also has the fit specification's ``[model]``, ``[free.*]`` (the POI and the mass must be free;
the POI's range [lo, hi] sets its scale: mu = (poi / lo)^2 within [0, (hi / lo)^2]) and
``[likelihood]`` sections (:func:`hpjax.inference.adapters.poi_likelihood`).
"""

from __future__ import annotations

import pathlib
import time
import tomllib

from .common import check_writable, write_json

__all__ = ["register", "read_spec", "TASKS"]

TASKS = ("limits", "significance", "model_limits")
_KEYS = {"task", "masses", "widths", "cl", "mu_sm", "toys", "seed", "batch", "poi", "mass"}


def register(sub) -> None:
    """Add ``hypotest`` to the subparsers ``sub``."""
    text = (
        "CLs upper limits or local/global significance of an invisible X (Belle II full likelihood), "
        "or CLs limits on a model parameter from every term of a dataset"
    )
    t = sub.add_parser("hypotest", help=text, description=text)
    t.add_argument("spec", help="hypotest specification, e.g. fits/invisible_x_limits.toml")
    t.add_argument("--toys", type=int, default=None, help="override hypotest.toys")
    t.set_defaults(func=cmd_hypotest)


def _fail(path, msg):
    raise SystemExit(f"hpjax hypotest: {path}: {msg}")


def read_spec(path) -> dict:
    """The checked specification (a one-line SystemExit naming the key on bad input)."""
    import numpy as np

    path = pathlib.Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        _fail(path, "no such file")
    except tomllib.TOMLDecodeError as exc:
        _fail(path, f"not valid TOML ({exc})")
    h = doc.get("hypotest")
    if not isinstance(h, dict):
        _fail(path, "missing section [hypotest]")
    bad = sorted(set(h) - _KEYS)
    if bad:
        _fail(path, f"unknown key(s) {bad} in [hypotest]; valid: {sorted(_KEYS)}")
    task = h.get("task")
    if task not in TASKS:
        _fail(path, f"hypotest.task = {task!r}; valid: {list(TASKS)}")
    m = h.get("masses", {"start": 0.1, "stop": 4.5, "num": 23})
    try:
        masses = np.linspace(float(m["start"]), float(m["stop"]), int(m["num"])) if isinstance(m, dict) else m
        masses = np.asarray(masses, dtype=float)
    except (KeyError, TypeError, ValueError):
        _fail(path, f"hypotest.masses = {m!r}; give a list or {{start, stop, num}}")
    if masses.ndim != 1 or masses.size < 2 or masses.min() < 0 or masses.max() > 4.78:
        _fail(
            path,
            f"hypotest.masses: {masses.size} values in [{masses.min():g}, {masses.max():g}]; allowed range [0, 4.78] GeV, at least 2",
        )
    widths = [float(w) for w in h.get("widths", [0.0])]
    if not widths or min(widths) < 0 or max(widths) > 10:
        _fail(path, f"hypotest.widths = {widths}; allowed range [0, 10] (Gamma_X / m_X)")
    cl = float(h.get("cl", 0.95))
    if not 0 < cl < 1:
        _fail(path, f"hypotest.cl = {cl}; allowed 0 < cl < 1")
    toys, batch = int(h.get("toys", 1000)), int(h.get("batch", 500))
    if toys < 1 or batch < 1:
        _fail(path, f"hypotest.toys = {toys}, batch = {batch}; allowed: integers >= 1")
    out = doc.get("output", {})
    fit, poi, mass = None, h.get("poi", "sin_theta"), h.get("mass", "m_hD")
    if task == "model_limits":
        from ..spec import SpecError, load_spec

        try:
            fit = load_spec(path)
        except SpecError as exc:
            raise SystemExit(f"hpjax hypotest: {exc}") from None
        for key, name in (("poi", poi), ("mass", mass)):
            if name not in fit.free:
                _fail(
                    path,
                    f"hypotest.{key} = {name!r} must be a free parameter ([free.{name}]); free: {sorted(fit.free)}",
                )
        lo, hi = fit.free[mass]["range"]
        if masses.min() < lo or masses.max() > hi:
            _fail(
                path,
                f"hypotest.masses: [{masses.min():g}, {masses.max():g}] leaves free.{mass}.range [{lo:g}, {hi:g}]",
            )
        if fit.free[poi]["range"][0] <= 0:
            _fail(path, f"free.{poi}.range: the lower end sets the POI's scale; allowed > 0")
    return {
        "fit": fit,
        "poi": poi,
        "mass": mass,
        "path": path,
        "task": task,
        "masses": masses,
        "widths": widths,
        "cl": cl,
        "mu_sm": float(h.get("mu_sm", 1.0)),
        "toys": toys,
        "batch": batch,
        "seed": int(h.get("seed", 0)),
        "directory": pathlib.Path(out.get("directory", f"results/{path.stem}")),
        "formats": list(out.get("formats", ["png"])),
    }


def _meta(spec) -> dict:
    import platform

    import jax

    import hpjax

    return {
        "hpjax_version": hpjax.__version__,
        "jax_version": jax.__version__,
        "task": f"hypotest {spec['task']}",
        "spec": str(spec["path"]),
        "spec_text": spec["path"].read_text(),
        "likelihood": "belle2_full (Belle II's published likelihood, 231 nuisances profiled), InvisibleX"
        if spec["fit"] is None
        else repr(spec["likelihood"]),
        **({"br_unit": 1e-6} if spec["fit"] is None else {"poi": spec["poi"], "mass": spec["mass"]}),
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _limits(spec):
    import jax
    import jax.numpy as jnp

    from ..inference.adapters import invisible_x_likelihood
    from ..inference.hypotest import upper_limit

    ms = jnp.asarray(spec["masses"])

    def lim(m, w):
        lik = invisible_x_likelihood(m, w, mu_sm=spec["mu_sm"])
        return upper_limit(lik, cl=spec["cl"], scan=jnp.linspace(0.5, 40.0, 24), iters=14)

    f = jax.jit(jax.vmap(lim, in_axes=(0, None)))  # one compilation for every width
    res = {}
    for w in spec["widths"]:
        r = f(ms, w)
        res[w] = {"observed": r["observed"], "expected": r["expected"]}
        print(
            f"  width/m_X = {w:g}: observed limit {float(jnp.nanmin(r['observed'])):.2f}e-6 "
            f"to {float(jnp.nanmax(r['observed'])):.2f}e-6"
        )
    return res


def _model_limits(spec):
    """Observed and expected (NSIGMA order) limits on the POI at each mass, in the POI's units."""
    import jax
    import jax.numpy as jnp

    from ..inference.adapters import poi_likelihood
    from ..inference.hypotest import upper_limit

    lik = spec["likelihood"]
    lo, hi = spec["fit"].free[spec["poi"]]["range"]
    top = (hi / lo) ** 2
    scan = jnp.geomspace(1e-2, top, 40)

    def lim(m):
        t = poi_likelihood(lik, spec["poi"], at={spec["mass"]: m}, scale=lo, bounds=(0.0, top))
        r = upper_limit(t, cl=spec["cl"], scan=scan, iters=20)
        return lo * jnp.sqrt(r["observed"]), lo * jnp.sqrt(r["expected"])

    obs, exp = jax.jit(jax.vmap(lim))(jnp.asarray(spec["masses"]))
    print(f"  {lik!r}: observed limit on {spec['poi']} {float(jnp.nanmin(obs)):.3g} to {float(jnp.nanmax(obs)):.3g}")
    return obs, exp


def _significance(spec, n_toys):
    import jax
    import jax.numpy as jnp

    from ..inference.adapters import invisible_x_likelihood, invisible_x_q0_curve
    from ..inference.lookelsewhere import global_significance

    ms, w = jnp.asarray(spec["masses"]), spec["widths"][0]
    null = invisible_x_likelihood(ms[0], w, mu_sm=spec["mu_sm"])
    z0 = null.profile(jnp.asarray(0.0), null.data)[1]
    curve = invisible_x_q0_curve(ms, w, mu_sm=spec["mu_sm"])
    batch = min(spec["batch"], n_toys)
    n_toys = -(-n_toys // batch) * batch
    g = jax.jit(
        lambda k: global_significance(
            None, lambda kk: null.sample(kk, 0.0, z0), null.data, ms, n_toys=n_toys, batch=batch, key=k, q0_curve=curve
        )
    )(jax.random.PRNGKey(spec["seed"]))
    q, br = jax.jit(curve)(null.data)
    return g, q, br, n_toys


def cmd_hypotest(args) -> int:
    import numpy as np
    import xarray as xr
    from jax.scipy.special import ndtr

    from ..plotting.limits import limit_figure, p0_figure

    spec = read_spec(args.spec)
    if spec["fit"] is not None:
        spec["likelihood"] = spec["fit"].build_likelihood()  # once: metadata, limits and the figure
    out = spec["directory"]
    check_writable(out)
    t0 = time.perf_counter()
    meta = _meta(spec)
    m = spec["masses"]
    if spec["task"] == "model_limits":
        obs, exp = (np.asarray(x) for x in _model_limits(spec))
        poi, mass = spec["poi"], spec["mass"]
        ds = xr.Dataset(
            {"observed": ((mass,), obs), "expected": ((mass, "nsigma"), exp)},
            coords={mass: m, "nsigma": [2.0, 1.0, 0.0, -1.0, -2.0]},
            attrs={k: str(v) for k, v in meta.items()},
        )
        ds.to_netcdf(out / "limits.nc", engine="h5netcdf")
        rows = [f"{mass},observed,exp_m2,exp_m1,exp_median,exp_p1,exp_p2"]
        rows += [",".join(f"{v:.6g}" for v in [mm, obs[j], *exp[j]]) for j, mm in enumerate(m)]
        (out / "limits.csv").write_text("\n".join(rows) + "\n")
        files = limit_figure(
            m,
            {f"observed ({', '.join(spec['likelihood'].terms)})": {"observed": obs, "expected": exp}},
            out / "limits",
            spec["formats"],
            ylabel=f"{spec['cl']:.0%} CL CLs limit on {poi}",
            xlabel=("$m_{h_D}$ [GeV]" if mass == "m_hD" else f"${mass}$ [GeV]") if mass.startswith("m_") else mass,
        )
    elif spec["task"] == "limits":
        res = _limits(spec)
        w = np.asarray(spec["widths"])
        obs = np.stack([np.asarray(res[x]["observed"]) for x in spec["widths"]])
        exp = np.stack([np.asarray(res[x]["expected"]) for x in spec["widths"]])
        ds = xr.Dataset(
            {
                "observed": (("width", "m_X"), obs * 1e-6),
                "expected": (("width", "m_X", "nsigma"), exp * 1e-6),
            },
            coords={"width": w, "m_X": m, "nsigma": [2.0, 1.0, 0.0, -1.0, -2.0]},
            attrs={k: str(v) for k, v in meta.items()},
        )
        ds.to_netcdf(out / "limits.nc", engine="h5netcdf")
        rows = ["width,m_X,observed,exp_m2,exp_m1,exp_median,exp_p1,exp_p2"]
        for i, x in enumerate(w):
            for j, mm in enumerate(m):
                rows.append(",".join(f"{v:.6g}" for v in [x, mm, obs[i, j] * 1e-6, *(exp[i, j] * 1e-6)]))
        (out / "limits.csv").write_text("\n".join(rows) + "\n")
        curves = {
            f"observed, $\\Gamma_X/m_X$ = {x:g}": {"observed": obs[i] * 1e-6, "expected": exp[i] * 1e-6}
            for i, x in enumerate(w)
        }
        files = limit_figure(
            m,
            curves,
            out / "limits",
            spec["formats"],
            ylabel=f"{spec['cl']:.0%} CL CLs limit on BR$(B^+\\to K^+X)\\,P_{{inv}}$",
        )
    else:
        n = spec["toys"] if args.toys is None else args.toys
        g, q, br, n = _significance(spec, n)
        p0 = np.asarray(ndtr(-np.sqrt(np.asarray(q))))
        glob = {k: float(v) for k, v in g.items() if np.ndim(v) == 0}
        ds = xr.Dataset(
            {"q0": ("m_X", np.asarray(q)), "p0": ("m_X", p0), "br_hat": ("m_X", np.asarray(br) * 1e-6)},
            coords={"m_X": m},
            attrs={**{k: str(v) for k, v in meta.items()}, **{k: v for k, v in glob.items()}, "n_toys": n},
        )
        ds.to_netcdf(out / "significance.nc", engine="h5netcdf")
        rows = ["m_X,q0,p0,br_hat"] + [
            f"{a:.6g},{b:.6g},{c:.6g},{d * 1e-6:.6g}" for a, b, c, d in zip(m, np.asarray(q), p0, np.asarray(br))
        ]
        (out / "significance.csv").write_text("\n".join(rows) + "\n")
        write_json(out / "significance.json", {"metadata": meta, "global": glob, "n_toys": n})
        if glob["p_global"] == 0.0:  # no toy reached the observed q0: a bound p < 1/n
            from scipy.stats import norm

            glob["p_global_upper_bound"], glob["Z_global_lower_bound"] = 1.0 / n, float(norm.isf(1.0 / n))
        i = int(np.argmax(np.asarray(q)))
        print(
            f"  best m_X = {m[i]:.3f} GeV, BR P_inv = {float(br[i]):.2f}e-6, Z_local = {np.sqrt(float(q[i])):.2f}, "
            f"Z_global = {glob['Z_global']:.2f} ({n} toys"
            + (f"; > {glob['Z_global_lower_bound']:.2f}" if "Z_global_lower_bound" in glob else "")
            + f"), Gross-Vitells {glob['Z_gross_vitells']:.2f}"
        )
        zg, pg = glob.get("Z_global_lower_bound", glob["Z_global"]), glob.get("p_global_upper_bound", glob["p_global"])
        files = p0_figure(m, p0, out / "p0", zg, pg, spec["formats"])
    print(
        f"hpjax hypotest {spec['task']}: wrote {out} ({', '.join(pathlib.Path(f).name for f in files)}) in {time.perf_counter() - t0:.0f} s"
    )
    return 0
