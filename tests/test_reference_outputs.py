"""The committed reference outputs (results/kiuchi, results/two_regions) are what the scenario
files produce today: regenerate them with `python -m model.run FILE` when they drift."""

import pandas as pd
import pytest

from model.run import main
from tests.conftest import ROOT


@pytest.mark.parametrize("name", ["kiuchi", "two_regions"])
def test_reference_summary_is_reproduced(tmp_path, name, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / name / "results.nc"
    assert main([f"scenarios/{name}.toml", "--out", str(out), "--quiet"]) == 0
    fresh = pd.read_csv(out.parent / "summary.csv")
    committed = pd.read_csv(ROOT / "results" / name / "summary.csv")
    assert list(fresh.columns) == list(committed.columns)
    assert fresh[["scenario", "region"]].equals(committed[["scenario", "region"]])
    # results agree to the solver's accuracy: balances to tol x world value added (1e-10 x
    # 110,000 US$ bn); residuals and iteration counts depend on the machine's arithmetic
    numeric = [c for c in fresh.columns if c not in ("scenario", "region", "converged", "residual")]
    pd.testing.assert_frame_equal(fresh[numeric], committed[numeric], rtol=1e-5, atol=2e-5)
    assert (fresh.residual < 1e-10).all() and fresh.converged.all()
    report = strip_convergence((out.parent / "report.md").read_text())
    assert report == strip_convergence((ROOT / "results" / name / "report.md").read_text())


def strip_convergence(text: str) -> str:
    """The report without its convergence table (iterations and residuals)."""
    head, _, tail = text.partition("## Convergence")
    return head + tail.partition("Solver:")[2]
