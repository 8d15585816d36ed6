"""The command line behind ``python -m model.run`` (:mod:`model.run`, which adds the handling
of Ctrl-C at any moment): ``FILE.toml [--out PATH] [--quiet] [--strict] [--excel] [--resume]
[--scheduler ADDRESS]``.

Exit codes: 0 success; 2 bad input (the message names the file and key); 3 a scenario did not
converge (the others are still written, and the failed one is named).  A file with a ``[sweep]``
table also runs the sweep (:mod:`model.sweep`): draws that do not converge are recorded in
``sweep.nc`` and counted on stderr but are not an error (exit 0); exit 3 means a central
solution failed.  An interrupted sweep exits 130 and continues with ``--resume``; it writes
nothing else, since every output of a run is replaced together or not at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from calibration.io import DatasetError
from model import compiling
from model.interrupts import deferred_interrupt
from model.output.drawing import Drawing
from model.output.files import LockError, folder_lock, staged_folder
from model.output.report import terminal_table
from model.output.results import package_version
from model.output.write import write_outputs
from model.scenario import ScenarioError
from model.study import prepare, solve_studies

EXIT_OK, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED, EXIT_INTERRUPTED = 0, 2, 3, 130


def parse_args(argv):
    return arguments().parse_args(argv)


def arguments() -> argparse.ArgumentParser:
    """The command line's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m model.run",
        description="Solve every scenario of a scenario file and write results.nc, summary.csv, "
                    "report.md and figures.",
    )
    parser.add_argument("scenario_file", type=Path, help="scenario file (TOML)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results netCDF path (default results/<file stem>/results.nc)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--strict", action="store_true",
                        help="treat warnings (implausible results, an inexact decomposition, "
                             "an optimum on a bound) as errors: exit 2 and write nothing")
    parser.add_argument("--excel", action="store_true",
                        help="also write results.xlsx: every value, one sheet per group of "
                             "variables (needs openpyxl: pip install -e '.[excel]')")
    parser.add_argument("--version", action="version",
                        version=f"armington-cge {package_version()}")
    parser.add_argument("--resume", action="store_true",
                        help="sweeps: keep the chunks saved by an interrupted run of the same "
                             "sweep and solve only the rest")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="sweeps: run chunks on the Dask cluster at ADDRESS "
                             "(e.g. tcp://10.0.0.5:8786); overrides [sweep] scheduler")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    no_dask_arrays()
    out = args.out or Path("results") / args.scenario_file.stem / "results.nc"
    try:
        _check_out(out)
        if args.excel:
            _check_excel()
        study = prepare(args.scenario_file)
        spec = None
        if study.file.sweep is not None:
            from model.sweep import parse_sweep

            spec = parse_sweep(study.file.sweep, study.file.path, study.benchmark,
                               tuple(p.name for p in study.scenarios))
            _check_scheduler(args.scheduler or spec.scheduler)
            _check_space(out.parent, spec, study)
            if args.resume:
                _check_resumable(out.parent, spec, study)
    except (ScenarioError, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        with folder_lock(out.parent):
            return _run(args, out, study, spec)
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args, out: Path, study, spec) -> int:
    """Solve, sweep and write, the output folder locked."""
    helper = None
    if not compiling.compiled():
        if not args.quiet:
            print("compiling the solver (once per installation or update of its code; about "
                  "15 s on two cores)...", flush=True)
        helper = compiling.start(study.benchmark, study.file.solver,
                                 _draw_kernel_used(args, study, spec))
    try:
        return _solve_and_write(args, out, study, spec, helper)
    finally:
        if helper is not None:
            helper.stop()


def _draw_kernel_used(args, study, spec) -> bool:
    """Whether the run solves sweep draws in the compiled draw kernel here: a sweep run
    without a Dask cluster, with enough draws of scenarios that search no instrument and have
    no quotas (:func:`model.sweep.runner.in_kernel`; the others are solved draw by draw)."""
    if spec is None or args.scheduler or spec.scheduler:
        return False
    from model.sweep.runner import in_kernel
    from model.sweep.spec import swept

    return in_kernel(swept(study, spec), spec)


