"""Errors of scenario files, and the checker every parser of a scenario file's tables uses.

Every problem raises :class:`ScenarioError` naming the file and the key (for example
``scenarios.accept_tariffs.tariffs[2].sectors``) and, for unknown names, the valid choices.
"""

from __future__ import annotations

import math
from pathlib import Path


class ScenarioError(ValueError):
    """A scenario file that cannot be read or names something the dataset does not have."""


class Errors:
    """Checks values of one scenario file; each failure raises :class:`ScenarioError` with the
    file and the key in the message."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def fail(self, key: str, message: str):
        raise ScenarioError(f"{self.path}: {key}: {message}")

    def keys(self, doc: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in doc:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                self.fail(name, f"unknown key; valid keys here are {', '.join(allowed)}")

    def table(self, value, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be a table, not {type(value).__name__}")
        return value

    def string(self, value, where: str) -> str:
        if not isinstance(value, str):
            self.fail(where, f"must be a string, not {value!r}")
        return value

    def number(self, value, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            self.fail(where, f"must be a number, not {value!r}")
        return float(value)

    def integer(self, value, where: str, minimum: int, what: str = "integer") -> int:
        """An integer of at least ``minimum`` (``what`` names it in the message, e.g.
        ``"positive integer"``)."""
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(where, f"must be a {what}, not {value!r}")
        return value

    def boolean(self, value, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"must be true or false, not {value!r}")
        return value

    def names(self, value, where: str, allow_all: bool = True) -> tuple[str, ...] | None:
        """A name or a list of names; ``"all"`` gives None where ``allow_all``."""
        if allow_all and value == "all":
            return None
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.fail(where, f'must be a name, a list of names or "all", not {value!r}')

    def entries(self, doc: dict, where: str, key: str, parse) -> list:
        """``parse(self, entry, where)`` of each table of the array of tables ``doc[key]``."""
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(f"{where}.{key}", f"must be an array of tables ([[{where}.{key}]])")
        return [parse(self, entry, f"{where}.{key}[{k}]") for k, entry in enumerate(value)]
