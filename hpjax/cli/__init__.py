"""The ``hpjax`` command.

    hpjax demo [--out DIR]        observables at the paper's benchmark points, the sin(theta) that
                                  reproduces Belle II, the paper's numbers, results JSON + figure
    hpjax predict MODEL k=v ...   observables of one model point (MODEL: singlet | dark_abelian)
    hpjax paper                   the paper's stated numbers against hpjax
    hpjax bounds                  hard-cut sin(theta) bounds of each term, `paper` vs `latest` data
    hpjax cite FITSPEC.toml       the references behind every input and measurement a fit uses
    hpjax fit FITSPEC.toml        best fit (BFGS from many starts) with Hessian errors
    hpjax profile FITSPEC.toml    1D/2D profile likelihood with Wilks intervals
    hpjax sample FITSPEC.toml     NUTS posterior; exits 1 when R-hat > 1.01 or divergences > 1 %
    hpjax scan FITSPEC.toml       grid scan (task.scan), chunked, sharded over all devices, resumable
    hpjax plot FITSPEC.toml       the paper's figure (plot.kind) from the scan's scan.nc, or Fig. 3
    hpjax hypotest SPEC.toml      upper limits / significances of an invisible X (Belle II full)

Layout: :mod:`.main` parses and dispatches (and turns Ctrl-C into one line); :mod:`.common` holds
what the commands share (strict JSON, writable-directory checks, run metadata, fit
specifications and model points); one module per group of commands: :mod:`.demo` (demo,
predict, paper, bounds, cite), :mod:`.fit` (fit, profile, sample), :mod:`.scan` (scan, plot),
:mod:`.hypotest` (hypotest).
Figures are drawn by :mod:`hpjax.plotting`, never here.

Adding a command: write ``hpjax/cli/<name>.py`` with

    def register(sub) -> None:
        t = sub.add_parser("<name>", help="...", description="...")
        t.add_argument("spec", help="fit specification")
        t.set_defaults(func=cmd_<name>)

    def cmd_<name>(args) -> int:  # the exit status
        spec = load_spec(args.spec)  # from .common: bad input ends as one line
        ...

and add the module to ``COMMAND_MODULES`` in :mod:`.main` (one line). Bad input is a
``SystemExit("hpjax: ...")`` with one line; a Ctrl-C that kept something raises
:class:`Interrupted` with the line saying what.

Only this package prints or writes files; the physics modules never do.
"""

from .common import Interrupted, strict_json
from .main import build_parser, main

__all__ = ["main", "build_parser", "strict_json", "Interrupted"]
