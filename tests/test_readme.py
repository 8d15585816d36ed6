"""The README's scenario file and Python example work as written."""

import re

from model.study import prepare
from tests.conftest import ROOT


def blocks(kind):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [body for k, body in re.findall(r"```(toml|python)\n(.*?)```", text, re.S) if k == kind]


def test_readme_scenario_file_is_valid(tmp_path):
    (toml,) = blocks("toml")
    folder = tmp_path / "scenarios"
    folder.mkdir()
    text = toml.replace('"../data/jpn_usa_2024"', f'"{(ROOT / "data" / "jpn_usa_2024").as_posix()}"')
    (folder / "readme.toml").write_text(text, encoding="utf-8")
    study = prepare(folder / "readme.toml")
    assert [s.name for s in study.file.scenarios] == ["accept_tariffs", "deal", "shipping",
                                                      "eliminate_surplus"]


def test_readme_python_example_runs(monkeypatch):
    (code,) = blocks("python")
    monkeypatch.chdir(ROOT)
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["sol"].converged
    assert scope["out"]["welfare"].shape == (2,)
    assert scope["result"].welfare.sizes["scenario"] >= 6
