"""The figures of a run drawn in a child process while the run writes its other outputs.

Drawing a study's figures is seconds of matplotlib's text layout on one core, and so is
writing its netCDF files, tables, report and sweep figure: :class:`Drawing` forks a child that
runs :func:`~model.output.figures.write_figures` into the staging folder meanwhile (on Linux,
where forking a process that has loaded these libraries is safe).  The child only draws (it
shares no lock with a thread that is running: the run's solving threads are idle by then),
ends at once on Ctrl-C or when the run ends, and leaves with ``os._exit``, running none of the
run's exit handlers or ``finally`` blocks and flushing none of its buffers.  Wherever a child
cannot be had (another system, a call from a thread other than the main one, no process to
be had), fails, or has not finished after :data:`TIMEOUT` seconds (it is killed and its
partial files removed), the figures are drawn in the run's own process, so a failure there is
reported as it would be without a child.
"""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from model.output.figures import figure_builders, write_figures
from model.processes import can_fork, exit_code, fork, forking, kill, leave_after

#: seconds the run waits for the child before drawing the figures itself
TIMEOUT = 300.0


class Drawing:
    """:func:`~model.output.figures.write_figures` of ``result`` into ``folder`` in a child
    process: :meth:`start` starts it (once), :meth:`paths` waits for it and returns the files,
    :meth:`stop` ends it (before its folder is moved or removed)."""

    def __init__(self, result: xr.Dataset, folder: Path):
        self.result, self.folder = result, Path(folder)
        self.started = False
        self.pid = None

    def start(self) -> None:
        """Start the child (no-op after the first call)."""
        if self.started:
            return
        self.started = True
        if not can_fork():
            return
        with forking() as mask:  # the run has the child's id before Ctrl-C can stop it
            self.pid = _fork(self.result, self.folder, mask)

    def files(self) -> list[Path]:
        """The figures' paths, drawn or not."""
        return [self.folder / name for name, _ in figure_builders(self.result)]

    def paths(self) -> list[Path]:
        """The figures, drawn: the child's where it succeeded, else (or where it was not
        started) drawn here."""
        if self.pid is not None:
            try:
                code = exit_code(self.pid, TIMEOUT)
            except BaseException:  # an interrupt while waiting
                self.stop()
                raise
            self.pid = None
            if code == 0 and all(p.is_file() for p in self.files()):
                return self.files()
            self._remove_partial()  # a child killed (a signal, the timeout) mid-figure
        return write_figures(self.result, self.folder)

    def stop(self) -> None:
        """End the child, if it is still drawing, wait for it and remove what it left
        half-written."""
        pid, self.pid = self.pid, None
        if pid is not None:
            kill(pid)
            self._remove_partial()

    def _remove_partial(self) -> None:
        for name, _ in figure_builders(self.result):
            for tmp in self.folder.glob(f".{name}.*.tmp"):  # atomic_path's temporary files
                tmp.unlink(missing_ok=True)


def _fork(result: xr.Dataset, folder: Path, mask) -> int | None:
    """The process id of a child drawing the figures, or None where no process can be had
    (a process limit, memory)."""
    parent = os.getpid()
    pid = fork()
    if pid == 0:
        # draw and leave: Ctrl-C ends the child at once (no Python code of the run's runs
        # in it), and so does the end of the run (Linux's parent-death signal)
        leave_after(lambda: write_figures(result, folder), mask, parent)  # never returns
    return pid
