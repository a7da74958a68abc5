"""Belle II's B+ -> K+ nu nubar full likelihood, split by job: :mod:`.spectrum` (the new-physics
signal in generated-q^2 bins, the SM template), :mod:`.statmodel` (the lean HistFactory
evaluator), :mod:`.pyhf_backend` (pyhf's evaluation, the reference), :mod:`.term` (the
:class:`~.term.Belle2Full` likelihood and its profiles/fits), :mod:`.published` (the published
model with mu free), :mod:`.regenerate` (a script for the derived package data)."""
