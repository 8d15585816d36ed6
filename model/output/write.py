"""Every output of a run, written into one staging folder so that
:func:`~model.output.files.staged_folder` moves them into place together."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from model.output.drawing import Drawing
from model.output.files import atomic_path, write_netcdf, write_text
from model.output.report import report_markdown, summary_table
from model.output.results import excel_sheets, long_csv


def write_outputs(stage: Path, name: str, result: xr.Dataset, study=None,
                  compared: dict | None = None, sections: tuple[str, ...] = (),
                  extra: tuple[Path, ...] = (), sweep: xr.Dataset | None = None,
                  excel: bool = False, drawing: Drawing | None = None) -> list[Path]:
    """Write the results netCDF (as ``name``), the results of the compared files
    (``compared_<label>.nc``), ``summary.csv``, ``results.csv`` (every value, long),
    ``report.md`` (with
    ``sections`` appended, such as a sweep's; study notes may cite the ``sweep``'s statistics)
    and the figures into ``stage`` (with ``excel``, ``results.xlsx`` too); returns the files of the set in the order a user reads
    them, ``extra`` files (already in ``stage``) last.  The figures are drawn by ``drawing``
    (one started earlier) or by one started here, in a child process while the rest is
    written (:class:`~model.output.drawing.Drawing`)."""
    stage = Path(stage)
    drawing = drawing or Drawing(result, stage)
    drawing.start()
    try:
        return _write(stage, name, result, study, compared, sections, extra, sweep, excel,
                      drawing)
    finally:
        drawing.stop()  # after an error: the child ends before the stage is removed


def _write(stage, name, result, study, compared, sections, extra, sweep, excel, drawing):
    write_netcdf(result, stage / name)
    compared_files = []
    for label, other in (compared or {}).items():  # what the report's comparisons read
        compared_files.append(stage / f"compared_{label}.nc")
        write_netcdf(other, compared_files[-1])
    write_text(summary_table(result).to_csv(index=False, float_format="%.6g"),
               stage / "summary.csv")
    write_text(long_csv(result), stage / "results.csv")
    write_text(report_markdown(result, drawing.files(), study, compared, sections, sweep),
               stage / "report.md")
    workbook = [stage / "results.xlsx"] if excel else []
    if excel:
        write_excel(result, workbook[0])
    figures = drawing.paths()
    return [stage / name, stage / "summary.csv", stage / "results.csv", *workbook,
            stage / "report.md", *figures,
            *compared_files, *extra]


def write_excel(result: xr.Dataset, path: Path) -> None:
    """Write the workbook of :func:`~model.output.results.excel_sheets` atomically (needs
    openpyxl: ``pip install -e '.[excel]'``)."""
    import pandas as pd

    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as book:
        for sheet, frame in excel_sheets(result).items():
            frame.to_excel(book, sheet_name=sheet, index=False)
