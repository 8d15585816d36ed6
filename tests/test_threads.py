"""Independent solves on threads: results in order and the same as one after the other."""

import dataclasses
import signal
import threading
import time

import pytest
import xarray as xr

import model.study
from model.study import prepare, solve_study
from model import threads
from model.threads import on_threads
from tests.conftest import ROOT


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


def test_a_study_on_threads_equals_it_solved_one_scenario_after_another(monkeypatch):
    """A tariff, a target, quotas and an optimal tariff, with their decompositions."""
    study = prepare(ROOT / "scenarios" / "kiuchi.toml", compare=False)
    keep = ("deal_2025_sr", "spend_at_home", "ver_quota", "purchases", "us_optimal")
    study = dataclasses.replace(study, scenarios=tuple(p for p in study.scenarios
                                                       if p.name in keep))
    assert len(study.scenarios) == len(keep)
    threaded = solve_study(study).results
    monkeypatch.setattr(model.study, "on_threads",
                        lambda work, parts: [work(*args) for args in parts])
    serial = solve_study(study).results
    xr.testing.assert_identical(threaded, serial)


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

    main = threading.main_thread().ident
    timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        on_threads(work, [(k,) for k in range(6)], 2)
    assert time.perf_counter() - start < 3.0
    assert sorted(ran) == [0, 1]  # the parts not started were dropped
    assert not threads._STOP.is_set()  # the next pool runs


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

    threads._STOP.set()
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert raised == [True]
        assert solve(bm, pol).converged  # the main thread is never stopped this way
    finally:
        threads._STOP.clear()
    assert solve(bm, pol).converged
