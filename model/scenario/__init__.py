"""Scenario files: TOML parsed into frozen records (:mod:`~model.scenario.parse`), checked
against a dataset and turned into policies (:mod:`~model.scenario.policy`)."""

from model.scenario.errors import Errors, ScenarioError
from model.scenario.parse import load_scenario_file, parse_scenario_text
from model.scenario.policy import PreparedScenario, prepare_scenarios
from model.scenario.records import Scenario, ScenarioFile

__all__ = ["Errors", "PreparedScenario", "Scenario", "ScenarioError", "ScenarioFile",
           "load_scenario_file", "parse_scenario_text", "prepare_scenarios"]
