"""Smoke test of ``python -m benchmarks`` on the smallest size, and checks of the pieces it
relies on: the gravity test problem, the Newton probe and the gegravity comparison; and of
``python -m benchmarks.main_job`` on the example sweep."""

import json

import numpy as np
import pytest

from benchmarks.__main__ import main
from benchmarks.methods import METHODS
from benchmarks.newton_wages import solve_newton_wages
from benchmarks.problems import gravity_problem, tariff_problem
from calibration.synthetic import gravity_dataset
from model.core.settings import SolverSettings
from model.core.solver import initial_state, solve
from model.core.params import kernel_params


def test_quick_benchmark_smallest_size(tmp_path):
    assert main(["--sizes", "2x13", "--no-fresh", "--no-peer", "--quiet",
                 "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "benchmarks.json").read_text())
    assert (tmp_path / "scaling.png").stat().st_size > 0
    rows = result["rows"]
    assert [r["method"] for r in rows] == [m.key for m in METHODS]
    for row in rows:
        assert row["status"] == "ok", row
        assert row["residual"] < 1e-9
        assert row["wage_gap"] < 1e-8  # every method finds the same equilibrium
        assert row["time_s"] > 0 and row["ratio"] > 0
    cases = {r["case"]: r for r in result["instruments"]}
    assert set(cases) == {"optimal_tariff_2x13", "nash_3x13", "quota_3x13",
                          "trade_balance_target_3x13"}
    assert all(r["ratio"] > 1 for r in cases.values())  # each costs more than one solve
    assert any(t["target"].startswith("nash_3x13") for t in result["targets"])
    baseline = next(r for r in rows if r["method"] == "hybr")
    assert baseline["ratio"] == 1.0
    assert {t["target"] for t in result["targets"]} >= {
        "2x13 under 0.15 ms (median)", "2x13 at least 20x faster than scipy root (hybr)",
        "2x13 faster than the NumPy fixed point in every round"}
    row = next(r for r in rows if r["method"] == "anderson")
    assert len(row["times_s"]) == row["repeats"] >= 3
    low, mid, high = row["ratio_numpy_spread"]
    assert 0 < low <= mid <= high
    assert result["machine"]["cores"] >= 1


@pytest.mark.parametrize("size", [(2, 13), (3, 13), (4, 6)])
def test_newton_on_wages_agrees_with_the_fixed_point(size):
    problem = tariff_problem(*size)
    p = kernel_params(problem.bm, problem.policy, SolverSettings())
    x, converged, steps, evaluations = solve_newton_wages(p, initial_state(problem.bm),
                                                          tol=1e-12)
    reference = solve(problem.bm, problem.policy, SolverSettings(tol=1e-12))
    assert converged and steps >= 1 and evaluations > steps
    nr = size[0]
    np.testing.assert_allclose(x[:nr], reference.w_hat, rtol=1e-8)
    np.testing.assert_allclose(x, reference.x, rtol=1e-8, atol=1e-8)


def test_gravity_dataset_is_balanced_and_seeded():
    ds = gravity_dataset(7, seed=3, sigma=4.0)
    flows = ds.flows[:, :, 0]
    np.testing.assert_allclose(flows.sum(axis=1), flows.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ds.value_added[:, 0], flows.sum(axis=1))
    assert ds.sectors == ("goods",) and not ds.intermediates.any() and not ds.tariffs.any()
    assert np.all(np.diag(flows) > flows.sum(axis=1) / 2)  # home bias
    np.testing.assert_array_equal(gravity_dataset(7, seed=3, sigma=4.0).flows, ds.flows)


def test_gravity_problem_zero_shock_is_the_benchmark():
    problem = gravity_problem(5, cost_shock=1.0)
    sol = solve(problem.bm, problem.policy)
    assert sol.iterations <= 1
    np.testing.assert_allclose(sol.w_hat, 1.0, atol=1e-12)


def test_gegravity_comparison():
    pytest.importorskip("gegravity")
    from benchmarks.peer import compare

    result = compare(6, repeat=1)
    # gegravity's equations with output shares at their counterfactual values are ours
    assert result["updated_shares_welfare_max_abs_gap_pp"] < 1e-8
    # its fixed output shares leave a gap, of the sign and size of a first-order error
    assert 0 < result["welfare_max_abs_gap_pp"] < 0.5 * max(
        abs(w) for w in result["welfare_ours_pct"])
    assert result["gegravity"]["message"] == "The solution converged."


def test_main_job_benchmark_times_the_run_and_each_phase(tmp_path, capsys):
    """``python -m benchmarks.main_job`` on the example sweep: the whole process timed, and one
    run split into phases that cover it (the figures' child runs beside the others)."""
    from benchmarks.main_job import main as main_job
    from benchmarks.timing import spread

    path = tmp_path / "main_job.json"
    assert main_job(["--file", "scenarios/sweep_example.toml", "--repeat", "1",
                     "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    wall, cpu = result["whole"]["wall_s"], result["whole"]["cpu_s"]
    assert result["whole"]["runs"] == 1 and 0 < wall[0] == wall[1] == wall[2]
    assert cpu[0] > 0
    phases = result["phases_s"]
    children = ("figures (drawn in a child)", "sweep figure (drawn in a child)")
    assert {"start-up (imports, data)", "study", "sweep: central solves", "sweep: draws",
            "sweep: sweep.nc", *children} <= set(phases)
    run = phases["whole run"]
    in_run = sum(v for k, v in phases.items() if k not in ("whole run", *children))
    # the phases of the run's own process cover most of it (what falls between them, such as
    # handing jobs to the figures' child and the interpreter's end, is a larger share of a
    # faster run: 13-26 % of this one on a loaded 2-core machine)
    assert 0.6 * run < in_run <= run + 1e-6
    assert all(0 < phases[child] < run for child in children)
    printed = capsys.readouterr().out
    assert "min / median / max" in printed and "sweep: draws" in printed
    assert spread([3.0, 1.0, 2.0, 10.0]) == (1.0, 2.5, 10.0)


def test_the_first_runs_compilation_bound(monkeypatch, capsys):
    """The compiling of a first run before its first solve, by process, and the earliest
    first solve it allows: the run's start-up, then the longer of the chain of kernels that
    call each other and all of it shared evenly over the cores; printed under --cold."""
    import benchmarks.main_job as main_job

    timeline = {"kernels": [("run", "split", 1.0, 1.5), ("run", "gauss_solve", 1.5, 2.0),
                            ("child", "workspace", 2.0, 3.0),
                            ("run", "evaluate_lean", 2.0, 8.0),
                            ("child", "compute_outcomes", 3.0, 12.5),
                            ("run", "solve_with_retries", 8.5, 13.5),
                            ("child", "_shock_arrays", 12.5, 14.5),  # half before the solve
                            ("child", "solve_draws", 14.5, 24.0)],   # after: not counted
                "first solve": 13.5, "whole run": 30.0}
    b = main_job.compile_bound(timeline, 2)
    assert (b["run_s"], b["child_s"], b["chain_s"], b["start_s"]) == (12.0, 11.5, 11.5, 1.0)
    assert b["bound_s"] == 1.0 + 23.5 / 2  # shared over two cores: longer than the chain
    assert main_job.compile_bound(timeline, 4)["bound_s"] == 1.0 + 11.5  # the chain
    assert main_job.compile_bound(timeline, 1)["bound_s"] == 1.0 + 23.5  # one core: all

    figures = {"wall_s": (1.0, 2.0, 3.0), "cpu_s": (2.0, 3.0, 4.0), "runs": 1}
    monkeypatch.setattr(main_job, "whole", lambda *a: figures)
    monkeypatch.setattr(main_job, "phases", lambda *a: {"whole run": 2.0, "study": 1.0})
    monkeypatch.setattr(main_job, "cold", lambda *a: figures)
    monkeypatch.setattr(main_job, "compiles", lambda *a: timeline)
    monkeypatch.setattr(main_job, "cores", lambda: 2)
    assert main_job.main(["--repeat", "1", "--cold"]) == 0
    printed = capsys.readouterr().out
    assert any(line.split()[:5] == ["child", "solve_draws", "14.50", "-", "24.00"]
               for line in printed.splitlines())  # listed, though not counted
    assert ("12.00 s in the run, 11.50 s in the child, 11.50 s of it along gauss_solve > "
            "evaluate_lean > solve_with_retries") in printed
    assert "could not come before 12.75 s" in printed and "over 2 cores" in printed


@pytest.mark.parametrize("module, argv, message", [
    ("main_job", ["--repeat", "0"], "--repeat: must be at least 1, not 0"),
    ("main_job", ["--cold", "-1"], "--cold: must be at least 0, not -1"),
    ("instruments", ["--repeat", "x"], "--repeat: 'x' is not a whole number"),
    ("sweep", ["--draws", "0"], "--draws: must be at least 1, not 0"),
    ("sweep", ["--searched-draws", "-2"], "--searched-draws: must be at least 0, not -2"),
    ("versus", ["HEAD", "--rounds", "0"], "--rounds: must be at least 1, not 0"),
    ("versus", ["HEAD", "--budget", "0"], "--budget: must be positive, not 0"),
])
def test_benchmark_counts_must_be_positive(module, argv, message, capsys):
    """A count of runs, rounds or draws below its least value is the parser's error (exit 2)
    naming the option, not a table of NaN or a traceback after the first runs."""
    import importlib

    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"benchmarks.{module}").main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
