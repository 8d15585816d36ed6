"""Study notes: Markdown whose ``{{variable|scenario[@file]|label...[:format]}}`` placeholders
are filled from the results (``scenario`` may be ``a-b``, the difference of two scenarios;
``@sweep`` reads the statistics of the file's sweep, e.g. ``{{welfare_summary|deal@sweep|p5|JPN}}``).

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

import numpy as np

from model.core import catalogue

PLACEHOLDER = re.compile(r"\{\{([^{}]+)\}\}")
BENCHMARK = "benchmark"  # the scenario part of a placeholder that names a benchmark value


class NotesError(ValueError):
    """A placeholder that names something the results do not have."""


SWEEP = "sweep"  # the label of a file's sweep results (sweep.nc) in placeholders
SUMMARY = "_summary"  # a sweep's statistics of a per-draw outcome: welfare_summary, ...


@dataclass(frozen=True)
class Names:
    """What the results of one scenario file hold: scenario, region and sector names (and, for
    a sweep's results, its statistics)."""

    scenarios: tuple[str, ...]
    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    statistics: tuple[str, ...] = ()

    def of(self, dim: str) -> tuple[str, ...]:
        if dim == "statistic":
            return self.statistics
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


def _dims(ph: Placeholder, label: str, where: str) -> tuple[str, ...]:
    """The dimensions a placeholder's variable needs labels for."""
    if label == SWEEP:
        stored = {f"{v.name}{SUMMARY}": ("statistic",) + v.dims for v in catalogue.per_draw()}
        if ph.variable not in stored:
            raise NotesError(f"{where}: the sweep's results hold the statistics "
                             f"{', '.join(stored)}, not '{ph.variable}'")
        return stored[ph.variable]
    dims = catalogue.placeholder_dims().get(ph.variable)
    if dims is None:
        raise NotesError(f"{where}: unknown variable '{ph.variable}'; a placeholder names a "
                         "per-scenario result such as welfare or output")
    return dims


def scenarios_of(text: str, names: Names) -> tuple[str, ...]:
    """The scenario part of a placeholder: one scenario, or ``a-b`` (the difference of two
    scenarios' values) when ``a-b`` is not itself a scenario."""
    if text in names.scenarios or "-" not in text:
        return (text,)
    return tuple(text.split("-", 1))


def resolve(ph: Placeholder, files: dict[str, Names], default: str) -> tuple[str, list]:
    """The file label and the selections (``{"scenario": ..., dim: label, ...}``; two for a
    difference of scenarios) a placeholder names; raises :class:`NotesError` if any part of it
    does not exist."""
    where = f"{{{{{ph.text}}}}}"
    if re.search(r"\d{3,}", ph.fmt):
        raise NotesError(f"{where}: the format '{ph.fmt}' asks for a width or precision of "
                         "100 or more")
    try:
        format(1.0, ph.fmt)
    except ValueError as exc:
        raise NotesError(f"{where}: {exc}") from None
    label = ph.file or default
    names = files.get(label)
    if names is None:
        raise NotesError(f"{where}: no compared file '{ph.file}'; the files are "
                         f"{', '.join(files)}")
    dims = _dims(ph, label, where)
    benchmark = label != SWEEP and catalogue.VARIABLES[ph.variable].group == "benchmark"
    if benchmark and ph.scenario != BENCHMARK:
        raise NotesError(f"{where}: '{ph.variable}' is a benchmark value; write "
                         f"{{{{{ph.variable}|{BENCHMARK}|...}}}}")
    scenarios = () if benchmark else scenarios_of(ph.scenario, names)
    for name in scenarios:
        if name not in names.scenarios:
            raise NotesError(f"{where}: unknown scenario '{name}'; the scenarios are "
                             f"{', '.join(names.scenarios)}")
    if len(ph.labels) != len(dims):
        raise NotesError(f"{where}: '{ph.variable}' needs {len(dims)} label(s) after the "
                         f"scenario ({', '.join(dims) or 'none'}), not {len(ph.labels)}")
    for dim, name in zip(dims, ph.labels):
        if name not in names.of(dim):
            raise NotesError(f"{where}: unknown {dim} '{name}'; the choices are "
                             f"{', '.join(names.of(dim))}")
    selection = dict(zip(dims, ph.labels))
    if benchmark:
        return label, [selection]
    return label, [{"scenario": name, **selection} for name in scenarios]


def check(text: str, files: dict[str, Names], default: str) -> None:
    """Resolve every placeholder of ``text``; raises :class:`NotesError` at the first that
    names something ``files`` will not have, or at a brace pair left open."""
    for match in PLACEHOLDER.finditer(text):
        resolve(Placeholder.parse(match.group(1)), files, default)
    rest = PLACEHOLDER.sub("", text)
    for token in ("{{", "}}"):
        if token in rest:
            at = rest.find(token)
            raise NotesError(f"a placeholder is not closed ('{token}' without its pair, "
                             f"near: {rest[max(at - 30, 0):at + 30]!r})")


def names_of(result) -> Names:
    """The names a results Dataset (or a sweep's) holds."""
    stats = tuple(map(str, result.statistic.values)) if "statistic" in result.coords else ()
    return Names(tuple(map(str, result.scenario.values)), tuple(map(str, result.region.values)),
                 tuple(map(str, result.sector.values)), stats)


def _value(result, name: str, selection: dict) -> float:
    v = catalogue.VARIABLES.get(name)
    data = v.read(result) if v is not None and v.group == "derived" else result[name]
    return float(data.sel(selection))


class _Arrays:
    """The variables the placeholders read, each as an array with its labels' positions,
    read once (a selection per placeholder costs about a millisecond)."""

    def __init__(self, results: dict):
        self.results = results
        self.arrays = {}

    def value(self, label: str, name: str, selection: dict) -> float:
        if (label, name) not in self.arrays:
            v = catalogue.VARIABLES.get(name)
            result = self.results[label]
            data = v.read(result) if v is not None and v.group == "derived" else result[name]
            self.arrays[label, name] = (np.asarray(data.values), data.dims, {
                d: {str(x): k for k, x in enumerate(data[d].values)} for d in data.dims
                if d in data.coords})
        values, dims, positions = self.arrays[label, name]
        if set(dims) != set(selection) or not set(dims) <= set(positions):
            return _value(self.results[label], name, selection)
        return float(values[tuple(positions[d][str(selection[d])] for d in dims)])


def render(text: str, results: dict, default: str) -> str:
    """Fill every placeholder of ``text`` from ``results`` (file label -> results Dataset; a
    sweep's under ``"sweep"``)."""
    files = {label: names_of(r) for label, r in results.items()}
    arrays = _Arrays(results)

    def fill(match):
        ph = Placeholder.parse(match.group(1))
        label, selections = resolve(ph, files, default)
        values = [arrays.value(label, ph.variable, sel) for sel in selections]
        value = values[0] - values[1] if len(values) == 2 else values[0]
        text = format(value, ph.fmt)
        if text.startswith("-") and text.lstrip("-").strip("0.%") == "":
            text = text[1:]  # a value that rounds to zero is written without a sign
        return text

    return PLACEHOLDER.sub(fill, text)
