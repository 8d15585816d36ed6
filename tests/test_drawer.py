"""The run's drawer (model.output.drawer): a child forked when the run starts, which loads
matplotlib while the run loads its own libraries and draws every figure of the run."""

import os
import subprocess
import sys
import time

import pytest
import xarray as xr

from model.processes import several_cores
from tests.conftest import AUTO_TARIFF, EXAMPLE, ROOT, sigma_sweep, write_scenario

SOBOL = sigma_sweep("sobol", draws=4)

#: run in a fresh process: ``python -c RUN CORES ARGS...``; prints the exit code and whether
#: the run's own process loaded matplotlib
RUN = """
import os, sys
cores = sys.argv[1]
if cores != "all":
    os.sched_setaffinity(0, {int(cores)})
from model.run import main
code = main(sys.argv[2:])
print(code, "matplotlib" in sys.modules)
"""


def run(folder, cores="all"):
    """Run a Sobol' sweep of the example data in a fresh process (its temporary files in
    ``folder / "tmp"``); returns its output folder and what it printed."""
    tmp = folder / "tmp"
    tmp.mkdir()
    toml = write_scenario(folder, AUTO_TARIFF + SOBOL, str(EXAMPLE))
    out = folder / "out" / "results.nc"
    done = subprocess.run([sys.executable, "-c", RUN, cores, str(toml), "--quiet", "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TMPDIR": str(tmp)})
    assert done.returncode == 0, done.stderr
    return out.parent, done.stdout.split()


@pytest.mark.skipif(not several_cores(), reason="a drawer is started on several cores only")
def test_a_run_draws_every_figure_in_its_drawer_and_never_loads_matplotlib(tmp_path):
    """The study's and the sweep's figures are the drawer's, byte for byte what drawing them
    here gives; the run's own process never loads matplotlib; the drawer leaves nothing in
    the temporary folder."""
    from model.output.figures import write_figures
    from model.sweep.report import write_sweep_figures

    folder, printed = run(tmp_path)
    assert printed == ["0", "False"]
    assert not list((tmp_path / "tmp").iterdir())
    here = tmp_path / "here"
    here.mkdir()
    results = xr.load_dataset(folder / "results.nc")
    drawn = write_figures(results, here) + write_sweep_figures(folder / "sweep.nc", here,
                                                               results)
    assert [p.name for p in drawn] == ["headline.png", "output.png", "sweep.png", "sobol.png"]
    for path in drawn:
        assert (folder / path.name).read_bytes() == path.read_bytes(), path.name
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "![sweep](sweep.png)" in report and "![sobol](sobol.png)" in report


def test_on_one_core_the_run_has_no_drawer(tmp_path):
    """On one core a drawer would load the libraries a second time on the core the run
    needs: the run loads matplotlib itself, and its figures are drawn all the same."""
    folder, printed = run(tmp_path, cores=str(min(os.sched_getaffinity(0))))
    assert printed == ["0", "True"]
    for name in ("headline.png", "output.png", "sweep.png", "sobol.png"):
        assert (folder / name).stat().st_size > 0


@pytest.fixture
def jobs(monkeypatch, tmp_path):
    """Kinds of drawing for the tests (in the child: it is forked after they are set):
    ``write`` writes the file ``name`` holding the process id, ``fail`` raises, ``sleep``
    sleeps."""
    import model.output.drawing as drawing

    def write(name):
        (tmp_path / name).write_text(str(os.getpid()))

    def fail():
        raise RuntimeError("a figure that cannot be drawn")

    monkeypatch.setitem(drawing.JOBS, "write", write)
    monkeypatch.setitem(drawing.JOBS, "fail", fail)
    monkeypatch.setitem(drawing.JOBS, "sleep", lambda: time.sleep(60))
    return tmp_path


def test_a_drawer_answers_each_job_in_order(jobs):
    """A job that fails is answered as failed and the next is drawn; once the drawer is
    killed, a job cannot be sent and one sent is not drawn; stopping it removes its
    folder."""
    from model.output.drawer import Drawer

    drawer = Drawer.start()
    assert drawer is not None
    try:
        numbers = [drawer.send("write", "a"), drawer.send("fail"), drawer.send("write", "b")]
        assert numbers == [0, 1, 2]
        assert drawer.drawn(2, 60) and not drawer.drawn(1, 60) and drawer.drawn(0, 60)
        assert (jobs / "a").read_text() == (jobs / "b").read_text() == str(drawer.pid)
        assert not list(drawer.folder.iterdir())  # each job's file read and removed
        assert drawer.send("sleep") == 3
        begin = time.monotonic()
        assert not drawer.drawn(3, 1.0)  # too slow: killed
        assert time.monotonic() - begin < 10
        assert drawer.pid is None and drawer.send("write", "c") is None
    finally:
        folder = drawer.folder
        drawer.stop()
    assert not folder.exists()


def test_a_drawer_that_dies_is_noticed_at_once(jobs):
    import signal

    from model.output.drawer import Drawer

    drawer = Drawer.start()
    try:
        assert drawer.send("sleep") == 0
        os.kill(drawer.pid, signal.SIGINT)  # Ctrl-C ends it
        begin = time.monotonic()
        assert not drawer.drawn(0, 60)
        assert time.monotonic() - begin < 10 and not drawer.alive
        assert drawer.send("write", "late") is None
    finally:
        drawer.stop()


