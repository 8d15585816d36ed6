"""The figures of a run drawn in a child process while the run does its other work.

Drawing a study's figures is seconds of matplotlib's text layout on one core, and so is
writing its netCDF files, tables and report: a :class:`Drawing` is drawn by a child process,
a :class:`~model.output.drawer.Drawer` (on Linux, where forking is safe): the run's drawer,
started before the run loaded its libraries (:func:`model.output.drawer.shared_drawer`), or
else one forked for this drawing alone.  The child only draws, ends at once on Ctrl-C or when
the run ends, and leaves with ``os._exit``, running none of the run's exit handlers or
``finally`` blocks and flushing none of its buffers.  Wherever a child cannot be had (another
system, a call from a thread other than the main one, no process to be had), fails, or has not
finished after :data:`TIMEOUT` seconds (it is killed and its partial files removed), the
figures are drawn in the run's own process, so a failure there is reported as it would be
without a child.

Two kinds of drawing (:data:`JOBS`): the study's figures
(:func:`~model.output.figures.write_figures`) and a sweep's (:func:`sweep_figures`).
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from model.interrupts import deferred_interrupt
from model.output.drawer import Drawer, shared
from model.output.figures import figure_builders, write_figures

#: seconds the run waits for the child before drawing the figures itself
TIMEOUT = 300.0


def sweep_figures(sweep: Path, folder: Path, central: xr.Dataset | None = None) -> list[Path]:
    """A sweep's figures (:func:`~model.sweep.report.write_sweep_figures`) from its
    ``sweep.nc``."""
    from model.sweep.report import write_sweep_figures

    return write_sweep_figures(sweep, folder, central)


#: the kinds of drawing, as a drawer looks them up (at the call: a test may replace one)
JOBS = {"figures": lambda *args: write_figures(*args),
        "sweep": lambda *args: sweep_figures(*args)}


class Drawing:
    """The figures of ``result`` drawn into ``folder`` in a child process: :meth:`start`
    starts it (once), :meth:`paths` waits for it and returns the files, :meth:`stop` ends the
    child if it may still be drawing them (before their folder is moved or removed).
    :meth:`of_sweep` is a drawing of a sweep's figures."""

    def __init__(self, result: xr.Dataset, folder: Path):
        self._setup("figures", (result, Path(folder)), folder,
                    [name for name, _ in figure_builders(result)])

    @classmethod
    def of_sweep(cls, sweep: Path, folder: Path, central: xr.Dataset | None = None,
                 names: tuple[str, ...] = ("sweep.png",)) -> Drawing:
        """The figures ``names`` of the sweep whose results are ``sweep`` (``sweep.nc``),
        ``central`` its central solutions."""
        drawing = cls.__new__(cls)
        drawing._setup("sweep", (Path(sweep), Path(folder), central), folder, names)
        return drawing

    def _setup(self, kind: str, args: tuple, folder: Path, names) -> None:
        """A drawing of the kind ``kind`` (a key of :data:`JOBS`) with ``args``, writing the
        files ``names`` into ``folder``; not started."""
        self.kind, self.args, self.names, self.folder = kind, args, list(names), Path(folder)
        self.started = False
        self.drawer, self.number, self.own = None, None, False

    @property
    def pid(self) -> int | None:
        """The process id of the child drawing it, while it may be drawing."""
        return self.drawer.pid if self.drawer is not None else None

    def start(self) -> None:
        """Send the drawing to the run's drawer, or to one of its own (no-op after the first
        call)."""
        if self.started:
            return
        self.started = True
        with deferred_interrupt():  # the drawing knows its drawer before Ctrl-C can stop it
            drawer = shared()
            if drawer is not None:
                self.drawer, self.number = drawer, drawer.send(self.kind, *self.args)
            if self.number is None:
                self.drawer = drawer = Drawer.start()
                if drawer is None:
                    return
                self.own = True
                self.number = drawer.send(self.kind, *self.args)
                drawer.close()  # its only job: it leaves once it is drawn
                if self.number is None:
                    self.drawer = None
                    drawer.stop()

    def files(self) -> list[Path]:
        """The figures' paths, drawn or not."""
        return [self.folder / name for name in self.names]

    def paths(self) -> list[Path]:
        """The figures, drawn: the child's where it succeeded, else (or where it was not
        started) drawn here."""
        if self.drawer is not None:
            try:
                drawn = self.drawer.drawn(self.number, TIMEOUT)
            except BaseException:  # an interrupt while waiting
                self.stop()
                raise
            if self.own:
                self.drawer.stop()
            self.drawer = None
            if drawn and all(p.is_file() for p in self.files()):
                return self.files()
            self._remove_partial()  # a child killed (a signal, the timeout) mid-figure
        return JOBS[self.kind](*self.args)

    def stop(self) -> None:
        """End the child, if it may still be drawing this (the run's drawer too: no later
        drawing of the run waits for it then), wait for it and remove what it left
        half-written."""
        drawer, self.drawer = self.drawer, None
        if drawer is not None:
            drawer.stop()
            self._remove_partial()

    def _remove_partial(self) -> None:
        for name in self.names:
            for tmp in self.folder.glob(f".{name}.*.tmp"):  # atomic_path's temporary files
                tmp.unlink(missing_ok=True)
