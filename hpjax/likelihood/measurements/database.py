"""The measurement database: measurements by name, datasets, citations.

Every experimental result is one TOML file ``hpjax/data/measurements/<name>.toml``; named
datasets (``paper``, ``latest``) in ``hpjax/data/datasets.toml`` map dataset entries to
measurement names. ``directory`` (optional everywhere) is a data root with the layout of
``hpjax/data``.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from ..names import DATASET_TERMS, HIGGS_SCENARIOS
from .checks import MeasurementFileError, UnknownNameError, unknown
from .records import Measurement, parse_measurement
from .records_fits import FIT_KINDS  # noqa: F401  (importing it adds the kinds of fits and recasts to RECORDS)

__all__ = [
    "load_measurement",
    "list_measurements",
    "load_dataset",
    "list_datasets",
    "dataset_description",
    "dataset_measurements",
    "citations",
    "UnknownNameError",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9_.+-]+$")


def _root(directory: Any = None):
    """The data root (a Traversable): hpjax.data package data, or ``directory``."""
    if directory is None:
        return resources.files("hpjax.data")
    return Path(directory)


def _measurement_dir(directory: Any = None):
    return _root(directory) / "measurements"


def list_measurements(directory: Any = None) -> list[str]:
    """Sorted names of all measurement files (``measurements/*.toml`` under the data root).

    ``directory`` (optional) is a data root with the layout of ``hpjax/data``.
    """
    mdir = _measurement_dir(directory)
    if not mdir.is_dir():
        return []
    return sorted(p.name[: -len(".toml")] for p in mdir.iterdir() if p.name.endswith(".toml") and p.is_file())


@functools.cache
def _load_packaged(name: str) -> Measurement:
    return _load(name, None)


def _load(name: str, directory: Any) -> Measurement:
    if not isinstance(name, str):
        raise TypeError(f"measurement name must be a string, got {type(name).__name__} {name!r}")
    root = _root(directory)
    path = root / "measurements" / f"{name}.toml"
    if not _NAME_RE.match(name) or not path.is_file():
        raise unknown("measurement", name, list_measurements(directory))
    return parse_measurement(name, path, root)


def load_measurement(name: str, directory: Any = None) -> Measurement:
    """Load and validate measurement ``name`` (file ``measurements/<name>.toml``).

    ``directory`` (optional) is a data root with the layout of ``hpjax/data``
    (``measurements/``, ``tables/``, ``datasets.toml``); by default the package data of
    ``hpjax.data`` is used (results cached). Unknown name -> :class:`UnknownNameError`;
    malformed file -> :class:`MeasurementFileError`.
    """
    if directory is None and isinstance(name, str):
        return _load_packaged(name)
    return _load(name, directory)


# --------------------------------------------------------------------------- datasets


def _datasets_doc(directory: Any = None) -> tuple[dict, Any]:
    path = _root(directory) / "datasets.toml"
    if not path.is_file():
        raise MeasurementFileError(path, None, "datasets file not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except tomllib.TOMLDecodeError as exc:
        raise MeasurementFileError(path, None, f"TOML syntax error: {exc}") from None


def list_datasets(directory: Any = None) -> list[str]:
    """Names of the datasets in ``datasets.toml`` (in file order)."""
    doc, _ = _datasets_doc(directory)
    return [k for k, v in doc.items() if isinstance(v, dict)]


def _dataset_table(name: str, directory: Any) -> tuple[dict, Any]:
    doc, path = _datasets_doc(directory)
    valid = [k for k, v in doc.items() if isinstance(v, dict)]
    if not isinstance(name, str) or name not in valid:
        raise unknown("dataset", name, valid)
    return doc[name], path


def _check_term_names(names: list[str], term: str, key: str, path: Any, directory: Any) -> None:
    valid = list_measurements(directory)
    for n in names:
        if n not in valid:
            raise MeasurementFileError(path, key, f"unknown measurement {n!r}; valid names: {', '.join(valid)}")
        m = load_measurement(n, directory)
        bad = [o for o in m.observables if o not in DATASET_TERMS[term]]
        if bad:
            raise MeasurementFileError(
                path,
                key,
                f"measurement {n!r} has observable {bad[0]!r}; term {term!r} accepts {', '.join(DATASET_TERMS[term])}",
            )


def load_dataset(name: str, directory: Any = None) -> dict[str, Any]:
    """The likelihood terms of dataset ``name`` with their measurement names.

    Returns ``{term: [measurement names]}`` for the terms ``belle2``, ``sm_prediction``,
    ``belle_kstar``, ``na62``, ``koto``, ``lfu`` (always a list, even for one name) and
    ``higgs_invisible -> {"default": scenario, "scenarios": {scenario: measurement name}}``.
    Every referenced measurement is loaded and checked against the term's observable.
    """
    tbl, path = _dataset_table(name, directory)
    out: dict[str, Any] = {}
    for term, val in tbl.items():
        key = f"{name}.{term}"
        if term == "description":
            if not isinstance(val, str):
                raise MeasurementFileError(path, key, "expected a string")
            continue
        if term not in DATASET_TERMS:
            raise MeasurementFileError(
                path, key, f"unknown likelihood term; valid terms: {', '.join(DATASET_TERMS)}, description"
            )
        if term == "higgs_invisible":
            if not isinstance(val, dict) or not isinstance(val.get("scenarios"), dict):
                raise MeasurementFileError(path, key + ".scenarios", "expected a table 'scenarios = {lhc = ..., ...}'")
            extra = set(val) - {"scenarios", "default"}
            if extra:
                raise MeasurementFileError(
                    path, f"{key}.{sorted(extra)[0]}", "unknown key (allowed: scenarios, default)"
                )
            scen = val["scenarios"]
            for s, n in scen.items():
                if s not in HIGGS_SCENARIOS:
                    raise MeasurementFileError(
                        path, f"{key}.scenarios.{s}", f"unknown scenario; valid: {', '.join(HIGGS_SCENARIOS)}"
                    )
                if not isinstance(n, str):
                    raise MeasurementFileError(path, f"{key}.scenarios.{s}", "expected a measurement name (string)")
                _check_term_names([n], term, f"{key}.scenarios.{s}", path, directory)
            if "lhc" not in scen:
                raise MeasurementFileError(path, f"{key}.scenarios.lhc", "missing required scenario")
            default = val.get("default", "lhc")
            if default not in scen:
                raise MeasurementFileError(
                    path, f"{key}.default", f"{default!r} is not one of the scenarios {', '.join(scen)}"
                )
            out[term] = {"default": default, "scenarios": dict(scen)}
            continue
        names = [val] if isinstance(val, str) else val
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise MeasurementFileError(path, key, f"expected a measurement name or a list of names, got {val!r}")
        _check_term_names(names, term, key, path, directory)
        out[term] = list(names)
    return out


def dataset_description(name: str, directory: Any = None) -> str:
    """The ``description`` string of dataset ``name`` (empty if none)."""
    tbl, _ = _dataset_table(name, directory)
    return str(tbl.get("description", "")).strip()


def dataset_measurements(name: str, directory: Any = None) -> list[str]:
    """All measurement names used by dataset ``name`` (all Higgs scenarios included), in order."""
    names: list[str] = []
    for term, val in load_dataset(name, directory).items():
        names.extend(val["scenarios"].values() if term == "higgs_invisible" else val)
    return list(dict.fromkeys(names))


def citations(names: str | Iterable[str], directory: Any = None) -> list[str]:
    """One citation line per distinct measurement in ``names`` (see :attr:`Measurement.citation`)."""
    if isinstance(names, str):
        names = [names]
    return list(dict.fromkeys(load_measurement(n, directory).citation for n in names))
