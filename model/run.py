"""Command line: ``python -m model.run FILE.toml [--out PATH] [--quiet]``.

Exit codes: 0 success; 2 bad input (the message names the file and key); 3 a scenario did not
converge (the others are still written, and the failed one is named).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calibration.io import DatasetError
from model.report import terminal_table, write_reports
from model.results import write_netcdf
from model.scenario import ScenarioError
from model.study import prepare, solve_study

EXIT_OK, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED = 0, 2, 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.run",
        description="Solve every scenario of a scenario file and write results.nc, summary.csv, "
                    "report.md and figures.",
    )
    parser.add_argument("scenario_file", type=Path, help="scenario file (TOML)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results netCDF path (default results/<file stem>/results.nc)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)

    try:
        study = prepare(args.scenario_file)
    except (ScenarioError, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    out = args.out or Path("results") / args.scenario_file.stem / "results.nc"
    result, failed = solve_study(study)
    write_netcdf(result, out)
    written = [out, *write_reports(result, out.parent)]
    if not args.quiet:
        print(f"{study.file.title} ({study.dataset.name}, {study.dataset.unit})")
        print(terminal_table(result))
        print("wrote " + ", ".join(str(p) for p in written))
    for message in failed:
        print(f"error: scenario did not converge: {message}", file=sys.stderr)
    return EXIT_NOT_CONVERGED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
