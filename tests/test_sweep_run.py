"""Sweeps end to end: every draw against a brute-force solve with ``model.solver.solve`` and
``model.outcomes.outcomes``, statistics against NumPy on those solves, failed-draw accounting,
resume after an interruption, invariance to chunks, threads and Dask workers, flat memory, and
the command line."""

import dataclasses
import pickle
import weakref

import numba
import numpy as np
import pytest
import xarray as xr

import model.sweep.assemble as assemble
import model.sweep.runner as sw
from model.core import catalogue
from model.core import outcomes_numpy
from model.sweep import draw_values, parse_sweep, sigma_scales
from model.sweep.spec import SweepSpec
from model.sweep.store import ChunkStore
from model.core.outcomes import outcomes
from model.core.params import elasticities, kernel_params, scale_elasticities
from model import processes
from model.core.settings import SolverSettings
from model.core.policy import make_policy
from model.output.report import fmt
from model.run import main
from model.scenario import ScenarioError
from model.core.solver import ConvergenceError, solve
from model.study import prepare
from model.sweep.kernels import INVALID
from model.sweep.report import uncertainty_markdown, write_sweep_figure
from tests.conftest import AUTO_TARIFF, EXAMPLE, ROOT, sigma_sweep, write_scenario

SCENARIOS = AUTO_TARIFF + """
[scenarios.balanced_trade]
closure = { trade_balance = { HOME = 0.0 } }
"""

SWEEP = """
[sweep]
method = "monte_carlo"
draws = 30
seed = 5
chunk_size = 7
[[sweep.parameters]]
name = "sigma"
sectors = "all"
except = ["services"]
distribution = "uniform"
low = 0.6
high = 1.5
[[sweep.parameters]]
name = "sigma"
sectors = ["services"]
distribution = "triangular"
low = 0.7
mode = 1.0
high = 1.6
[[sweep.parameters]]
name = "tariff"
label = "auto_tariff"
importer = "FOREIGN"
exporter = "HOME"
sectors = ["autos"]
values = [0.1, 0.4]
"""

#: agreement of two solves of the same draw (tolerance 1e-10 on the residuals): percent changes
#: and values agree to about 1e-9; the outcome formulas themselves agree to 1e-10 and better
TOL = 1e-8
OUTCOMES = ("welfare", "real_wage", "real_gdp", "terms_of_trade", "trade_balance",
            "tariff_revenue", "wage", "price_index", "output")


def setup(tmp_path, sweep=SWEEP, scenarios=SCENARIOS, data=EXAMPLE):
    path = write_scenario(tmp_path, scenarios + sweep, data=data.as_posix())
    study = prepare(path)
    return study, parse_sweep(study.file.sweep, study.file.path, study.benchmark)


def brute_force(study, spec, settings=None):
    """Every case solved one by one from Python: outcomes dict or the exception, per
    (scenario, grid point, draw)."""
    bm = study.benchmark
    central = study.file.solver
    settings = settings or central
    scales = sigma_scales(spec, draw_values(spec, 0, spec.n_draws))
    out = {}
    points = list(np.ndindex(*spec.grid_shape)) if spec.grid else [()]
    for s, pol in enumerate(p.policy for p in study.scenarios):
        for pt in points:
            pol_g = sw.grid_policy(spec, pol, pt)
            gscale = sw.grid_scale(spec, pt)
            x0 = solve(bm, pol_g, central, sigma=bm.sigma * gscale).x
            for d in range(spec.n_draws):
                sigma = bm.sigma * gscale * scales[d]
                if (sigma <= 1).any():
                    out[s, pt, d] = "invalid"
                    continue
                try:
                    sol = solve(bm, pol_g, settings, x0=x0, sigma=sigma)
                    out[s, pt, d] = outcomes(bm, pol_g, sol)
                except ConvergenceError:
                    out[s, pt, d] = "failed"
    return out


#: the fewest plain draws a sweep solves in the draw kernel (set lower in this module)
KERNEL_DRAWS = sw.KERNEL_DRAWS


