"""Study reports: notes with placeholders, study tables and comparisons; every placeholder is
checked before anything is solved."""

import pytest

from model.run import main
from tests.conftest import EXAMPLE, write_scenario

BODY = """
[report]
notes = "notes.md"
regions = ["HOME"]
sectors = ["autos"]
compare = [{ file = "scenario.toml", elasticities = "elasticities_alt.csv", label = "alt" }]

[scenarios.autos]
description = "FOREIGN taxes HOME's autos"
[[scenarios.autos.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = ["autos"]
rate = 0.3
"""


def study(tmp_path, notes, example_copy):
    (example_copy / "elasticities_alt.csv").write_text(
        "sector,sigma\nagriculture,4\nmanufacturing,6\nautos,5\nservices,3\n")
    (tmp_path / "notes.md").write_text(notes)
    return write_scenario(tmp_path, BODY, data=str(example_copy))


def test_notes_are_filled_from_the_results(tmp_path, example_copy):
    import xarray as xr

    path = study(tmp_path, "Welfare {{welfare|autos|HOME}} / alt {{welfare|autos@alt|HOME:.4f}}; "
                           "autos output {{output|autos|HOME|autos:.1f}} %; "
                           "trade {{trade|autos|HOME|FOREIGN|autos}}; "
                           "was {{bilateral_balance_benchmark|benchmark|HOME|FOREIGN:.3f}}.",
                 example_copy)
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    res = xr.load_dataset(out)
    report = (out.parent / "report.md").read_text()
    w = float(res.welfare.sel(scenario="autos", region="HOME"))
    y = float(res.output.sel(scenario="autos", region="HOME", sector="autos"))
    x = float(res.trade.sel(scenario="autos", exporter="HOME", importer="FOREIGN", sector="autos"))
    assert f"Welfare {w:.2f} / alt " in report
    b = float(res.bilateral_balance_benchmark.sel(region="HOME", partner="FOREIGN"))
    assert f"autos output {y:.1f} %" in report and f"trade {x:.2f}; " in report
    assert f"was {b:.3f}." in report
    assert "{{" not in report
    assert "## The study in numbers" in report and "autos output %" in report
    assert "welfare (alt)" in report  # the comparison table


@pytest.mark.parametrize("notes,words", [
    ("{{welfare|autos}}", ["needs 1 label(s)", "region"]),
    ("{{income_benchmark|autos|HOME}}", ["benchmark value", "income_benchmark|benchmark|"]),
    ("{{description|autos}}", ["unknown variable 'description'"]),
    ("{{welfare|nothing|HOME}}", ["unknown scenario 'nothing'"]),
    ("{{output|autos|HOME|cars}}", ["unknown sector 'cars'"]),
    ("{{welfare|autos@other|HOME}}", ["no compared file 'other'"]),
    ("{{welfare|autos|HOME:.2q}}", ["welfare|autos|HOME:.2q"]),
])
def test_bad_placeholder_exits_2_before_solving(tmp_path, example_copy, notes, words, capsys):
    path = study(tmp_path, notes, example_copy)
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, (word, err)
    assert not (tmp_path / "out").exists()


def test_out_pointing_at_a_folder_exits_2(tmp_path):
    (tmp_path / "out").mkdir()
    path = write_scenario(tmp_path, "[scenarios.s]\n", data=str(EXAMPLE))
    assert main([str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert not list((tmp_path / "out").iterdir())


def test_a_failed_report_leaves_the_previous_outputs_untouched(tmp_path, monkeypatch):
    import model.output.write

    path = write_scenario(tmp_path, "[scenarios.s]\n", data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.parent.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(model.output.write, "report_markdown", broken)
    with pytest.raises(RuntimeError):
        main([str(path), "--out", str(out), "--quiet"])
    after = {p.name: p.read_bytes() for p in out.parent.iterdir()}
    assert after == before  # no new results.nc beside an old report.md, no staging folder


def test_a_sweep_keeps_the_study_sections_of_the_report(tmp_path, example_copy):
    path = study(tmp_path, "Notes: welfare {{welfare|autos|HOME}}.", example_copy)
    path.write_text(path.read_text() + """
[sweep]
method = "monte_carlo"
draws = 4
seed = 1
[[sweep.parameters]]
name = "sigma"
sectors = "all"
distribution = "uniform"
low = 0.9
high = 1.1
""")
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    report = (out.parent / "report.md").read_text()
    assert "Notes: welfare " in report and "## The study in numbers" in report
    assert "Uncertainty" in report and "sweep.png" in report
