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
