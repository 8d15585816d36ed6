"""Command line: ``python -m model.run FILE.toml [--out PATH] [--quiet] [--strict] [--excel]
[--resume] [--scheduler ADDRESS] [--version]`` (the work is done by :mod:`model.cli`).

This module imports nothing heavy before it can answer Ctrl-C: an interrupt at any moment,
while the libraries load, while solving or while writing, ends the run with exit code 130 and
a message instead of a traceback; no output is half-written (the set is replaced whole or not
at all), and an interrupted sweep keeps its solved chunks for ``--resume``.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


#: modules a run imports sooner or later, loaded up front with Ctrl-C held: an interrupt that
#: lands inside Python's import machinery cannot be caught (Python prints it and goes on)
PRELOAD = ("model.cli", "tqdm")
#: and, where the run draws its figures itself (no drawer: :mod:`model.output.drawer`),
#: matplotlib
PRELOAD_FIGURES = ("matplotlib.figure", "matplotlib.backends.backend_agg")
#: and those of a file with a ``[sweep]`` table
PRELOAD_SWEEP = ("model.sweep.runner", "model.sweep.report")
#: and, for a Sobol' design, its sequence (scipy.stats: most of a second to import)
PRELOAD_SOBOL = ("scipy.stats",)
#: and, for a parameter drawn from a normal or lognormal distribution, its quantile function
#: (scipy.special: 0.3 s to import)
PRELOAD_NORMAL = ("scipy.special",)
#: and, for a file whose scenarios search an instrument, the root finder of the searches
#: (scipy.optimize: half a second to import)
PRELOAD_SEARCH = ("scipy.optimize",)
#: the scenario keys of a search (a target, an optimal tariff, a Nash equilibrium)
SEARCH_KEYS = ("target", "optimal_tariff", "nash")


#: the options of the command line that take a value (``model.cli.arguments``; a test keeps
#: the two in step)
VALUED = ("--out", "--scheduler")


def scenario_argument(argv: list[str]) -> str | None:
    """The scenario file of the command line ``argv`` as the parser will read it: the first
    argument that is neither an option nor an option's value (``--out PATH``, an abbreviation
    such as ``--sch ADDRESS``; not ``--out=PATH``), everything after ``--`` an argument."""
    skip = False
    for k, a in enumerate(argv):
        if skip:
            skip = False
        elif a == "--":
            return argv[k + 1] if k + 1 < len(argv) else None
        elif a.startswith("-") and len(a) > 1:
            skip = "=" not in a and len(a) > 2 and any(v.startswith(a) for v in VALUED)
        else:
            return a
    return None


def scenario_table(argv: list[str]):
    """The scenario file of the command line ``argv`` as a table, or the exception that
    reading it raised (the parser reports it later)."""
    import tomllib

    try:
        with open(scenario_argument(argv), "rb") as f:
            return tomllib.load(f)
    except Exception as exc:  # anything unreadable
        return exc


def preloaded(argv: list[str], table=None) -> tuple[str, ...]:
    """The modules to load up front for the command line ``argv`` (``table``: its
    :func:`scenario_table`, read here if not given): the sweep's only if the scenario file has
    a ``[sweep]`` table, the searches' only if a scenario searches an instrument or the report
    compares another file, and all of them if the file cannot be read here (its errors are
    reported later, by the parser)."""
    from pathlib import Path

    doc = scenario_table(argv) if table is None else table
    try:
        if isinstance(doc, Exception):
            raise doc
        path = Path(scenario_argument(argv))
        sweep = doc.get("sweep")
        has_sweep = sweep is not None
        method = sweep.get("method") if isinstance(sweep, dict) else None
        sobol = not isinstance(sweep, dict) or method == "sobol"
        normal = not isinstance(sweep, dict) or method != "quadrature" and any(  # its nodes
            not isinstance(p, dict) or p.get("distribution") in ("normal", "lognormal")
            for p in sweep.get("parameters", []))  # are standard normal: no quantiles
        searches = any(not isinstance(s, dict) or any(k in s for k in SEARCH_KEYS)
                       for s in doc.get("scenarios", {}).values())
        for entry in doc.get("report", {}).get("compare", []):
            other = entry.get("file", path.name) if isinstance(entry, dict) else None
            searches = searches or other is None or (
                (path.parent / other).resolve() != path.resolve())
    except Exception:  # anything unreadable: load everything, let the parser say why
        has_sweep = sobol = normal = searches = True
    return PRELOAD + (PRELOAD_SWEEP if has_sweep else ()) + (
        PRELOAD_SOBOL if has_sweep and sobol else ()) + (
        PRELOAD_NORMAL if has_sweep and normal else ()) + (PRELOAD_SEARCH if searches else ())


#: the modules of a Dask cluster (:func:`hide_dask`)
DASK = ("dask", "distributed")


def uses_cluster(argv: list[str], table=None) -> bool:
    """Whether the command line ``argv`` (``table``: its :func:`scenario_table`, read here if
    not given) may send work to a Dask cluster: it names a scheduler (``--scheduler`` or an
    abbreviation, before any ``--``), its scenario file has a ``[sweep]`` ``scheduler``, or the
    file cannot be read here."""
    for a in argv:
        if a == "--":
            break
        name = a.split("=", 1)[0]
        if len(name) > 2 and name.startswith("--") and "--scheduler".startswith(name):
            return True
    doc = scenario_table(argv) if table is None else table
    if isinstance(doc, Exception):
        return True
    sweep = doc.get("sweep", {})
    return not isinstance(sweep, dict) or "scheduler" in sweep


def hide_dask() -> tuple[str, ...]:
    """Make dask look not installed to this process, unless it is loaded already: for a run
    that sends nothing to a Dask cluster, before xarray is imported.  No array of such a run is
    a dask array and no dask scheduler runs in it, so xarray loses nothing by not knowing dask;
    where dask is installed it would otherwise load ``dask.base`` and ``distributed`` (about
    0.5 s) only to find that out.  Returns the modules hidden (for :func:`unhide_dask`)."""
    if "dask" in sys.modules:
        return ()
    hidden = tuple(name for name in DASK if name not in sys.modules)
    for name in hidden:
        sys.modules[name] = None  # the import system's "not installed"
    return hidden


def hide_dask_for(argv: list[str], table=None) -> tuple[str, ...]:
    """:func:`hide_dask` for a process that runs the command line ``argv`` and nothing else
    (``table``: its :func:`scenario_table`, read here if not given), unless the run may use a
    Dask cluster (:func:`uses_cluster`) or xarray is loaded already (it has found dask
    installed then, and would fail to load it later).  Returns the modules hidden."""
    if "xarray" in sys.modules or uses_cluster(argv, table):
        return ()
    return hide_dask()


def unhide_dask(hidden: tuple[str, ...]) -> None:
    """Undo :func:`hide_dask` for the modules it ``hidden``."""
    for name in hidden:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]


def main(argv: list[str] | None = None, whole_process: bool = False) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code.
    ``whole_process``: the process ends with the run (``python -m model.run``), so that a run
    that sends nothing to a Dask cluster may hide dask from it (:func:`hide_dask_for`)."""
    try:
        import importlib
        from contextlib import ExitStack

        from model.interrupts import deferred_interrupt, interrupts_from_callbacks

        argv = sys.argv[1:] if argv is None else argv
        with ExitStack() as run_lifetime:
            # a Ctrl-C while numba compiles may land in llvmlite's callbacks: not lost there
            run_lifetime.enter_context(interrupts_from_callbacks())
            with deferred_interrupt():  # raises KeyboardInterrupt at its end if one came
                from model.output.drawer import shared_drawer

                table = scenario_table(argv)
                if whole_process:
                    hide_dask_for(argv, table)
                # the figures' process, loading matplotlib on the other core meanwhile (none
                # for a file that cannot be read: the run stops at its error)
                drawer = None if isinstance(table, Exception) else run_lifetime.enter_context(
                    shared_drawer())
                for name in preloaded(argv, table) + (() if drawer else PRELOAD_FIGURES):
                    importlib.import_module(name)
            from model.cli import main as run

            return run(argv)
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:  # Python wraps an interrupt inside some imports (__set_name__)
        from model.interrupts import caused_by_interrupt

        if not caused_by_interrupt(exc):
            raise
        return _interrupted()


def _interrupted() -> int:
    print("interrupted: no output was half-written (the previous set stays, or the new set "
          "is whole)", file=sys.stderr)
    return EXIT_INTERRUPTED


def leave(code: int) -> None:
    """End the process with ``code`` after a run: the exit handlers run (a Dask client is
    closed) and the standard streams are flushed, then the process ends without the
    interpreter's teardown (about half a second of freeing what numba, matplotlib and xarray
    loaded; every output is already written and closed).  The usual exit where that is not
    possible: a thread that is not a daemon still running, no way to run the handlers."""
    import atexit
    import os
    import threading

    from model.interrupts import flush_streams

    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    running = [t for t in threading.enumerate()
               if t is not threading.current_thread() and t.is_alive() and not t.daemon]
    if run_handlers is None or running:
        sys.exit(code)
    run_handlers()
    flush_streams()
    os._exit(code)


if __name__ == "__main__":
    leave(main(whole_process=True))
