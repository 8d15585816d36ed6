"""The figures of a run drawn in a child process while the run writes its other outputs.

Drawing a study's figures is seconds of matplotlib's text layout on one core, and so is
writing its netCDF files, tables, report and sweep figure: :class:`Drawing` forks a child that
runs :func:`~model.output.figures.write_figures` into the staging folder meanwhile.  The child
only draws (it shares no lock with a thread that is running: the run's solving threads are
idle by then) and leaves with ``os._exit``, running none of the parent's exit handlers and
flushing none of its buffers.  Wherever a child cannot be had (no ``fork``), fails, or has not
finished after :data:`TIMEOUT` seconds, the figures are drawn in the run's own process, so a
failure there is reported as it would be without a child.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import xarray as xr

from model.output.figures import figure_builders, write_figures

#: seconds the run waits for the child before drawing the figures itself
TIMEOUT = 600.0


class Drawing:
    """:func:`~model.output.figures.write_figures` of ``result`` into ``folder`` in a child
    process: :meth:`start` starts it (once), :meth:`paths` waits for it and returns the files,
    :meth:`stop` ends it (before its folder is removed)."""

    def __init__(self, result: xr.Dataset, folder: Path):
        self.result, self.folder = result, Path(folder)
        self.started = False
        self.pid = None

    def start(self) -> None:
        """Start the child (no-op after the first call)."""
        if not self.started:
            self.started = True
            self.pid = _fork(self.result, self.folder)

    def files(self) -> list[Path]:
        """The figures' paths, drawn or not."""
        return [self.folder / name for name, _ in figure_builders(self.result)]

    def paths(self) -> list[Path]:
        """The figures, drawn: the child's where it succeeded, else (or where it was not
        started) drawn here."""
        if self.pid is not None:
            try:
                code = _exit_code(self.pid, TIMEOUT)
            except BaseException:  # an interrupt while waiting
                self.stop()
                raise
            self.pid = None
            if code == 0 and all(p.is_file() for p in self.files()):
                return self.files()
        return write_figures(self.result, self.folder)

    def stop(self) -> None:
        """End the child, if it is still drawing, and wait for it."""
        pid, self.pid = self.pid, None
        if pid is not None:
            _kill(pid)


def _fork(result: xr.Dataset, folder: Path) -> int | None:
    """The process id of a child drawing the figures, or None where there is no ``fork``."""
    if not hasattr(os, "fork"):
        return None
    for stream in (sys.stdout, sys.stderr):  # nothing buffered twice
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    with warnings.catch_warnings():  # Python 3.12+ warns of forking with threads alive: the
        warnings.simplefilter("ignore", DeprecationWarning)  # child uses none of their locks
        pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            write_figures(result, folder)
            code = 0
        except BaseException:  # the parent draws them again and reports what goes wrong
            pass
        finally:
            os._exit(code)
    return pid


def _exit_code(pid: int, timeout: float) -> int | None:
    """The child's exit code once it has ended, or None (it is killed) after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            _kill(pid)
            return None
        time.sleep(delay)
        delay = min(2 * delay, 0.05)


def _kill(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