@pytest.fixture(scope="module", autouse=True)
def in_the_draw_kernel():
    """The sweeps here solve their plain draws in the compiled draw kernel, however few: the
    kernel is what most of these tests check (the few-draws way is checked against it in
    ``test_few_plain_draws_are_solved_one_by_one_to_the_kernel_s_results``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sw, "KERNEL_DRAWS", 1)
        yield


@pytest.fixture(scope="module")
def example_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    study, spec = setup(tmp)
    run = sw.run_sweep(study, spec, tmp / "out" / "sweep.nc")
    return study, spec, run, xr.load_dataset(run.path)


def test_every_draw_equals_a_brute_force_solve(example_sweep):
    study, spec, run, res = example_sweep
    assert res.welfare.dims == ("scenario", "auto_tariff", "draw", "region")
    assert res.output.dims == ("scenario", "auto_tariff", "draw", "region", "sector")
    assert list(res.auto_tariff.values) == [0.1, 0.4]
    assert res.sample.dims == ("draw", "parameter")
    assert list(res.parameter.values) == ["sigma_agriculture_manufacturing_autos",
                                          "sigma_services"]
    ref = brute_force(study, spec)
    for (s, pt, d), out in ref.items():
        assert isinstance(out, dict)
        for name in OUTCOMES:  # two solves of the same equations agree to the tolerance
            got = res[name].values[(s,) + pt + (d,)]
            np.testing.assert_allclose(got, out[name], rtol=TOL, atol=TOL, err_msg=name)
    assert bool(res.converged.all()) and int(res.failed_draws.sum()) == 0
    assert float(res.residual.max()) < 1e-10
    # the drawn elasticities are recorded
    scales = sigma_scales(spec, res.sample.values)
    np.testing.assert_array_equal(res.sigma.values, scales * study.benchmark.sigma)


def test_statistics_equal_numpy_on_the_brute_force_run(example_sweep):
    study, spec, run, res = example_sweep
    ref = brute_force(study, spec)
    for s in range(len(study.scenarios)):
        for g in range(2):
            for name in ("welfare", "real_gdp", "output"):
                st = res[f"{name}_summary"].values[s, g]
                # the stored draws give exactly the statistics, and the brute-force solves
                # give them to the solver's tolerance
                for v, tol in ((res[name].values[s, g], 1e-12),
                               (np.array([ref[s, (g,), d][name] for d in range(30)]), TOL)):
                    np.testing.assert_allclose(st[0], v.mean(axis=0), rtol=tol, atol=tol)
                    np.testing.assert_allclose(st[1], v.std(axis=0, ddof=1), rtol=tol,
                                               atol=tol)
                    np.testing.assert_allclose(st[2:], np.percentile(v, [5, 50, 95], axis=0),
                                               rtol=tol, atol=tol)
    assert list(res.statistic.values) == ["mean", "sd", "p5", "p50", "p95"]


def test_three_regions_outcomes_match(tmp_path):
    """Terms of trade and real GDP with several partners (Japan, the US, the rest of the world)."""
    scen = """
[scenarios.us_tariff]
[[scenarios.us_tariff.tariffs]]
importer = "USA"
exporter = "all"
sectors = "all"
except = ["services"]
add = 0.15
"""
    sweep = """
[sweep]
method = "sobol"
draws = 2
seed = 1
[[sweep.parameters]]
name = "sigma"
sectors = "all"
distribution = "lognormal"
median = 1.0
log_sd = 0.2
"""
    study, spec = setup(tmp_path, sweep, scen, ROOT / "data" / "jpn_usa_row_2024")
    res = xr.load_dataset(sw.run_sweep(study, spec, tmp_path / "sweep.nc").path)
    ref = brute_force(study, spec)
    checked = 0
    for (s, pt, d), out in ref.items():
        if isinstance(out, dict):
            checked += 1
            for name in OUTCOMES:
                np.testing.assert_allclose(res[name].values[s, d], out[name], rtol=TOL,
                                           atol=TOL, err_msg=name)
    assert checked == spec.n_draws == 6
    assert res.welfare_S1.dims == ("scenario", "parameter", "region")
    assert "Sobol' indices of welfare" in uncertainty_markdown(res)


def test_failed_draws_are_recorded_counted_and_excluded(tmp_path, monkeypatch):
    """Elasticities at or below 1 (a normal draw) and iteration limits (a low max_iter for the
    draws) fail exactly where the brute-force run fails, and only the other draws count; solved
    one by one (fewer plain draws than KERNEL_DRAWS), the draws fail as in the draw kernel,
    with the same statuses, iterations and residuals."""
    sweep = """
