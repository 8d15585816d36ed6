"""A run killed or interrupted at any moment: the output set is the old one or the new one,
never a mix (a kill between the renames is finished by the next run); Ctrl-C ends a sweep
within seconds with exit 130, and --resume then gives the uninterrupted result."""

import hashlib
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import xarray as xr

from model.output.files import COMPLETE, folder_lock
from tests.conftest import EXAMPLE, ROOT, write_scenario

TARIFF = ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "FOREIGN"\nexporter = "HOME"\n'
          'sectors = "autos"\nrate = {rate}\n')

KILLER = """
import os, sys
import model.output.files as files
real, moves = os.replace, []
def replace(src, dst):
    if "/.staging-" in str(src) and "/.staging-" not in str(dst):
        moves.append(dst)
        if len(moves) == {after}:
            os._exit(9)  # killed between two renames of the output set
    return real(src, dst)
files.os.replace = replace
from model.run import main
sys.exit(main(sys.argv[1:]))
"""


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".")}


def test_a_kill_between_renames_is_finished_by_the_next_run(tmp_path):
    from model.run import main

    old = write_scenario(tmp_path, TARIFF.format(rate=0.1), data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    assert main([str(old), "--out", str(out), "--quiet"]) == 0
    before = digest(out.parent)
    (tmp_path / "new").mkdir()
    new = write_scenario(tmp_path / "new", TARIFF.format(rate=0.4), data=str(EXAMPLE))
    reference = tmp_path / "reference" / "results.nc"
    assert main([str(new), "--out", str(reference), "--quiet"]) == 0
    want = digest(reference.parent)
    run = subprocess.run([sys.executable, "-c", KILLER.format(after=3), str(new), "--out",
                          str(out), "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 9, run.stderr
    now = digest(out.parent)
    assert {n for n in now if now[n] != before[n]} == {"headline.png", "output.png"}, \
        "the kill should have left two new files beside old ones"
    (stage,) = out.parent.glob(".staging-*")
    assert (stage / COMPLETE).is_file()
    with folder_lock(out.parent):  # what the next run does first
        pass
    after = digest(out.parent)
    for name in ("summary.csv", "results.csv", "headline.png", "output.png"):
        assert after[name] == want[name], name
    with xr.open_dataset(out) as a, xr.open_dataset(reference) as b:
        np.testing.assert_array_equal(a.welfare.values, b.welfare.values)
    assert not list(out.parent.glob(".staging-*")) and not (out.parent / ".lock").exists()


def test_a_kill_while_writing_leaves_the_old_set(tmp_path):
    """Killed before the set was complete (no marker): the next run removes the stage and the
    old set stands."""
    from model.run import main

    old = write_scenario(tmp_path, TARIFF.format(rate=0.1), data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    assert main([str(old), "--out", str(out), "--quiet"]) == 0
    before = digest(out.parent)
    stage = out.parent / ".staging-killed"
    stage.mkdir()
    (stage / "results.nc").write_bytes(b"half a file")
    with folder_lock(out.parent):
        pass
    assert digest(out.parent) == before and not stage.exists()


SWEEP = """
[scenarios.a]
[[scenarios.a.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = "autos"
rate = 0.25
[scenarios.b]
closure = { trade_balance = "balanced" }
[sweep]
draws = 8000
chunk_size = 1500
seed = 3
[[sweep.parameters]]
name = "sigma"
distribution = "uniform"
low = 0.7
high = 1.4
"""


def test_ctrl_c_ends_a_sweep_within_seconds_and_resume_finishes_it(tmp_path):
    path = write_scenario(tmp_path, SWEEP, data=str(EXAMPLE))
    whole = tmp_path / "whole" / "results.nc"
    command = [sys.executable, "-m", "model.run", str(path), "--quiet"]
    # a first run compiles what no test has yet (the draw kernel): the run timed below, whose
    # length sets when the interrupts come, solves only, as every interrupted run does
    assert subprocess.run(command + ["--out", str(whole)], cwd=ROOT).returncode == 0
    start = time.perf_counter()
    assert subprocess.run(command + ["--out", str(whole)], cwd=ROOT).returncode == 0
    length = time.perf_counter() - start
    out = tmp_path / "out" / "results.nc"
    rng = random.Random(5)
    exits = []
    for _ in range(20):
        proc = subprocess.Popen(command + ["--out", str(out), "--resume"], cwd=ROOT,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.5, max(1.0, 0.9 * length)))
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("a sweep did not end within 10 s of Ctrl-C") from None
        exits.append((code, time.perf_counter() - sent))
        err = proc.stderr.read()
        assert "Traceback" not in err, err
        # 130, or killed by SIGINT itself while the libraries load, or finished before it
        assert code in (0, 130, -signal.SIGINT), (code, err)
    assert max(t for _, t in exits) < 10
    assert subprocess.run(command + ["--out", str(out), "--resume"], cwd=ROOT).returncode == 0
    with xr.open_dataset(out.parent / "sweep.nc") as a, \
            xr.open_dataset(whole.parent / "sweep.nc") as b:
        for name in ("welfare", "real_gdp", "status"):
            np.testing.assert_array_equal(a[name].values, b[name].values)
    assert not (out.parent / "sweep_chunks").exists()
    assert os.listdir(out.parent)


def test_an_interrupt_anywhere_exits_130_without_a_traceback(monkeypatch, capsys):
    """Also when Python wraps it (an interrupt inside a class body of a library being imported
    comes out as RuntimeError), and nothing else is taken for one."""
    import pytest

    import model.cli
    from model.run import main

    def wrapped(argv):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__") from exc

    for raiser in (lambda argv: (_ for _ in ()).throw(KeyboardInterrupt), wrapped):
        monkeypatch.setattr(model.cli, "main", raiser)
        assert main(["x.toml"]) == 130
        assert "interrupted" in capsys.readouterr().err
    monkeypatch.setattr(model.cli, "main", lambda argv: (_ for _ in ()).throw(ValueError("x")))
    with pytest.raises(ValueError):
        main(["x.toml"])


def _callback_raising(exc):
    """A C function pointer to Python code that raises ``exc``, as llvmlite's object-cache
    callbacks are while numba compiles."""
    import ctypes

    def callback():
        raise exc

    return ctypes.CFUNCTYPE(None)(callback)


def _python_code(seconds=30.0):
    """Python code of the main thread's own, for ``seconds`` (where a signal is handled: a
    Ctrl-C sent again ends it long before)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(100))


def test_a_ctrl_c_landing_in_a_callback_from_c_is_raised_not_lost(monkeypatch):
    import threading

    import pytest

    from model import interrupts
    from model.interrupts import deferred_interrupt, interrupts_from_callbacks

    reported = []  # what Python would print as "Exception ignored ..."
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_type))
    reporter = sys.unraisablehook
    callback = _callback_raising(KeyboardInterrupt)
    callback()  # without the block, Python reports it and goes on: the interrupt is lost
    _python_code(0.2)
    assert reported == [KeyboardInterrupt]
    with interrupts_from_callbacks():
        with pytest.raises(KeyboardInterrupt):
            callback()
            _python_code()
        # held where interrupts are held, raised at the end of the hold
        held = False
        with pytest.raises(KeyboardInterrupt):
            with deferred_interrupt():
                callback()
                end = time.monotonic() + 30
                while interrupts._pending and time.monotonic() < end:  # until sent
                    time.sleep(0.01)
                _python_code(0.2)
                held = True
        assert held
        # any other exception in a callback is reported as Python reports it; an interrupt
        # in another thread (a pool being stopped) is dropped
        _callback_raising(ValueError("not an interrupt"))()
        worker = threading.Thread(target=callback)
        worker.start()
        worker.join()
        _python_code(0.2)
    assert reported == [KeyboardInterrupt, ValueError]
    callback()  # the block's end puts Python's report back
    assert sys.unraisablehook is reporter and reported[-1] is KeyboardInterrupt


def test_a_ctrl_c_from_a_callback_not_sent_yet_is_raised_where_the_block_ends(monkeypatch):
    """Once, not again later."""
    import pytest

    from model import interrupts
    from model.interrupts import interrupts_from_callbacks

    monkeypatch.setattr(interrupts, "AGAIN", 0.3)
    with pytest.raises(KeyboardInterrupt):
        with interrupts_from_callbacks():
            _callback_raising(KeyboardInterrupt)()
    assert not interrupts._pending
    _python_code(1.0)  # the thread that would have sent it sends nothing


def test_a_run_interrupted_inside_a_callback_exits_130(monkeypatch, capsys):
    import model.cli
    from model.run import main

    def run(argv):  # a Ctrl-C while numba compiles, landing in llvmlite's callback
        _callback_raising(KeyboardInterrupt)()
        _python_code()
        return 0

    monkeypatch.setattr(model.cli, "main", run)
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_type))
    reporter = sys.unraisablehook
    assert main(["x.toml"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert reported == []
    assert sys.unraisablehook is reporter  # the run's hook was put back


INTERRUPTED_SOLVES = """
import os, random, signal, sys, threading, time
import numpy as np
from calibration.calibrate import calibrate
from calibration.synthetic import random_dataset
from model.core.optimal import _Searcher
from model.core.policy import deficit_rule, make_policy
from model.core.settings import SolverSettings
from model.core.solver import solve
bm = calibrate(random_dataset(10, 20, seed=1))
t1 = bm.t0.copy()
t1[1] += 0.25
t1[1, 1, :] = 0.0
policy = make_policy(bm, t1=t1, D1=deficit_rule(bm, "fixed"))
search = _Searcher(bm, SolverSettings(), policy)  # an optimal tariff's solves
mask = np.zeros(t1.shape, dtype=bool)
mask[1] = True
mask[1, 1] = False
calls = [lambda: solve(bm, policy), lambda: search.welfare(policy, mask, 1, 0.3)]
for call in calls:
    call()
start = time.perf_counter()
for call in calls:
    call()
each = (time.perf_counter() - start) / len(calls)
rng = random.Random(0)
ended = through_numba = 0
for trial in range(int(sys.argv[1])):
    try:  # Ctrl-C at a random moment, most often during a compiled solve
        threading.Timer(rng.uniform(0, 3 * each), os.kill, (os.getpid(), signal.SIGINT)).start()
        end = time.monotonic() + 30
        while time.monotonic() < end:
            calls[trial % len(calls)]()
    except KeyboardInterrupt as exc:
        ended += 1
        through_numba += isinstance(exc.__cause__, SystemError)
print(ended, through_numba)
"""


def test_ctrl_c_during_compiled_solves_is_a_keyboard_interrupt_not_a_crash():
    """A Ctrl-C that comes while compiled code runs is raised by numba in the Python code it
    runs to give Python the result: once a crash of the process where the result held a named
    tuple (its class not got), else a SystemError; always a KeyboardInterrupt here, for solves
    and an optimal tariff's solves."""
    trials = 100
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_SOLVES, str(trials)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    ended, through_numba = map(int, done.stdout.split())
    assert ended == trials
    assert through_numba > 0  # the case this is about came up (most interrupts here)
