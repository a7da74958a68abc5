"""Fit specifications: the TOML files in ``fits/`` that ``hpjax fit|profile|sample|cite`` run.

Every key is checked before any computation starts; an error names the file, the key, the bad
value and what is allowed. Layout (all sections but ``[model]`` optional)::

    [fit]                       # name, description
    [model]                     # name = "singlet" | "dark_abelian"
    [model.parameters]          # a value for every model parameter (fixed value or start)
    [free.<param>]              # range = [lo, hi], scale = "log" | "linear", prior = "log_uniform" | "uniform"
    [likelihood]                # dataset, terms, conventions, higgs_scenario, nuisances,
                                # formfactors, prescription, kl_convention
    [likelihood.belle2_full]    # nuisances = "profile" | "float", sm, smoothing, steps
    [task.fit]                  # n_starts, seed, max_iter, ftol (optional value tolerance in chi2)
    [task.profile]              # [task.profile.poi.<param>] range, points, scale; ftol
    [task.sample]               # num_warmup, num_samples, num_chains, seed, target_accept, dense_mass,
                                # max_tree_depth, segments
    [output]                    # directory

>>> from hpjax.spec import load_spec
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "bad.toml"
>>> _ = p.write_text('[model]\\nname = "singlet"\\n[model.parameters]\\nm_hD = 1.0\\nsin_theta = 3.0\\ny_D = 1.0\\nm_chi = 0.0\\n')
>>> load_spec(p)
Traceback (most recent call last):
...
hpjax.spec.SpecError: bad.toml: key 'model.parameters.sin_theta': sin_theta = 3.0 is outside the allowed range [-1, 1]
"""

from __future__ import annotations

import pathlib
import tomllib
from dataclasses import dataclass, field

from .decays import KL_CONVENTIONS, PRESCRIPTIONS
from .inputs import Inputs, formfactor_sets
from .likelihood.likelihood import BELLE2_FULL_DEFAULTS, SM_NUISANCE, TERM_NAMES, belle2_full_option_problem
from .likelihood.measurements import list_datasets
from .likelihood.names import HIGGS_SCENARIOS, UL_CONVENTIONS
from .models import MODELS

__all__ = ["SpecError", "FitSpec", "load_spec"]

_SECTIONS = {"fit", "model", "free", "likelihood", "task", "output", "plot", "hypotest"}  # hypotest: hpjax hypotest
PLOT_KINDS = ("fig1", "fig2", "fig4", "belle2_full")
_LIK_KEYS = {
    "dataset",
    "terms",
    "conventions",
    "higgs_scenario",
    "nuisances",
    "formfactors",
    "prescription",
    "kl_convention",
    "belle2_full",
}
_FREE_KEYS = {"range", "scale", "prior"}
_TASK_KEYS = {
    "fit": {"n_starts": int, "seed": int, "max_iter": int, "ftol": float},
    "profile": {"poi": dict, "n_starts": int, "seed": int, "max_iter": int, "ftol": float},
    "sample": {
        "num_warmup": int,
        "num_samples": int,
        "num_chains": int,
        "seed": int,
        "target_accept": float,
        "dense_mass": bool,
        "max_tree_depth": int,
        "segments": int,
    },
    "scan": {"axes": dict, "profile": list, "chunk_size": int, "observables": list},
}
_PLOT_KEYS = {"kind": str, "title": str, "formats": list}


class SpecError(ValueError):
    """A fit specification with a typo, a missing field or a value outside its domain."""