[sweep]
draws = 60
seed = 3
chunk_size = 16
[[sweep.parameters]]
name = "sigma"
distribution = "normal"
mean = 1.0
sd = 0.35
"""
    study, spec = setup(tmp_path, sweep)
    settings = SolverSettings(max_iter=11)  # about a third of the draws converge in time
    run = sw.run_sweep(study, spec, tmp_path / "sweep.nc", settings=settings)
    res = xr.load_dataset(run.path)
    ref = brute_force(study, spec, settings)
    invalid = failed = solved = 0
    for (s, _, d), out in ref.items():
        status = int(res.status.values[s, d])
        if out == "invalid":
            invalid += 1
            assert status == INVALID and np.isnan(res.welfare.values[s, d]).all()
        elif out == "failed":
            failed += 1
            assert status in (1, 2) and not bool(res.converged.values[s, d])
            assert float(res.residual.values[s, d]) > 0
            assert np.isnan(res.welfare.values[s, d]).all()
        else:
            solved += 1
            assert status == 0
            np.testing.assert_allclose(res.welfare.values[s, d], out["welfare"], rtol=TOL,
                                       atol=TOL)
    assert invalid > 0 and failed > 0 and solved > 0  # both kinds of failure, and successes
    assert sum(run.failed.values()) == invalid + failed == int(res.failed_draws.sum())
    summarised = 0
    for s in range(2):
        ok = [ref[s, (), d]["welfare"] for d in range(60) if isinstance(ref[s, (), d], dict)]
        summarised += bool(ok)
        np.testing.assert_allclose(res.welfare_summary.values[s, 0], np.mean(ok, axis=0),
                                   rtol=TOL)
    assert summarised == 2
    monkeypatch.setattr(sw, "KERNEL_DRAWS", KERNEL_DRAWS)
    one_by_one = sw.run_sweep(study, spec, tmp_path / "one" / "sweep.nc", settings=settings)
    xr.testing.assert_identical(xr.load_dataset(one_by_one.path), res)


def test_same_result_for_any_chunk_size_and_thread_count(tmp_path, example_sweep):
    study, spec, run, res = example_sweep
    other = SweepSpec(**{**spec.__dict__, "chunk_size": 50})
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        again = sw.run_sweep(study, other, tmp_path / "sweep.nc")
    finally:
        numba.set_num_threads(threads)
    xr.testing.assert_identical(xr.load_dataset(again.path), res)


def interrupt_after_three_chunks(monkeypatch, study, spec, path) -> list:
    """Run the sweep with Ctrl-C arriving as the fourth chunk would be saved; returns the
    paths of the three chunks saved."""
    write = ChunkStore.write
    calls = []

    def interrupt_after_three(store, *args):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(store.path(*args[:2]))
        write(store, *args)

    monkeypatch.setattr(ChunkStore, "write", interrupt_after_three)
    with pytest.raises(KeyboardInterrupt):
        sw.run_sweep(study, spec, path)
    return calls


def test_interrupted_sweep_resumes_to_the_same_result(tmp_path, monkeypatch, example_sweep):
    study, spec, run, res = example_sweep
    path = tmp_path / "sweep.nc"
    write = ChunkStore.write
    calls = interrupt_after_three_chunks(monkeypatch, study, spec, path)
    assert not path.exists() and len(list((tmp_path / "sweep_chunks").glob("*.npz"))) == 3
    solved = []
    monkeypatch.setattr(ChunkStore, "write",
                        lambda store, *a: (solved.append(store.path(*a[:2])), write(store, *a)))
    sw.run_sweep(study, spec, path, resume=True)
    per_scenario = -(-spec.n_points * spec.n_draws // spec.chunk_size)
    assert len(solved) == 2 * per_scenario - 3 and not set(solved) & set(calls)
    xr.testing.assert_identical(xr.load_dataset(path), res)
    assert not (tmp_path / "sweep_chunks").exists()


def test_resume_refuses_chunks_of_another_sweep(tmp_path, monkeypatch, example_sweep):
    study, spec, run, res = example_sweep
    monkeypatch.setattr(ChunkStore, "write",
                        lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        sw.run_sweep(study, spec, tmp_path / "sweep.nc")
    other = SweepSpec(**{**spec.__dict__, "seed": 6})
    with pytest.raises(ScenarioError, match="different sweep"):
        sw.run_sweep(study, other, tmp_path / "sweep.nc", resume=True)


def test_dask_cluster_gives_the_in_process_result(tmp_path, monkeypatch, example_sweep):
    """On a Dask cluster, in the draw kernel and one by one (fewer plain draws than
    KERNEL_DRAWS), the result of the run in this process."""
    distributed = pytest.importorskip("distributed")
    study, spec, run, res = example_sweep
    # two workers in this process, talking over TCP on loopback (data is serialised)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1", scheduler_port=0,
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        out = sw.run_sweep(study, spec, tmp_path / "sweep.nc",
                           scheduler=cluster.scheduler_address)
        cli = tmp_path / "cli" / "results.nc"
        assert main([str(study.file.path), "--out", str(cli), "--quiet", "--scheduler",
                     cluster.scheduler_address]) == 0
        monkeypatch.setattr(sw, "KERNEL_DRAWS", KERNEL_DRAWS)
        monkeypatch.setattr(sw, "solve_draws", lambda *a: pytest.fail("the draw kernel"))
        one_by_one = sw.run_sweep(study, spec, tmp_path / "one" / "sweep.nc",
                                  scheduler=cluster.scheduler_address)
    xr.testing.assert_identical(xr.load_dataset(out.path), res)
    xr.testing.assert_identical(xr.load_dataset(cli.parent / "sweep.nc"), res)
    xr.testing.assert_identical(xr.load_dataset(one_by_one.path), res)


def test_few_plain_draws_are_solved_one_by_one_to_the_kernel_s_results(tmp_path, monkeypatch,
                                                                       example_sweep):
    """A sweep with fewer than KERNEL_DRAWS plain draws solves them one by one, as searched
    draws are, without the draw kernel (whose compilation would cost a first run more than
    they take), and gets the kernel's results exactly; the command line then has the child of
    a first run leave the draw kernel uncompiled."""
    from argparse import Namespace

    from model.cli import _draw_kernel_used

    study, spec, run, res = example_sweep
    monkeypatch.setattr(sw, "KERNEL_DRAWS", KERNEL_DRAWS)
    plain = len(study.scenarios) * spec.n_points * spec.n_draws  # none searches
    assert plain < KERNEL_DRAWS and not sw.in_kernel(study, spec)
    args = Namespace(scheduler=None)
    assert not _draw_kernel_used(args, study, spec)
    monkeypatch.setattr(sw, "solve_draws", lambda *a: pytest.fail("the draw kernel was called"))
    one_by_one = xr.load_dataset(sw.run_sweep(study, spec, tmp_path / "sweep.nc").path)
    xr.testing.assert_identical(one_by_one, res)
    # the count is over every plain scenario and grid point: from KERNEL_DRAWS, the kernel
    per_draw = len(study.scenarios) * spec.n_points
    for draws, kernel in ((-(-KERNEL_DRAWS // per_draw), True),
                          (-(-KERNEL_DRAWS // per_draw) - 1, False)):
        bigger = dataclasses.replace(spec, draws=draws)
        assert sw.in_kernel(study, bigger) is kernel
        assert _draw_kernel_used(args, study, bigger) is kernel
    assert not _draw_kernel_used(Namespace(scheduler="tcp://127.0.0.1:1"), study, bigger)


def test_few_plain_draws_of_a_nested_model_take_the_kernel_s_elasticities(tmp_path,
                                                                           monkeypatch):
    """Solved one by one, a plain draw of a nested Armington model takes both elasticities
    scaled, as the draw kernel does, not the lower one in proportion to the upper (which
    differs in the last bit for some draws where sigma_M / sigma is not a power of two): the
    results are the kernel's exactly."""
    scen = AUTO_TARIFF.replace("[scenarios.auto_tariff]\n",
                               '[scenarios.auto_tariff]\nclosure = { armington = "nested" }\n')
    study, spec = setup(tmp_path, SWEEP, scen)
    bm = study.benchmark
    study = dataclasses.replace(study, benchmark=dataclasses.replace(bm, sigma_m=1.7 * bm.sigma))
    bm = study.benchmark
    assert study.scenarios[0].policy.nested
    scales = sigma_scales(spec, draw_values(spec, 0, spec.n_draws))
    # the proportional form differs from the kernel's somewhere: the check below could fail
    assert (bm.sigma_m * (bm.sigma * scales / bm.sigma) != bm.sigma_m * scales).any()
    kernel = xr.load_dataset(sw.run_sweep(study, spec, tmp_path / "a" / "sweep.nc").path)
    monkeypatch.setattr(sw, "KERNEL_DRAWS", KERNEL_DRAWS)
    assert not sw.in_kernel(study, spec)
    solved = []  # the elasticities each draw is solved with, one by one

    def solve_scenario_policy(bm, policy, search, settings, sigma=None, **kwargs):
        solved.append(kernel_params(bm, policy, settings, sigma).elasticities)
        return real(bm, policy, search, settings, sigma=sigma, **kwargs)

    real = sw.solve_scenario_policy
    monkeypatch.setattr(sw, "solve_scenario_policy", solve_scenario_policy)
    monkeypatch.setattr(processes, "can_fork", lambda: False)  # the draws in this process
    one_by_one = xr.load_dataset(sw.run_sweep(study, spec, tmp_path / "b" / "sweep.nc").path)
    xr.testing.assert_identical(one_by_one, kernel)
    policy = study.scenarios[0].policy
    base = elasticities(bm, policy)
    grid = sw.grid_scale
    expected = [scale_elasticities.py_func(base, scale * grid(spec, point))
                for point in np.ndindex(*spec.grid_shape) for scale in scales]
    draws = solved[spec.n_points:]  # after the central solve of each grid point
    assert len(draws) == len(expected)
    for got, want in zip(draws, expected):
        np.testing.assert_array_equal(got.sigma, want.sigma)
        np.testing.assert_array_equal(got.sigma_m, want.sigma_m)


