"""The chunk files of a sweep: each chunk of solved draws in its own file (NumPy's ``.npz``: the
arrays as they are, a few milliseconds per chunk to write and read back) as soon as it is
solved, and a manifest whose fingerprint ties the folder to one sweep, so that an interrupted
sweep continues from its saved chunks (``--resume``).  ``sweep.nc`` is assembled from them
(:mod:`model.sweep.assemble`)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from calibration.io import sha256_of
from model.core import catalogue
from model.core.settings import SolverSettings
from model.interrupts import deferred_interrupt
from model.output.files import atomic_path
from model.output.results import package_version
from model.scenario import ScenarioError


#: the chunk files' format (part of the fingerprint: a folder of another format is not resumed)
CHUNK_SUFFIX = ".npz"


def fingerprint(study, spec, settings: SolverSettings) -> str:
    """What makes saved chunks reusable: the scenario file, the dataset, the sweep, the solver
    settings, the version and the outcomes stored per draw."""
    text = json.dumps({
        "scenario_text": study.file.text,
        "dataset": study.dataset.files_hash,
        "elasticities": study.dataset.elasticities_file,
        "spec": repr(spec),
        "settings": settings.as_dict(),
        "version": package_version(),
        "outcomes": [v.name for v in catalogue.per_draw()],
        "chunk_file": CHUNK_SUFFIX,
    }, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def check_resumable(folder: Path, fingerprint: str) -> None:
    """Saved chunks in ``folder`` (if any) must belong to the sweep of ``fingerprint``, else
    :class:`~model.scenario.ScenarioError` (checked before anything is solved)."""
    folder = Path(folder)
    if not folder.exists():
        return
    manifest = folder / "manifest.json"
    try:
        same = json.loads(manifest.read_text()).get("fingerprint") == fingerprint
    except (OSError, ValueError, AttributeError):
        same = False
    if not same:
        raise ScenarioError(
            f"{folder}: the saved chunks belong to a different sweep (the scenario file, "
            "dataset, solver settings, version or chunk format changed); run without "
            "--resume to start again")


class ChunkStore:
    """The folder of one sweep's chunk files.

    Opening it checks its manifest: with ``resume`` the saved chunks must belong to the same
    sweep (else :class:`~model.scenario.ScenarioError`); without it a previous folder is
    removed.
    """

    def __init__(self, folder: Path, fingerprint: str, resume: bool):
        self.folder = Path(folder)
        manifest = self.folder / "manifest.json"
        if self.folder.exists():
            if resume:
                check_resumable(self.folder, fingerprint)
            else:
                shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not manifest.exists():
            with atomic_path(manifest) as tmp:
                tmp.write_text(json.dumps({"fingerprint": fingerprint}))

    def path(self, scenario: int, chunk: int) -> Path:
        return self.folder / f"scenario{scenario:03d}_chunk{chunk:07d}{CHUNK_SUFFIX}"

    def has(self, scenario: int, chunk: int) -> bool:
        """Whether the chunk is saved whole: its file matches the checksum written beside it.
        A chunk that does not (a damaged or half-copied file) is removed, to be solved
        again."""
        path = self.path(scenario, chunk)
        mark = path.with_suffix(".sha256")
        if path.exists() and mark.exists() and mark.read_text().strip() == sha256_of(path):
            return True
        path.unlink(missing_ok=True)
        mark.unlink(missing_ok=True)
        return False

    def write(self, scenario: int, chunk: int, out: dict, start: int) -> None:
        """Save the solved draws ``out`` (see :func:`model.sweep.runner.solve_chunk`), the
        first of which is case ``start``."""
        path = self.path(scenario, chunk)
        with deferred_interrupt():  # the chunk and its checksum, or neither
            with atomic_path(path) as tmp, open(tmp, "wb") as file:
                np.savez(file, start=np.int64(start), **out)
            with atomic_path(path.with_suffix(".sha256")) as tmp:
                tmp.write_text(sha256_of(path))

    def read(self, scenario: int, chunk: int) -> dict:
        if not self.has(scenario, chunk):
            raise ScenarioError(f"{self.path(scenario, chunk)}: a saved chunk no longer "
                                "matches its checksum; run the sweep again")
        with np.load(self.path(scenario, chunk)) as saved:
            return {k: saved[k] for k in saved.files if k != "start"}

    def remove(self) -> None:
        shutil.rmtree(self.folder)

