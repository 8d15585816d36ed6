"""Study notes: Markdown whose ``{{variable|scenario[@file]|label...[:format]}}`` placeholders
are filled from the results.

A placeholder names a numeric variable of the catalogue
(:func:`model.core.catalogue.placeholder_dims`), a scenario (the word ``benchmark`` for a
benchmark value such as ``trade_balance_benchmark``), optionally the label of a compared
scenario file after ``@``, one label per dimension of the variable, and a format (``.2f`` by
default).  :func:`check` resolves every placeholder against the names a study will have before
anything is solved; :func:`render` resolves them the same way against the results and fills
them in, so a placeholder that passed the check cannot fail afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model.core import catalogue

PLACEHOLDER = re.compile(r"\{\{([^{}]+)\}\}")
BENCHMARK = "benchmark"  # the scenario part of a placeholder that names a benchmark value


class NotesError(ValueError):
    """A placeholder that names something the results do not have."""


@dataclass(frozen=True)
class Names:
    """What the results of one scenario file hold: scenario, region and sector names."""

    scenarios: tuple[str, ...]
    regions: tuple[str, ...]
    sectors: tuple[str, ...]

    def of(self, dim: str) -> tuple[str, ...]:
        return self.sectors if dim == "sector" else self.regions


@dataclass(frozen=True)
class Placeholder:
    """A parsed placeholder: ``file`` is None for the study's own file."""

    text: str
    variable: str
    scenario: str
    file: str | None
    labels: tuple[str, ...]
    fmt: str

    @classmethod
    def parse(cls, text: str) -> "Placeholder":
        body, _, fmt = text.partition(":")
        parts = [p.strip() for p in body.split("|")]
        if len(parts) < 2:
            raise NotesError(f"{{{{{text}}}}}: write {{{{variable|scenario|region...}}}}")
        scenario, _, label = parts[1].partition("@")
        return cls(text, parts[0], scenario, label or None, tuple(parts[2:]), fmt or ".2f")


def resolve(ph: Placeholder, files: dict[str, Names], default: str) -> tuple[str, dict]:
    """The file label and the selection (``{"scenario": ..., dim: label, ...}``) a placeholder
    names; raises :class:`NotesError` if any part of it does not exist."""
    where = f"{{{{{ph.text}}}}}"
    try:
        format(1.0, ph.fmt)
    except ValueError as exc:
        raise NotesError(f"{where}: {exc}") from None
    label = ph.file or default
    names = files.get(label)
    if names is None:
        raise NotesError(f"{where}: no compared file '{ph.file}'; the files are "
                         f"{', '.join(files)}")
    dims = catalogue.placeholder_dims().get(ph.variable)
    if dims is None:
        raise NotesError(f"{where}: unknown variable '{ph.variable}'; a placeholder names a "
                         "per-scenario result such as welfare or output")
    benchmark = catalogue.VARIABLES[ph.variable].group == "benchmark"
    if benchmark and ph.scenario != BENCHMARK:
        raise NotesError(f"{where}: '{ph.variable}' is a benchmark value; write "
                         f"{{{{{ph.variable}|{BENCHMARK}|...}}}}")
    if not benchmark and ph.scenario not in names.scenarios:
        raise NotesError(f"{where}: unknown scenario '{ph.scenario}'; the scenarios are "
                         f"{', '.join(names.scenarios)}")
    if len(ph.labels) != len(dims):
        raise NotesError(f"{where}: '{ph.variable}' needs {len(dims)} label(s) after the "
                         f"scenario ({', '.join(dims) or 'none'}), not {len(ph.labels)}")
    for dim, name in zip(dims, ph.labels):
        if name not in names.of(dim):
            raise NotesError(f"{where}: unknown {dim} '{name}'; the choices are "
                             f"{', '.join(names.of(dim))}")
    selection = dict(zip(dims, ph.labels))
    return label, selection if benchmark else {"scenario": ph.scenario, **selection}


def check(text: str, files: dict[str, Names], default: str) -> None:
    """Resolve every placeholder of ``text``; raises :class:`NotesError` at the first that
    names something ``files`` will not have."""
    for match in PLACEHOLDER.finditer(text):
        resolve(Placeholder.parse(match.group(1)), files, default)


def names_of(result) -> Names:
    """The names a results Dataset holds."""
    return Names(tuple(map(str, result.scenario.values)), tuple(map(str, result.region.values)),
                 tuple(map(str, result.sector.values)))


def render(text: str, results: dict, default: str) -> str:
    """Fill every placeholder of ``text`` from ``results`` (file label -> results Dataset)."""
    files = {label: names_of(r) for label, r in results.items()}

    def fill(match):
        ph = Placeholder.parse(match.group(1))
        label, selection = resolve(ph, files, default)
        return format(float(results[label][ph.variable].sel(selection)), ph.fmt)

    return PLACEHOLDER.sub(fill, text)
