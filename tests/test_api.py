"""The Python API (model.api) and the example notebook: a dict, a TOML string and a file give the
same results; the notebook runs and its results are the command line's for the same scenarios."""

import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import model.api as cge
from model.run import main
from tests.conftest import EXAMPLE, ROOT

TEXT = """
title = "api"
data = "data/example"

[scenarios.tariff]
description = "HOME taxes autos from FOREIGN at 25 %"
[[scenarios.tariff.tariffs]]
importer = "HOME"
exporter = "FOREIGN"
sectors = ["autos"]
rate = 0.25
"""
DOC = {"title": "api", "data": "data/example",
       "scenarios": {"tariff": {"description": "HOME taxes autos from FOREIGN at 25 %",
                                "tariffs": [{"importer": "HOME", "exporter": "FOREIGN",
                                             "sectors": ["autos"], "rate": 0.25}]}}}


def numeric(ds: xr.Dataset) -> xr.Dataset:
    return ds[[n for n, v in ds.data_vars.items() if v.dtype.kind == "f"
               and n not in ("residual", "price_residual", "absorption_residual")]]


def test_dict_toml_and_file_give_the_same_results(tmp_path):
    from_text = cge.solve(cge.from_toml(TEXT, folder=ROOT))
    from_dict = cge.solve(cge.from_dict(DOC, folder=ROOT))
    path = tmp_path / "api.toml"
    path.write_text(TEXT.replace("data/example", str(EXAMPLE)))
    from_file = cge.solve(cge.load(path))
    xr.testing.assert_equal(numeric(from_text), numeric(from_dict))
    xr.testing.assert_allclose(numeric(from_text), numeric(from_file), rtol=0, atol=1e-12)
    assert from_text.welfare.sel(scenario="tariff", region="HOME") != 0
    # the dict's TOML form is what the results keep, and reads back to the same dict
    import tomllib

    assert tomllib.loads(from_dict.attrs["scenario_text"]) == DOC


def test_bad_dicts_and_text_name_the_key():
    with pytest.raises(cge.ScenarioError, match=r"notebook\.toml: .*scenarios\.tariff\.rate"):
        bad = {**DOC, "scenarios": {"tariff": {"rate": 0.1}}}
        cge.from_dict(bad, folder=ROOT)
    with pytest.raises(cge.ScenarioError, match="no TOML form"):
        cge.from_dict({"data": "data/example", "scenarios": {"s": {"description": object()}}})
    with pytest.raises(cge.ScenarioError, match="mine.toml: not valid TOML"):
        cge.from_toml("data = ", folder=ROOT, name="mine")
    with pytest.raises(cge.DatasetError):
        cge.from_toml('data = "data/none"\n[scenarios.s]\n', folder=ROOT)


def test_write_gives_the_command_line_files(tmp_path):
    study = cge.from_toml(TEXT, folder=ROOT)
    written = cge.write(cge.solve(study), tmp_path / "out", study)
    names = [p.name for p in written]
    assert names[:4] == ["results.nc", "summary.csv", "results.csv", "report.md"]
    assert all(p.is_file() for p in written)
    assert not list((tmp_path / "out").glob(".staging-*"))


def test_results_carry_cf_and_gtap_attributes():
    res = cge.solve(cge.from_toml(TEXT, folder=ROOT))
    assert res.attrs["Conventions"] == "CF-1.8"
    for name in ("scenario", "region", "partner", "exporter", "importer", "sector", "point"):
        assert res[name].attrs["long_name"], name
    assert res.welfare_ev.attrs["gtap_name"] == "EV"
    assert res.real_gdp.attrs["gtap_name"] == "qgdp"
    assert "gtap_name" not in res.wage.attrs


def test_excel_workbook_has_every_value(tmp_path, monkeypatch):
    pytest.importorskip("openpyxl")
    monkeypatch.chdir(ROOT)
    out = tmp_path / "x" / "results.nc"
    scenario = tmp_path / "s.toml"
    scenario.write_text(TEXT.replace("data/example", str(EXAMPLE)))
    assert main([str(scenario), "--out", str(out), "--quiet", "--excel"]) == 0
    sheets = pd.read_excel(out.parent / "results.xlsx", sheet_name=None)
    assert list(sheets)[:3] == ["about", "outcome", "decomposition"]
    rows = sum(len(f) for name, f in sheets.items() if name != "about")
    assert rows == len(pd.read_csv(out.parent / "results.csv"))
    outcome = sheets["outcome"].set_index(["variable", "region"]).sort_index()
    res = xr.open_dataset(out)
    assert outcome.loc[("welfare", "HOME"), "value"].item() == pytest.approx(
        float(res.welfare.sel(scenario="tariff", region="HOME")), rel=1e-9)
    res.close()
    about = sheets["about"].set_index("attribute")["value"]
    assert about["Conventions"] == "CF-1.8"


def test_notebook_runs_and_matches_the_command_line(tmp_path, monkeypatch):
    """examples/kiuchi.ipynb executes, and the results it writes equal those of
    python -m model.run on the scenario text they carry (values to 1e-12)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = ROOT / "examples" / "kiuchi.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    monkeypatch.setenv("ARMINGTON_NOTEBOOK_OUT", str(tmp_path / "nb"))
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}}).execute()
    assert all(not any(o.get("output_type") == "error" for o in c.get("outputs", []))
               for c in nb.cells if c.cell_type == "code")
    written = xr.open_dataset(tmp_path / "nb" / "results.nc")
    text = written.attrs["scenario_text"]
    (tmp_path / "cli").mkdir()
    os.symlink(ROOT / "data", tmp_path / "cli" / "data")
    (tmp_path / "cli" / "notebook.toml").write_text(text)
    out = tmp_path / "cli" / "out" / "results.nc"
    monkeypatch.chdir(tmp_path)
    assert main([str(tmp_path / "cli" / "notebook.toml"), "--out", str(out), "--quiet"]) == 0
    cli = xr.open_dataset(out)
    assert list(written.scenario.values) == ["deal_2025", "deal_2025_sr"]
    for name, var in numeric(written).data_vars.items():
        np.testing.assert_allclose(var.values, cli[name].values, rtol=0, atol=1e-12,
                                   err_msg=name)
    assert float(written.welfare.sel(scenario="deal_2025_sr", region="JPN")) < 0
    written.close()
    cli.close()
