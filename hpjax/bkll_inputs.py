"""The inputs of the SM B -> K(*) l+ l- rates (``hpjax.bkll``): the ``bkll_*`` entries of
``hpjax/data/formfactors/bkll.toml`` (EOS Wilson coefficients at mu_b = 4.2 GeV, the GRvDV2023 BSZ
form-factor coefficients and their covariance, pole masses, alpha_em), read and checked once.

The functions of ``hpjax.bkll`` take the usual ``Inputs``. The ``bkll_*`` entries are read from
``inputs`` when present and from the file otherwise (:func:`bkll_param`); ``with_bkll_inputs(inputs)``
returns an ``Inputs`` that carries them as leaves, so that they can be replaced, floated and
differentiated.

>>> from hpjax.bkll_inputs import bkll_input_info
>>> bkll_input_info()["bkll_mu_b"].value
4.2
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

import jax.numpy as jnp
import numpy as np

from .inputs import InputInfo, Inputs, parse_inputs

__all__ = ["bkll_input_info", "bkll_covariance", "with_bkll_inputs", "bkll_param"]

_DATA = ("formfactors", "bkll.toml")


@functools.cache
def _read() -> tuple[dict[str, InputInfo], dict[str, tuple[list[str], np.ndarray]]]:
    label = "hpjax/data/" + "/".join(_DATA)
    data = tomllib.loads(resources.files("hpjax.data").joinpath(*_DATA).read_text())
    cov_tables = data.pop("covariance", {})
    info = parse_inputs(data, label, ranges=False)
    covs = {}
    for tag, tab in cov_tables.items():
        names, cov = list(tab["names"]), np.asarray(tab["matrix"], dtype=float)
        unknown = [n for n in names if n not in info]
        if unknown:
            raise ValueError(f"{label}: covariance.{tag} names unknown entries {unknown}")
        if cov.shape != (len(names), len(names)) or not np.allclose(cov, cov.T):
            raise ValueError(f"{label}: covariance.{tag} must be a symmetric {len(names)}x{len(names)} matrix")
        if np.min(np.linalg.eigvalsh(cov)) <= 0:
            raise ValueError(f"{label}: covariance.{tag} is not positive definite")
        covs[tag] = (names, cov)
    return info, covs


def bkll_input_info() -> dict[str, InputInfo]:
    """Metadata (value, error, unit, source, note, scheme) of every ``bkll_*`` input."""
    return dict(_read()[0])


def bkll_covariance(names: list[str]) -> np.ndarray:
    """Covariance of the named ``bkll_*`` inputs: the GRvDV2023 blocks where they cover a pair, the
    squared errors on the diagonal otherwise (B -> K and B -> K* are uncorrelated in the fit)."""
    info, covs = _read()
    unknown = sorted(set(names) - set(info))
    if unknown:
        raise ValueError(f"unknown bkll input(s) {unknown}; valid names: {sorted(info)}")
    out = np.diag([info[n].error ** 2 for n in names])
    for block, cov in covs.values():
        idx = {n: block.index(n) for n in names if n in block}
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if a in idx and b in idx:
                    out[i, j] = cov[idx[a], idx[b]]
    return out


def with_bkll_inputs(inputs: Inputs | None = None) -> Inputs:
    """``inputs`` (default: ``Inputs.default()``) plus the ``bkll_*`` entries as pytree leaves.
    Entries already present in ``inputs`` are kept."""
    inputs = Inputs.default() if inputs is None else inputs
    values = {k: jnp.asarray(v.value, dtype=jnp.float64) for k, v in _read()[0].items()}
    values.update({k: inputs[k] for k in inputs.names})
    return Inputs(values, inputs.formfactors)


def bkll_param(inputs, name: str):
    """Input ``name`` from ``inputs`` if it carries it, else the central value of bkll.toml."""
    try:
        return inputs[name]
    except (AttributeError, KeyError):
        info = _read()[0]
        if name not in info:
            raise
        return jnp.asarray(info[name].value, dtype=jnp.float64)
