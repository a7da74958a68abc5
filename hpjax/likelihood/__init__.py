"""Likelihood components of hpjax: the measurement database, term building blocks and the
:class:`Likelihood` that sums them."""

from .likelihood import SM_NUISANCE, TERM_NAMES, Likelihood

__all__ = ["Likelihood", "TERM_NAMES", "SM_NUISANCE"]