@dataclass
class FitSpec:
    path: pathlib.Path
    name: str
    description: str
    model_name: str
    model_params: dict
    free: dict  # name -> {"range": (lo, hi), "scale": str, "prior": str}
    likelihood: dict
    tasks: dict
    output_dir: pathlib.Path
    raw: dict = field(default_factory=dict)

    def model(self):
        return MODELS[self.model_name](**self.model_params)

    def inputs(self) -> Inputs:
        return Inputs.default(formfactors=self.likelihood.get("formfactors", "table2"))

    def build_likelihood(self):
        from .likelihood import Likelihood

        lk = self.likelihood
        return Likelihood(
            self.model(),
            dataset=lk.get("dataset", "paper"),
            terms=lk.get("terms"),
            nuisances=tuple(lk.get("nuisances", ())),
            free=tuple(self.free),
            conventions=lk.get("conventions"),
            higgs_scenario=lk.get("higgs_scenario"),
            prescription=lk.get("prescription", "unified"),
            kl_convention=lk.get("kl_convention", "re"),
            inputs=self.inputs(),
            belle2_full=lk.get("belle2_full"),
        )

    def transforms(self, lik) -> dict:
        from .inference.optimize import Transform, default_transforms

        tr = default_transforms(lik)
        for n, f in self.free.items():
            tr[n] = Transform(f["scale"], *f["range"])
        return tr

    def priors(self) -> dict:
        from .inference.sample import Prior

        return {n: Prior(f["prior"], *f["range"]) for n, f in self.free.items()}


def _err(path, key, msg):
    raise SpecError(f"{pathlib.Path(path).name}: key '{key}': {msg}")


def _check_keys(path, where, table, allowed):
    if not isinstance(table, dict):
        _err(path, where, f"must be a table, got {type(table).__name__}")
    for k in table:
        if k not in allowed:
            _err(path, f"{where}.{k}" if where else k, f"unknown key; allowed: {sorted(allowed)}")


