"""The documentation: the site builds with warnings as errors, the scenario-key reference is the
validator's, and the tutorial's scenario files work as written."""

import ast
import re
import shutil
import subprocess
import sys

import pytest

import model.scenario_keys as reference
from tests.conftest import ROOT


def test_site_builds_without_warnings(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                          str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("from_dict", "from_toml", "solve", "write", "make_policy"):
        assert name in api


def test_scenario_keys_page_is_generated():
    text = (ROOT / "docs" / "scenario_keys.md").read_text(encoding="utf-8")
    assert text == reference.markdown(), "run python -m model.scenario_keys > " \
                                         "docs/scenario_keys.md"


def validator_key_tables():
    """Every key tuple the validator checks a table against (the second argument of each
    ``err.keys(...)`` call in model/), as the module-level names it is built from."""
    found = []
    for path in (ROOT / "model").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "keys" and len(node.args) >= 2):
                names = [n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)
                         and n.id.isupper()]
                module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                found.append((module, names))
    return found


def test_every_key_the_validator_accepts_is_in_the_reference():
    import importlib

    tables = [set(keys) for _, _, keys, _ in reference.TABLES]
    calls = validator_key_tables()
    assert len(calls) >= 16
    for module, names in calls:
        assert names, f"{module}: a key table not built from named tuples"
        mod = importlib.import_module(module)
        keys = set().union(*(getattr(mod, n) for n in names))
        assert any(keys <= t for t in tables), (module, names, keys)


def test_a_key_without_meaning_stops_the_reference(monkeypatch):
    heading, where, keys, meaning = reference.TABLES[0]
    monkeypatch.setattr(reference, "TABLES",
                        ((heading, where, keys + ("new_key",), meaning),) + reference.TABLES[1:])
    with pytest.raises(ValueError, match="new_key"):
        reference.markdown()


def test_tutorial_scenarios_run(tmp_path, monkeypatch):
    from model.run import main

    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    files = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert len(files) == 2
    (tmp_path / "scenarios").mkdir()
    shutil.copytree(ROOT / "data" / "world5_2024", tmp_path / "data" / "world5_2024")
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "scenarios" / "mine.toml"
    mine.write_text(files[0], encoding="utf-8")
    assert main([str(mine), "--quiet", "--strict"]) == 0
    import xarray as xr

    with xr.open_dataset(tmp_path / "results" / "mine" / "results.nc") as res:
        assert list(res.scenario.values) == ["deal", "cars_25", "cars_25_sr"]
        jpn = res.welfare.sel(region="JPN")
        assert float(jpn.sel(scenario="cars_25")) < float(jpn.sel(scenario="deal")) < 0
        assert float(res.employment_total.sel(scenario="cars_25_sr", region="JPN")) < 0
    sweep = tmp_path / "scenarios" / "mine_sweep.toml"
    sweep.write_text(files[1].replace("draws = 200", "draws = 8"), encoding="utf-8")
    assert main([str(sweep), "--quiet"]) == 0
    with xr.open_dataset(tmp_path / "results" / "mine_sweep" / "sweep.nc") as sw:
        assert sw.sizes["draw"] == 8
