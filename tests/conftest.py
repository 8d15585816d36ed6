import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"


@pytest.fixture
def example_copy(tmp_path) -> Path:
    """A writable copy of the example dataset, to break on purpose."""
    target = tmp_path / "data"
    shutil.copytree(EXAMPLE, target)
    return target


def write_scenario(folder: Path, body: str, data: str = "data") -> Path:
    """A scenario file in ``folder`` pointing at the dataset folder ``data`` beside it."""
    path = folder / "scenario.toml"
    path.write_text(f'title = "test"\ndata = "{data}"\n' + body, encoding="utf-8")
    return path
