"""Study reports: notes with placeholders, study tables and comparisons; every placeholder is
checked before anything is solved."""

import pytest

from model.run import main
from tests.conftest import EXAMPLE, sigma_sweep, write_scenario

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
    path.write_text(path.read_text() + sigma_sweep(draws=4, low=0.9, high=1.1))
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    report = (out.parent / "report.md").read_text()
    assert "Notes: welfare " in report and "## The study in numbers" in report
    assert "Uncertainty" in report and "sweep.png" in report


VARIANTS = """
[report]
notes = "notes.md"
compare = [{ file = "scenario.toml", label = "flat", armington = "one_level", scenarios = ["autos"] },
           { file = "scenario.toml", label = "other", data = "other", scenarios = ["autos"] }]

[scenarios.base]

[scenarios.autos]
[[scenarios.autos.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = ["autos"]
rate = 0.3

[sweep]
draws = 8
scenarios = ["autos"]
[[sweep.parameters]]
name = "sigma"
distribution = "uniform"
low = 0.9
high = 1.1
"""


def test_notes_cite_differences_derived_values_variants_and_the_sweep(tmp_path, example_copy):
    import shutil

    import xarray as xr

    from model.core.catalogue import VARIABLES

    shutil.copytree(example_copy, tmp_path / "other")
    flows = (tmp_path / "other" / "flows.csv").read_text()
    assert "HOME,FOREIGN,autos," in flows
    (tmp_path / "notes.md").write_text(
        "diff {{welfare|autos-base|HOME:.6f}}; goods {{goods_exports_change|autos|HOME|FOREIGN"
        ":.6f}}; flat {{welfare|autos@flat|HOME:.6f}}; other {{welfare|autos@other|HOME:.6f}}; "
        "band {{welfare_summary|autos@sweep|p5|HOME:.6f}} to "
        "{{welfare_summary|autos@sweep|p95|HOME:.6f}}.")
    path = write_scenario(tmp_path, VARIANTS, data=str(example_copy))
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    res = xr.load_dataset(out)
    sweep = xr.load_dataset(out.parent / "sweep.nc")
    assert list(sweep.scenario.values) == ["autos"]  # [sweep] scenarios
    report = (out.parent / "report.md").read_text()
    w = res.welfare.sel(region="HOME")
    assert f"diff {float(w.sel(scenario='autos') - w.sel(scenario='base')):.6f};" in report
    goods = VARIABLES["goods_exports_change"].read(res).sel(scenario="autos", region="HOME",
                                                             partner="FOREIGN")
    assert f"goods {float(goods):.6f};" in report
    p5 = float(sweep.welfare_summary.sel(scenario="autos", statistic="p5", region="HOME"))
    assert f"band {p5:.6f} to" in report
    # the variants solve the one scenario with their choice changed: a one-level Armington form
    # gives the same answer here (the example's elasticity file has no sigma_m), and so does a
    # copy of the dataset
    flat = float(report.split("flat ")[1].split(";")[0])
    other = float(report.split("other ")[1].split(";")[0])
    assert flat == pytest.approx(float(w.sel(scenario="autos")), abs=1e-6)
    assert other == pytest.approx(float(w.sel(scenario="autos")), abs=1e-6)
    assert "| base |" not in report.split("The same scenarios")[1].split("# Full results")[0]


@pytest.mark.parametrize("notes,words", [
    ("{{welfare_summary|autos@sweep|p5|HOME}}", ["no compared file 'sweep'"]),
    ("{{welfare|autos-nothing|HOME}}", ["unknown scenario 'nothing'"]),
])
def test_notes_citing_what_the_run_will_not_have_exit_2(tmp_path, example_copy, notes, words,
                                                        capsys):
    path = study(tmp_path, notes, example_copy)
    assert main([str(path), "--out", str(tmp_path / "out" / "r.nc"), "--quiet"]) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, (word, err)


def test_a_variant_naming_an_unknown_scenario_exits_2(tmp_path, example_copy, capsys):
    body = VARIANTS.replace('scenarios = ["autos"] },\n           { file',
                            'scenarios = ["cars"] },\n           { file')
    import shutil

    shutil.copytree(example_copy, tmp_path / "other")
    (tmp_path / "notes.md").write_text("x")
    path = write_scenario(tmp_path, body, data=str(example_copy))
    assert main([str(path), "--out", str(tmp_path / "out" / "r.nc"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no scenario 'cars'" in err and "flat" in err


def _table(text: str, region: str) -> dict:
    """``{scenario: [cells]}`` of the Markdown table under ``### region`` in ``text``."""
    lines = text.split(f"### {region}\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return {row[0]: row[1:] for row in
            ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}


def test_comparison_tables_align_scenarios_and_regions_across_files():
    """Each file's value of a scenario in that scenario's row, whatever the file's order of
    scenarios and regions; n/a where a file lacks the scenario or the region."""
    import numpy as np
    import xarray as xr

    from model.output.report import comparison_tables

    def results(scenarios, regions, offset):
        welfare = offset + np.arange(len(scenarios))[:, None] + 0.1 * np.arange(len(regions))
        return xr.Dataset({"welfare": (("scenario", "region"), welfare),
                           "real_gdp": (("region", "scenario"), -welfare.T)},
                          coords={"scenario": scenarios, "region": regions})

    files = {"main": results(["a", "b", "c"], ["X", "Y"], 0.0),
             "other": results(["c", "a"], ["Y"], 10.0)}
    text = comparison_tables(files, ["X", "Y"])
    x, y = _table(text, "X"), _table(text, "Y")
    assert list(x) == ["a", "c"]  # b: no other file has it
    # welfare (main), welfare (other), real_gdp (main), real_gdp (other)
    assert x["a"] == ["0.00", "n/a", "0.00", "n/a"] and x["c"] == ["2.00", "n/a", "-2.00", "n/a"]
    assert y["a"] == ["0.10", "11.00", "-0.10", "-11.00"]
    assert y["c"] == ["2.10", "10.00", "-2.10", "-10.00"]


def test_largest_output_changes_by_absolute_value_without_nan():
    import numpy as np
    import xarray as xr

    from model.output.report import largest_output_changes

    output = np.array([[[1.0, -7.0, np.nan], [3.0, 0.5, -2.0]]])  # one scenario, 2 x 3
    result = xr.Dataset({"output": (("scenario", "region", "sector"), output)},
                        coords={"scenario": ["s"], "region": ["R1", "R2"],
                                "sector": ["p", "q", "r"]})
    frame = largest_output_changes(result, "s", count=4)
    assert list(frame.columns) == ["region", "sector", "output (%)"]
    assert list(zip(frame.region, frame.sector)) == [("R1", "q"), ("R2", "p"), ("R2", "r"),
                                                     ("R1", "p")]
    assert list(frame["output (%)"]) == [-7.0, 3.0, -2.0, 1.0]
    # stored with the sectors first: the same table
    swapped = result.transpose("scenario", "sector", "region")
    assert largest_output_changes(swapped, "s", count=4).equals(frame)
