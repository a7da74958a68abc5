"""Regenerate the derived package data of the Belle II full likelihood: ``published_fit.json``
(the published SM-shaped best fit, the warm start and chi2 zero of the ``belle2_full`` term).

Run ``python -m hpjax.likelihood.belle2.regenerate`` (~30 s); nothing here runs at import.
"""

from __future__ import annotations

import json
import pathlib

from .term import FIT_FILE, Belle2Full

__all__ = ["write_published_fit"]


def write_published_fit(path=None, backend: str = "lean") -> dict:
    """Refit the published model and write ``published_fit.json`` (default: into the package data)."""
    b = Belle2Full(backend=backend)
    fit = b.published_fit()
    doc = {
        "comment": "Published SM-shaped best fit of combined_likelihood.json (mu free, all 231 nuisances), by "
        "hpjax.likelihood.belle2_full.Belle2Full.published_fit (damped Gauss-Newton, float64). "
        "Derived data: the warm start and the chi2 zero of the belle2_full term.",
        "mu": fit["mu"],
        "mu_error": fit["mu_error"],
        "logpdf": fit["logpdf"],
        "decrement": fit["decrement"],
        "nuisance_names": b.nuisance_names,
        "nuisances": [float(x) for x in fit["nuisances"]],
    }
    path = pathlib.Path(path) if path else pathlib.Path(__file__).parents[2] / "data" / "belle2_knunu" / FIT_FILE
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return doc


if __name__ == "__main__":
    import jax

    jax.config.update("jax_enable_x64", True)
    d = write_published_fit()
    print(f"mu = {d['mu']:.4f} +- {d['mu_error']:.4f}, ln L = {d['logpdf']:.6f}")