def _solve_and_write(args, out: Path, study, spec, helper) -> int:
    """:func:`_run` once the compilation is under way (``helper``, a
    :class:`~model.compiling.Helper` or None)."""
    # the compared files' scenarios in the same pool as the file's (no core waits for the
    # file's longest scenario before they start); reported only after the file's warnings
    solved, *others = solve_studies([(study, True)]
                                    + [(other, False) for other in study.compare])
    for message in solved.warnings:
        print(f"warning: {message}", file=sys.stderr)
    if args.strict and solved.warnings:
        print("error: --strict: the warnings above are errors; nothing was written",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    compared = {other.label: result.results for other, result in zip(study.compare, others)}
    try:
        code, written = _write(args, out, study, spec, solved, compared, helper)
    except OSError as exc:  # a full disk, a folder made read-only while solving
        print(f"error: cannot write the outputs in {out.parent} ({exc.strerror or exc}); no "
              "half-written file was put in place, and the next run there finishes or removes "
              "what this one left", file=sys.stderr)
        return EXIT_BAD_INPUT
    if code in (EXIT_BAD_INPUT, EXIT_INTERRUPTED):
        return code
    if not args.quiet:
        print(f"{study.file.title} ({study.dataset.name}, {study.dataset.unit})")
        print(terminal_table(solved.results))
        print("wrote " + ", ".join(str(out.parent / p.name) for p in written))
    for message in solved.failed:
        print(f"error: scenario did not converge: {message}", file=sys.stderr)
    return EXIT_NOT_CONVERGED if solved.failed else code


def _write(args, out: Path, study, spec, solved, compared, helper=None) -> tuple[int, list]:
    """Run the sweep (if any) and write every output into a staging folder moved into place
    together; returns the exit code so far and the files written.  ``helper`` (a
    :class:`~model.compiling.Helper`) is compiling the draw kernel: the figures are drawn
    meanwhile."""
    code, written = EXIT_OK, []
    with staged_folder(out.parent) as stage:
        sections, extra = (), ()
        # the figures, drawn in a child process (model.output.drawing) while the run does
        # the rest: the study's at once (while the sweep is solved, or on a first run while
        # the draw kernel compiles), the sweep's once it is solved
        drawings = [Drawing(solved.results, stage.path)]
        try:
            drawings[0].start()
            if helper is not None and helper.running:
                helper.wait()
            if spec is not None:
                code, sections, extra = _sweep(args, study, spec, stage.path, out.parent,
                                               solved.results, drawings)
            if code in (EXIT_BAD_INPUT, EXIT_INTERRUPTED):
                stage.abandon()
            else:
                with deferred_interrupt():  # netCDF files are read and written throughout
                    sweep = _open_sweep(extra)
                    try:
                        written = write_outputs(stage.path, out.name, solved.results, study,
                                                compared, sections, extra, sweep,
                                                excel=args.excel, drawing=drawings[0])
                    finally:
                        if sweep is not None:
                            sweep.close()
                    for drawing in drawings[1:]:
                        drawing.paths()
        finally:
            with deferred_interrupt():  # a second Ctrl-C: every child is still ended
                for drawing in drawings:  # before the stage is moved or removed
                    drawing.stop()
    return code, written


def _open_sweep(extra):
    """The sweep's results (opened lazily, for the statistics study notes may cite)."""
    path = next((p for p in extra if Path(p).name == "sweep.nc"), None)
    if path is None:
        return None
    import xarray as xr

    return xr.open_dataset(path, engine="netcdf4")


#: the other files a run writes beside the results (a results path may not take their names)
OTHER_OUTPUTS = ("summary.csv", "results.csv", "results.xlsx", "report.md", "headline.png",
                 "output.png", "optimal_tariff.png", "sweep.nc", "sweep.png", "sobol.png")


def _check_out(out: Path) -> None:
    """The output path must be a ``.nc`` file name, not the name of another output of the run,
    a regular file or nothing (not a folder, device, pipe or a link to one), in a folder that
    can be made and written to."""
    if out.suffix != ".nc":
        raise ScenarioError(f"--out {out}: the results file must end in .nc, e.g. "
                            "results/NAME/results.nc")
    if out.name in OTHER_OUTPUTS or out.name.startswith("compared_"):
        raise ScenarioError(f"--out {out}: {out.name} is the name of another file the run "
                            "writes beside the results; choose another name")
    if out.exists() or out.is_symlink():
        target = out.resolve()
        if out.is_dir():
            raise ScenarioError(f"--out {out}: is a folder; give the path of the results file, "
                                "e.g. results/NAME/results.nc")
        if not target.is_file():
            raise ScenarioError(f"--out {out}: exists and is not a regular file (a device, a "
                                "pipe or a broken link); refusing to replace it")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise ScenarioError(f"--out {out}: {parent} exists and is not a folder")
        if parent.exists():
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ScenarioError(f"--out {out}: the folder {parent} cannot be written to")
            break


def sweep_bytes(spec, study) -> int:
    """What a sweep writes at most at once: its chunks and ``sweep.nc`` (an upper estimate)."""
    from model.core import catalogue

    nr, ns = len(study.benchmark.regions), len(study.benchmark.sectors)
    per_case = sum(8 * nr * (ns if "sector" in v.dims else 1) for v in catalogue.per_draw())
    per_case += 8 * (6 + nr + len(spec.sampled) + len(study.benchmark.sectors))
    n_scenarios = len(spec.scenarios) if spec.scenarios else len(study.scenarios)
    return 2 * per_case * spec.n_draws * spec.n_points * n_scenarios


def _check_space(folder: Path, spec, study) -> None:
    """Refuse a sweep whose files would not fit on the output's disk, before solving."""
    import shutil

    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return  # not measurable here
    need = sweep_bytes(spec, study)
    if need > free:
        raise ScenarioError(f"{study.file.path}: [sweep]: its files need about "
                            f"{need / 2**30:.1f} GiB and {probe} has {free / 2**30:.1f} GiB "
                            "free; lower draws or choose another --out")


def _check_resumable(folder: Path, spec, study) -> None:
    """With --resume, the saved chunks must be this sweep's: checked before solving, so that a
    refused resume rewrites nothing."""
    from model.sweep.spec import swept
    from model.sweep.store import check_resumable, fingerprint

    check_resumable(folder / "sweep_chunks",
                    fingerprint(swept(study, spec), spec, study.file.solver))


def _check_excel() -> None:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise ScenarioError("--excel needs openpyxl: pip install -e '.[excel]'") from None


def no_dask_arrays() -> None:
    """Tell xarray that this process holds no dask arrays, where dask is installed but not
    loaded: a run never makes one (a sweep on a Dask cluster gets NumPy arrays back), and
    xarray would otherwise load ``dask.array`` (about 0.3 s) to check every array it is given.

    xarray's own check is run with dask hidden (:func:`model.run.hide_dask`, undone after), so
    its record is the one xarray keeps when dask is not installed; where xarray keeps no such
    record (another version), nothing is done."""
    from model.run import hide_dask, unhide_dask

    if "dask" in sys.modules:
        return
    try:
        from xarray.namedarray import pycompat

        cache, probe = pycompat._cached_duck_array_modules, pycompat.DuckArrayModule
    except (ImportError, AttributeError):
        return
    if "dask" in cache:
        return
    hidden = hide_dask()
    try:
        cache["dask"] = probe("dask")
    except Exception:  # another version's check: left to xarray
        pass
    finally:
        unhide_dask(hidden)


def _check_scheduler(address: str | None) -> None:
    """A Dask scheduler address must answer before anything is solved."""
    if address is None:
        return
    try:
        from distributed import Client

        Client(address, timeout="20s", set_as_default=False).close()
    except ImportError:
        raise ScenarioError(f"scheduler {address}: dask.distributed is not installed "
                            "(pip install -e '.[sweep]')") from None
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ScenarioError(f"scheduler {address}: cannot connect ({exc}); an address looks "
                            "like tcp://10.0.0.5:8786") from None


def _sweep(args, study, spec, stage: Path, folder: Path, central, drawings: list):
    """Run the sweep of the file into ``stage`` (its chunks are saved in ``folder``, where a
    resumed run finds them); returns ``(exit code, report sections, files written)``.
    The drawing of the sweep's figures (a :class:`~model.output.drawing.Drawing`) is
    started and added to ``drawings``."""
    from model.sweep import run_sweep
    from model.sweep.report import sweep_section
    from model.sweep.spec import swept

    path = stage / "sweep.nc"
    chunks = folder / "sweep_chunks"
    try:
        run = run_sweep(swept(study, spec), spec, path, resume=args.resume,
                        scheduler=args.scheduler,
                        progress=not args.quiet, chunks=chunks)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT, (), ()
    except OSError as exc:  # includes a Dask scheduler that cannot be reached
        print(f"error: sweep: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT, (), ()
    except KeyboardInterrupt:
        if chunks.is_dir():
            print(f"interrupted: the solved chunks are saved in {chunks}; run the same command "
                  "with --resume to finish", file=sys.stderr)
        else:  # the sweep was solved and its chunks removed as the interrupt came
            print("interrupted: the sweep was solved but no output was written; run the same "
                  "command again", file=sys.stderr)
        return EXIT_INTERRUPTED, (), ()
    with deferred_interrupt():  # reads sweep.nc
        section, names = sweep_section(path)
    figures = Drawing.of_sweep(path, stage, central, names)
    drawings.append(figures)
    figures.start()
    if not args.quiet:
        print(f"sweep: {run.solves} solves in {run.seconds:.1f} s "
              f"({run.solves / max(run.seconds, 1e-9):,.0f} per second)")
    for name, count in run.failed.items():
        if count:
            print(f"warning: sweep, scenario {name}: {count} draws did not converge (or had an "
                  "elasticity at or below 1); they are recorded in sweep.nc with their residual "
                  "and excluded from the statistics", file=sys.stderr)
    for name, point in run.central_failed:
        print(f"error: sweep, scenario {name}: the central solution at grid point {point} did "
              "not converge; its draws started from the benchmark", file=sys.stderr)
    code = EXIT_NOT_CONVERGED if run.central_failed else EXIT_OK
    return code, (section,), (path, *figures.files())