def test_a_plain_draw_solved_one_by_one_keeps_the_solver_s_status(monkeypatch, example_sweep):
    """A plain draw whose solve stops on values that are no longer finite is recorded with
    the solver's status (not_finite), as the draw kernel records it, not as an iteration
    limit; the solver's error carries that status."""
    from model.core import fixed_point

    study, spec, run, res = example_sweep
    bm, policy = study.benchmark, study.scenarios[0].policy

    def stops(x0, x_init, p, st, x_out):  # the solver's last attempt: values not finite
        x_out[:] = np.nan
        return fixed_point.NOT_FINITE, 7, np.nan, np.nan, np.nan, 0.25, None

    monkeypatch.setattr(fixed_point, "solve_with_retries", stops)
    with pytest.raises(ConvergenceError) as failed:
        solve(bm, policy)
    assert failed.value.status == fixed_point.NOT_FINITE
    draws = sw.DrawSearch(bm, (policy,), None, study.file.solver)
    status, iterations, residuals, rows, value, tariffs = draws.solve(0, np.ones(len(bm.sectors)))
    assert (status, iterations, rows) == (fixed_point.NOT_FINITE, 7, None)
    assert np.isnan(residuals).all()


def test_chunk_work_survives_pickling(example_sweep):
    """What a remote worker receives (pickled) solves to the same numbers."""
    study, spec, run, res = example_sweep
    static, _ = sw.prepare_scenario(spec, study.benchmark, study.scenarios[0].policy,
                                    study.file.solver)
    point, scales = sw.chunk_cases(spec, 0, 10)
    scales = scales * static.grid_scales[point]
    here = sw.solve_chunk(static, point, scales)
    there = sw.solve_chunk(pickle.loads(pickle.dumps(static)), point, scales)
    for key in here:
        np.testing.assert_array_equal(here[key], there[key])


