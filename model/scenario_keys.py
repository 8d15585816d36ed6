"""The reference of every key a scenario file may hold, generated from the validator's own key
tables (:mod:`model.scenario.parse`, :mod:`model.sweep.spec`) so that it cannot drift: a key
the validator accepts without a meaning here is an error when the reference is made
(``python -m model.scenario_keys > docs/scenario_keys.md``; the tests compare)."""

from __future__ import annotations

from model.core.instruments import INSTRUMENTS
from model.scenario import parse
from model.sweep import spec

SELECTION = {
    "importer": "importing region(s): a name, a list, or \"all\"",
    "exporter": "exporting region(s): a name, a list, or \"all\"",
    "sectors": "sector(s): a name, a list, or \"all\"",
    "except": "sectors left out of `sectors`",
}

#: (heading, where the table sits, the validator's key tuple, meaning of each key)
TABLES = (
    ("Top level", "", parse.TOP_KEYS, {
        "title": "title of the results and report (default: the file name)",
        "data": "the dataset folder, relative to the file (required)",
        "elasticities": "the dataset's elasticity file to use (default `elasticities.csv`)",
        "defaults": "entries and closure applied to every scenario",
        "scenarios": "the scenarios, one table each, solved in the order of the file",
        "solver": "solver settings",
        "sweep": "a sensitivity sweep",
        "report": "a study report: notes, tables, comparisons",
    }),
    ("Defaults", "[defaults]", parse.DEFAULT_KEYS, {
        "closure": "closure choices merged into each scenario's",
        "regimes": "regime entries applied before each scenario's own",
        "tariffs": "tariff entries applied before each scenario's own",
        "trade_costs": "trade-cost entries applied before each scenario's own",
        "export_taxes": "export-tax entries applied before each scenario's own",
        "preferences": "preference entries applied before each scenario's own",
        "quotas": "quota entries applied before each scenario's own",
    }),
    ("A scenario", "[scenarios.NAME]", parse.SCENARIO_KEYS, {
        "description": "text shown in the report and figures",
        "base": "a scenario defined above that this one starts from",
        "closure": "closure choices (below)",
        "regimes": "list of regime entries: a named regime of regimes.csv on some cells",
        "tariffs": "list of tariff entries",
        "trade_costs": "list of iceberg trade-cost entries (`factor`)",
        "export_taxes": "list of export-tax entries (`rate`)",
        "preferences": "list of preference-shift entries (`factor`)",
        "quotas": "list of quotas, export restraints as quantities, tariff-rate quotas",
        "target": "a target met by an endogenous instrument",
        "optimal_tariff": "search for a region's welfare-maximising uniform tariff",
        "nash": "search for a Nash equilibrium in uniform tariffs",
    }),
    ("Regime entries", "[[scenarios.NAME.regimes]]", parse.REGIME_KEYS, {
        "regime": "name of a regime of the dataset's regimes.csv", **SELECTION}),
    ("Tariff entries", "[[scenarios.NAME.tariffs]]", parse.TARIFF_KEYS, {
        **SELECTION,
        "rate": "the new tariff (0.25 = 25 %), above -1; `inf` is prohibitive",
        "add": "points added to the benchmark rate",
        "floor": "the larger of the benchmark rate and this",
    }),
    ("Trade-cost, export-tax and preference entries",
     "[[scenarios.NAME.trade_costs]], .export_taxes, .preferences",
     parse.CELL_KEYS + tuple(sorted({v[0] for v in parse.CELL_LISTS.values()})), {
         **SELECTION,
         "factor": "trade costs: iceberg factor (> 0); preferences: preference factor (> 0)",
         "rate": "export taxes: the export tax or export-restraint equivalent (> -1)",
     }),
    ("Closure", "closure = { ... }", parse.CLOSURE_KEYS, {
        "trade_balance": "\"fixed\", \"balanced\", or a table of deficits by region",
        "armington": "\"one_level\" or \"nested\" (sigma_D, then sigma_M among sources)",
        "factors": "\"labour\" or \"specific_capital\"",
        "capital_share": "capital's share of value added, in [0, 1) (specific capital only)",
        "labour": "\"full_employment\", \"fixed_real_wage\", or a table by region",
    }),
    ("Target", "[scenarios.NAME.target]", parse.TARGET_KEYS, {
        "balance": "\"bilateral\"",
        "region": "the region whose balance is targeted",
        "partner": "the partner of a bilateral balance",
        "value": "the target, in the dataset's unit",
        "instrument": "one of " + ", ".join(INSTRUMENTS),
        **SELECTION,
        "bounds": "[low, high], the search interval",
        "instrument_region": "trade_balance: the region whose overall balance moves",
    }),
    ("Quotas", "[[scenarios.NAME.quotas]]", parse.QUOTA_KEYS, {
        **SELECTION,
        "ratio": "the quota as a ratio to benchmark quantity",
        "quantity": "the quota in the dataset's unit at benchmark prices (one cell)",
        "mode": "\"cap\" (at most) or \"fix\" (exactly)",
        "in_quota_rate": "tariff within the quota (default: the scenario's)",
        "out_of_quota_rate": "tariff beyond the quota (default inf: a plain quota)",
        "rents": "\"importer\", \"exporter\", or the exporter's share in [0, 1]",
    }),
    ("Optimal tariff", "[scenarios.NAME.optimal_tariff]", parse.OPTIMAL_KEYS, {
        "region": "the region setting the tariff (required)",
        "exporter": "the partners taxed (default \"all\")",
        "sectors": "the sectors taxed (default \"all\")",
        "except": "sectors left out",
        "bounds": "interval searched (default [0, 1])",
        "points": "rates of the welfare curve solved first (default 21)",
    }),
    ("Nash game", "[scenarios.NAME.nash]", parse.NASH_KEYS, {
        "players": "two or more regions (required)",
        "sectors": "the sectors taxed (default \"all\")",
        "except": "sectors left out",
        "bounds": "each player's interval (default [0, 1])",
        "tol": "stop when no rate moves by more (default 1e-8)",
        "max_rounds": "rounds of best responses allowed (default 50)",
    }),
    ("Solver", "[solver]", parse.SOLVER_KEYS, {
        "tol": "convergence bound (default 1e-10)",
        "max_iter": "iteration limit of each attempt (default 5000)",
        "damping": "weight of the new iterate, in (0, 1] (default 1)",
        "acceleration": "\"anderson\" (default) or \"none\"",
        "memory": "past iterates of Anderson mixing, 1..50 (default 5)",
        "expenditure": "\"iterative\" (default) or \"direct\"",
    }),
    ("Report", "[report]", parse.REPORT_KEYS, {
        "notes": "study notes (Markdown with placeholders) beside the file",
        "regions": "regions of the report's tables",
        "sectors": "sectors of the report's tables",
        "compare": "other set-ups solved and compared (entries below)",
    }),
    ("Compared set-ups", "report.compare = [{ ... }]", parse.COMPARE_KEYS, {
        "file": "the scenario file (required)",
        "label": "its name in tables and notes (default: the file name)",
        "elasticities": "another elasticity file of the dataset",
        "data": "another dataset folder",
        "armington": "another Armington form",
        "scenarios": "the scenarios solved (default: all)",
    }),
    ("Sweep", "[sweep]", spec.SWEEP_KEYS, {
        "method": "\"monte_carlo\" (default), \"sobol\", \"quadrature\" or \"grid\"",
        "draws": "Monte Carlo draws or Sobol' base points (default 1000)",
        "seed": "non-negative integer (default 0)",
        "chunk_size": "draws per chunk saved to disk (default 2500)",
        "scheduler": "address of a Dask scheduler",
        "parameters": "the parameters, one table each (required)",
        "scenarios": "the scenarios swept (default: all)",
    }),
    ("Elasticity parameters", "[[sweep.parameters]] with name = \"sigma\"", spec.SIGMA_KEYS, {
        "name": "\"sigma\"",
        "label": "its name in the results",
        "sectors": "the sectors moved together (default \"all\")",
        "except": "sectors left out",
        "independent": "one draw per sector (default false)",
        "distribution": "\"uniform\", \"triangular\", \"normal\" or \"lognormal\"",
        "relative": "multipliers of the dataset's values (default true)",
        "values": "a grid instead of a distribution",
        "low": "uniform, triangular: lower bound",
        "high": "uniform, triangular: upper bound",
        "mode": "triangular: mode",
        "mean": "normal: mean",
        "sd": "normal: standard deviation",
        "median": "lognormal: median",
        "log_sd": "lognormal: standard deviation of the log (at most 2)",
    }),
    ("Tariff grids", "[[sweep.parameters]] with name = \"tariff\"", spec.TARIFF_KEYS, {
        "name": "\"tariff\"",
        "label": "the results dimension's name (required)",
        **SELECTION,
        "values": "the rates set on the cells",
    }),
)


def markdown() -> str:
    """docs/scenario_keys.md; raises ValueError naming any key without a meaning (or a meaning
    without a key)."""
    lines = ["# Scenario keys", "",
             "Every key a scenario file may hold, table by table, generated from the keys the",
             "validator accepts (`python -m model.scenario_keys`). The meanings, defaults",
             "and rules are explained in [File formats](formats.md#scenario-files).", ""]
    for heading, where, keys, meaning in TABLES:
        missing = [k for k in keys if k not in meaning]
        extra = [k for k in meaning if k not in keys]
        if missing or extra:
            raise ValueError(f"scenario key reference, {heading}: no meaning for "
                             f"{missing or 'none'}; meaning of unknown keys {extra or 'none'}")
        lines += [f"## {heading}", "", f"`{where}`" if where else "The file itself.", "",
                  "| key | meaning |", "|---|---|"]
        lines += [f"| `{k}` | {meaning[k].replace('|', '/')} |" for k in keys]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