def _number(path, key, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        _err(path, key, f"must be a number, got {v!r}")
    return float(v)


def _range(path, key, v, log: bool):
    if not (isinstance(v, list) and len(v) == 2):
        _err(path, key, f"must be [low, high], got {v!r}")
    lo, hi = (_number(path, key, x) for x in v)
    if not lo < hi:
        _err(path, key, f"low = {lo} must be < high = {hi}")
    if log and lo <= 0:
        _err(path, key, f"a log range needs low > 0, got {lo}")
    return lo, hi


def _str_list(path, key, v):
    """A list of distinct strings (a bare string is not split into characters)."""
    if isinstance(v, str):
        _err(path, key, f"must be a list of strings, got the string {v!r}; write [{v!r}]".replace("'", '"'))
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        _err(path, key, f"must be a list of strings, got {v!r}")
    dup = sorted({x for x in v if v.count(x) > 1})
    if dup:
        _err(path, key, f"{dup} listed more than once; give each once")
    return v


def _choice(path, key, v, allowed):
    if v not in allowed:
        _err(path, key, f"{v!r} is not allowed; valid: {list(allowed)}")
    return v


def load_spec(path) -> FitSpec:
    """Read and validate a fit specification; raises :class:`SpecError` naming file and key."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such fit specification")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{path.name}: not a UTF-8 text file (byte {exc.start} is {data[exc.start]:#04x}); "
            f"a fit specification is TOML text"
        ) from None
    if "\x00" in text:
        raise SpecError(f"{path.name}: not a text file (it holds NUL bytes); a fit specification is TOML text")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path.name}: not valid TOML: {exc}") from None
    _check_keys(path, "", raw, _SECTIONS)

    fit = raw.get("fit", {})
    _check_keys(path, "fit", fit, {"name", "description"})

    if "model" not in raw:
        _err(path, "model", "missing section [model]")
    model = raw["model"]
    _check_keys(path, "model", model, {"name", "parameters"})
    if "name" not in model:
        _err(path, "model.name", f"missing; valid: {sorted(MODELS)}")
    mname = _choice(path, "model.name", model["name"], sorted(MODELS))
    cls = MODELS[mname]
    params = model.get("parameters")
    if params is None:
        _err(path, "model.parameters", f"missing; give {list(cls.PARAMS)}")
    _check_keys(path, "model.parameters", params, set(cls.PARAMS))
    missing = [p for p in cls.PARAMS if p not in params]
    if missing:
        _err(path, "model.parameters", f"missing parameter(s) {missing} of {mname}")
    params = {k: _number(path, f"model.parameters.{k}", v) for k, v in params.items()}
    try:
        cls(**params)
    except ValueError as exc:
        bad = next((p for p in cls.PARAMS if f" {p} = " in str(exc)), "")
        _err(path, f"model.parameters.{bad}", str(exc).split(": ", 1)[-1])

    free = {}
    for name, f in raw.get("free", {}).items():
        key = f"free.{name}"
        if name not in cls.PARAMS:
            _err(path, key, f"not a parameter of {mname}; valid: {list(cls.PARAMS)}")
        _check_keys(path, key, f, _FREE_KEYS)
        scale = _choice(path, f"{key}.scale", f.get("scale", "log"), ("log", "linear"))
        if "range" not in f:
            _err(path, f"{key}.range", "missing [low, high]")
        lo, hi = _range(path, f"{key}.range", f["range"], scale == "log")
        lo_d, hi_d, lo_inc, hi_inc = cls.DOMAIN[name]
        if lo < lo_d or hi > hi_d or (lo == lo_d and not lo_inc) or (hi == hi_d and not hi_inc):
            _err(
                path,
                f"{key}.range",
                f"[{lo}, {hi}] leaves the domain of {name} "
                f"({'[' if lo_inc else '('}{lo_d}, {hi_d}{']' if hi_inc else ')'})",
            )
        prior = _choice(
            path,
            f"{key}.prior",
            f.get("prior", "log_uniform" if scale == "log" else "uniform"),
            ("log_uniform", "uniform"),
        )
        if not lo <= params[name] <= hi:
            _err(
                path,
                f"model.parameters.{name}",
                f"start value {params[name]:g} is outside the free range [{lo:g}, {hi:g}] of free.{name}",
            )
        free[name] = {"range": (lo, hi), "scale": scale, "prior": prior}
    if not free:
        _err(path, "free", "no free parameter: give at least one [free.<param>] table")

    lk = raw.get("likelihood", {})
    _check_keys(path, "likelihood", lk, _LIK_KEYS)
    if "dataset" in lk:
        _choice(path, "likelihood.dataset", lk["dataset"], list_datasets())
    if "terms" in lk:
        _str_list(path, "likelihood.terms", lk["terms"])
        for t in lk["terms"]:
            _choice(path, "likelihood.terms", t, TERM_NAMES)
        if "belle2" in lk["terms"] and "belle2_full" in lk["terms"]:
            _err(path, "likelihood.terms", "'belle2' and 'belle2_full' describe the same measurement; choose one")
    b2 = lk.get("belle2_full", {})
    _check_keys(path, "likelihood.belle2_full", b2, set(BELLE2_FULL_DEFAULTS))
    for k, v in b2.items():
        problem = belle2_full_option_problem(k, v)
        if problem:
            _err(path, f"likelihood.belle2_full.{k}", problem)
    if not isinstance(lk.get("conventions", {}), dict):
        _err(path, "likelihood.conventions", f"must be a table {{term = convention}}, got {lk['conventions']!r}")
    for t, c in lk.get("conventions", {}).items():
        _choice(path, "likelihood.conventions", t, TERM_NAMES)
        _choice(path, f"likelihood.conventions.{t}", c, UL_CONVENTIONS)
    if "higgs_scenario" in lk:
        _choice(path, "likelihood.higgs_scenario", lk["higgs_scenario"], HIGGS_SCENARIOS)
    ff = _choice(path, "likelihood.formfactors", lk.get("formfactors", "table2"), sorted(formfactor_sets()))
    valid_nuis = sorted(set(Inputs.default(formfactors=ff).names) | {SM_NUISANCE})
    _str_list(path, "likelihood.nuisances", lk.get("nuisances", []))
    for n in lk.get("nuisances", []):
        _choice(path, "likelihood.nuisances", n, valid_nuis)
    if "prescription" in lk:
        _choice(path, "likelihood.prescription", lk["prescription"], PRESCRIPTIONS)
    if "kl_convention" in lk:
        _choice(path, "likelihood.kl_convention", lk["kl_convention"], KL_CONVENTIONS)

    tasks = {}
    task = raw.get("task", {})
    _check_keys(path, "task", task, set(_TASK_KEYS))
    for tname, t in task.items():
        _check_keys(path, f"task.{tname}", t, set(_TASK_KEYS[tname]))
        for k, typ in _TASK_KEYS[tname].items():
            if k in t and (not isinstance(t[k], typ) or (typ is not bool and isinstance(t[k], bool))):
                _err(path, f"task.{tname}.{k}", f"must be of type {typ.__name__}, got {t[k]!r}")
            low = 0 if k == "seed" else 1
            if k in t and typ is int and t[k] < low:
                _err(path, f"task.{tname}.{k}", f"must be >= {low}, got {t[k]}")
        if tname in ("profile", "scan"):
            axes = t.get("poi" if tname == "profile" else "axes", {})
            where = f"task.{tname}.{'poi' if tname == 'profile' else 'axes'}"
            if not 1 <= len(axes) <= (2 if tname == "profile" else 3):
                _err(path, where, f"give 1 to {2 if tname == 'profile' else 3} parameters, got {list(axes)}")
            for a, spec in axes.items():
                if a not in free:
                    _err(path, f"{where}.{a}", f"must be a free parameter; free: {list(free)}")
                _check_keys(path, f"{where}.{a}", spec, {"range", "points", "scale"})
                sc = _choice(path, f"{where}.{a}.scale", spec.get("scale", free[a]["scale"]), ("log", "linear"))
                _range(path, f"{where}.{a}.range", spec.get("range", list(free[a]["range"])), sc == "log")
                if not isinstance(spec.get("points", 0), int) or spec.get("points", 2) < 2:
                    _err(path, f"{where}.{a}.points", f"must be an integer >= 2, got {spec.get('points')!r}")
        tasks[tname] = t

    if "scan" in tasks:
        from .observables import OBSERVABLES

        for k in ("profile", "observables"):
            _str_list(path, f"task.scan.{k}", tasks["scan"].get(k, []))
        for n in tasks["scan"].get("profile", []):
            if n not in free or n in tasks["scan"].get("axes", {}):
                _err(
                    path,
                    "task.scan.profile",
                    f"{n!r} must be a free parameter that is not a scan axis; free: {list(free)}",
                )
        for o in tasks["scan"].get("observables", []):
            _choice(path, "task.scan.observables", o, list(OBSERVABLES))
    plot = raw.get("plot", {})
    _check_keys(path, "plot", plot, set(_PLOT_KEYS))
    if plot:
        if "kind" not in plot:
            _err(path, "plot.kind", f"missing; valid: {list(PLOT_KINDS)}")
        _choice(path, "plot.kind", plot["kind"], PLOT_KINDS)
        if not isinstance(plot.get("title", ""), str):
            _err(path, "plot.title", f"must be a string, got {plot['title']!r}")
        _str_list(path, "plot.formats", plot.get("formats", []))
        for f in plot.get("formats", []):
            _choice(path, "plot.formats", f, ("png", "pdf", "svg"))
    tasks["plot"] = plot

    out = raw.get("output", {})
    _check_keys(path, "output", out, {"directory"} | ({"formats"} if "hypotest" in raw else set()))
    name = fit.get("name", path.stem)
    out_dir = pathlib.Path(out.get("directory", f"results/{name}"))
    return FitSpec(path, name, fit.get("description", ""), mname, params, free, lk, tasks, out_dir, raw)


def axis_values(spec_axis: dict, free_entry: dict):
    """Grid of one profile/scan axis (numpy)."""
    import numpy as np

    scale = spec_axis.get("scale", free_entry["scale"])
    lo, hi = spec_axis.get("range", free_entry["range"])
    n = spec_axis.get("points", 20)
    return np.geomspace(lo, hi, n) if scale == "log" else np.linspace(lo, hi, n)
