"""The catalogue: every variable of the results, declared once.

The outcomes (computed by :mod:`model.core.outcomes`), the parts of the welfare decomposition
(:mod:`model.core.decomposition`), the scenario's policy arrays, benchmark values, the record
of each solve and the figures derived for tables; and the answers to the questions the rest of
the program asks: which variables a results Dataset holds, which a sweep stores per draw,
which lead the report, and which a placeholder of study notes may name, with what labels.

The catalogue imports no compiled code: the child process that draws a run's figures reads
their labels here without loading numba or the kernels (:mod:`model.output.drawer`).
"""

from __future__ import annotations

import numpy as np

from calibration.accounts import bilateral_balance
from model.core.variables import Variable

#: every outcome, in the order of the results; adding one means an entry here and its
#: computation in :func:`model.core.outcomes.compute_outcomes` (and in the NumPy twin)
OUTCOMES = (
    Variable("welfare", ("region",), "percent change",
             "equivalent variation as percent of benchmark income, 100 (I1/I0 / Pc_hat - 1)",
             label="welfare (EV, % of income)", short="welfare %", headline=1, per_draw=True),
    Variable("welfare_ev", ("region",), "{unit}",
             "equivalent variation in the dataset's unit at benchmark prices, I1 / Pc_hat - I0 "
             "(welfare times benchmark income)", gtap="EV", label="welfare (EV, {unit})",
             short="EV ({unit})", per_draw=True),
    Variable("real_wage", ("region",), "percent change", "real wage, 100 (w_hat / Pc_hat - 1)",
             label="real wage (%)", short="real wage %", headline=2, per_draw=True),
    Variable("wage", ("region",), "ratio",
             "wage change w_hat (numeraire: the world factor-price index, world value added "
             "under full employment)", per_draw=True),
    Variable("price_index", ("region",), "ratio",
             "Cobb-Douglas consumer price index change Pc_hat", per_draw=True),
    Variable("real_gdp", ("region",), "percent change",
             "GDP at benchmark prices, expenditure side (GTAP qgdp)", gtap="qgdp",
             label="real GDP (%)", short="real GDP %", headline=3, per_draw=True),
    Variable("terms_of_trade", ("region",), "percent change",
             "export (fob) over import (cif) price index, Tornqvist", gtap="tot",
             label="terms of trade (%)", short="terms of trade %", headline=4, per_draw=True),
    Variable("trade_balance", ("region",), "{unit}",
             "exports minus imports, all partners, pre-tariff prices",
             label="trade balance ({unit})", short="trade balance ({unit})", headline=5,
             per_draw=True),
    Variable("tariff_revenue", ("region",), "{unit}", "tariff revenue",
             label="tariff revenue ({unit})", headline=7, per_draw=True),
    Variable("export_tax_rents", ("region",), "{unit}",
             "rents from export taxes or export restraints, kept by the exporter",
             per_draw=True),
    Variable("employment_total", ("region",), "percent change",
             "employment (labour used) in the region; 0 under full employment",
             short="employment %", per_draw=True),
    Variable("income", ("region",), "{unit}",
             "income: value added + tariff revenue + deficit + export-tax rents"),
    Variable("value_added", ("region",), "{unit}", "value added: wages and capital rentals"),
    Variable("bilateral_balance", ("region", "partner"), "{unit}",
             "exports to partner minus imports from partner, pre-tariff prices"),
    Variable("output", ("region", "sector"), "percent change",
             "real gross output, 100 (Y_hat / c_hat - 1)", gtap="qo", short="output %",
             per_draw=True),
    Variable("employment", ("region", "sector"), "percent change",
             "labour employed in the sector"),
    Variable("gross_output", ("region", "sector"), "{unit}", "gross output value"),
    Variable("absorption", ("region", "sector"), "{unit}",
             "absorption at tariff-inclusive prices"),
    Variable("sector_price", ("region", "sector"), "ratio",
             "Armington composite price change P_hat"),
    Variable("unit_cost", ("region", "sector"), "ratio",
             "unit cost (producer price) change c_hat"),
    Variable("capital_rental", ("region", "sector"), "ratio",
             "rental change of sector-specific capital (1 where there is none)"),
    Variable("trade", ("exporter", "importer", "sector"), "{unit}",
             "shipments at pre-tariff prices; exporter == importer is domestic sales"),
)

