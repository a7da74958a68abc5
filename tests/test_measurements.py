"""Tests of the measurement database (hpjax/data/measurements, tables, datasets.toml) and its loader.

Pure numpy; no jax computation. Reads only package data and temporary files.
"""

from __future__ import annotations

import ast
import doctest
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from hpjax.likelihood import measurements as M
from hpjax.likelihood.measurements import (
    MeasurementFileError,
    UnknownNameError,
    citations,
    dataset_measurements,
    list_datasets,
    list_measurements,
    load_dataset,
    load_measurement,
)

ALL = list_measurements()
TABLE_MEASUREMENTS = [n for n in ALL if load_measurement(n).kind == "mass_dependent_upper_limit"]
DATA = resources.files("hpjax.data")


def _close(a, b, rel=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=0.0)


# --------------------------------------------------------------------------- every file loads


def test_measurement_list_is_complete():
    required = {
        "belle2_2023_BpKnunu_combined",
        "belle2_2023_BpKnunu_hadronic_tag",
        "belle2_2023_BpKnunu_inclusive_tag",
        "sm_2023_BpKnunu_BauseGisbertHiller",
        "belle_2017_B0Kstar0nunu_SL",
        "koto_2018_KLpi0nunu",
        "koto_2018_KLpi0X_mass",
        "na62_2021_KpiX_2016_18data_OLDGRID",
        "na62_2025_KpiX",
        "na62_2021_KpiX_pi0region",
        "e949_2009_KpiX",
        "lhc_hinv_paper_TableI",
        "hllhc_hinv_projection_paper_TableI",
        "ilc_hinv_projection",
        "clic_hinv_projection",
        "fccee_hinv_projection",
        "atlas_2023_hinv_combination",
        "cms_2023_hinv_combination",
        "lhcb_2022_RK_RKstar",
    }
    assert required <= set(ALL), required - set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_every_file_loads(name):
    m = load_measurement(name)
    assert m.name == name
    assert m.kind in M.KINDS
    assert all(o in M.OBSERVABLES for o in m.observables)
    assert m.arxiv and all(a for a in m.arxiv)
    assert m.reference and m.experiment
    assert m.source, "every measurement records where its numbers were taken from"
    if m.kind == "gaussian":
        assert m.error_up > 0 and m.error_down > 0
    if m.kind in ("upper_limit", "counts", "mass_dependent_upper_limit"):
        assert 0 < m.cl < 1
    if m.kind in ("upper_limit", "counts"):
        assert m.limit > 0
    # same object from the cache, arrays read-only, dataclass frozen
    assert load_measurement(name) is m
    with pytest.raises(AttributeError):
        m.name = "x"  # type: ignore[misc]
    assert isinstance(m, M.RECORDS[m.kind])  # one record class per kind, with that kind's fields only
    for arr in (getattr(m, a, None) for a in ("masses", "lifetimes", "values", "correlation", "errors")):
        if isinstance(arr, np.ndarray):
            assert not arr.flags.writeable


def test_confidence_levels():
    for name in ALL:
        m = load_measurement(name)
        if m.observable == "BR(h->inv)":
            assert m.cl == 0.95, name  # all Higgs-invisible limits are 95% CL
        elif getattr(m, "cl", None) is not None:
            assert m.cl == 0.90, name  # all flavour limits here are 90% CL


# --------------------------------------------------------------------------- the paper's numbers


#: dataset entries only `latest` has (issue 15: BaBar's recast, NA62's K+ -> pi+ nu nubar rate and its SM prediction)
LATEST_ONLY = {"babar", "koto_nunu", "na62_pinunu", "sm_kpinunu"}


