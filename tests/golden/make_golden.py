"""Regenerate tests/golden/golden.npz: ln L, every term and every observable at random points.

Made once, from the commit before the issue-11 redesign (7fe7df5), so that the redesign keeps
every number: run it from a checkout of that commit,
    PYTHONPATH=<checkout> python tests/golden/make_golden.py
The points are drawn from a fixed seed inside the physical domain of each model, log-uniformly in
the masses and couplings (m_hD 1 MeV to 5 GeV, |sin theta| 1e-5 to 1e-2, y_D 1e-3 to 3, m_chi,
m_AD 1 MeV to 3 GeV, v_D 1 to 300 GeV). Both models, both datasets ("paper", "latest"), both
prescriptions ("unified", "paper"); all terms but belle2_full at N points, belle2_full (profiled,
pyhf backend) at a few points of the unified prescription.
"""

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from golden_points import DATASETS, MODEL_KINDS, N_BELLE2_FULL, N_POINTS, PRESCRIPTIONS, points  # noqa: E402

import hpjax  # noqa: E402
from hpjax.likelihood.likelihood import DEFAULT_TERMS  # noqa: E402


def main():
    out = {}
    for kind in MODEL_KINDS:
        cls = hpjax.models.MODELS[kind]
        pts = points(kind, N_POINTS)
        model0 = cls(**{k: float(v[0]) for k, v in pts.items()})
        for presc in PRESCRIPTIONS:
            liks = {
                ds: hpjax.Likelihood(model0, dataset=ds, terms=list(DEFAULT_TERMS), free=cls.PARAMS, prescription=presc)
                for ds in DATASETS
            }

            @jax.jit
            @jax.vmap
            def f(p):
                model = cls(**p)
                r = {"obs:" + k: v for k, v in hpjax.predict(model, prescription=presc).items()}
                for ds, lik in liks.items():
                    r.update({f"{ds}:{t}": v for t, v in lik.breakdown(p).items()})
                    r[f"{ds}:total"] = lik.log_likelihood(p)
                return r

            res = f({k: jnp.asarray(v) for k, v in pts.items()})
            for k, v in res.items():
                out[f"{kind}/{presc}/{k}"] = np.asarray(v)
        # belle2_full, profiled (pyhf backend at the time), a few points
        lik = hpjax.Likelihood(model0, dataset="paper", terms=["belle2_full"], free=cls.PARAMS)
        small = {k: jnp.asarray(v[:N_BELLE2_FULL]) for k, v in pts.items()}
        vals = jax.lax.map(lambda p: lik.log_likelihood(p), small)
        out[f"{kind}/unified/paper:belle2_full"] = np.asarray(vals)
    dest = pathlib.Path(__file__).resolve().parent / "golden.npz"
    np.savez_compressed(dest, **out)
    print(f"wrote {dest} ({len(out)} arrays)")


if __name__ == "__main__":
    main()
