"""Independent solves on threads: results in order and the same as one after the other."""

import dataclasses
import threading
import time

import pytest
import xarray as xr

import model.study
from model.study import prepare, solve_study
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