def test_at_most_two_chunks_are_held_and_statistics_read_in_columns(tmp_path, monkeypatch):
    """Memory is flat in the number of draws: solving and assembling never hold more than two
    chunks' results at once (the one being written and the one just read), and statistics read
    at most STAT_BUDGET values at a time without changing any result."""
    scen = SCENARIOS.split("[scenarios.balanced_trade]")[0]
    study, spec = setup(tmp_path, "[sweep]\ndraws = 3000\nchunk_size = 250\n"
                        "[[sweep.parameters]]\nname = 'sigma'\ndistribution = 'uniform'\n"
                        "low = 0.9\nhigh = 1.1\n", scen)
    alive, peak = [0], [0]

    def track(fn):
        def wrapped(*args):
            out = fn(*args)
            alive[0] += 1
            peak[0] = max(peak[0], alive[0])
            weakref.finalize(out["region"], lambda: alive.__setitem__(0, alive[0] - 1))
            return out
        return wrapped

    monkeypatch.setattr(sw, "solve_chunk", track(sw.solve_chunk))
    monkeypatch.setattr(ChunkStore, "read", track(ChunkStore.read))
    reference = xr.load_dataset(sw.run_sweep(study, spec, tmp_path / "a" / "sweep.nc").path)
    assert peak[0] <= 2 and alive[0] == 0
    monkeypatch.setattr(assemble, "STAT_BUDGET", 1000)  # < 3000 draws: one cell at a time
    small = xr.load_dataset(sw.run_sweep(study, spec, tmp_path / "b" / "sweep.nc").path)
    xr.testing.assert_identical(small, reference)


