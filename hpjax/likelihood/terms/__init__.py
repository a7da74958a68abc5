"""Likelihood terms: the :class:`~.base.Term` protocol, the registry from a measurement kind to
its class, and one class per kind (:mod:`.gaussian`, :mod:`.limits`, :mod:`.lfu`,
:mod:`.belle2_full`)."""

from .base import (
    TERM_CLASSES,
    Combined,
    Context,
    NuisanceGroup,
    Term,
    TermSetup,
    asimov_term,
    register,
    term_class,
)
from .belle2_full import Belle2FullTerm
from .gaussian import GaussianTerm
from .lfu import LFUTerm
from .limits import TableLimitTerm, UpperLimitTerm
from .mass_gaussian import MassGaussianTerm
from .nuisances import input_nuisances, sm_nuisance
from .offshell import OffshellTerm
from .relic import RelicTerm

__all__ = [
    "Term",
    "Context",
    "NuisanceGroup",
    "TermSetup",
    "register",
    "term_class",
    "TERM_CLASSES",
    "Combined",
    "asimov_term",
    "GaussianTerm",
    "UpperLimitTerm",
    "TableLimitTerm",
    "LFUTerm",
    "Belle2FullTerm",
    "RelicTerm",
    "MassGaussianTerm",
    "OffshellTerm",
    "input_nuisances",
    "sm_nuisance",
]
