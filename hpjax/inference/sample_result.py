"""The result of :func:`hpjax.inference.sample`: draws as an arviz InferenceData, the diagnostics
(R-hat, bulk/tail ESS, divergences) and what they say (:attr:`SampleResult.ok`, ``problems``,
``warnings``)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "SampleResult",
    "build_result",
    "netcdf_attrs",
    "arviz_quiet",
    "R_HAT_MAX",
    "DIVERGENCE_FRACTION_MAX",
    "ESS_PER_CHAIN_WARN",
    "NUISANCE_Z",
    "LOGLIK_SITE",
    "LOGLIK_DET",
]

#: thresholds of :attr:`SampleResult.ok`
R_HAT_MAX = 1.01
DIVERGENCE_FRACTION_MAX = 0.01
#: below this bulk/tail ESS per chain a warning (not a failure) is recorded
ESS_PER_CHAIN_WARN = 100
NUISANCE_Z = "nuisance_z"
LOGLIK_SITE = "log_likelihood"
LOGLIK_DET = "_log_likelihood_total"


def arviz_quiet():
    """arviz, imported without its FutureWarning about the coming 1.0 refactor (nothing hpjax can act on)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning)
        import arviz

    return arviz


# ---- the result -------------------------------------------------------------------------------
@dataclass
class SampleResult:
    """Posterior samples and diagnostics of :func:`sample`.

    ``idata`` has the groups posterior (sampled and deterministic sites), sample_stats
    (diverging, lp, energy, n_steps, tree_depth, acceptance_rate, step_size) and log_likelihood
    (``log_likelihood``: the total ln L per draw, chi2 convention, constraints excluded).
    ``ok`` is True iff max R-hat <= :data:`R_HAT_MAX` and the divergence fraction <=
    :data:`DIVERGENCE_FRACTION_MAX`; ``problems`` says what failed and by how much;
    ``warnings`` lists low effective sample sizes (they do not make ``ok`` False).
    ``names`` maps each physical parameter (``lik.parameters()``) to its posterior variable.
    """

    idata: object
    summary: object
    divergences: int
    divergence_fraction: float
    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    ok: bool
    problems: list
    warnings: list
    names: dict
    priors: dict
    metadata: dict
    num_chains: int
    num_samples: int
    wall_time_s: float
    _flat: dict = field(default_factory=dict, repr=False)

    @property
    def samples(self) -> dict:
        """name -> all draws (chains concatenated) of each physical parameter, as numpy."""
        if not self._flat:
            post = self.idata.posterior
            self._flat.update({n: np.asarray(post[v]).reshape(-1) for n, v in self.names.items()})
        return self._flat

    @property
    def ess_per_second(self) -> float:
        """min bulk ESS / wall time of the run (compilation included)."""
        return self.min_ess_bulk / self.wall_time_s if self.wall_time_s > 0 else float("nan")

    def credible_intervals(self, prob: float = 0.68) -> dict:
        """Equal-tailed ``prob`` intervals of the physical parameters: name -> (lo, hi)."""
        if not 0.0 < prob < 1.0:
            raise ValueError(f"prob = {prob!r} is outside the allowed range (0, 1)")
        q = [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0]
        return {n: tuple(float(x) for x in np.quantile(v, q)) for n, v in self.samples.items()}

    def summary_text(self, show_z: bool = False, drop=()) -> str:
        """The summary table as text: values (mean, sd, HDI, MCSE) in scientific notation, ESS as
        integers, R-hat to 4 decimals. The whitened ``nuisance_z[...]`` variables are shown only
        with ``show_z`` (their physical values have rows of their own); ``drop``: rows left out.

        >>> import pandas as pd
        >>> t = pd.DataFrame({"mean": [4.0e-6, 0.1], "sd": [2.29e-7, 1.0], "r_hat": [1.0004, 1.0], "ess_bulk": [812.4, 900.0]},
        ...                  index=["BR_Bp_to_Kpnunu_SM", "nuisance_z[BR_Bp_to_Kpnunu_SM]"])
        >>> print(SampleResult.summary_text(type("R", (), {"summary": t})()))
                                mean        sd  r_hat ess_bulk
        BR_Bp_to_Kpnunu_SM 4.000e-06 2.290e-07 1.0004      812
        """
        t = self.summary
        rows = [r for r in t.index if r not in set(drop) and (show_z or not str(r).startswith(f"{NUISANCE_Z}["))]
        t = t.loc[rows]
        fmt = {
            c: (lambda x: f"{x:.0f}")
            if c.startswith("ess")
            else (lambda x: f"{x:.4f}")
            if c == "r_hat"
            else (lambda x: f"{x:.3e}")
            for c in t.columns
        }
        return t.to_string(formatters=fmt)

    def to_netcdf(self, path) -> Path:
        """Write the InferenceData (metadata in the root and posterior attrs) to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.idata.to_netcdf(str(path))
        return path

    def __repr__(self):
        status = "ok" if self.ok else "NOT ok: " + "; ".join(self.problems)
        return (
            f"SampleResult({self.num_chains} chains x {self.num_samples} draws, max R-hat "
            f"{self.max_r_hat:.4f}, min ESS bulk {self.min_ess_bulk:.0f} / tail {self.min_ess_tail:.0f}, "
            f"{self.divergences} divergences; {status})"
        )


def netcdf_attrs(meta: Mapping) -> dict:
    """NetCDF attributes: str, int and float kept, everything else as a JSON string."""
    out = {}
    for k, v in meta.items():
        if isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
            out[str(k)] = v
        else:
            out[str(k)] = json.dumps(v, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    return out


def build_result(samples, stats, lik, priors, names, sampled, metadata, wall, settings) -> SampleResult:
    az = arviz_quiet()

    num_chains, num_samples = samples[LOGLIK_DET].shape[:2]
    ll = samples.pop(LOGLIK_DET)
    nuis = tuple(lik.nuisances)
    coords, dims = {}, {}
    if nuis:
        coords["nuisance"] = [names[n] for n in nuis]
        dims[NUISANCE_Z] = ["nuisance"]
    n_steps = stats["num_steps"]
    sample_stats = {
        "diverging": stats["diverging"].astype(bool),
        "lp": -stats["potential_energy"],
        "energy": stats["energy"],
        "n_steps": n_steps,
        "tree_depth": np.floor(np.log2(np.maximum(n_steps, 1))).astype(int) + 1,
        "acceptance_rate": stats["accept_prob"],
        "step_size": stats["adapt_state.step_size"],
    }
    info = {
        "created_by": "hpjax.inference.sample",
        "sampler": "numpyro NUTS",
        "parameters": json.dumps({n: names[n] for n in list(lik.free) + list(nuis)}),
        "sampled_sites": json.dumps(sampled),
        "priors": json.dumps({n: [p.kind, p.low, p.high] for n, p in priors.items()}),
        "nuisances": json.dumps(list(nuis)),
        "settings": json.dumps(settings),
        "wall_time_s": float(wall),
    }
    try:
        import hpjax

        info["hpjax_version"] = hpjax.__version__
    except Exception:  # noqa: BLE001
        pass
    attrs = netcdf_attrs({**info, **metadata})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = az.from_dict(
            posterior=samples,
            sample_stats=sample_stats,
            log_likelihood={"log_likelihood": ll},
            coords=coords,
            dims=dims,
        )
        idata.attrs = dict(attrs)
        idata.posterior.attrs.update(attrs)
        summary = az.summary(idata, var_names=list(samples), round_to="none")

    n_draws = num_chains * num_samples
    div = int(sample_stats["diverging"].sum())
    frac = div / n_draws
    r_hat = summary["r_hat"].to_numpy(dtype=float)
    max_r_hat = float(np.max(r_hat)) if np.all(np.isfinite(r_hat)) else float("nan")
    min_bulk = float(np.nanmin(summary["ess_bulk"].to_numpy(dtype=float)))
    min_tail = float(np.nanmin(summary["ess_tail"].to_numpy(dtype=float)))

    problems, warns = [], []
    if num_chains < 2:
        problems.append(
            f"R-hat needs at least 2 chains and this run has {num_chains}: it cannot show "
            f"convergence (run num_chains >= 2)"
        )
    elif not np.isfinite(max_r_hat):
        bad = list(summary.index[~np.isfinite(r_hat)])
        problems.append(f"R-hat could not be computed for {bad} (constant chains?)")
    elif max_r_hat > R_HAT_MAX:
        worst = summary["r_hat"].astype(float).idxmax()
        n_bad = int(np.sum(r_hat > R_HAT_MAX))
        problems.append(
            f"max R-hat = {max_r_hat:.3f} ({worst}) exceeds {R_HAT_MAX} by {max_r_hat - R_HAT_MAX:.3f}; "
            f"{n_bad} of {len(r_hat)} variables above the threshold: run longer chains"
        )
    if frac > DIVERGENCE_FRACTION_MAX:
        problems.append(
            f"{div} divergent transitions = {100 * frac:.2f} % of {n_draws} draws exceeds "
            f"{100 * DIVERGENCE_FRACTION_MAX:g} % (by {100 * (frac - DIVERGENCE_FRACTION_MAX):.2f} points): "
            f"raise target_accept or reparametrise"
        )
    want = ESS_PER_CHAIN_WARN * num_chains
    for label, val, col in (("bulk", min_bulk, "ess_bulk"), ("tail", min_tail, "ess_tail")):
        if not val >= want:
            worst = summary[col].astype(float).idxmin()
            warns.append(f"min ESS {label} = {val:.0f} ({worst}) is below {want} ({ESS_PER_CHAIN_WARN} per chain)")

    return SampleResult(
        idata=idata,
        summary=summary,
        divergences=div,
        divergence_fraction=frac,
        max_r_hat=max_r_hat,
        min_ess_bulk=min_bulk,
        min_ess_tail=min_tail,
        ok=not problems,
        problems=problems,
        warnings=warns,
        names=dict(names),
        priors=dict(priors),
        metadata=metadata,
        num_chains=int(num_chains),
        num_samples=int(num_samples),
        wall_time_s=float(wall),
    )