#: the parts of the welfare decomposition (:mod:`model.core.decomposition`) and their sum,
#: as reported
DECOMPOSITION = (
    Variable("welfare_tot", ("region",), "percentage points",
             "welfare decomposition: terms-of-trade effect", group="decomposition",
             short="tot"),
    Variable("welfare_volume", ("region",), "percentage points",
             "welfare decomposition: volume-of-trade (allocative efficiency) effect of "
             "tariff and export-tax wedges", group="decomposition", short="volume"),
    Variable("welfare_preference", ("region",), "percentage points",
             "welfare decomposition: cost of buying a mix the benchmark preferences would not "
             "choose (preference shifts)", group="decomposition", short="preference"),
    Variable("welfare_transfer", ("region",), "percentage points",
             "welfare decomposition: transfer effect of the change in the deficit",
             group="decomposition", short="transfer"),
    Variable("welfare_employment", ("region",), "percentage points",
             "welfare decomposition: effect of the change in employment",
             group="decomposition", short="employment"),
    Variable("welfare_path_total", ("region",), "percent change",
             "sum of the decomposition parts (equals welfare up to the integration error)",
             group="decomposition"),
    Variable("welfare_net_of_transfer", ("region",), "percent change",
             "welfare without its transfer part: the sum of the other parts, the effect of a "
             "changed deficit apart from the accounting of spending it", group="decomposition",
             short="net of transfer"),
)
PARTS = tuple(v.name for v in DECOMPOSITION[:5])
TOTAL = "welfare_path_total"
NET = "welfare_net_of_transfer"

POLICY = (
    Variable("tariff", ("importer", "exporter", "sector"), "fraction",
             "ad valorem tariff in the scenario", group="policy", read=lambda pol: pol.t1),
    Variable("trade_cost", ("importer", "exporter", "sector"), "ratio",
             "change of iceberg trade costs d_hat", group="policy", read=lambda pol: pol.d_hat),
    Variable("export_tax", ("importer", "exporter", "sector"), "fraction",
             "export tax (or export-restraint tariff equivalent) of the exporter",
             group="policy", read=lambda pol: pol.e1),
    Variable("preference", ("importer", "exporter", "sector"), "ratio",
             "shift of the importer's preference for the source", group="policy",
             read=lambda pol: pol.pref),
)

BENCHMARK = (
    Variable("trade_benchmark", ("exporter", "importer", "sector"), "{unit}",
             "benchmark shipments at pre-tariff prices", group="benchmark",
             read=lambda bm: bm.X0),
    Variable("tariff_benchmark", ("importer", "exporter", "sector"), "fraction",
             "benchmark tariff", group="benchmark", read=lambda bm: bm.t0),
    Variable("trade_balance_benchmark", ("region",), "{unit}", "benchmark exports minus imports",
             group="benchmark", read=lambda bm: -bm.D0),
    Variable("bilateral_balance_benchmark", ("region", "partner"), "{unit}",
             "benchmark exports to partner minus imports from partner", group="benchmark",
             read=lambda bm: bilateral_balance(bm.X0)),
    Variable("income_benchmark", ("region",), "{unit}", "benchmark income", group="benchmark",
             read=lambda bm: bm.I0),
    Variable("value_added_benchmark", ("region", "sector"), "{unit}", "benchmark value added",
             group="benchmark", read=lambda bm: bm.VA0),
    Variable("gross_output_benchmark", ("region", "sector"), "{unit}",
             "benchmark gross output", group="benchmark", read=lambda bm: bm.Y0),
    Variable("tariff_revenue_benchmark", ("region",), "{unit}", "benchmark tariff revenue",
             group="benchmark", read=lambda bm: bm.R0),
    Variable("sigma", ("sector",), "1", "Armington elasticity", group="benchmark",
             read=lambda bm: bm.sigma),
)

