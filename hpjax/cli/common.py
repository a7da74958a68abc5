"""What the command modules share: strict JSON, output directories, run metadata, fit
specifications and model points from the command line, Ctrl-C with a message."""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import time

__all__ = [
    "Interrupted",
    "strict_json",
    "dumps",
    "write_json",
    "check_writable",
    "metadata",
    "load_spec",
    "parse_model",
    "positive_int",
    "fmt",
]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with the one line that says what was kept."""


def fmt(x) -> str:
    return f"{float(x):.4e}"


def strict_json(obj):
    """``obj`` with every non-finite float made strict JSON: NaN -> null, +-inf -> "inf" / "-inf"
    (RFC 8259 has no NaN or Infinity; ``json.dumps`` would write the bare words).

    >>> json.dumps(strict_json({"tau": float("inf"), "br": float("nan"), "x": [1.5]}))
    '{"tau": "inf", "br": null, "x": [1.5]}'
    """
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return strict_json(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def dumps(obj, **kw) -> str:
    """Strict JSON text of ``obj`` (numpy and jax scalars and arrays included)."""
    return json.dumps(strict_json(obj), allow_nan=False, default=lambda o: strict_json(float(o)), **kw)


def write_json(path: pathlib.Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(obj, indent=1) + "\n")


def check_writable(directory: pathlib.Path) -> None:
    """Create ``directory`` and check that a file can be written there, before any computing."""
    import tempfile

    directory = pathlib.Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".hpjax-write-check-"):
            pass
    except OSError as exc:
        raise SystemExit(
            f"hpjax: output directory {directory} cannot be written ({exc.strerror or exc}); "
            f"set [output] directory in the fit specification to a writable place"
        ) from None


def metadata(spec, task: str, seed=None) -> dict:
    """What a result file records about how it was made."""
    import platform

    import jax

    import hpjax

    return {
        "hpjax_version": hpjax.__version__,
        "jax_version": jax.__version__,
        "task": task,
        "fit_spec": str(spec.path),
        "fit_spec_text": spec.path.read_text(),
        "model": spec.model_name,
        "dataset": spec.likelihood.get("dataset", "paper"),
        "seed": seed,
        "inputs": spec.inputs().as_dict(),
        "formfactors": spec.inputs().formfactors,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def load_spec(path):
    """The fit specification at ``path``; a bad one ends the command with its one-line error."""
    from ..spec import SpecError
    from ..spec import load_spec as load

    try:
        return load(path)
    except SpecError as exc:
        raise SystemExit(f"hpjax: {exc}") from None


def parse_model(kind: str, assignments: list[str]):
    """The model ``kind`` at the point given as PARAM=VALUE words; bad input is one line."""
    from ..models import MODELS

    if kind not in MODELS:
        raise SystemExit(f"hpjax: unknown model '{kind}'; valid models: {sorted(MODELS)}")
    cls = MODELS[kind]
    params = {}
    for a in assignments:
        if "=" not in a:
            raise SystemExit(f"hpjax: expected PARAM=VALUE, got '{a}'; parameters of {kind}: {list(cls.PARAMS)}")
        k, v = a.split("=", 1)
        if k not in cls.PARAMS:
            raise SystemExit(f"hpjax: unknown parameter '{k}' of {kind}; valid: {list(cls.PARAMS)}")
        if k in params:
            raise SystemExit(f"hpjax: parameter {k} given twice ({k}={params[k]:g} and '{a}'); give it once")
        try:
            params[k] = float(v)
        except ValueError:
            raise SystemExit(f"hpjax: parameter {k} = '{v}' is not a number") from None
    missing = [p for p in cls.PARAMS if p not in params]
    if missing:
        raise SystemExit(f"hpjax: missing parameter(s) {missing} of {kind}")
    try:
        return cls(**params)
    except ValueError as exc:
        raise SystemExit(f"hpjax: {exc}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is outside the allowed range: an integer >= 1")
    return v
