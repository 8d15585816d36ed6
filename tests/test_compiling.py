"""A first run's compilation shared with a child process (model.compiling)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from numba import njit, types

from calibration.calibrate import calibrate
from calibration.synthetic import random_dataset
from model import compiling
from model.core.settings import SolverSettings

ROOT = Path(__file__).resolve().parents[1]

#: every kernel the child compiles; the run compiles none of them
CHILD = {"workspace", "prepare_weights", "_copy", "_update", "_anderson_step", "store_shares",
         "allocate", "compute_outcomes", "solve_draws", "shock_at", "scale_elasticities"}

#: a run from an empty numba cache that prints the kernels compiled in its own process
#: (numba's compile events: a kernel loaded from the cache is not compiled)
RUN = """
import sys
from numba.core import event

compiled = []

class Listener(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__name__)

    def on_end(self, ev):
        pass

event.register("numba:compile", Listener())
from model.cli import main

code = main(sys.argv[1:])
print("compiled:", " ".join(sorted(set(compiled))))
print("exit:", code)
"""

SWEPT = """
title = "A first run"
data = "{data}"

[scenarios.auto_tariff]
[[scenarios.auto_tariff.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = ["autos"]
rate = 0.25

[sweep]
method = "monte_carlo"
draws = 8
seed = 1

[[sweep.parameters]]
name = "sigma"
sectors = "all"
distribution = "uniform"
low = 0.8
high = 1.2
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks a child (Linux)")
def test_a_first_run_compiles_each_kernel_once_in_one_of_two_processes(tmp_path):
    """From an empty cache, the run compiles the evaluation and the solver, the child every
    other kernel (the solver's others, the outcomes, the draw kernel): the argument types the
    child compiles for are those the solves, the outcomes and the draws pass, or the run
    would compile them again.  The results are those of a run from a full cache."""
    scenario = tmp_path / "swept.toml"
    scenario.write_text(SWEPT.format(data=(ROOT / "data" / "example").as_posix()),
                        encoding="utf-8")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run(name):
        done = subprocess.run([sys.executable, "-c", RUN, str(scenario), "--quiet", "--out",
                               str(tmp_path / name / "results.nc")], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=900)
        assert done.returncode == 0, done.stderr
        lines = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
        return set(lines["compiled"].split())

    cold = run("cold")
    assert {"evaluate_lean", "solve_with_retries"} <= cold  # here, not in the child
    assert not cold & CHILD
    assert not run("warm") & (CHILD | {"evaluate_lean", "solve_with_retries"})
    for name in ("results.nc", "sweep.nc"):
        import xarray as xr

        with xr.open_dataset(tmp_path / "cold" / name) as a, \
                xr.open_dataset(tmp_path / "warm" / name) as b:
            xr.testing.assert_equal(a, b)  # attributes: the times of the runs


@njit
def _here(x):
    return x + 1.0


@njit
def _there(x):
    return x * 2.0


@njit
def _broken(x):
    return x.no_such_attribute


def _kernels(other):
    return {"evaluate_lean": (_here, (types.float64,)), "other": (other, (types.float64,))}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks a child (Linux)")
def test_the_run_compiles_its_part_and_goes_on_when_the_child_has_finished_or_failed(
        monkeypatch):
    """The run compiles the evaluation and waits for the child's word; a child that fails
    (a kernel that does not compile) ends the wait at once, and so does one that has
    finished; with a sweep, the child compiles the draw kernel before :meth:`wait` returns."""
    bm = calibrate(random_dataset(2, 3, seed=0))
    for other in (_there, _broken):
        monkeypatch.setattr(compiling, "signatures", lambda bm, settings: _kernels(other))
        begin = time.perf_counter()
        helper = compiling.start(bm, SolverSettings(), sweep=False)
        assert time.perf_counter() - begin < 60  # not the TIMEOUT of a lost word
        assert _here.signatures == [(types.float64,)]  # compiled here
        assert helper.pid is None and helper.ready is None  # the child is done
    monkeypatch.setattr(compiling, "signatures", lambda bm, settings: _kernels(_there))
    helper = compiling.start(bm, SolverSettings(), sweep=True)
    assert helper.pid is not None  # compiling (here: loading) the draw kernel
    helper.wait()
    assert helper.pid is None and helper.go is None


def test_the_kernels_types_are_those_of_the_package_as_it_is():
    """Every kernel named exists and takes the arguments given (a changed signature would
    otherwise only show as a slower first run)."""
    bm = calibrate(random_dataset(2, 3, seed=0))
    kernels = compiling.signatures(bm, SolverSettings())
    assert set(kernels) == {"evaluate_lean"} | (CHILD - {"solve_draws", "shock_at",
                                                          "scale_elasticities"})
    for name, (function, argtypes) in kernels.items():
        assert function.py_func.__name__ == name
        assert function.py_func.__code__.co_argcount == len(argtypes)