#: the record of each scenario's solve, and the texts that describe it
RECORD = (
    Variable("converged", (), "1", "solver converged", group="solve",
             read=lambda rec: rec.solution.converged),
    Variable("iterations", (), "1", "fixed-point iterations", group="solve",
             read=lambda rec: rec.solution.iterations),
    Variable("residual", (), "1",
             "max |excess demand for labour or capital| / world value added at the solution",
             group="solve", read=lambda rec: rec.solution.residual),
    Variable("price_residual", (), "1", "max |change of log price index| in the last iteration",
             group="solve", read=lambda rec: rec.solution.price_residual),
    Variable("absorption_residual", (), "1",
             "max |change of absorption| / world value added in the last iteration",
             group="solve", read=lambda rec: rec.solution.absorption_residual),
    Variable("description", (), "", "description", group="text",
             read=lambda rec: rec.scenario.description),
    Variable("closure", (), "", "closure: trade balance, Armington form, factors, labour",
             group="text", read=lambda rec: rec.scenario.closure.describe()),
    Variable("instrument", (), "", "endogenous instrument and its target", group="text",
             read=lambda rec: rec.instrument),
    Variable("warning", (), "", "what to read with care in the scenario's results (an "
             "inexact welfare decomposition, an optimum on a bound, implausible values)",
             group="text", read=lambda rec: rec.warning),
    Variable("instrument_value", (), "export tax, tariff or tariff points as a fraction; "
             "preference shift as a factor; trade balance in {unit}",
             "value of the endogenous instrument: the one that meets the target, or the "
             "optimal tariff", group="solve", read=lambda rec: rec.instrument_value),
    Variable("instrument_tariff", ("region",), "fraction",
             "uniform tariff chosen by each region of an optimal-tariff or Nash search",
             group="solve", read=lambda rec: _search(rec, "tariffs", rec.policy.t1.shape[0])),
    Variable("search_rounds", (), "1", "best-response rounds of a Nash search",
             group="solve", read=lambda rec: _search(rec, "rounds", None)),
    Variable("curve_rate", ("point",), "fraction",
             "tariff rates of the optimal-tariff curve (the grid searched first)",
             group="solve", read=lambda rec: _curve(rec, "rates")),
    Variable("curve_welfare", ("point",), "percent change",
             "welfare of the region choosing, at each rate of the optimal-tariff curve",
             group="solve", read=lambda rec: _curve(rec, "welfare")),
    Variable("quota_tariff_equivalent", ("importer", "exporter", "sector"), "fraction",
             "tariff equivalent of each quota (its shadow tariff, in-quota rate included)",
             group="solve", read=lambda rec: _quota(rec, "tariff_equivalent")),
    Variable("quota_regime", ("importer", "exporter", "sector"), "1",
             "where each quota ends: 0 in quota (not binding), 1 at the quota, 2 over quota "
             "(the out-of-quota rate applies), 3 zero quota", group="solve",
             read=lambda rec: _quota(rec, "regime")),
    Variable("quota_rent", ("importer", "exporter", "sector"), "{unit}",
             "quota rent: the tariff equivalent above the in-quota rate on the units within "
             "the quota", group="solve", read=lambda rec: _quota(rec, "rent")),
    Variable("quota_fill", ("importer", "exporter", "sector"), "ratio",
             "quantity imported over the quota", group="solve",
             read=lambda rec: _quota(rec, "fill")),
)



def _search(rec, name: str, size):
    """A field of the record's search result (NaN without one, or if the scenario failed)."""
    found = getattr(rec, "search", None)
    if found is None or not rec.outcomes:
        return np.nan if size is None else np.full(size, np.nan)
    return getattr(found, name)


def _curve(rec, name: str) -> np.ndarray:
    """The optimal-tariff curve (empty without one; the results pad curves to one length)."""
    found = getattr(rec, "search", None)
    return np.asarray(getattr(found, name)) if found is not None else np.array([])


def _quota(rec, name: str) -> np.ndarray:
    """A quota outcome on the ``[importer, exporter, sector]`` grid (NaN where no quota)."""
    nr, _, ns = rec.policy.t1.shape
    quota = rec.solution.quota
    if quota is None or not rec.outcomes:
        return np.full((nr, nr, ns), np.nan)
    cells = quota.cells
    if name == "fill":
        values = np.divide(quota.quantity, cells.qbar, out=np.full(len(cells), np.nan),
                           where=cells.qbar > 0)
    else:
        values = getattr(quota, name)
    return quota.on_grid(values, (nr, nr, ns))


