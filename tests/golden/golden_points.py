"""The random points of the golden test (fixed seed; shared by make_golden.py and test_golden.py)."""

import numpy as np

N_POINTS = 1000
N_BELLE2_FULL = 12
MODEL_KINDS = ("singlet", "dark_abelian")
PRESCRIPTIONS = ("unified", "paper")
DATASETS = ("paper", "latest")

_RANGES = {  # log10 ranges
    "m_hD": (-3.0, np.log10(5.0)),
    "sin_theta": (-5.0, -2.0),
    "y_D": (-3.0, np.log10(3.0)),
    "m_chi": (-3.0, np.log10(3.0)),
    "v_D": (0.0, np.log10(300.0)),
    "m_AD": (-3.0, np.log10(3.0)),
}
_PARAMS = {"singlet": ("m_hD", "sin_theta", "y_D", "m_chi"), "dark_abelian": ("m_hD", "sin_theta", "v_D", "m_AD")}


def points(kind: str, n: int) -> dict:
    rng = np.random.default_rng(20261202 + len(kind))
    out = {}
    for p in _PARAMS[kind]:
        lo, hi = _RANGES[p]
        out[p] = 10.0 ** rng.uniform(lo, hi, n)
    out["sin_theta"] = out["sin_theta"] * rng.choice([-1.0, 1.0], n)
    # the belle2_full points: where the term has signal (m_hD 0.5 to 4 GeV, sin theta ~ 1e-3 to 1e-2)
    k = 12
    out["m_hD"][:k] = rng.uniform(0.5, 4.0, k)
    out["sin_theta"][:k] = 10.0 ** rng.uniform(-3.0, -2.0, k)
    return out