def test_a_job_sent_to_a_drawer_that_died_unnoticed_is_refused(jobs):
    """The pipe of jobs has no reader: the send fails at once (no job file left) and the
    drawer counts as ended; stopping it does not signal a process it no longer is."""
    import signal

    from model.output.drawer import Drawer

    drawer = Drawer.start()
    pid = drawer.pid
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped
        assert drawer.alive and drawer.send("write", "late") is None
        assert not drawer.alive and not list(drawer.folder.iterdir())
    finally:
        drawer.stop()
    with pytest.raises(ChildProcessError):  # reaped by stop()
        os.waitpid(pid, os.WNOHANG)
    assert not (jobs / "late").exists()


def test_ctrl_c_while_a_drawing_starts_leaves_no_child(jobs, monkeypatch):
    """Ctrl-C as the drawing's child is forked: the interrupt is raised once the drawing
    knows its child, so that stop() ends it."""
    import signal

    from model.output.drawer import Drawer

    start = Drawer.start.__func__

    def interrupted(cls):
        drawer = start(cls)
        os.kill(os.getpid(), signal.SIGINT)
        return drawer

    monkeypatch.setattr(Drawer, "start", classmethod(interrupted))
    drawing = job(jobs, "sleep")
    with pytest.raises(KeyboardInterrupt):
        drawing.start()
    pid = drawing.pid
    assert pid is not None and drawing.own
    drawing.stop()
    with pytest.raises(ChildProcessError):  # killed and reaped
        os.waitpid(pid, os.WNOHANG)


def job(folder, kind: str, *args):
    """A Drawing of a test's kind in ``folder``, its only file ``args[0]`` (if any)."""
    import model.output.drawing as drawing

    made = drawing.Drawing.__new__(drawing.Drawing)
    made._setup(kind, args, folder, args[:1])
    return made


def test_drawings_go_to_the_shared_drawer_and_stopping_one_ends_it(jobs):
    """Within shared_drawer(), a Drawing is sent to the run's drawer; a drawing stopped
    before it is drawn (the run failed) ends the drawer, so that nothing is written into a
    folder the run removes, and the next drawing has a drawer of its own."""
    import model.output.drawer as drawer_module
    from model.output.drawer import shared, shared_drawer

    if not several_cores():
        pytest.skip("a drawer is started on several cores only")
    with shared_drawer() as drawer:
        assert drawer is not None and shared() is drawer
        first, second = job(jobs, "write", "first"), job(jobs, "sleep")
        first.start()
        second.start()
        assert first.pid == second.pid == drawer.pid and not first.own
        assert first.paths() == [jobs / "first"]
        assert (jobs / "first").read_text() == str(drawer.pid)  # not drawn again here
        second.stop()
        assert shared() is None and drawer.pid is None
        third = job(jobs, "write", "third")
        third.start()
        assert third.own and third.pid not in (None, os.getpid())
        pid = third.pid
        assert third.paths() == [jobs / "third"]
        assert (jobs / "third").read_text() == str(pid) and third.pid is None
    assert drawer_module._shared[0] is None  # the next run starts a drawer of its own


def test_a_drawing_sent_to_a_drawer_that_died_unnoticed_has_a_drawer_of_its_own(jobs):
    import signal

    from model.output.drawer import shared_drawer

    if not several_cores():
        pytest.skip("a drawer is started on several cores only")
    with shared_drawer() as drawer:
        os.kill(drawer.pid, signal.SIGKILL)
        os.waitid(os.P_PID, drawer.pid, os.WEXITED | os.WNOWAIT)
        drawing = job(jobs, "write", "late")
        drawing.start()
        assert drawing.own and drawing.pid not in (None, drawer.pid)
        pid = drawing.pid
        assert drawing.paths() == [jobs / "late"]
        assert (jobs / "late").read_text() == str(pid)


def test_a_sweeps_figures_without_a_child_are_drawn_here(tmp_path, monkeypatch):
    """Where no child can be had, the run draws the sweep's figures itself, the same
    figures."""
    from model.output.drawing import Drawing
    from model.sweep.report import write_sweep_figures

    folder = ROOT / "results" / "kiuchi"
    central = xr.load_dataset(folder / "results.nc")
    here = write_sweep_figures(folder / "sweep.nc", tmp_path / "reference", central)
    monkeypatch.delattr(os, "fork")
    drawing = Drawing.of_sweep(folder / "sweep.nc", tmp_path / "run", central)
    drawing.start()
    assert drawing.pid is None
    paths = drawing.paths()
    assert [p.name for p in paths] == [p.name for p in here] == ["sweep.png"]
    assert paths[0].read_bytes() == here[0].read_bytes()


def test_a_drawer_removes_the_folders_of_runs_that_were_killed(tmp_path, monkeypatch):
    """A run killed by a signal leaves its drawer's folder; the next drawer removes it, and
    leaves those of runs still running and anything else."""
    import tempfile

    from model.output.drawer import PREFIX, Drawer

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = int(ended.stdout)
    stale, live, other = (tmp_path / f"{PREFIX}{dead}-x", tmp_path / f"{PREFIX}{os.getppid()}-y",
                          tmp_path / "armington-other")
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "0.pickle").write_bytes(b"")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    drawer = Drawer.start()
    try:
        assert drawer.folder.parent == tmp_path
        assert drawer.folder.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert not stale.exists() and live.is_dir() and other.is_dir()
    finally:
        drawer.stop()
    assert not drawer.folder.exists()
