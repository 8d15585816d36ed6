"""The README's scenario file and Python example work as written."""

import re

from model.study import prepare
from tests.conftest import ROOT


def blocks(kind):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [body for k, body in re.findall(r"```(toml|python)\n(.*?)```", text, re.S) if k == kind]


def test_readme_scenario_file_is_valid(tmp_path):
    toml = next(b for b in blocks("toml") if "accept_tariffs" in b)
    folder = tmp_path / "scenarios"
    folder.mkdir()
    text = toml.replace('"../data/jpn_usa_2024"', f'"{(ROOT / "data" / "jpn_usa_2024").as_posix()}"')
    (folder / "readme.toml").write_text(text, encoding="utf-8")
    study = prepare(folder / "readme.toml")
    assert [s.name for s in study.file.scenarios] == ["accept_tariffs", "deal", "shipping",
                                                      "eliminate_surplus"]


def test_readme_python_example_runs(monkeypatch, tmp_path):
    (code,) = blocks("python")
    monkeypatch.chdir(ROOT)
    scope = {}
    code = code.replace('"results/mine"', repr(str(tmp_path / "mine")))
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["study"].file.path.name == "notebook.toml"
    assert bool(scope["results"].converged.all())
    assert float(scope["results"].welfare_ev.sel(scenario="deal", region="JPN")) < 0
    assert (tmp_path / "mine" / "results.nc").is_file()


def test_readme_instruments_example_solves(tmp_path):
    """The worked examples of quotas, the trade balance as instrument, an optimal tariff and a
    Nash game: valid, and the quota and TRQ scenarios end as the text says."""
    import numpy as np

    from model.study import solve_study

    toml = next(b for b in blocks("toml") if "rice_trq_purchases" in b)
    folder = tmp_path / "scenarios"
    folder.mkdir()
    data = (ROOT / "data" / "jpn_usa_row_2024").as_posix()
    (folder / "instruments.toml").write_text(toml.replace('"../data/jpn_usa_row_2024"',
                                                          f'"{data}"'), encoding="utf-8")
    study = prepare(folder / "instruments.toml")
    assert [s.name for s in study.file.scenarios] == [
        "rice_trq_purchases", "auto_ver", "spend_the_surplus", "us_optimal_tariff",
        "tariff_war"]
    res = solve_study(study).results
    assert bool(res.converged.all())
    rice = res.sel(scenario="rice_trq_purchases", importer="JPN", exporter="USA", sector="rice")
    # the purchase shift fills the quota and stays within it
    assert int(rice.quota_regime) == 1 and abs(float(rice.quota_fill) - 1.0) < 1e-9
    ver = res.sel(scenario="auto_ver", importer="USA", exporter="JPN",
                  sector="motor_vehicles_and_parts")
    assert int(ver.quota_regime) == 1 and float(ver.quota_rent) > 0
    assert 0 < float(res.instrument_value.sel(scenario="us_optimal_tariff")) < 1
    assert np.isfinite(res.instrument_tariff.sel(scenario="tariff_war")).all()


def test_formats_lists_every_results_variable():
    """docs/formats.md's table of the results Dataset is the catalogue's, as generated."""
    from model.core import catalogue

    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    block = text.split("<!-- variables:begin -->\n", 1)[1].split("\n<!-- variables:end -->")[0]
    assert block == catalogue.markdown()
    assert "`quota_regime`" in block and "`curve_welfare`" in block
