"""The Python API, for notebooks and scripts: a scenario file, a TOML string or a dict in; the
labelled results Dataset the command line writes out; reports and figures from it.

::

    import model.api as cge

    study = cge.from_dict({
        "data": "data/world5_2024",
        "scenarios": {"deal": {"description": "the 2025 deals on every partner",
                               "regimes": [{"regime": "deals_2025", "importer": "USA"}]}},
    })
    results = cge.solve(study)              # xarray.Dataset, names on every axis
    results.welfare.sel(scenario="deal", region="JPN")
    cge.write(results, "results/notebook", study)   # results.nc, report.md, figures, ...

Every name is a region, sector or scenario name of the results (no positional indices); the
Dataset's variables are documented in docs/formats.md ("The results Dataset").
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from calibration.io import Dataset, DatasetError, load_dataset
from model.output.files import staged_folder
from model.output.write import write_outputs
from model.scenario import ScenarioError
from model.study import Study, prepare, solve_study

__all__ = ["Dataset", "DatasetError", "ScenarioError", "Study", "dataset", "from_dict",
           "from_toml", "load", "solve", "to_toml", "write"]


def load(path: str | Path) -> Study:
    """Read and check a scenario file (TOML) and its dataset, ready to :func:`solve`."""
    return prepare(path)


def from_toml(text: str, folder: str | Path = ".", name: str = "notebook") -> Study:
    """A study from scenario-file text, read as if it were the file ``folder/name.toml``:
    ``data`` and other relative paths are taken from ``folder``, and messages name that file."""
    return prepare(Path(folder) / f"{name}.toml", text=text)


def from_dict(doc: dict, folder: str | Path = ".", name: str = "notebook") -> Study:
    """A study from a dict with the keys of a scenario file (docs/formats.md); it is written out
    as TOML (kept in the results' ``scenario_text`` attribute) and read as :func:`from_toml`
    reads text, so a dict and the equivalent file give the same results."""
    return from_toml(to_toml(doc), folder, name)


def to_toml(doc: dict) -> str:
    """The scenario-file text of a dict (ScenarioError if a value has no TOML form)."""
    import tomli_w

    try:
        return tomli_w.dumps(doc)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"scenario dict: no TOML form ({exc})") from None


def solve(study: Study, decomposition: bool = True) -> xr.Dataset:
    """Solve every scenario of ``study``: the results Dataset of ``python -m model.run``
    (a scenario that fails keeps NaN outcomes, ``converged = False`` and its residual; its
    reason and any warning are in the variables ``warning`` and the attribute ``warnings``).
    ``decomposition = False`` skips the welfare decompositions (faster; their parts are NaN)."""
    return solve_study(study, decomposition=decomposition).results


def write(results: xr.Dataset, folder: str | Path, study: Study | None = None,
          compared: dict[str, xr.Dataset] | None = None) -> list[Path]:
    """Write ``results.nc``, ``summary.csv``, ``results.csv``, ``report.md`` and the figures into
    ``folder``, all together or none (a failure leaves the folder's previous files whole);
    ``study`` adds its ``[report]`` tables and notes, ``compared`` the results of other set-ups
    by label.  Returns the files written."""
    folder = Path(folder)
    with staged_folder(folder) as stage:
        written = write_outputs(stage.path, "results.nc", results, study, compared)
    return [folder / p.name for p in written]


def dataset(path: str | Path, elasticities: str = "elasticities.csv") -> Dataset:
    """Read and check a dataset folder (docs/formats.md, "Datasets")."""
    return load_dataset(path, elasticities=elasticities)
