"""A first run's compilation shared with a child process (model.compiling)."""

import os
import subprocess
import sys
import time

import pytest
import xarray as xr
from numba import njit, types

from calibration.calibrate import calibrate
from calibration.synthetic import random_dataset
from model import compiling
from model.core.settings import SolverSettings
from model.sweep.runner import KERNEL_DRAWS
from tests.conftest import AUTO_TARIFF, EXAMPLE, ROOT, sigma_sweep, write_scenario

#: the kernels the child compiles for a sweep (by name, with those they call, and the draw
#: kernel)
CHILD = {"workspace", "prepare_weights", "_copy", "_update", "_anderson_step", "_mixing_weights",
         "_gram_row", "compute_outcomes", "solve_draws", "shock_at", "scale_elasticities"}
#: the kernels the run compiles for a sweep (two of them, compiling.EARLY, the child's
#: without one)
PARENT = {"split", "gauss_solve", "evaluate_lean", "market_prices", "sales_untaxed",
          "add_imports", "_unit_costs", "_absorption", "solve_with_retries", "_shock_arrays",
          "store_shares", "allocate"}

#: a run from an empty numba cache that logs each kernel compiled, by which process (numba's
#: compile events, in the run and in its children: a kernel loaded from the cache is not
#: compiled), and its own process id
RUN = """
import os, sys
from numba.core import event

log = sys.argv[1]

class Listener(event.Listener):
    def on_start(self, ev):
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()} {ev.data['dispatcher'].py_func.__name__}\\n")

    def on_end(self, ev):
        pass

event.register("numba:compile", Listener())
from model.cli import main

print(os.getpid(), main(sys.argv[2:]))
"""

