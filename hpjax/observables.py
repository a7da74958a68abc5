"""predict(): the table of observables of a model point, one name each.

>>> import hpjax
>>> obs = hpjax.predict(hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.1))
>>> sorted(k for k in obs if k.startswith("BR(B"))
['BR(B+->K+hD)', 'BR(B+->K+inv)', 'BR(B0->K*0hD)', 'BR(B0->K*0inv)']
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .decays import branching_ratio, check_options, gamma_invisible_many, gamma_two_body
from .inputs import Inputs
from .kinematics import lifetime, safe_ratio
from .models import gamma_h_invisible, gamma_hD_invisible, gamma_hD_total
from .numerics.quadrature import DEFAULT_ORDER
from .widths import br_h_invisible, gamma_S_to_muons

__all__ = ["predict", "OBSERVABLES", "ON_REQUEST", "gamma_h_invisible", "solve_sin_theta"]

#: observable name -> (meson channel or None, description)
OBSERVABLES = {
    "BR(B+->K+inv)": "BR(B+ -> K+ + invisible) from h_D (on- or off-shell) and h exchange",
    "BR(B0->K*0inv)": "BR(B0 -> K*0 + invisible)",
    "BR(K+->pi+inv)": "BR(K+ -> pi+ + invisible)",
    "BR(KL->pi0inv)": "BR(K_L -> pi0 + invisible)",
    "BR(B+->K+hD)": "two-body production BR(B+ -> K+ h_D), any h_D decay",
    "BR(B0->K*0hD)": "two-body production BR(B0 -> K*0 h_D)",
    "BR(K+->pi+hD)": "two-body production BR(K+ -> pi+ h_D)",
    "BR(KL->pi0hD)": "two-body production BR(K_L -> pi0 h_D)",
    "BR(h->inv)": "BR(h -> invisible), eq. (20)",
    "BR(hD->inv)": "BR(h_D -> invisible)",
    "BR(hD->mumu)": "BR(h_D -> mu+ mu-)",
    "Gamma(hD)": "total h_D width [GeV]",
    "tau(hD)": "h_D proper lifetime [s]",
}

#: observables computed only when asked for (not in predict's default table)
ON_REQUEST = {
    "f_vis(B+->K+)": "fraction of B+ -> K+ A_D A_D with an A_D decaying inside Belle II (0 when eps is None)",
    "f_vis(B0->K*0)": "the same for B0 -> K*0 A_D A_D",
    "Omega_chi h^2": "relic abundance of chi from the Boltzmann equation (hpjax.cosmology; singlet model)",
}

_MESON = {
    "B+->K+": ("BR(B+->K+inv)", "BR(B+->K+hD)"),
    "B0->K*0": ("BR(B0->K*0inv)", "BR(B0->K*0hD)"),
    "K+->pi+": ("BR(K+->pi+inv)", "BR(K+->pi+hD)"),
    "KL->pi0": ("BR(KL->pi0inv)", "BR(KL->pi0hD)"),
}


def predict(
    model,
    inputs: Inputs | None = None,
    *,
    prescription: str = "unified",
    kl_convention: str = "re",
    n: int = DEFAULT_ORDER,
    observables=None,
) -> dict:
    """All observables of ``model`` as a dict of name -> array (see :data:`OBSERVABLES`).

    ``prescription`` ("unified" or "paper"), ``kl_convention`` ("re", "abs", "im") and the
    quadrature order ``n`` are static options. ``observables`` restricts the output to some names.
    Pure and differentiable in ``model`` and ``inputs``.
    """
    inputs = Inputs.default() if inputs is None else inputs
    wanted = list(OBSERVABLES) if observables is None else list(observables)
    unknown = [o for o in wanted if o not in OBSERVABLES and o not in ON_REQUEST]
    if unknown:
        raise ValueError(f"unknown observable(s) {unknown}; valid: {list(OBSERVABLES) + list(ON_REQUEST)}")
    own = getattr(model, "predictions", None)
    if own is not None:  # a model that predicts its own observables (hpjax.invisible.InvisibleX)
        return own(inputs, wanted)
    # one compiled program per (model structure, shapes, options): an eager call compiles once
    # (instead of dispatching ~4000 operations one by one), and inside a caller's jit, vmap or grad
    # the trace of the physics is reused from JAX's cache
    check_options(prescription, kl_convention)
    out = _predict(model, inputs, tuple(wanted), prescription, kl_convention, int(n))
    return {k: out[k] for k in wanted}


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _predict(model, inputs, wanted, prescription, kl_convention, n):
    """The observables ``wanted`` (validated names) of a model without its own predictions."""
    out = {}
    inv_channels = [ch for ch, (inv_name, _) in _MESON.items() if inv_name in wanted]
    if inv_channels:  # all channels through one vectorised q^2 integral
        g = gamma_invisible_many(inv_channels, model, inputs, prescription, kl_convention, n)
        for c, ch in enumerate(inv_channels):
            out[_MESON[ch][0]] = branching_ratio(ch, g[c], inputs)
            esc = model.escape_probability(inputs, ch)  # None: invisible by assumption
            out[_MESON[ch][0]] = out[_MESON[ch][0]] if esc is None else out[_MESON[ch][0]] * esc
    for ch in ("B+->K+", "B0->K*0"):
        if f"f_vis({ch})" in wanted:
            esc = model.escape_probability(inputs, ch)
            shape = jnp.broadcast_shapes(*(jnp.shape(v) for v in model.params().values()))
            out[f"f_vis({ch})"] = jnp.zeros(shape) if esc is None else 1.0 - esc
    if "Omega_chi h^2" in wanted:
        out["Omega_chi h^2"] = model.omega_h2(inputs)
    for channel, (_, prod_name) in _MESON.items():
        if prod_name in wanted:
            g2 = gamma_two_body(channel, model.m_hD, model.sin_theta, inputs, kl_convention)
            out[prod_name] = branching_ratio(channel, g2, inputs)
    if "BR(h->inv)" in wanted:
        out["BR(h->inv)"] = br_h_invisible(gamma_h_invisible(model, inputs), model.sin_theta, inputs)
    if any(k in wanted for k in ("BR(hD->inv)", "BR(hD->mumu)", "Gamma(hD)", "tau(hD)")):
        gtot = gamma_hD_total(model, inputs)
        out["BR(hD->inv)"] = safe_ratio(gamma_hD_invisible(model), gtot)
        out["BR(hD->mumu)"] = safe_ratio(gamma_S_to_muons(model.m_hD, model.sin_theta, inputs), gtot)
        out["Gamma(hD)"] = gtot
        out["tau(hD)"] = lifetime(gtot, inputs)
    return {k: out[k] for k in wanted}


def solve_sin_theta(
    model, target, observable: str = "BR(B+->K+inv)", inputs: Inputs | None = None, iterations: int = 6, **options
):
    """sin(theta) at which ``observable`` equals ``target`` (other parameters of ``model`` fixed),
    by fixed-point iteration on BR ~ sin^2(theta). Differentiable (fixed iteration count)."""
    inputs = Inputs.default() if inputs is None else inputs
    s = jnp.asarray(model.sin_theta, dtype=jnp.float64)
    for _ in range(iterations):
        m = type(model).tree_unflatten(None, [s if p == "sin_theta" else v for p, v in model.params().items()])
        br = predict(m, inputs, observables=[observable], **options)[observable]
        s = s * jnp.sqrt(target / br)
    return s
