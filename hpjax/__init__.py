"""hpjax: differentiable Higgs-portal likelihoods for the Belle II B+ -> K+ nu nubar excess.

Physics of McKeen, Ng, Tuckler, arXiv:2312.00982, in pure jax.numpy (float64).

Importing hpjax switches on JAX's 64-bit mode (``jax_enable_x64``) for the whole process: rates
span some 30 orders of magnitude and q^2 integrals at thresholds need double precision. Code that
wants float32 elsewhere should run it in another process. The road from inputs to outputs, the
model and term protocols: docs/architecture.md.

>>> import hpjax
>>> model = hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.1)
>>> obs = hpjax.predict(model)
>>> 1e-5 < float(obs["BR(B+->K+inv)"]) < 5e-5
True
"""

import jax

jax.config.update("jax_enable_x64", True)  # see the module docstring

from .inputs import Inputs  # noqa: E402
from .invisible import InvisibleX  # noqa: E402
from .likelihood import Likelihood  # noqa: E402
from .models import DarkAbelianHiggs, SingletHiggsPortal  # noqa: E402
from .observables import OBSERVABLES, predict, solve_sin_theta  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Inputs",
    "SingletHiggsPortal",
    "DarkAbelianHiggs",
    "InvisibleX",
    "predict",
    "solve_sin_theta",
    "OBSERVABLES",
    "Likelihood",
    "__version__",
]