def test_paper_dataset_numbers():
    ds = load_dataset("paper")
    assert set(ds) == set(M.TERMS) - LATEST_ONLY

    (b2,) = ds["belle2"]
    b2 = load_measurement(b2)
    assert b2.kind == "gaussian" and b2.observable == "BR(B+->K+inv)"
    assert _close(b2.value, 2.3e-5) and _close(b2.error_up, 0.7e-5) and _close(b2.error_down, 0.7e-5)

    sm = load_measurement(ds["sm_prediction"][0])
    assert _close(sm.value, 4.29e-6) and _close(sm.error_up, 0.23e-6) and _close(sm.error_down, 0.23e-6)
    # paper eq. (5): BR_NP = (1.9 +- 0.7)e-5
    assert round((b2.value - sm.value) * 1e5, 1) == 1.9

    ks = load_measurement(ds["belle_kstar"][0])
    assert ks.observable == "BR(B0->K*0inv)" and ks.kind == "counts"
    assert _close(ks.limit, 1.8e-5) and ks.cl == 0.9
    assert (ks.counts_total, ks.counts_signal, ks.background_std) == (13.0, -2.0, 1.8)

    koto = load_measurement(ds["koto"][0])
    assert koto.kind == "upper_limit" and _close(koto.limit, 3.0e-9) and koto.cl == 0.9

    na62 = load_measurement(ds["na62"][0])
    assert na62.kind == "mass_dependent_upper_limit" and na62.lifetimes is not None
    assert na62.arxiv == ("2103.15389",) and "INFERRED" in na62.notes

    hinv = ds["higgs_invisible"]
    assert hinv["default"] == "lhc"
    table_i = {"lhc": 0.13, "hl_lhc": 0.0225, "ilc": 0.0016, "clic": 0.0069, "fcc_ee": 0.0019}
    assert set(hinv["scenarios"]) == set(table_i)
    for scen, val in table_i.items():
        m = load_measurement(hinv["scenarios"][scen])
        assert m.kind == "upper_limit" and _close(m.limit, val) and m.cl == 0.95, scen
        assert m.projection == (scen != "lhc")
    # paper eq. (21): sin(theta) < sqrt(8 pi / m_h * BR * Gamma_h) = 0.01 for the LHC bound
    s_lhc = math.sqrt(8 * math.pi / 125.0 * 0.13 * 4.1e-3)
    assert round(s_lhc, 2) == 0.01
    assert "2.5%" in load_measurement(hinv["scenarios"]["hl_lhc"]).notes

    lfu = load_measurement(ds["lfu"][0])
    assert lfu.kind == "correlated_gaussian"
    assert lfu.observables == ("R_K", "R_K", "R_K*", "R_K*")
    np.testing.assert_array_equal(lfu.values, [0.949, 0.994, 1.027, 0.927])
    np.testing.assert_array_equal(lfu.q2_bins, [[1.1, 6.0], [0.1, 1.1], [1.1, 6.0], [0.1, 1.1]])
    np.testing.assert_allclose(lfu.errors, np.hypot(lfu.stat, lfu.syst), rtol=1e-5)
    assert lfu.correlation[0, 2] == -0.017 and lfu.correlation[1, 3] == -0.033
    assert np.linalg.eigvalsh(lfu.correlation).min() > 0


def test_belle2_tag_results():
    had = load_measurement("belle2_2023_BpKnunu_hadronic_tag")
    assert _close(had.value, 1.1e-5) and had.stat == (0.9e-5, 0.8e-5) and had.syst[0] == 0.8e-5
    assert _close(had.error_up, math.hypot(*(x[0] for x in (had.stat, had.syst))))
    assert _close(had.error_down, math.hypot(*(x[1] for x in (had.stat, had.syst))))
    inc = load_measurement("belle2_2023_BpKnunu_inclusive_tag")
    assert _close(inc.value, 2.7e-5) and inc.stat == (0.5e-5, 0.5e-5) and inc.syst == (0.5e-5, 0.5e-5)
    assert _close(inc.error_up, math.hypot(0.5e-5, 0.5e-5))
    comb = load_measurement("belle2_2023_BpKnunu_combined")
    assert comb.stat == (0.5e-5, 0.5e-5) and comb.syst == (0.5e-5, 0.4e-5)


def test_latest_dataset():
    ds = load_dataset("latest")
    assert set(M.TERMS) - LATEST_ONLY <= set(ds) <= set(M.TERMS) and "babar" in ds
    assert ds["na62"][0] == "na62_2025_KpiX"
    n25 = load_measurement("na62_2025_KpiX")
    assert n25.arxiv == ("2507.17286",) and n25.lifetimes is not None
    koto = load_measurement(ds["koto"][0])
    assert koto.kind == "mass_dependent_upper_limit" and koto.lifetimes is None
    lhc = load_measurement(ds["higgs_invisible"]["scenarios"]["lhc"])
    assert lhc.name == "atlas_2023_hinv_combination" and lhc.limit == 0.107 and lhc.expected_limit == 0.077
    assert load_measurement("cms_2023_hinv_combination").limit == 0.15
    assert M.dataset_description("latest")