def _by_partner(r, name: str, goods: bool):
    """Shipments of each region to each partner (``name``: ``trade`` or ``trade_benchmark``),
    summed over sectors (goods: every sector but one named ``services``)."""
    x = r[name]
    if goods:
        x = x.sel(sector=[s for s in r.sector.values if s != "services"])
    return x.sum("sector").rename(exporter="region", importer="partner")


def _exports_change(r, goods: bool):
    return 100.0 * (_by_partner(r, "trade", goods) / _by_partner(r, "trade_benchmark", goods)
                    - 1.0)


def _goods_balance(r, name: str):
    x = _by_partner(r, name, True)
    return x - x.rename(region="partner", partner="region")


DERIVED = (
    Variable("trade_balance_change", ("region",), "{unit}",
             "change of exports minus imports from the benchmark", group="derived",
             label="change in trade balance ({unit})", short="change", headline=6,
             read=lambda r: r["trade_balance"] - r["trade_balance_benchmark"]),
    Variable("trade_balance_change_share", ("region",), "percent of benchmark GDP",
             "change of exports minus imports from the benchmark, over benchmark value added",
             group="derived",
             read=lambda r: 100.0 * (r["trade_balance"] - r["trade_balance_benchmark"])
             / r["value_added_benchmark"].sum("sector")),
    Variable("exports_change", ("region", "partner"), "percent change",
             "value of exports to the partner (goods and services, pre-tariff, numeraire "
             "prices) against the benchmark", group="derived",
             read=lambda r: _exports_change(r, False)),
    Variable("goods_exports_change", ("region", "partner"), "percent change",
             "value of goods exports to the partner (every sector but services) against the "
             "benchmark", group="derived", read=lambda r: _exports_change(r, True)),
    Variable("goods_balance", ("region", "partner"), "{unit}",
             "goods exports to the partner minus goods imports from it, pre-tariff",
             group="derived", read=lambda r: _goods_balance(r, "trade")),
    Variable("goods_balance_change", ("region", "partner"), "percent change",
             "bilateral goods balance against its benchmark value", group="derived",
             read=lambda r: 100.0 * (_goods_balance(r, "trade")
                                     / _goods_balance(r, "trade_benchmark") - 1.0)),
)

CATALOGUE = OUTCOMES + DECOMPOSITION + POLICY + RECORD + BENCHMARK + DERIVED
VARIABLES = {v.name: v for v in CATALOGUE}
if len(VARIABLES) != len(CATALOGUE):
    raise ValueError("two variables of the catalogue have the same name")


def stored() -> tuple[Variable, ...]:
    """The variables of a results Dataset (everything but the derived ones)."""
    return tuple(v for v in CATALOGUE if v.group != "derived")


def per_scenario(v: Variable) -> bool:
    """Whether ``v`` has a ``scenario`` dimension in the results."""
    return v.group not in ("benchmark", "derived")


def headline() -> tuple[Variable, ...]:
    """The headline indicators, in the order of the report's tables."""
    return tuple(sorted((v for v in CATALOGUE if v.headline), key=lambda v: v.headline))


def per_draw() -> tuple[Variable, ...]:
    """The outcomes a sweep stores for every draw."""
    return tuple(v for v in OUTCOMES if v.per_draw)


def placeholder_dims() -> dict[str, tuple[str, ...]]:
    """What a placeholder of study notes may name: every numeric per-scenario variable (stored
    or derived) and every benchmark value, with the dimensions whose labels it must give after
    the scenario (for a benchmark value, the word ``benchmark``)."""
    return {v.name: v.dims for v in CATALOGUE if v.group != "text"}


def markdown() -> str:
    """The table of docs/formats.md, "The results Dataset": every stored variable with its
    dimensions, units, long name and GTAP name."""
    lines = ["| name | dimensions | units | long name | GTAP |", "|---|---|---|---|---|"]
    for v in stored():
        dims = (("scenario",) if per_scenario(v) else ()) + v.dims
        units = v.units.replace("{unit}", "dataset unit") if v.units else "(text)"
        name = v.long_name.replace("|", "\\|")
        gtap = f"`{v.gtap}`" if v.gtap else ""
        lines.append(f"| `{v.name}` | {', '.join(dims)} | {units} | {name} | {gtap} |")
    return "\n".join(lines)
