"""Bad input gets a named error and exit 2, never a traceback, and nothing is written: names,
notes, sweep labels and seeds, text encodings, nesting, paths outside the study, datasets
without factor income."""

import shutil

import numpy as np
import pytest

from calibration.io import DatasetError, make_dataset
from model.run import main
from tests.conftest import EXAMPLE, write_scenario

GRID = '[scenarios.a]\n[sweep]\nmethod = "grid"\n[[sweep.parameters]]\nname = "sigma"\n' \
       'values = [1.0, 1.1]\n'
SAMPLED = '[scenarios.a]\n[sweep]\ndraws = 4\n[[sweep.parameters]]\nname = "sigma"\n'


def run(tmp_path, body, data=None, capsys=None):
    path = write_scenario(tmp_path, body, data=str(data or EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    code = main([str(path), "--out", str(out), "--quiet"])
    return code, out


@pytest.mark.parametrize("body,words", [
    (GRID + 'label = "welfare"\n', ["label 'welfare' is a dimension name"]),
    (GRID + 'label = "status"\n', ["label 'status'"]),
    (GRID + 'label = "a/b"\n', ["must start with a letter"]),
    (GRID + 'label = ""\n', ["must start with a letter"]),
    ('[scenarios.a]\n[sweep]\ndraws = 4\nseed = 1180591620717411303424\n[[sweep.parameters]]\n'
     'name = "sigma"\ndistribution = "uniform"\nlow = 0.9\nhigh = 1.1\n',
     ["sweep.seed", "below 2**63"]),
    (SAMPLED + 'distribution = "lognormal"\nmedian = 1.0\nlog_sd = 1000\n',
     ["log_sd", "too wide"]),
    ('[scenarios."a|b"]\n', ["scenarios.'a|b'", "a scenario name is letters"]),
    ('[scenarios."<script>"]\n', ["a scenario name"]),
    ('elasticities = "../../../etc/passwd.csv"\n[scenarios.a]\n',
     ["elasticities", "name of a .csv file in the dataset folder"]),
    ('[scenarios.a]\nx = ' + '[' * 5000 + ']' * 5000 + '\n', ["not valid TOML"]),
])
def test_bad_input_exits_2_naming_it(tmp_path, capsys, body, words):
    code, out = run(tmp_path, body)
    err = capsys.readouterr().err
    assert code == 2, err
    for word in words:
        assert word in err, (word, err)
    assert "Traceback" not in err and not out.parent.exists()


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "scenario.toml"
    path.write_bytes(b"\xef\xbb\xbf" + f'data = "{EXAMPLE}"\n[scenarios.a]\n'.encode())
    assert main([str(path), "--out", str(tmp_path / "out" / "r.nc"), "--quiet"]) == 0


@pytest.mark.parametrize("notes,words", [
    ("x {{welfare|a|HOME}", ["not closed"]),
    ("{{welfare|a|HOME:>200000000}}", ["width or precision of 100 or more"]),
])
def test_malformed_notes_are_refused(tmp_path, capsys, notes, words):
    (tmp_path / "n.md").write_text(notes)
    code, out = run(tmp_path, '[report]\nnotes = "n.md"\n[scenarios.a]\n')
    err = capsys.readouterr().err
    assert code == 2
    for word in words:
        assert word in err, (word, err)


def test_notes_must_be_markdown_inside_the_study(tmp_path, capsys):
    inner = tmp_path / "study" / "scenarios"
    inner.mkdir(parents=True)
    secret = tmp_path / "secret.md"
    secret.write_text("do not copy")
    (inner / "n.txt").write_text("x")
    code, _ = run(inner, '[report]\nnotes = "../../secret.md"\n[scenarios.a]\n')
    err = capsys.readouterr().err
    assert code == 2 and "outside" in err and "do not copy" not in err
    code, _ = run(inner, '[report]\nnotes = "n.txt"\n[scenarios.a]\n')
    assert code == 2 and "must be a .md file" in capsys.readouterr().err


@pytest.mark.parametrize("meta,words", [
    ('name = "x"\nyear = inf\ncurrency = "USD"\nunit = "bn"\ndescription = ""\n[sources]\n',
     ["year inf is not an integer"]),
    ('name = "x"\nyear = 2024.9\ncurrency = "USD"\nunit = "bn"\ndescription = ""\n[sources]\n',
     ["year 2024.9 is not an integer"]),
])
def test_dataset_metadata_errors_are_named(tmp_path, capsys, meta, words):
    data = tmp_path / "data"
    shutil.copytree(EXAMPLE, data)
    (data / "dataset.toml").write_text(meta)
    code, _ = run(tmp_path, "[scenarios.a]\n", data=data)
    err = capsys.readouterr().err
    assert code == 2 and "dataset.toml" in err
    for word in words:
        assert word in err, (word, err)


def test_latin1_dataset_metadata_is_refused_without_echo(tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(EXAMPLE, data)
    (data / "dataset.toml").write_bytes(
        b'name = "x"\nyear = 2024\ncurrency = "USD"\nunit = "bn"\ndescription = "caf\xe9"\n'
        b'[sources]\n')
    code, _ = run(tmp_path, "[scenarios.a]\n", data=data)
    err = capsys.readouterr().err
    assert code == 2 and "not UTF-8" in err and "caf" not in err


def test_a_region_without_value_added_is_refused():
    flows = np.zeros((2, 2, 1))
    flows[0, 0, 0], flows[0, 1, 0] = 10.0, 2.0
    with pytest.raises(DatasetError, match="region B has no value added"):
        make_dataset(("A", "B"), ("g",), flows, np.array([[12.0], [0.0]]), sigma=[3.0])


def test_sizes_are_checked_before_memory_or_time_is_spent(tmp_path, capsys, monkeypatch):
    """A sweep of 10**12 draws and an oversized chunk are refused at once; a dataset whose
    arrays would not fit in memory is refused after reading its labels; a sweep whose files
    would not fit on the disk is refused before solving."""
    import time

    import calibration.io

    start = time.perf_counter()
    code, out = run(tmp_path, SAMPLED.replace("draws = 4", "draws = 1000000000000")
                    + 'distribution = "uniform"\nlow = 0.8\nhigh = 1.2\n')
    assert code == 2 and not out.exists()
    assert "above the limit of 100,000,000" in capsys.readouterr().err
    assert time.perf_counter() - start < 20
    code, out = run(tmp_path, SAMPLED.replace("draws = 4", "draws = 4\nchunk_size = 10000000")
                    + 'distribution = "uniform"\nlow = 0.8\nhigh = 1.2\n')
    assert code == 2 and "sweep.chunk_size" in capsys.readouterr().err
    with pytest.raises(DatasetError, match=r"1000 regions x 1000 sectors need about 596\.0 GiB"):
        calibration.io.check_size("value_added.csv", 1000, 1000)
    monkeypatch.setattr(calibration.io, "available_memory", lambda: 1000)
    code, out = run(tmp_path, "[scenarios.a]\n")
    err = capsys.readouterr().err
    assert code == 2 and "value_added.csv: 2 regions x 4 sectors need about" in err, err
    monkeypatch.undo()
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 ** 6, 10 ** 6, 1000))
    code, out = run(tmp_path, SAMPLED + 'distribution = "uniform"\nlow = 0.8\nhigh = 1.2\n')
    err = capsys.readouterr().err
    assert code == 2 and "[sweep]: its files need about" in err and not out.exists(), err


def test_a_build_replaces_an_existing_dataset_whole(tmp_path):
    from calibration.write import write_dataset

    out = tmp_path / "built"
    write_dataset(out, {"dataset.toml": "a", "flows.csv": "1"}, lambda folder: None)
    (out / "stale.csv").write_text("from an earlier build")
    write_dataset(out, {"dataset.toml": "b", "flows.csv": "2"}, lambda folder: None)
    assert sorted(p.name for p in out.iterdir()) == ["dataset.toml", "flows.csv"]
    assert (out / "flows.csv").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built"]  # nothing left beside it

    def refuse(folder):
        raise DatasetError("check failed")

    with pytest.raises(DatasetError, match="check failed"):
        write_dataset(out, {"dataset.toml": "c", "flows.csv": "3"}, refuse)
    assert (out / "flows.csv").read_text() == "2"  # the old dataset stands
    other = tmp_path / "papers"
    other.mkdir()
    (other / "draft.md").write_text("keep me")
    with pytest.raises(DatasetError, match="not a dataset"):
        write_dataset(other, {"dataset.toml": "d"}, lambda folder: None)
    assert (other / "draft.md").read_text() == "keep me"


def test_write_failures_and_refused_resumes_are_named_and_destroy_nothing(tmp_path, capsys,
                                                                           monkeypatch):
    """A scheduler address that is not one, an output folder that cannot be written (found
    before solving), a disk that fills while writing, and a --resume of a changed file (refused
    before solving): each exits 2 with a message, and the previous outputs stay whole."""
    import os

    import model.output.files as files
    import model.output.write as write

    sweep = SAMPLED + 'distribution = "uniform"\nlow = 0.8\nhigh = 1.2\n'
    path = write_scenario(tmp_path, sweep, data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet", "--scheduler", "garbage"]) == 2
    assert "scheduler garbage: cannot connect" in capsys.readouterr().err
    # the failed connection leaves no process-wide Dask state behind: later netCDF writes in
    # this process must not go through a lock on a scheduler that does not exist
    import dask
    from distributed.client import _get_global_client
    assert dask.config.get("scheduler", None) is None
    assert _get_global_client() is None
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.parent.iterdir() if p.is_file()}

    real_open = os.open
    def read_only(name, *args, **kwargs):
        if str(name).endswith(".lock"):
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)
    monkeypatch.setattr(files.os, "open", read_only)
    monkeypatch.setattr("model.cli.solve_studies", lambda *a, **k: pytest.fail("solved"))
    assert main([str(path), "--out", str(out), "--quiet"]) == 2
    assert "cannot write there (Permission denied)" in capsys.readouterr().err
    monkeypatch.undo()

    def full(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(write, "write_netcdf", full)
    assert main([str(path), "--out", str(out), "--quiet"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.parent.iterdir() if p.is_file()} == before
    assert not list(out.parent.glob(".staging-*"))

    # an interrupted sweep, then the file changes: --resume is refused before solving
    chunks = out.parent / "sweep_chunks"
    chunks.mkdir()
    (chunks / "manifest.json").write_text('{"fingerprint": "of another sweep"}')
    monkeypatch.setattr("model.cli.solve_studies", lambda *a, **k: pytest.fail("solved"))
    assert main([str(path), "--out", str(out), "--quiet", "--resume"]) == 2
    assert "belong to a different sweep" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.parent.iterdir() if p.is_file()} == before