def test_dataset_listing_and_citations():
    assert list_datasets() == ["paper", "latest"]
    names = dataset_measurements("paper")
    assert "belle2_2023_BpKnunu_combined" in names and "fccee_hinv_projection" in names
    cites = citations(names)
    assert len(cites) == len(names)
    assert any("arXiv:2311.14647" in c for c in cites)
    assert any("arXiv:2301.10731" in c and "arXiv:2303.01214" in c for c in cites)
    assert citations("na62_2025_KpiX")[0].count("ALPaca") == 1


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize("name", TABLE_MEASUREMENTS)
def test_tables_sorted_positive_in_range(name):
    m = load_measurement(name)
    assert np.all(np.diff(m.masses) > 0)
    lo, hi = m.mass_range
    assert m.masses[0] >= lo and m.masses[-1] <= hi
    finite = m.values[np.isfinite(m.values)]
    assert finite.size > 0.5 * m.values.size
    assert np.all(finite > 0) and np.all(finite <= 1)
    if m.allow_nan is False:
        assert np.all(np.isfinite(m.values))
    if m.lifetimes is None:
        assert m.values.shape == m.masses.shape
    else:
        assert m.values.shape == (m.masses.size, m.lifetimes.size)
        assert np.all(np.diff(m.lifetimes) > 0)
        tlo, thi = m.lifetime_range
        assert m.lifetimes[0] >= tlo * (1 - 1e-12) and m.lifetimes[-1] <= thi * (1 + 1e-12)
        np.testing.assert_allclose(m.lifetimes[[0, -1]], [1e-10, 1e-8], rtol=1e-12)
        assert m.stable_lifetime == pytest.approx(m.lifetimes[-1], rel=1e-12)
        # the stable (longest-lifetime) row is the strongest limit somewhere
        assert np.nanmin(m.values[:, -1]) <= np.nanmin(m.values[:, 0])
    # provenance header kept
    text = (DATA / "tables" / m.table).read_text()
    assert text.startswith("# HPJAX COPY: shared/data/limits/")
    assert "# SOURCE: github alp-aca/alp-aca" in text


def test_table_spot_values():
    n25 = load_measurement("na62_2025_KpiX")
    assert n25.values[0, 0] == 10**-10.478691240018982
    assert n25.masses[1] == 0.0011313131313131313
    assert np.isnan(n25.values[n25.masses.searchsorted(0.13), :]).all()  # pi0 gap
    pi0 = load_measurement("na62_2021_KpiX_pi0region")
    assert np.isfinite(pi0.values[pi0.masses.searchsorted(0.13), 1:]).all()
    koto = load_measurement("koto_2018_KLpi0X_mass")
    assert koto.values.size == 11 and koto.values[0] == 2.2499554191643315e-09
    raw = M.read_table(DATA / "tables" / koto.table)
    np.testing.assert_array_equal(raw["m_X_lo_GeV"], raw["m_X_hi_GeV"])
    old = load_measurement("na62_2021_KpiX_2016_18data_OLDGRID")
    assert 5e-12 < np.nanmin(old.values[:, -1]) < 1e-11


def test_every_table_is_used():
    gaussian_tables = [n for n in ALL if load_measurement(n).kind == "mass_dependent_gaussian"]
    used = {load_measurement(n).table for n in TABLE_MEASUREMENTS + gaussian_tables}
    on_disk = {p.name for p in (DATA / "tables").iterdir() if p.name.endswith(".csv")}
    assert used == on_disk


# --------------------------------------------------------------------------- malformed files

GOOD_LIMIT = """[measurement]
name = "{name}"
observable = "BR(KL->pi0inv)"
experiment = "KOTO"
arxiv = "1810.09655"
reference = "test"
kind = "upper_limit"
limit = 3.0e-9
cl = 0.90
source = "test"
"""

