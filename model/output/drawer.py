"""A child process that draws a run's figures: forked when the run starts, it loads matplotlib
and the figure code on the core that waits while the run loads its own libraries, then draws
each job the run sends it (:class:`~model.output.drawing.Drawing`).

This module imports nothing heavy: :mod:`model.run` starts the run's drawer
(:func:`shared_drawer`) before it loads any library, so that the run itself never loads
matplotlib (0.6 s of a run's start on one core).

A job is a kind (a key of :data:`model.output.drawing.JOBS`) and its arguments, pickled into a
file of the drawer's own temporary folder; the run sends the job's number through a pipe (a
write of a few bytes, which never waits), and the drawer answers each job, in order, with one
byte on another pipe: drawn, or failed (the run then draws it itself, so an error is reported
as it would be without a drawer).  The end of that pipe tells the run the drawer has ended
(killed, Ctrl-C).  The drawer ends at once on Ctrl-C and when the run ends (Linux's
parent-death signal), and leaves with ``os._exit``, running none of the run's exit handlers.
Its folder is named after the run's process id: a run killed by a signal leaves it, and the
next drawer removes it (:func:`remove_stale`).
"""

from __future__ import annotations

import os
import pickle
import select
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from model.interrupts import deferred_interrupt
from model.processes import (_TOKEN, _take, can_fork, child_setup, fork, forking, kill,
                             running, several_cores)

#: what a drawer loads before its first job
PRELOAD = ("model.output.drawing", "model.sweep.report", "matplotlib.figure",
           "matplotlib.backends.backend_agg")
#: the start of the name of a drawer's temporary folder, followed by the run's process id
PREFIX = "armington-drawing-"
#: the drawer's answers
DRAWN, FAILED = b"\x00", b"\x01"

_shared: list = [None]


class Drawer:
    """A drawing child: :meth:`send` a job, :meth:`drawn` waits for its answer, :meth:`stop`
    ends the child.  :meth:`start` forks one (None where no child can be had)."""

    def __init__(self, pid: int, jobs: int, answers: int, folder: Path):
        self.pid, self.jobs, self.answers, self.folder = pid, jobs, answers, folder
        self.sent, self.answered = 0, []
        self.alive = True

    @classmethod
    def start(cls) -> Drawer | None:
        """Fork a drawer, or None where no child can be had (another system, a thread other
        than the main one, no process, pipe or temporary folder)."""
        if not can_fork():
            return None
        try:
            folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        except OSError:
            return None
        remove_stale(folder.parent)
        pipes = []
        try:
            for _ in range(2):
                pipes.extend(os.pipe())
        except OSError:  # too many open files
            for fd in pipes:
                os.close(fd)
            shutil.rmtree(folder, ignore_errors=True)
            return None
        jobs_in, jobs_out, answers_in, answers_out = pipes
        parent = os.getpid()
        with forking() as mask:  # the run has the child's id before Ctrl-C can stop it
            pid = fork()
            if pid == 0:
                os.close(jobs_out)
                os.close(answers_in)
                _serve(jobs_in, answers_out, folder, mask, parent)  # never returns
        os.close(jobs_in)
        os.close(answers_out)
        if pid is None:
            os.close(jobs_out)
            os.close(answers_in)
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return cls(pid, jobs_out, answers_in, folder)

    def send(self, kind: str, *args) -> int | None:
        """Send a job; its number, or None where the drawer cannot take it (it has ended, or
        the job cannot be written)."""
        if not self.alive or self.jobs is None:
            return None
        number = self.sent
        path = self.folder / f"{number}.pickle"
        try:
            path.write_bytes(pickle.dumps((kind, args), protocol=pickle.HIGHEST_PROTOCOL))
            os.write(self.jobs, _TOKEN.pack(number))
        except BrokenPipeError:  # the drawer has ended
            self.alive = False
            path.unlink(missing_ok=True)
            return None
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            path.unlink(missing_ok=True)
            return None  # a later job's number is the same: the drawer never read this one
        self.sent += 1
        return number

    def drawn(self, number: int, timeout: float) -> bool:
        """Whether job ``number`` was drawn; waits up to ``timeout`` seconds for the answer
        (the drawer is killed after that, and every job not answered counts as failed)."""
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(self.answers, select.POLLIN)
        while len(self.answered) <= number and self.alive:
            left = deadline - time.monotonic()
            if not poller.poll(max(left, 0.0) * 1000):
                self.stop()  # too slow: the jobs sent are drawn by the run
                break
            answer = os.read(self.answers, 1)
            if not answer:  # the drawer has ended
                self.alive = False
                break
            self.answered.append(answer)
        return number < len(self.answered) and self.answered[number] == DRAWN

    def close(self) -> None:
        """Send no more jobs: the drawer leaves once it has answered those sent."""
        if self.jobs is not None:
            os.close(self.jobs)
            self.jobs = None

    def stop(self) -> None:
        """End the child (if it is still running), wait for it and remove its folder."""
        if self.pid is None:
            return
        self.alive = False
        kill(self.pid)
        self.pid = None
        self.close()
        os.close(self.answers)
        shutil.rmtree(self.folder, ignore_errors=True)


def remove_stale(tmp: Path) -> None:
    """Remove the drawers' temporary folders in ``tmp`` whose run has ended: one killed by a
    signal (the drawer dies with it) leaves its folder, with the jobs not yet drawn."""
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(PREFIX):].split("-", 1)[0]
        if entry.name.startswith(PREFIX) and pid.isdigit() and not running(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _serve(jobs: int, answers: int, folder: Path, mask, parent: int) -> None:
    """The drawer's whole life: load the figure code, then draw each job sent, answering
    each; leave when the run closes its end of the pipe of jobs."""
    code = 1
    try:
        child_setup(mask, parent)
        import importlib

        for name in PRELOAD:
            importlib.import_module(name)
        from model.output.drawing import JOBS

        while (number := _take(jobs)) is not None:
            path = folder / f"{number}.pickle"
            try:
                kind, args = pickle.loads(path.read_bytes())
                path.unlink()
                JOBS[kind](*args)
                answer = DRAWN
            except Exception:  # the run draws this job itself and reports its error
                answer = FAILED
            os.write(answers, answer)
        code = 0
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def shared() -> Drawer | None:
    """The run's drawer, while it is running (:func:`shared_drawer`)."""
    drawer = _shared[0]
    return drawer if drawer is not None and drawer.alive else None


@contextmanager
def shared_drawer():
    """A drawer for the run's figures while the block runs; yields it.  Started before the
    run loads its libraries, it loads the figure code on another core meanwhile.  None where
    no child can be had or the run may use one core only (the libraries would be loaded
    twice on it; each drawing then forks a drawer of its own, with them loaded)."""
    drawer = Drawer.start() if _shared[0] is None and several_cores() else None
    if drawer is not None:
        _shared[0] = drawer
    try:
        yield shared()
    finally:
        if drawer is not None:
            with deferred_interrupt():  # a second Ctrl-C: the drawer is still ended
                _shared[0] = None
                drawer.stop()