def test_cli_runs_the_example_sweep(tmp_path, capsys):
    out = tmp_path / "ex" / "results.nc"
    assert main([str(ROOT / "scenarios" / "sweep_example.toml"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "solves in" in printed and "sweep.nc" in printed
    res = xr.load_dataset(out.parent / "sweep.nc")
    assert res.welfare.dims == ("scenario", "auto_tariff", "draw", "region")
    report = (out.parent / "report.md").read_text()
    assert "Uncertainty (sensitivity sweep)" in report and "auto_tariff=0.25" in report
    assert "Headline indicators" in report  # the central results stay in the report
    assert (out.parent / "sweep.png").stat().st_size > 0
    assert (out.parent / "results.nc").exists()


def test_cli_reports_failed_draws_and_resumes(tmp_path, capsys, monkeypatch):
    sweep = """
[sweep]
draws = 40
seed = 3
chunk_size = 10
[[sweep.parameters]]
name = "sigma"
distribution = "normal"
mean = 1.0
sd = 0.35
"""
    path = write_scenario(tmp_path, SCENARIOS + sweep, data=EXAMPLE.as_posix())
    out = tmp_path / "out" / "results.nc"
    write = ChunkStore.write
    count = []

    def interrupt(*args):
        if len(count) == 2:
            raise KeyboardInterrupt
        count.append(1)
        write(*args)

    monkeypatch.setattr(ChunkStore, "write", interrupt)
    assert main([str(path), "--out", str(out), "--quiet"]) == 130
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setattr(ChunkStore, "write", write)
    assert main([str(path), "--out", str(out), "--quiet", "--resume"]) == 0
    err = capsys.readouterr().err
    resumed = xr.load_dataset(out.parent / "sweep.nc")
    n_failed = int(resumed.failed_draws.sum())
    assert n_failed > 0 and f"{int(resumed.failed_draws.values[0])} draws did not converge" in err
    fresh = tmp_path / "fresh" / "results.nc"
    assert main([str(path), "--out", str(fresh), "--quiet"]) == 0
    xr.testing.assert_identical(xr.load_dataset(fresh.parent / "sweep.nc"), resumed)
    assert f"{n_failed} of 80" in (out.parent / "report.md").read_text()


def test_ctrl_c_while_the_sweep_is_assembled_keeps_its_chunks(tmp_path, capsys, monkeypatch):
    """An interrupt that comes while sweep.nc is assembled (held until the file is whole)
    stops the run before the chunks are removed: it exits 130, says so, and --resume
    finishes from them without solving a draw again."""
    import os
    import signal

    path = write_scenario(tmp_path, SCENARIOS + sigma_sweep(draws=20), data=EXAMPLE.as_posix())
    out = tmp_path / "out" / "results.nc"
    original = sw.assemble

    def interrupted(*args):
        os.kill(os.getpid(), signal.SIGINT)
        return original(*args)

    monkeypatch.setattr(sw, "assemble", interrupted)
    assert main([str(path), "--out", str(out), "--quiet"]) == 130
    assert "--resume" in capsys.readouterr().err
    assert (out.parent / "sweep_chunks").is_dir() and not out.exists()
    monkeypatch.setattr(sw, "assemble", original)
    monkeypatch.setattr(sw, "solve_chunk", lambda *a: pytest.fail("a chunk solved again"))
    assert main([str(path), "--out", str(out), "--quiet", "--resume"]) == 0
    assert (out.parent / "sweep.nc").is_file() and not (out.parent / "sweep_chunks").exists()


def test_grid_sweep_equals_brute_force_at_every_point(tmp_path):
    """method = "grid": a tariff grid and an elasticity grid are two named dimensions, and each
    point is the scenario solved with those values."""
    sweep = """
[sweep]
method = "grid"
[[sweep.parameters]]
name = "tariff"
label = "auto_tariff"
importer = "FOREIGN"
exporter = "HOME"
sectors = ["autos"]
values = [0.0, 0.2, 0.5]
[[sweep.parameters]]
name = "sigma"
label = "sigma_scale"
sectors = ["autos", "manufacturing"]
values = [0.8, 1.3]
"""
    study, spec = setup(tmp_path, sweep)
    res = xr.load_dataset(sw.run_sweep(study, spec, tmp_path / "sweep.nc").path)
    assert res.welfare.dims == ("scenario", "auto_tariff", "sigma_scale", "region")
    assert "draw" not in res.dims and "welfare_summary" not in res
    bm = study.benchmark
    j = [bm.sectors.index("autos"), bm.sectors.index("manufacturing")]
    home, foreign = bm.regions.index("HOME"), bm.regions.index("FOREIGN")
    for s, pol in enumerate(p.policy for p in study.scenarios):
        for a, rate in enumerate([0.0, 0.2, 0.5]):
            for b, mult in enumerate([0.8, 1.3]):
                t1 = np.array(pol.t1)
                t1[foreign, home, j[0]] = rate
                sigma = bm.sigma.copy()
                sigma[j] *= mult
                p = make_policy(bm, t1=t1, d_hat=pol.d_hat, D1=pol.D1)
                want = outcomes(bm, p, solve(bm, p, study.file.solver, sigma=sigma))
                for name in OUTCOMES:
                    np.testing.assert_allclose(res[name].values[s, a, b], want[name],
                                               rtol=TOL, atol=TOL, err_msg=name)
    assert int(res.failed_draws.sum()) == 0
    welfare = uncertainty_markdown(res).split("### ")[1]  # the first table
    name = str(res.scenario.values[-1])
    assert table_row(welfare, f"{name} auto_tariff=0.5 sigma_scale=1.3") == [
        f"{v:.3f}" for v in res.welfare.values[-1, 2, 1]]
    assert write_sweep_figure(res, tmp_path).stat().st_size > 0


def table_row(table: str, case: str) -> list[str]:
    """The cells of a markdown table's row for ``case``."""
    row = next(line for line in table.splitlines() if line.startswith(f"| {case} |"))
    return [c.strip() for c in row.strip().strip("|").split("|")][1:]


def test_quadrature_sweep_weights_the_brute_force_solves(tmp_path):
    sweep = """
[sweep]
method = "quadrature"
[[sweep.parameters]]
name = "sigma"
sectors = "all"
independent = true
distribution = "normal"
mean = 1.0
sd = 0.1
"""
    study, spec = setup(tmp_path, sweep)
    assert spec.n_draws == 8  # 2 x 4 sectors
    res = xr.load_dataset(sw.run_sweep(study, spec, tmp_path / "sweep.nc").path)
    ref = brute_force(study, spec)
    for s in range(2):
        v = np.array([ref[s, (), d]["welfare"] for d in range(8)])
        st = res.welfare_summary.values[s]
        np.testing.assert_allclose(st[0], v.mean(axis=0), rtol=TOL, atol=TOL)
        np.testing.assert_allclose(st[1], v.std(axis=0), rtol=1e-6)
        assert np.isnan(st[2:]).all()
    np.testing.assert_allclose(res.weight.values, 1 / 8)
    real_gdp = uncertainty_markdown(res).split("### ")[3]  # welfare, real wage, real GDP
    for s, name in enumerate(res.scenario.values):
        st = res.real_gdp_summary.transpose("scenario", "statistic", "region").values[s]
        assert table_row(real_gdp, str(name)) == [f"{fmt(m)} ± {fmt(sd)}"
                                                  for m, sd in zip(st[0], st[1])]
    assert write_sweep_figure(res, tmp_path).stat().st_size > 0


@pytest.mark.parametrize("options", [
    {"nested": True},
    {"capital_share": 0.35},
    {"fixed_real_wage": np.array([True, False, False]), "capital_share": 0.3},
    {"e1": "export_tax", "pref": "shift"},
])
def test_kernel_outcomes_under_model_options(options):
    """The compiled outcomes equal model.core.outcomes_numpy.outcomes (their NumPy twin) for
    nested Armington, sector-specific capital, a fixed real wage, export taxes and preference
    shifts, on a seeded 3-region problem with input-output links."""
    from calibration.calibrate import calibrate
    from calibration.synthetic import random_dataset

    bm = calibrate(random_dataset(3, 4, seed=11))
    t1 = bm.t0.copy()
    t1[1, 0, :] += 0.2
    kw = dict(options)
    if kw.pop("e1", None):
        e1 = np.zeros_like(t1)
        e1[1, 2, :2] = 0.1
        kw["e1"] = e1
    if kw.pop("pref", None):
        pref = np.ones_like(t1)
        pref[0, 1, 1] = 1.2
        kw["pref"] = pref
    pol = make_policy(bm, t1=t1, **kw)
    settings = SolverSettings()
    spec = parse_sweep({"draws": 6, "seed": 2, "parameters": [
        {"name": "sigma", "distribution": "uniform", "low": 0.8, "high": 1.25}]}, "test", bm)
    static, failed = sw.prepare_scenario(spec, bm, pol, settings)
    assert not failed
    point, scales = sw.chunk_cases(spec, 0, 6)
    got = sw.solve_chunk(static, point, scales)
    assert (got["status"] == 0).all()
    region = [v.name for v in catalogue.per_draw() if v.dims == ("region",)]
    sector = [v.name for v in catalogue.per_draw() if v.dims == ("region", "sector")]
    for d in range(6):
        sigma = bm.sigma * scales[d]
        sol = solve(bm, pol, settings, x0=static.x0s[0], sigma=sigma)
        want = outcomes_numpy.outcomes(bm, pol, sol)
        # the twin: compiled outcomes at the same state, to rounding, for every outcome
        for name, value in outcomes(bm, pol, sol).items():
            np.testing.assert_allclose(value, want[name], rtol=1e-10, atol=1e-12,
                                       err_msg=name)
        # the whole draw: solved in parallel, to the solver's tolerance
        for k, name in enumerate(region):
            np.testing.assert_allclose(got["region"][d, k], want[name], rtol=TOL, atol=TOL,
                                       err_msg=name)
        for k, name in enumerate(sector):
            np.testing.assert_allclose(got["sector"][d, k], want[name], rtol=TOL, atol=TOL,
                                       err_msg=name)


def test_a_damaged_chunk_is_solved_again_on_resume(tmp_path, monkeypatch, example_sweep):
    """Overwrite bytes inside a saved chunk of an interrupted sweep: resuming solves that
    chunk again (its checksum no longer matches) and the result is the uninterrupted one."""
    study, spec, run, res = example_sweep
    path = tmp_path / "sweep.nc"
    write = ChunkStore.write
    calls = interrupt_after_three_chunks(monkeypatch, study, spec, path)
    damaged = calls[1]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2:len(data) // 2 + 2000] = b"\xff" * 2000
    damaged.write_bytes(bytes(data))
    solved = []
    monkeypatch.setattr(ChunkStore, "write",
                        lambda store, *a: (solved.append(store.path(*a[:2])), write(store, *a)))
    sw.run_sweep(study, spec, path, resume=True)
    assert damaged in solved and calls[0] not in solved and calls[2] not in solved
    xr.testing.assert_identical(xr.load_dataset(path), res)