GOOD_TABLE = """[measurement]
name = "{name}"
observable = "BR(K+->pi+inv)"
experiment = "NA62"
arxiv = "2507.17286"
reference = "test"
kind = "mass_dependent_upper_limit"
table = "t.csv"
cl = 0.90
mass_column = "m"
value_column = "br"
value_is_log10 = false
allow_nan = false
mass_range = [0.0, 0.3]
"""

GOOD_GRID = """[measurement]
name = "{name}"
observable = "BR(K+->pi+inv)"
experiment = "NA62"
arxiv = "2507.17286"
reference = "test"
kind = "mass_dependent_upper_limit"
table = "g.csv"
cl = 0.90
mass_column = "m"
lifetime_column = "lt"
lifetime_unit = "ps"
lifetime_is_log10 = true
value_column = "lbr"
value_is_log10 = true
allow_nan = true
mass_range = [0.0, 0.3]
lifetime_range = [1.0e-10, 1.0e-8]
stable_lifetime = 1.0e-8
"""

GOOD_CSV = "# test table\nm,br\n0.0,1e-9\n0.1,2e-9\n0.2,3e-9\n"
GOOD_GRID_CSV = "# grid\nm,lt,lbr\n0.0,2.0,-9\n0.1,2.0,nan\n0.0,4.0,-10\n0.1,4.0,-10.5\n"


def _root(tmp_path: Path, toml: str, name="bad", tables=None) -> Path:
    (tmp_path / "measurements").mkdir(exist_ok=True)
    (tmp_path / "tables").mkdir(exist_ok=True)
    (tmp_path / "measurements" / f"{name}.toml").write_text(toml.format(name=name))
    for fname, text in (tables or {}).items():
        (tmp_path / "tables" / fname).write_text(text)
    return tmp_path


def test_good_temporary_files_load(tmp_path):
    root = _root(tmp_path, GOOD_LIMIT, "lim", {"t.csv": GOOD_CSV, "g.csv": GOOD_GRID_CSV})
    _root(tmp_path, GOOD_TABLE, "tab")
    _root(tmp_path, GOOD_GRID, "grid")
    assert list_measurements(root) == ["grid", "lim", "tab"]
    assert load_measurement("lim", directory=root).limit == 3.0e-9
    t = load_measurement("tab", directory=str(root))
    np.testing.assert_array_equal(t.values, [1e-9, 2e-9, 3e-9])
    g = load_measurement("grid", directory=root)
    assert g.values.shape == (2, 2) and np.isnan(g.values[1, 0]) and g.values[1, 1] == 10**-10.5
    np.testing.assert_allclose(g.lifetimes, [1e-10, 1e-8], rtol=1e-12)


def _replace(text, old, new):
    assert old in text, old
    return text.replace(old, new)