#: the draw kernel and the kernels only it calls
DRAWS = {"solve_draws", "shock_at", "scale_elasticities"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks a child (Linux)")
@pytest.mark.parametrize("draws", [KERNEL_DRAWS, KERNEL_DRAWS - 1])
def test_a_first_run_compiles_each_kernel_once_in_one_of_two_processes(tmp_path, draws):
    """From an empty cache, the run of a sweep compiles the evaluation and the solver (and
    :data:`~model.compiling.EARLY`), the child every other kernel (the solver's others, the
    outcomes, the draw kernel), each once: the argument
    types the child compiles for are those the solves, the outcomes and the draws pass, or the
    run would compile them again.  With fewer plain draws than the draw kernel is compiled
    for (:data:`~model.sweep.runner.KERNEL_DRAWS`) nobody compiles it nor what only it calls
    (:data:`~model.compiling.DRAWS_ONLY`), and the child compiles the rest of ``EARLY`` and
    the shock's kernel.  The results are those of a run from a full cache."""
    kernel = draws >= KERNEL_DRAWS
    scenario = write_scenario(tmp_path, AUTO_TARIFF + sigma_sweep(draws=draws),
                              EXAMPLE.as_posix())
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run(name):
        log = tmp_path / f"{name}.log"
        log.touch()
        done = subprocess.run([sys.executable, "-c", RUN, str(log), str(scenario), "--quiet",
                               "--out", str(tmp_path / name / "results.nc")],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
        pid, code = done.stdout.split()
        assert code == "0", done.stderr
        events = [line.split() for line in log.read_text().splitlines()]
        kernels = [(p == pid, k) for p, k in events if k in CHILD | PARENT]
        return kernels

    cold = run("cold")
    # the figures, drawn while the draw kernel compiled, and the sweep's
    assert all((tmp_path / "cold" / f).is_file() for f in ("headline.png", "output.png",
                                                              "sweep.png"))
    few = set(compiling.EARLY) | {compiling.SHOCK}  # the child's without the draw kernel
    parent, child = ((PARENT, CHILD) if kernel else
                     (PARENT - few, CHILD - DRAWS | few - set(compiling.DRAWS_ONLY)))
    assert sorted(cold) == sorted([(True, k) for k in parent] + [(False, k) for k in child])
    assert run("warm") == []
    for name in ("results.nc", "sweep.nc"):
        with xr.open_dataset(tmp_path / "cold" / name) as a, \
                xr.open_dataset(tmp_path / "warm" / name) as b:
            xr.testing.assert_equal(a, b)  # attributes: the times of the runs


@njit
def _one(x):
    return x - 1.0


@njit
def _here(x):
    return x + 1.0


@njit
def _there(x):
    return x * 2.0


@njit
def _solver(x):
    return x * 3.0


@njit
def _later(x):
    return x + 2.0


@njit
def _broken(x):
    return x.no_such_attribute


def _kernels(other, later=_later):
    one = (types.float64,)
    return {"split": (_one, one), "gauss_solve": (_one, one), "evaluate_lean": (_here, one),
            "other": (other, one), "solve_with_retries": (_solver, one),
            "compute_outcomes": (later, one)}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks a child (Linux)")
def test_the_run_compiles_its_part_and_goes_on_when_the_child_has_finished_or_failed(
        monkeypatch, tmp_path):
    """The run compiles the shared kernels and the evaluation, waits for the child's first word,
    compiles the solver while the child compiles the rest (:data:`~model.compiling.LATER`)
    and waits for its second word; a child that fails (a kernel that does not compile, before
    either word) ends the wait at once, without the word.  With a sweep, the child compiles
    the draw kernel once the evaluation is in the cache and :meth:`wait` returns its exit
    code; where the evaluation never reaches the cache, the child leaves when the run has
    solved.  A
    kernel of the run's that does not compile (types that have changed) leaves the compiling
    to the first solve, no child left behind."""
    import model.sweep.runner as runner

    bm = calibrate(random_dataset(2, 3, seed=0))
    monkeypatch.setattr(compiling.os, "sched_getaffinity", lambda pid: {0, 1})
    for other, later, ready in ((_there, _later, True), (_broken, _later, False),
                                (_there, _broken, False)):
        monkeypatch.setattr(compiling, "signatures",
                            lambda bm, settings: _kernels(other, later))
        begin = time.perf_counter()
        helper = compiling.start(bm, SolverSettings(), sweep=False)
        assert time.perf_counter() - begin < 60  # not the TIMEOUT of a word that never came
        assert helper.ready is ready
        assert _here.signatures == [(types.float64,)] and _one.signatures  # compiled here
        # the solver here once the child's first word came; the rest in the child only
        assert _solver.signatures == [(types.float64,)] and _later.signatures == []
        assert helper.pid is None and helper.words is None  # the child is done
    monkeypatch.setattr(compiling, "signatures", lambda bm, settings: _kernels(_there))
    marker = tmp_path / "draw kernel"
    monkeypatch.setattr(runner, "warm_up", lambda bm: marker.write_text(str(bm.shape)))
    for cached, code in ((True, 0), (False, 1)):
        asked = tmp_path / "asked"  # by the child: which kernel it waits for
        asked.unlink(missing_ok=True)

        def in_cache(function=None, cached=cached):
            asked.write_text(function.py_func.__name__)
            return cached

        monkeypatch.setattr(compiling, "compiled", in_cache)
        helper = compiling.start(bm, SolverSettings(), sweep=True)
        assert helper.ready
        assert helper.wait() == code
        assert marker.exists() is cached
        assert asked.read_text() == "_here"  # the evaluation, not the solver
        assert helper.pid is None and helper.go is None
        marker.unlink(missing_ok=True)
    monkeypatch.setattr(compiling.os, "sched_getaffinity", lambda pid: {0})
    assert compiling.start(bm, SolverSettings(), sweep=True) is None  # one core: no child
    monkeypatch.setattr(compiling.os, "sched_getaffinity", lambda pid: {0, 1})
    for name in ("split", "evaluate_lean", "solve_with_retries"):  # one of the run's that
        # does not compile
        kernels = {**_kernels(_there), name: (_broken, (types.float64,))}
        monkeypatch.setattr(compiling, "signatures", lambda bm, settings: kernels)
        assert compiling.start(bm, SolverSettings(), sweep=True) is None


def test_the_kernels_types_are_those_of_the_package_as_it_is():
    """Every kernel named exists and takes the arguments given (a changed signature would
    otherwise only show as a slower first run)."""
    bm = calibrate(random_dataset(2, 3, seed=0))
    kernels = compiling.signatures(bm, SolverSettings())
    assert list(kernels)[:3] == list(compiling.SHARED) + ["evaluate_lean"]
    for name, (function, argtypes) in kernels.items():
        assert function.py_func.__name__ == name
        assert function.py_func.__code__.co_argcount == len(argtypes)


def test_the_child_waits_for_a_kernel_of_the_run_until_the_run_has_solved(monkeypatch):
    """The child's wait for a kernel the run compiles (the evaluation, before the draw
    kernel) ends at once where it is in the cache, when it gets there, and with an error where
    the run says it has solved (or has left) without it (a cache that cannot be written)."""
    read, write = os.pipe()
    try:
        monkeypatch.setattr(compiling, "compiled", lambda function=None: True)
        compiling._wait_compiled(_one, read)  # returns: there already
        checks = iter([False, False, True])
        monkeypatch.setattr(compiling, "compiled", lambda function=None: next(checks))
        start = time.monotonic()
        compiling._wait_compiled(_one, read)  # there on the third look, 0.1 s apart
        assert 0.2 <= time.monotonic() - start < 5.0
        monkeypatch.setattr(compiling, "compiled", lambda function=None: False)
        os.write(write, compiling._READY)
        with pytest.raises(RuntimeError, match="is not in the cache"):
            compiling._wait_compiled(_one, read)
        os.close(write)
        write = None
        with pytest.raises(RuntimeError, match="is not in the cache"):  # the run has left
            compiling._wait_compiled(_one, read)
    finally:
        os.close(read)
        if write is not None:
            os.close(write)
