"""Independent solves on threads (and a study's on processes): results in order and the same
as one after the other."""

import dataclasses
import threading
import time

import pytest
import xarray as xr

import model.study
from model.study import prepare, solve_study
from model import compiling, threads
from model.processes import on_processes
from model.threads import on_threads
from tests.conftest import ROOT, deliveries, seconds_to_interrupt


def test_results_come_in_the_order_of_the_parts():
    def work(k, delay):
        time.sleep(delay)
        return k, threading.get_ident()

    done = on_threads(work, [(k, 0.02 * (5 - k)) for k in range(6)], 3)
    assert [k for k, _ in done] == list(range(6))
    assert len({ident for _, ident in done}) > 1  # on more than one thread


def test_the_first_failure_in_order_is_raised():
    def work(k):
        if k in (2, 4):
            time.sleep(0.05 if k == 2 else 0.0)  # the later part fails first
            raise ValueError(f"part {k}")
        return k

    with pytest.raises(ValueError, match="part 2"):
        on_threads(work, [(k,) for k in range(6)], 3)


def serially(work, parts, *_):
    return [work(*args) for args in parts]


def test_a_study_on_processes_or_threads_equals_it_solved_one_scenario_after_another(
        monkeypatch):
    """A tariff, a target, quotas and an optimal tariff, with their decompositions: on forked
    processes (the kernels loaded first), on threads and one after another."""
    study = prepare(ROOT / "scenarios" / "kiuchi.toml", compare=False)
    keep = ("deal_2025_sr", "spend_at_home", "ver_quota", "purchases", "us_optimal")
    study = dataclasses.replace(study, scenarios=tuple(p for p in study.scenarios
                                                       if p.name in keep))
    assert len(study.scenarios) == len(keep)
    solve_study(study)  # compiles the kernels where the cache has none
    assert compiling.loaded(study.benchmark, study.file.solver)  # so on processes
    pools, delivered = [], deliveries(monkeypatch)
    monkeypatch.setattr(model.study, "on_processes", lambda work, parts: (  # two, any machine
        pools.append("processes"), on_processes(work, parts, 2))[1])
    forked = solve_study(study).results
    assert sum(delivered) > 0  # a child solved scenarios (not the run alone, after failures)
    monkeypatch.setattr(model.study, "on_processes", lambda work, parts: (
        pools.append("threads"), on_threads(work, parts, 2))[1])
    threaded = solve_study(study).results
    assert pools == ["processes", "threads"]
    monkeypatch.setattr(model.study, "on_processes", serially)
    monkeypatch.setattr(model.study, "on_threads", serially)
    serial = solve_study(study).results
    xr.testing.assert_identical(forked, serial)
    xr.testing.assert_identical(threaded, serial)


def test_a_file_and_its_compared_files_solved_together_equal_them_solved_apart(monkeypatch):
    """One pool for a study and a compared file: each result is the study's alone, its
    scenarios in file order; the scenarios start longest first (a Nash game, an optimal
    tariff, searches and quotas, a plain solve; with a decomposition before without)."""
    study = prepare(ROOT / "scenarios" / "kiuchi.toml")
    keep = ("april_2025", "ver_quota", "spend_at_home", "tariff_war", "us_optimal")
    study = dataclasses.replace(study, scenarios=tuple(p for p in study.scenarios
                                                       if p.name in keep))
    other = study.compare[0]
    other = dataclasses.replace(other, scenarios=other.scenarios[:2])
    started = []
    solve_scenario = model.study.solve_scenario

    def record(study, prepared, settings, decomposition):
        started.append((prepared.name, decomposition))
        return solve_scenario(study, prepared, settings, decomposition)

    together = model.study.solve_studies([(study, True), (other, False)])
    monkeypatch.setattr(model.study, "solve_scenario", record)
    monkeypatch.setattr(model.study, "on_processes", serially)
    monkeypatch.setattr(model.study, "on_threads", serially)
    model.study.solve_studies([(study, True), (other, False)])
    assert [p.search is None and p.policy.quotas is None for p in other.scenarios] == [True] * 2
    assert started == [("tariff_war", True), ("us_optimal", True), ("spend_at_home", True),
                       ("ver_quota", True), ("april_2025", True)] + [
        (p.name, False) for p in other.scenarios]
    monkeypatch.undo()
    assert list(together[0].results.scenario.values) == [p.name for p in study.scenarios]
    xr.testing.assert_identical(together[0].results, solve_study(study).results)
    xr.testing.assert_identical(together[1].results,
                                solve_study(other, decomposition=False).results)


def test_ctrl_c_stops_the_parts_running_at_their_next_solve():
    """An interrupt does not wait for whole parts (a search can take minutes): those running
    stop at their next solve, those not started are dropped."""
    ran = []

    def work(k):
        ran.append(k)
        for _ in range(1000):  # ten seconds of solves
            threads.check()
            time.sleep(0.01)
        return k

    assert seconds_to_interrupt(lambda: on_threads(work, [(k,) for k in range(6)], 2),
                                0.3) < 3.0
    assert sorted(ran) == [0, 1]  # the parts not started were dropped
    assert on_threads(lambda k: (threads.check(), k)[1], [(0,), (1,)], 2) == [0, 1]


def test_an_interrupted_pool_stops_no_other():
    """A failure in one pool stops its own parts, not those of a pool running at the same
    time on other threads (two runs of the API side by side), nor the pools after it."""
    failing_started = threading.Event()
    healthy = []

    def failing(k):
        failing_started.set()
        if k == 0:
            raise ValueError("part 0")
        for _ in range(300):
            threads.check()
            time.sleep(0.01)

    def slow(k):
        failing_started.wait(5)
        for _ in range(30):  # still solving when the other pool fails
            threads.check()
            time.sleep(0.01)
        return k

    other = threading.Thread(target=lambda: healthy.append(on_threads(slow, [(0,), (1,)], 2)))
    other.start()
    start = time.perf_counter()
    with pytest.raises(ValueError, match="part 0"):
        on_threads(failing, [(0,), (1,), (2,)], 3)
    assert time.perf_counter() - start < 2.5  # its own parts stopped
    other.join()
    assert healthy == [[0, 1]]


def test_a_solve_on_a_thread_of_an_interrupted_pool_stops():
    from calibration.calibrate import calibrate
    from calibration.synthetic import random_dataset
    from model.core.policy import make_policy
    from model.core.solver import solve

    bm = calibrate(random_dataset(2, 3, seed=1))
    t1 = bm.t0.copy()
    t1[1, 0, :] += 0.1  # region 1 taxes its imports from region 0
    pol = make_policy(bm, t1=t1)
    raised = []

    def worker():
        try:
            solve(bm, pol)
        except KeyboardInterrupt:
            raised.append(True)

    stop = threading.Event()
    stop.set()

    def in_interrupted_pool():
        threads._LOCAL.stops = (stop,)
        worker()

    thread = threading.Thread(target=in_interrupted_pool)
    thread.start()
    thread.join()
    assert raised == [True]
    assert solve(bm, pol).converged  # a thread that works for no pool solves
