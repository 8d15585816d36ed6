"""The committed reference outputs (results/kiuchi, results/eliminate_surplus) are what the
scenario files produce today: regenerate them with `python -m model.run FILE` when they drift."""

import pandas as pd
import pytest

from model.run import main
from tests.conftest import ROOT


@pytest.mark.parametrize("name", ["kiuchi", "eliminate_surplus"])
def test_reference_summary_is_reproduced(tmp_path, name, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / name / "results.nc"
    assert main([f"scenarios/{name}.toml", "--out", str(out), "--quiet"]) == 0
    fresh = pd.read_csv(out.parent / "summary.csv")
    committed = pd.read_csv(ROOT / "results" / name / "summary.csv")
    assert list(fresh.columns) == list(committed.columns)
    assert fresh[["scenario", "region"]].equals(committed[["scenario", "region"]])
    numeric = [c for c in fresh.columns if c not in ("scenario", "region", "converged")]
    pd.testing.assert_frame_equal(fresh[numeric], committed[numeric], rtol=1e-5, atol=1e-6)
    report = (out.parent / "report.md").read_text()
    assert report == (ROOT / "results" / name / "report.md").read_text()
