"""The command line end to end: outputs, the results schema, exit codes, and nothing written
on bad input."""

import argparse
import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from model.core import catalogue
from model.run import main
from tests.conftest import EXAMPLE, ROOT, write_scenario

OUTCOMES = ["welfare", "real_wage", "wage", "price_index", "real_gdp", "output", "employment",
            "trade", "trade_balance", "bilateral_balance", "tariff_revenue", "terms_of_trade"]


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "example" / "results.nc"
    code = main([str(ROOT / "scenarios" / "example.toml"), "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_writes_every_output(example_run):
    folder = example_run.parent
    for name in ("results.nc", "summary.csv", "report.md", "headline.png", "output.png"):
        assert (folder / name).stat().st_size > 0, name
    assert not list(folder.glob(".*tmp"))  # no temporary files left behind
    report = (folder / "report.md").read_text()
    for text in ("Headline indicators", "welfare", "real GDP", "terms of trade", "trade balance",
                 "Largest changes of sectoral output", "auto_tariff", "balanced_trade"):
        assert text in report


def test_results_schema_units_and_provenance(example_run):
    res = xr.load_dataset(example_run)
    assert list(res.scenario.values) == ["auto_tariff", "broad_tariff", "tariff_war",
                                         "balanced_trade", "costlier_shipping"]
    benchmark = [v.name for v in catalogue.BENCHMARK]
    for name in OUTCOMES + benchmark:
        assert name in res, name
        assert res[name].attrs["units"] and res[name].attrs["long_name"], name
    for v in catalogue.stored():
        assert res[v.name].dims == (("scenario",) if catalogue.per_scenario(v) else ()) + v.dims
    assert res.trade.dims == ("scenario", "exporter", "importer", "sector")
    assert res.trade.attrs["units"] == "US$ bn"
    assert res.welfare.attrs["units"] == "percent change"
    assert bool(res.converged.all()) and float(res.residual.max()) < 1e-10
    assert "[scenarios.auto_tariff]" in res.attrs["scenario_text"]
    assert res.attrs["dataset_name"] == "example" and len(res.attrs["dataset_hash_sha256"]) == 64
    assert res.attrs["solver_tol"] == 1e-10
    assert "package_version" in res.attrs
    # the balanced_trade scenario meets its target and fixed-closure scenarios keep the
    # balance, to the solver tolerance (a trade-balance gap equals the labour excess demand)
    tb = res.trade_balance
    bound = 1e-10 * float(res.value_added_benchmark.sum())
    assert abs(float(tb.sel(scenario="balanced_trade", region="HOME"))) < bound
    np.testing.assert_allclose(tb.sel(scenario="tariff_war"), res.trade_balance_benchmark,
                               atol=bound)
    # bilateral balances are antisymmetric and add up to the overall balance
    bb = res.bilateral_balance.sel(scenario="auto_tariff").values
    np.testing.assert_allclose(bb, -bb.T, atol=1e-10)
    np.testing.assert_allclose(bb.sum(axis=1), tb.sel(scenario="auto_tariff"), atol=1e-10)


def test_summary_matches_results(example_run):
    import pandas as pd

    summary = pd.read_csv(example_run.parent / "summary.csv")
    res = xr.load_dataset(example_run)
    row = summary[(summary.scenario == "tariff_war") & (summary.region == "FOREIGN")].iloc[0]
    assert row.welfare == pytest.approx(float(res.welfare.sel(scenario="tariff_war",
                                                              region="FOREIGN")), rel=1e-5)


def bad_inputs(tmp_path):
    """(name, scenario path) pairs, each broken in a different way."""
    ok = EXAMPLE
    cases = {}
    d = tmp_path / "malformed"
    d.mkdir()
    cases["malformed toml"] = write_scenario(d, "[scenarios.s\n", data=str(ok))
    d = tmp_path / "unknown_region"
    d.mkdir()
    cases["unknown region"] = write_scenario(d, '[scenarios.s]\n[[scenarios.s.tariffs]]\n'
                                             'importer = "XX"\nexporter = "HOME"\n'
                                             'sectors = "all"\nrate = 0.1\n', data=str(ok))
    d = tmp_path / "tariff_below"
    d.mkdir()
    cases["tariff below -100%"] = write_scenario(d, '[scenarios.s]\n[[scenarios.s.tariffs]]\n'
                                                 'importer = "HOME"\nexporter = "FOREIGN"\n'
                                                 'sectors = "all"\nrate = -2.0\n', data=str(ok))
    d = tmp_path / "two_instruments"
    d.mkdir()
    cases["target with two instruments"] = write_scenario(
        d, '[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
           'value = 0.0\ninstrument = ["export_tax", "preference"]\nimporter = "FOREIGN"\n'
           'exporter = "HOME"\nsectors = "all"\n', data=str(ok))
    d = tmp_path / "target_unknown_sector"
    d.mkdir()
    cases["target on an unknown sector"] = write_scenario(
        d, '[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
           'value = 0.0\ninstrument = "export_tax"\nimporter = "FOREIGN"\nexporter = "HOME"\n'
           'sectors = ["cars"]\n', data=str(ok))
    d = tmp_path / "no_data"
    d.mkdir()
    cases["missing dataset"] = write_scenario(d, "[scenarios.s]\n", data="nowhere")
    d = tmp_path / "unbalanced"
    d.mkdir()
    import shutil
    shutil.copytree(ok, d / "data")
    flows = (d / "data" / "flows.csv").read_text().replace("HOME,HOME,autos,230.000",
                                                           "HOME,HOME,autos,231.000")
    (d / "data" / "flows.csv").write_text(flows)
    cases["unbalanced accounts"] = write_scenario(d, "[scenarios.s]\n")
    return cases


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    for name, path in bad_inputs(tmp_path).items():
        out = path.parent / "out" / "results.nc"
        code = main([str(path), "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2, name
        assert str(path.parent) in err, (name, err)
        assert not (path.parent / "out").exists(), name


def test_nonconvergence_exits_3_and_keeps_other_scenarios(tmp_path, capsys):
    path = write_scenario(tmp_path, """
[solver]
max_iter = 2
[scenarios.zero]
description = "no change: converges at once"
[scenarios.hard]
[[scenarios.hard.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = "all"
add = 0.5
""", data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    code = main([str(path), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 3
    assert "hard" in err and "did not converge" in err and "residual" in err
    res = xr.load_dataset(out)
    assert bool(res.converged.sel(scenario="zero")) and not bool(res.converged.sel(scenario="hard"))
    assert np.isnan(res.welfare.sel(scenario="hard")).all()
    assert float(res.residual.sel(scenario="hard")) > 1e-10
    assert float(res.welfare.sel(scenario="zero", region="HOME")) == pytest.approx(0, abs=1e-12)


def test_module_entry_point_runs(tmp_path):
    out = tmp_path / "r" / "results.nc"
    proc = subprocess.run([sys.executable, "-m", "model.run", str(ROOT / "scenarios" /
                           "example.toml"), "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "welfare" in proc.stdout and "auto_tariff" in proc.stdout
    assert out.exists()


@pytest.mark.parametrize("name", ["report.md", "summary.csv", "sweep.nc", "results.txt",
                                  "compared_x.nc"])
def test_out_may_not_take_the_name_of_another_output(tmp_path, name, capsys):
    path = write_scenario(tmp_path, "[scenarios.s]\n", data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.parent.iterdir()}
    assert main([str(path), "--out", str(out.parent / name), "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == before


def test_out_onto_a_pipe_is_refused(tmp_path, capsys):
    import os

    fifo = tmp_path / "pipe.nc"
    os.mkfifo(fifo)
    path = write_scenario(tmp_path, "[scenarios.s]\n", data=str(EXAMPLE))
    assert main([str(path), "--out", str(fifo), "--quiet"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert fifo.is_fifo()


def test_a_second_run_on_the_same_folder_is_refused_and_a_stale_lock_taken_over(tmp_path,
                                                                                capsys):
    path = write_scenario(tmp_path, "[scenarios.s]\n", data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    out.parent.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out.parent / ".lock").write_text(str(sleeper.pid))
        assert main([str(path), "--out", str(out), "--quiet"]) == 2
        assert f"process {sleeper.pid}" in capsys.readouterr().err
        assert not out.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    # its process gone, the lock is stale; leftovers of killed runs are removed
    (out.parent / ".staging-abc").mkdir()
    (out.parent / ".staging-abc" / "results.nc").write_text("half")
    (out.parent / ".results.nc.x.tmp").write_text("half")
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    assert out.exists() and not (out.parent / ".lock").exists()
    assert not list(out.parent.glob(".staging-*")) and not list(out.parent.glob(".*.tmp"))


def test_an_inexact_or_undefined_decomposition_is_flagged(tmp_path, capsys):
    """A huge finite tariff makes the path far from linear: the parts miss welfare, which the
    run says (console, results, report) instead of printing them as exact; an infinite tariff
    has no path at all; an ordinary shock has no warning."""
    body = ""
    for name, rate in (("huge", "1e9"), ("infinite", "inf"), ("ordinary", "0.3")):
        body += (f"[scenarios.{name}]\n[[scenarios.{name}.tariffs]]\nimporter = \"FOREIGN\"\n"
                 f"exporter = \"HOME\"\nsectors = [\"autos\"]\nrate = {rate}\n")
    path = write_scenario(tmp_path, body, data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    res = xr.load_dataset(out)
    assert "inexact" in str(res.warning.sel(scenario="huge").values) and "huge:" in err
    assert "not defined" in str(res.warning.sel(scenario="infinite").values)
    assert str(res.warning.sel(scenario="ordinary").values) == ""
    gap = abs(res.welfare_path_total - res.welfare).sel(scenario="ordinary")
    assert float(gap.max()) < 1e-6
    report = (out.parent / "report.md").read_text()
    assert "## Warnings" in report and "**huge**: the welfare decomposition is inexact" in report


def test_implausible_input_is_warned_and_strict_refuses_it(tmp_path, capsys):
    """``add = 25`` meant as 25 %: a 2,500 % tariff, terms of trade and welfare far out of any
    plausible range; a deficit target larger than value added: a negative income.  Each is a
    named warning; --strict makes them an error with nothing written."""
    body = ('[scenarios.typo]\n[[scenarios.typo.tariffs]]\nimporter = "FOREIGN"\n'
            'exporter = "HOME"\nsectors = "all"\nadd = 25\n'
            '[scenarios.broke]\nclosure = { trade_balance = { HOME = -4000.0 } }\n'
            '[scenarios.fine]\n[[scenarios.fine.tariffs]]\nimporter = "FOREIGN"\n'
            'exporter = "HOME"\nsectors = "autos"\nadd = 0.25\n')
    path = write_scenario(tmp_path, body, data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    res = xr.load_dataset(out)
    typo = str(res.warning.sel(scenario="typo").values)
    assert "a tariff of 25.3 (2530 %) on FOREIGN imports" in typo  # 25 on 0.3 of 2024
    assert "terms-of-trade change" in typo and "welfare change" in typo
    assert "a negative income in HOME" in str(res.warning.sel(scenario="broke").values)
    assert str(res.warning.sel(scenario="fine").values) == ""
    assert res.attrs["warnings"].startswith("typo: ") and "fine:" not in res.attrs["warnings"]
    capsys.readouterr()
    strict = tmp_path / "strict" / "results.nc"
    assert main([str(path), "--out", str(strict), "--quiet", "--strict"]) == 2
    assert "--strict" in capsys.readouterr().err and not strict.exists()


def test_the_shipped_studies_raise_no_implausibility_warning():
    for name in ("kiuchi", "two_regions"):
        res = xr.load_dataset(ROOT / "results" / name / "results.nc")
        assert not any("implausible" in str(w) for w in res.warning.values), name


def test_results_csv_holds_every_value_of_the_netcdf(example_run):
    import pandas as pd

    res = xr.load_dataset(example_run)
    table = pd.read_csv(example_run.parent / "results.csv", keep_default_na=False,
                        na_values=[""], dtype={c: str for c in ("scenario", "region",
                                                                 "partner", "exporter",
                                                                 "importer", "sector")})
    numeric = [n for n, v in res.data_vars.items() if v.dtype.kind in "fiub"]
    assert set(table.variable) == {n for n in numeric if np.isfinite(res[n].values).any()}
    for name in numeric:
        var = res[name]
        rows = table[table.variable == name]
        if not len(rows):
            continue
        dims = list(var.dims)
        got = rows.set_index(dims)["value"] if dims else rows["value"]
        want = var.to_series().dropna() if dims else pd.Series([float(var)])
        np.testing.assert_allclose(got.sort_index().values if dims else got.values,
                                   want.sort_index().values if dims else want.values,
                                   rtol=1e-9, atol=1e-12, err_msg=name)
        assert set(rows.unit) == {var.attrs.get("units", "")}


def test_results_csv_quotes_labels_and_units_and_leaves_out_missing_values():
    import io

    import pandas as pd

    from model.output.results import LONG_COLUMNS, long_csv, long_table

    res = xr.Dataset(
        {"welfare": (("scenario", "region"), [[1.5, np.nan], [-0.25, 1e-12]],
                     {"units": "percent, change"}),
         "converged": (("scenario",), [True, False], {"units": "1"}),
         "curve": (("point",), [0.1, 0.2], {"units": 'a "rate"'})},
        coords={"scenario": ["a,b", "c"], "region": ["JPN", "USA"], "point": [0, 1]})
    text = long_csv(res)
    assert text.splitlines()[0] == ",".join(LONG_COLUMNS)
    assert '"a,b",welfare,JPN,,,,,,1.5,"percent, change"' in text.splitlines()
    assert ',,,,,,1,0.2,"a ""rate"""' in text  # point labels as written in the coordinate
    back = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""],
                       dtype={"scenario": str, "region": str})
    assert len(back) == len(long_table(res)) == 3 + 2 + 2  # the NaN left out
    assert list(back[back.variable == "converged"].value) == [1.0, 0.0]
    table = long_table(res)  # the workbook's rows: labels as in the coordinates
    assert list(table[table.variable == "curve"].point) == [0, 1]
    assert back.value[back.variable == "welfare"].tolist() == [1.5, -0.25, 1e-12]
    assert set(back.unit) == {"percent, change", "1", 'a "rate"'}


def test_welfare_in_money_is_welfare_times_benchmark_income(example_run):
    res = xr.load_dataset(example_run)
    np.testing.assert_allclose(res.welfare_ev, res.welfare / 100 * res.income_benchmark,
                               rtol=1e-10, atol=1e-10)


def _example_with_and_without_dask(tmp_path, run: str, report: str,
                                   cases=("plain", "loaded")) -> dict:
    """Run example.toml in a fresh process by the statements ``run`` (which write to ``out``),
    once for each of ``cases``: as it is ("plain"), with dask.array loaded first ("loaded"),
    with xarray loaded first ("xarray"); its results must be the same every time.  Returns
    what ``print(report)`` printed at the end, by case."""
    code = ("import sys\n"
            "out = sys.argv[1]\n"
            "example = sys.argv[3]\n"
            "if sys.argv[2] == 'loaded': import dask.array\n"
            "if sys.argv[2] == 'xarray': import xarray\n"
            f"{run}\n"
            f"print({report})")
    printed, results = {}, {}
    for case in cases:
        out = tmp_path / case / "results.nc"
        done = subprocess.run([sys.executable, "-c", code, str(out), case,
                               str(ROOT / "scenarios" / "example.toml")], cwd=ROOT,
                              capture_output=True, text=True, check=True)
        printed[case] = done.stdout.strip()
        results[case] = xr.load_dataset(out)
    for case in cases[1:]:
        xr.testing.assert_identical(results[cases[0]], results[case])
    return printed


def test_a_run_hides_dask_unless_it_uses_a_cluster(tmp_path):
    """`python -m model.run` makes dask look not installed to a run that sends nothing to a
    Dask cluster: xarray would load dask and distributed (about half a second) only to find
    that no array is a dask array.  Such a run loads no dask module, and its results are
    those of a run where dask is loaded; a run that may use a cluster (a scheduler on the
    command line or in the file, or a file that cannot be read) hides nothing, nor does a run
    in a process that loaded xarray first (xarray has found dask installed by then)."""
    pytest.importorskip("dask")
    from model.run import uses_cluster

    printed = _example_with_and_without_dask(
        tmp_path, "from model.run import main\n"
                  "code = main([example, '--quiet', '--out', out], whole_process=True)",
        "code, sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed') "
        "and sys.modules[m] is not None)", cases=("plain", "loaded", "xarray"))
    assert printed["plain"] == "0 []"
    assert printed["loaded"].startswith("0 [") and "'dask.array'" in printed["loaded"]
    assert printed["xarray"].startswith("0 ")
    example = str(ROOT / "scenarios" / "example.toml")
    # which command lines may use a cluster
    clustered = tmp_path / "clustered.toml"
    clustered.write_text('data = "x"\n[sweep]\nscheduler = "tcp://h:1"\n', encoding="utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text("data = \n", encoding="utf-8")
    assert not uses_cluster([example, "--quiet", "--out", "x.nc"])
    assert not uses_cluster([example, "--", "--scheduler"])  # a file named so, not the option
    for argv in ([example, "--scheduler", "tcp://h:1"], ["--sch=tcp://h:1", example],
                 [str(clustered)], [str(broken)], [str(tmp_path / "missing.toml")]):
        assert uses_cluster(argv), argv


def test_version():
    result = subprocess.run([sys.executable, "-m", "model.run", "--version"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.startswith("armington-cge ")


def test_the_sweep_modules_load_up_front_only_for_a_sweep(tmp_path):
    """Runs load up front (Ctrl-C held) what they will import; a file without a [sweep] table
    does not pay for the sweep's modules, one with it or one that cannot be read does; the
    same for the Sobol' sequence and the normal quantile function."""
    from model.run import PRELOAD, PRELOAD_NORMAL, PRELOAD_SOBOL, PRELOAD_SWEEP, preloaded

    plain = tmp_path / "plain.toml"
    plain.write_text('data = "x"\n[scenarios.a]\n', encoding="utf-8")
    swept = tmp_path / "swept.toml"
    swept.write_text('data = "x"\n[sweep]\ndraws = 2\n', encoding="utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text("data = \n", encoding="utf-8")
    assert not set(PRELOAD_SWEEP) & set(preloaded([str(plain), "--quiet"]))
    assert set(PRELOAD_SWEEP) <= set(preloaded(["--quiet", str(swept)]))
    assert set(PRELOAD_SWEEP) <= set(preloaded([str(broken)]))
    assert set(PRELOAD_SWEEP) <= set(preloaded([str(tmp_path / "missing.toml")]))
    # scipy.stats only for a Sobol' design (or a file that cannot be read)
    sobol = tmp_path / "sobol.toml"
    sobol.write_text('data = "x"\n[sweep]\nmethod = "sobol"\ndraws = 2\n', encoding="utf-8")
    assert set(PRELOAD_SWEEP + PRELOAD_SOBOL) <= set(preloaded([str(sobol)]))
    assert not set(PRELOAD_SOBOL) & set(preloaded([str(swept)]))
    assert not set(PRELOAD_SOBOL) & set(preloaded([str(plain)]))
    assert set(PRELOAD_SOBOL) <= set(preloaded([str(broken)]))
    # scipy.special only for a normal or lognormal parameter (or a file that cannot be read)
    for dist in ("normal", "lognormal", "uniform"):
        drawn = tmp_path / f"{dist}.toml"
        drawn.write_text(f'data = "x"\n[sweep]\n[[sweep.parameters]]\nname = "sigma"\n'
                         f'distribution = "{dist}"\n', encoding="utf-8")
        assert (set(PRELOAD_NORMAL) <= set(preloaded([str(drawn)]))) == (dist != "uniform")
    quadrature = tmp_path / "quadrature.toml"  # its nodes are standard normal: no quantiles
    quadrature.write_text('data = "x"\n[sweep]\nmethod = "quadrature"\n[[sweep.parameters]]\n'
                          'name = "sigma"\ndistribution = "normal"\n', encoding="utf-8")
    assert not set(PRELOAD_NORMAL) & set(preloaded([str(quadrature)]))
    assert not set(PRELOAD_NORMAL) & set(preloaded([str(swept)]))
    assert not set(PRELOAD_NORMAL) & set(preloaded([str(plain)]))
    assert set(PRELOAD_NORMAL) <= set(preloaded([str(broken)]))
    code = ("import sys, importlib; [importlib.import_module(m) for m in sys.argv[1:]]; "
            "print(sorted(m for m in ('scipy.special', 'scipy.stats') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code, *PRELOAD, *PRELOAD_SWEEP,
                             "model.sweep.designs", "model.study"],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    assert loaded.stdout.strip() == "[]"  # nothing a sweep's modules import loads them
    # the file is found wherever the options and their values stand
    out = str(tmp_path / "o.nc")
    for argv in (["--out", out, str(plain)], [f"--out={out}", str(plain)],
                 ["--sch", "tcp://h:1", "--quiet", str(plain)], ["--quiet", "--", str(plain)]):
        assert not set(PRELOAD_SWEEP) & set(preloaded(argv)), argv
    assert set(PRELOAD_SWEEP) <= set(preloaded(["--out", str(plain), str(swept)]))


def test_the_root_finder_loads_only_for_searches(tmp_path):
    """scipy.optimize (half a second to import) is imported by no module a run loads, and
    loaded up front only for a file with a search (target, optimal tariff, Nash) or one whose
    report compares another file (or one that cannot be read)."""
    from model.run import PRELOAD, PRELOAD_SEARCH, preloaded

    code = ("import sys, importlib; [importlib.import_module(m) for m in sys.argv[1:]]; "
            "print('scipy.optimize' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code, *PRELOAD, "model.sweep.runner",
                             "model.sweep.report", "model.study"],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    assert loaded.stdout.strip() == "False"
    files = {
        "plain": '[scenarios.a]\n[scenarios.b]\nbase = "a"\n',
        "target": '[scenarios.a]\n[scenarios.b.target]\nvalue = 0\n',
        "optimal": '[scenarios.a.optimal_tariff]\nregion = "USA"\n',
        "nash": '[scenarios.a.nash]\nregions = ["USA", "JPN"]\n',
        "same": '[scenarios.a]\n[report]\ncompare = [{ file = "same.toml", label = "x" }]\n',
        "other": '[scenarios.a]\n[report]\ncompare = [{ file = "plain.toml", label = "x" }]\n',
        "broken": "[scenarios.a]\nx = \n",
    }
    for name, text in files.items():
        (tmp_path / f"{name}.toml").write_text('data = "x"\n' + text, encoding="utf-8")
    for name in files:
        searched = set(PRELOAD_SEARCH) <= set(preloaded([str(tmp_path / f"{name}.toml")]))
        assert searched == (name not in ("plain", "same")), name


def test_the_preloader_knows_which_options_take_a_value():
    """model.run finds the scenario file before the parser runs: its list of options with a
    value is the parser's."""
    from model.cli import arguments
    from model.run import VALUED, scenario_argument

    valued = {s for a in arguments()._actions if a.option_strings and a.nargs is None
              and not a.const and a.default is not argparse.SUPPRESS for s in a.option_strings
              if s.startswith("--")}
    assert valued == set(VALUED)
    assert scenario_argument(["--quiet", "--resume"]) is None


def test_the_compile_message_knows_whether_the_solver_is_cached(tmp_path):
    """A run says it is compiling when numba's cache (here an empty NUMBA_CACHE_DIR) has no
    index for the solver as it is now (none at all, or one left by other code: another time
    stamp, whatever other folders hold), or one that names a code file older than itself (a
    file of an earlier version, read while numba writes the new one after the index)."""
    code = """
import os, pickle, sys, time
from model.compiling import compiled
from model.core import fixed_point as f
index = f.solve_with_retries._cache._cache_file
code = os.path.join(index._cache_path, "solve_with_retries.code.nbc")
print(compiled())
with open(code, "wb") as fh:  # left by an earlier version
    fh.write(b"old")
time.sleep(0.01)
index._save_index({"an overload": "solve_with_retries.code.nbc"})  # the code as it is
print(compiled())
with open(code, "wb") as fh:  # its code written after the index, as numba writes it
    fh.write(b"new")
print(compiled())
with open(index._index_path, "wb") as fh:  # an index of other code
    pickle.dump(index._version, fh, protocol=-1)
    fh.write(pickle.dumps(((0.0, 1), {"an overload": "solve_with_retries.code.nbc"})))
print(compiled())
"""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env, check=True).stdout.split()
    assert out == ["False", "False", "True", "False"]
    assert any(tmp_path.rglob("*.nbi"))  # the cache folder asked for, not the package's


def test_a_run_leaves_with_its_code_its_output_flushed_and_its_exit_handlers_run():
    """model.run ends without the interpreter's teardown: the exit code is the run's, what was
    printed arrives whole through a pipe, exit handlers run; with a thread that is not a
    daemon still running, the usual exit (which waits for it)."""
    code = ("import atexit, sys; from model.run import leave; "
            "atexit.register(lambda: print('handler ran')); print('printed', end=' '); "
            "print('to stderr', file=sys.stderr, end=''); leave(3)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert (done.returncode, done.stdout, done.stderr) == (3, "printed handler ran\n",
                                                           "to stderr")
    code = ("import threading, time; from model.run import leave; "
            "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start(); "
            "leave(4)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert (done.returncode, done.stdout) == (4, "thread done\n")
    # started without a standard output (sys.stdout is None): the run's code all the same
    done = subprocess.run(["bash", "-c", f"'{sys.executable}' -c 'from model.run import "
                           "leave; leave(5)' >&-"], capture_output=True, text=True, cwd=ROOT)
    assert (done.returncode, done.stderr) == (5, "")


def test_a_run_loads_no_dask_array_module(tmp_path):
    """Where dask is installed, xarray loads dask.array (about 0.3 s) to check each array it is
    given; a run tells it there are none (model.cli.no_dask_arrays), and its results are those
    of a run where dask.array is loaded and xarray checks."""
    pytest.importorskip("dask")
    from xarray.namedarray import pycompat

    if not hasattr(pycompat, "_cached_duck_array_modules"):
        pytest.skip("this xarray keeps no record of its check")
    printed = _example_with_and_without_dask(
        tmp_path, "from model.cli import main\ncode = main([example, '--quiet', '--out', out])",
        "code, 'dask.array' in sys.modules")
    assert printed == {"plain": "0 False", "loaded": "0 True"}