MALFORMED = [
    # (id, toml template, tables, key expected in the message, file expected in the message)
    ("missing_key", _replace(GOOD_LIMIT, "limit = 3.0e-9\n", ""), None, "limit", "bad.toml"),
    ("wrong_type", _replace(GOOD_LIMIT, "limit = 3.0e-9", 'limit = "3e-9"'), None, "limit", "bad.toml"),
    ("bool_number", _replace(GOOD_LIMIT, "limit = 3.0e-9", "limit = true"), None, "limit", "bad.toml"),
    ("negative_limit", _replace(GOOD_LIMIT, "limit = 3.0e-9", "limit = -3.0e-9"), None, "limit", "bad.toml"),
    ("cl_above_one", _replace(GOOD_LIMIT, "cl = 0.90", "cl = 90"), None, "cl", "bad.toml"),
    ("cl_zero", _replace(GOOD_LIMIT, "cl = 0.90", "cl = 0.0"), None, "cl", "bad.toml"),
    ("cl_one", _replace(GOOD_LIMIT, "cl = 0.90", "cl = 1.0"), None, "cl", "bad.toml"),
    ("name_mismatch", _replace(GOOD_LIMIT, 'name = "{name}"', 'name = "other"'), None, "name", "bad.toml"),
    ("bad_observable", _replace(GOOD_LIMIT, "BR(KL->pi0inv)", "BR(KL->pi0nn)"), None, "observable", "bad.toml"),
    ("bad_kind", _replace(GOOD_LIMIT, '"upper_limit"', '"limit"'), None, "kind", "bad.toml"),
    ("unknown_key", GOOD_LIMIT + "limt = 1.0\n", None, "limt", "bad.toml"),
    ("bad_arxiv", _replace(GOOD_LIMIT, '"1810.09655"', '"arXiv 1810"'), None, "arxiv", "bad.toml"),
    ("toml_syntax", GOOD_LIMIT + "limit = = 3\n", None, "TOML syntax", "bad.toml"),
    (
        "gauss_negative_error",
        _replace(
            _replace(GOOD_LIMIT, 'kind = "upper_limit"', 'kind = "gaussian"'),
            "limit = 3.0e-9\ncl = 0.90",
            "value = 1.0\nerror_up = -0.1\nerror_down = 0.1",
        ),
        None,
        "error_up",
        "bad.toml",
    ),
    ("table_missing", GOOD_TABLE, {}, "table", "bad.toml"),
    ("table_nan_not_allowed", GOOD_TABLE, {"t.csv": "m,br\n0.0,1e-9\n0.1,nan\n"}, "br", "t.csv"),
    ("table_unsorted_mass", GOOD_TABLE, {"t.csv": "m,br\n0.0,1e-9\n0.2,2e-9\n0.1,3e-9\n"}, "m", "t.csv"),
    ("table_duplicate_mass", GOOD_TABLE, {"t.csv": "m,br\n0.0,1e-9\n0.1,2e-9\n0.1,3e-9\n"}, "m", "t.csv"),
    ("table_negative_value", GOOD_TABLE, {"t.csv": "m,br\n0.0,1e-9\n0.1,-2e-9\n"}, "br", "t.csv"),
    (
        "table_missing_column",
        _replace(GOOD_TABLE, 'value_column = "br"', 'value_column = "BR"'),
        {"t.csv": GOOD_CSV},
        "value_column",
        "bad.toml",
    ),
    (
        "table_mass_out_of_range",
        _replace(GOOD_TABLE, "[0.0, 0.3]", "[0.0, 0.15]"),
        {"t.csv": GOOD_CSV},
        "mass_range",
        "bad.toml",
    ),
    ("table_bad_row", GOOD_TABLE, {"t.csv": "m,br\n0.0,1e-9\n0.1,abc\n"}, "line 3", "t.csv"),
    (
        "grid_unsorted_mass",
        GOOD_GRID,
        {"g.csv": "m,lt,lbr\n0.1,2.0,-9\n0.0,2.0,-9\n0.1,4.0,-9\n0.0,4.0,-9\n"},
        "m",
        "g.csv",
    ),
    (
        "grid_incomplete",
        GOOD_GRID,
        {"g.csv": "m,lt,lbr\n0.0,2.0,-9\n0.1,2.0,-9\n0.0,4.0,-9\n0.2,4.0,-9\n"},
        "m",
        "g.csv",
    ),
    (
        "grid_unsorted_lifetime",
        GOOD_GRID,
        {"g.csv": "m,lt,lbr\n0.0,4.0,-9\n0.1,4.0,-9\n0.0,2.0,-9\n0.1,2.0,-9\n"},
        "lt",
        "g.csv",
    ),
    ("grid_nan_mass", GOOD_GRID, {"g.csv": "m,lt,lbr\nnan,2.0,-9\n0.1,2.0,-9\n"}, "m", "g.csv"),
    (
        "grid_lifetime_out_of_range",
        _replace(GOOD_GRID, "[1.0e-10, 1.0e-8]", "[1.0e-10, 1.0e-9]"),
        {"g.csv": GOOD_GRID_CSV},
        "stable_lifetime",
        "bad.toml",
    ),
    ("grid_br_above_one", GOOD_GRID, {"g.csv": "m,lt,lbr\n0.0,2.0,0.5\n0.1,2.0,-9\n"}, "lbr", "g.csv"),
    (
        "grid_bad_unit",
        _replace(GOOD_GRID, 'lifetime_unit = "ps"', 'lifetime_unit = "fs"'),
        {"g.csv": GOOD_GRID_CSV},
        "lifetime_unit",
        "bad.toml",
    ),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_file_names_file_and_key(tmp_path, case):
    _, toml, tables, key, fname = case
    root = _root(tmp_path, toml, tables=tables)
    with pytest.raises(ValueError) as err:
        load_measurement("bad", directory=root)
    msg = str(err.value)
    assert isinstance(err.value, MeasurementFileError)
    assert fname in msg, msg
    expected = key if key == "TOML syntax" else f"key '{key}'"
    assert expected in msg, msg


def test_lifetime_range_checked(tmp_path):
    toml = _replace(_replace(GOOD_GRID, "[1.0e-10, 1.0e-8]", "[1.0e-10, 1.0e-9]"), "stable_lifetime = 1.0e-8\n", "")
    root = _root(tmp_path, toml, tables={"g.csv": GOOD_GRID_CSV})
    with pytest.raises(ValueError, match=r"bad\.toml.*lifetime_range"):
        load_measurement("bad", directory=root)


def test_correlation_checked(tmp_path):
    text = (DATA / "measurements" / "lhcb_2022_RK_RKstar.toml").read_text()
    bad = text.replace('name = "lhcb_2022_RK_RKstar"', 'name = "bad"').replace(
        "[1.000, 0.015, -0.017, 0.005]", "[1.000, 0.515, -0.017, 0.005]"
    )
    root = _root(tmp_path, bad.replace("{", "{{").replace("}", "}}"))
    with pytest.raises(ValueError, match=r"bad\.toml.*correlation.*symmetric"):
        load_measurement("bad", directory=root)


# --------------------------------------------------------------------------- unknown names, datasets


def test_unknown_measurement_lists_valid_names():
    with pytest.raises(KeyError) as err:
        load_measurement("belle2_2099")
    assert isinstance(err.value, ValueError)
    msg = str(err.value)
    assert "belle2_2099" in msg
    for name in ALL:
        assert name in msg
    with pytest.raises(ValueError, match="koto_2018_KLpi0nunu"):
        load_measurement("../datasets")


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(UnknownNameError) as err:
        load_dataset("newest")
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    assert "paper" in str(err.value) and "latest" in str(err.value)


@pytest.mark.parametrize(
    "body, key",
    [
        ('belle2 = "nope"\n', "x.belle2"),
        ('koto = "lim"\nbelle3 = "lim"\n', "x.belle3"),
        ('belle2 = "lim"\n', "x.belle2"),  # observable BR(KL->pi0inv) not accepted by the belle2 term
        ('koto = ["lim", 3]\n', "x.koto"),
        ('[x.higgs_invisible]\nscenarios = {{ lhc = "lim" }}\n', "x.higgs_invisible.scenarios.lhc"),
        ('[x.higgs_invisible]\nscenarios = {{ lep = "lim" }}\n', "x.higgs_invisible.scenarios.lep"),
    ],
)
def test_malformed_dataset(tmp_path, body, key):
    root = _root(tmp_path, GOOD_LIMIT, "lim")
    header = "[x]\n" if not body.startswith("[") else ""
    (root / "datasets.toml").write_text(header + body.format())
    with pytest.raises(ValueError) as err:
        load_dataset("x", directory=root)
    assert "datasets.toml" in str(err.value) and key in str(err.value), str(err.value)


def test_temporary_dataset_loads(tmp_path):
    root = _root(tmp_path, GOOD_LIMIT, "lim")
    (root / "datasets.toml").write_text('[x]\ndescription = "d"\nkoto = "lim"\n')
    assert load_dataset("x", directory=root) == {"koto": ["lim"]}
    assert M.dataset_description("x", directory=root) == "d"


# --------------------------------------------------------------------------- module hygiene


def test_package_imports_no_jax_and_only_the_name_lists():
    """The database is pure Python + numpy: it imports no jax and, of hpjax, only its own
    modules and the name lists (hpjax.likelihood.names)."""
    own = {"checks", "tables", "records", "records_fits", "database", "names"}
    for path in Path(M.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0])
        assert "jax" not in imported and "hpjax" not in imported, path.name
        assert (
            imported
            <= {
                "__future__",
                "functools",
                "math",
                "re",
                "tomllib",
                "dataclasses",
                "importlib",
                "pathlib",
                "collections",
                "types",
                "typing",
                "numpy",
            }
            | own
        ), (path.name, imported)
        assert "/" + "work/shared" not in path.read_text()


def test_module_doctest():
    result = doctest.testmod(M, verbose=False)
    assert result.attempted >= 5 and result.failed == 0
