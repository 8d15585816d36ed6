"""Sweep tables, designs and estimators: parsing errors, Stroud-3 moments, draws independent of
chunking, and Sobol' indices of the Ishigami function against their analytic values."""

import math

import numpy as np
import pytest

from model.run import main
from model.scenario import ScenarioError
from model.study import prepare
from model.sweep import draw_values, parse_sweep, sigma_scales, stroud3
from model.sweep.designs import saltelli_uniform
from model.sweep.statistics import sobol_indices, summary
from tests.conftest import AUTO_TARIFF, EXAMPLE, write_scenario

SCENARIO = AUTO_TARIFF

SIGMA = """
[[sweep.parameters]]
name = "sigma"
sectors = "all"
distribution = "uniform"
low = 0.6
high = 1.5
"""


def spec_of(tmp_path, sweep: str):
    path = write_scenario(tmp_path, SCENARIO + sweep, data=EXAMPLE.as_posix())
    study = prepare(path)
    return parse_sweep(study.file.sweep, study.file.path, study.benchmark), study


BAD = [
    ("[sweep]\nmethd = 'sobol'\n" + SIGMA, "sweep.methd"),
    ("[sweep]\nmethod = 'latin'\n" + SIGMA, "sweep.method"),
    ("[sweep]\ndraws = -3\n" + SIGMA, "sweep.draws"),
    ("[sweep]\nmethod = 'quadrature'\ndraws = 10\n" + SIGMA, "sweep.draws"),
    ("[sweep]\n", "sweep.parameters"),
    ("[sweep]\n" + SIGMA.replace("low = 0.6", "low = 0.4"), "sweep.parameters[0].low"),
    ("[sweep]\n" + SIGMA.replace('"all"', '["autoz"]'), "sweep.parameters[0].sectors"),
    ("[sweep]\n" + SIGMA.replace("low = 0.6\n", ""), "sweep.parameters[0].low"),
    ("[sweep]\n" + SIGMA.replace("low = 0.6", "mean = 0.6"), "sweep.parameters[0].mean"),
    ("[sweep]\n" + SIGMA.replace("uniform", "cauchy"), "sweep.parameters[0].distribution"),
    ("[sweep]\n" + SIGMA + SIGMA.replace('"all"', '["autos"]'), "sweep.parameters[1].sectors"),
    ("[sweep]\n[[sweep.parameters]]\nname = 'tariff'\nimporter = 'FOREIGN'\nexporter = 'HOME'\n"
     "sectors = ['autos']\nvalues = [0.1]\n", "sweep.parameters[0].label"),
    ("[sweep]\n[[sweep.parameters]]\nname = 'tariff'\nlabel = 't'\nimporter = 'MARS'\n"
     "exporter = 'HOME'\nsectors = ['autos']\nvalues = [0.1]\n", "sweep.parameters[0].importer"),
    ("[sweep]\nmethod = 'grid'\n" + SIGMA, "sweep.parameters[0]"),
    ("[sweep]\n[[sweep.parameters]]\nname = 'beta'\n", "sweep.parameters[0].name"),
]


@pytest.mark.parametrize("body,key", BAD)
def test_bad_sweep_tables_name_file_and_key(tmp_path, body, key):
    with pytest.raises(ScenarioError) as err:
        spec_of(tmp_path, body)
    assert "scenario.toml" in str(err.value) and f"{key}:" in str(err.value)


def test_cli_bad_sweep_exits_2_and_writes_nothing(tmp_path, capsys):
    path = write_scenario(tmp_path, SCENARIO + "[sweep]\nmethod = 'latin'\n" + SIGMA,
                          data=EXAMPLE.as_posix())
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 2
    assert "sweep.method" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8])
def test_stroud3_matches_moments_up_to_degree_three(n):
    """Mean 0, identity covariance and zero third moments: exact for cubic polynomials of
    any symmetric distribution standardised to variance 1."""
    z = stroud3(n)
    assert z.shape == (2 * n, n)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-14)
    np.testing.assert_allclose(z.T @ z / (2 * n), np.eye(n), atol=1e-14)
    third = np.einsum("ka,kb,kc->abc", z, z, z) / (2 * n)
    np.testing.assert_allclose(third, 0.0, atol=1e-14)


def test_quadrature_reproduces_mean_of_a_quadratic(tmp_path):
    """With s ~ U(0.6, 1.5), the 2-point Stroud rule gives E s and sd s exactly and E s^2 =
    (b^3 - a^3) / (3 (b - a)) exactly (a quadratic)."""
    spec, _ = spec_of(tmp_path, "[sweep]\nmethod = 'quadrature'\n" + SIGMA)
    values = draw_values(spec, 0, spec.n_draws)[:, 0]
    a, b = 0.6, 1.5
    w = np.full(len(values), 1.0 / len(values))
    st = summary((values ** 2)[:, None], np.ones(len(values), bool), w)
    assert st[0, 0] == pytest.approx((b ** 3 - a ** 3) / (3 * (b - a)), rel=1e-13)
    assert values.mean() == pytest.approx((a + b) / 2, rel=1e-14)
    assert values.std() == pytest.approx((b - a) / math.sqrt(12.0), rel=1e-13)
    assert np.isnan(st[2:]).all()  # no percentiles from two points


@pytest.mark.parametrize("method,dist", [
    ("monte_carlo", "distribution = 'normal'\nmean = 1.0\nsd = 0.1"),
    ("monte_carlo", "distribution = 'triangular'\nlow = 0.7\nmode = 1.0\nhigh = 1.4"),
    ("sobol", "distribution = 'lognormal'\nmedian = 1.0\nlog_sd = 0.1"),
])
def test_draws_do_not_depend_on_chunks(tmp_path, method, dist):
    body = (f"[sweep]\nmethod = '{method}'\ndraws = 5000\nseed = 7\n[[sweep.parameters]]\n"
            f"name = 'sigma'\nsectors = ['autos', 'services']\nindependent = true\n{dist}\n")
    spec, _ = spec_of(tmp_path, body)
    whole = draw_values(spec, 0, spec.n_draws)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, spec.n_draws), 25, replace=False))
    pieces = [draw_values(spec, a, b) for a, b in zip([0, *cuts], [*cuts, spec.n_draws])]
    assert np.array_equal(np.concatenate(pieces), whole)
    assert spec.labels == ("sigma_autos", "sigma_services")
    other, _ = spec_of(tmp_path, body.replace("seed = 7", "seed = 8"))
    assert not np.array_equal(draw_values(other, 0, 100), whole[:100])


def test_distributions_have_their_moments(tmp_path):
    """Monte Carlo draws of 4 distributions against their analytic mean and sd (4 sd of the
    sampling error)."""
    n = 40000
    cases = [("distribution = 'uniform'\nlow = 0.6\nhigh = 1.5", 1.05, 0.9 / math.sqrt(12)),
             ("distribution = 'triangular'\nlow = 0.6\nmode = 0.9\nhigh = 1.5", 1.0,
              math.sqrt((0.36 + 0.81 + 2.25 - 0.54 - 0.9 - 1.35) / 18)),
             ("distribution = 'normal'\nmean = 1.0\nsd = 0.2", 1.0, 0.2),
             ("distribution = 'lognormal'\nmedian = 1.0\nlog_sd = 0.2", math.exp(0.02),
              math.sqrt((math.exp(0.04) - 1) * math.exp(0.04)))]
    for dist, mean, sd in cases:
        spec, _ = spec_of(tmp_path, f"[sweep]\ndraws = {n}\n[[sweep.parameters]]\n"
                                    f"name = 'sigma'\n{dist}\n")
        v = draw_values(spec, 0, n)[:, 0]
        assert abs(v.mean() - mean) < 4 * sd / math.sqrt(n), dist
        assert v.std() == pytest.approx(sd, rel=0.03), dist


def test_relative_and_absolute_elasticities(tmp_path):
    spec, study = spec_of(tmp_path, """[sweep]
draws = 10
[[sweep.parameters]]
name = "sigma"
sectors = "all"
except = ["services"]
distribution = "uniform"
low = 0.8
high = 1.2
[[sweep.parameters]]
name = "sigma"
label = "services"
sectors = ["services"]
relative = false
distribution = "uniform"
low = 1.5
high = 2.5
""")
    values = draw_values(spec, 0, 10)
    scales = sigma_scales(spec, values)
    sigma0 = study.benchmark.sigma
    services = list(study.benchmark.sectors).index("services")
    np.testing.assert_allclose(scales[:, services] * sigma0[services], values[:, 1])
    assert ((values[:, 1] >= 1.5) & (values[:, 1] <= 2.5)).all()
    for j in range(len(sigma0)):
        if j != services:
            np.testing.assert_array_equal(scales[:, j], values[:, 0])


def test_saltelli_design_structure():
    """Rows r (D+2) .. r (D+2) + D + 1 are A, A with column k from B, and B."""
    D = 3
    u = saltelli_uniform(11, D, 0, 8 * (D + 2)).reshape(8, D + 2, D)
    A, B = u[:, 0], u[:, -1]
    for k in range(D):
        expected = A.copy()
        expected[:, k] = B[:, k]
        np.testing.assert_array_equal(u[:, 1 + k], expected)


def ishigami(x, a=7.0, b=0.1):
    return np.sin(x[..., 0]) + a * np.sin(x[..., 1]) ** 2 + b * x[..., 2] ** 4 * np.sin(x[..., 0])


def ishigami_indices(a=7.0, b=0.1):
    """Analytic first-order and total indices (Ishigami & Homma 1990; Sobol' & Levitan 1999)."""
    pi = math.pi
    V1 = 0.5 * (1 + b * pi ** 4 / 5) ** 2
    V2 = a ** 2 / 8
    V13 = b ** 2 * pi ** 8 * (1 / 18 - 1 / 50)
    V = V1 + V2 + V13
    return np.array([V1, V2, 0.0]) / V, np.array([V1 + V13, V2, V13]) / V


def test_sobol_indices_of_the_ishigami_function():
    N, D = 2 ** 14, 3
    u = saltelli_uniform(3, D, 0, N * (D + 2))
    y = ishigami(-math.pi + 2 * math.pi * u).reshape(N, D + 2)
    s1, st = sobol_indices(y, D)
    S1, ST = ishigami_indices()
    np.testing.assert_allclose(s1, S1, atol=0.03)
    np.testing.assert_allclose(st, ST, atol=0.03)
    # the same estimators as SALib on the same outputs
    salib = pytest.importorskip("SALib.analyze.sobol")
    problem = {"num_vars": D, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}
    ref = salib.analyze(problem, y.ravel(), calc_second_order=False, num_resamples=10, seed=1)
    np.testing.assert_allclose(s1, ref["S1"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(st, ref["ST"], rtol=1e-10, atol=1e-12)
    # a failed draw removes its whole base row, and nothing else
    y2 = y.copy()
    y2[5, 2] = np.nan
    a, b = sobol_indices(y2, D)
    np.testing.assert_array_equal(a, sobol_indices(np.delete(y, 5, axis=0), D)[0])


def test_summary_statistics_exclude_failed_rows():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(101, 2))
    ok = rng.uniform(size=101) > 0.2
    st = summary(v, ok, None)
    kept = v[ok]
    np.testing.assert_allclose(st[0], kept.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(st[1], kept.std(axis=0, ddof=1), rtol=1e-14)
    for k, q in zip((2, 3, 4), (5, 50, 95)):
        for c in range(2):
            x = np.sort(kept[:, c])
            pos = q / 100 * (len(x) - 1)  # linear interpolation between order statistics
            lo = int(math.floor(pos))
            hi = min(lo + 1, len(x) - 1)
            assert st[k, c] == pytest.approx(x[lo] + (pos - lo) * (x[hi] - x[lo]), rel=1e-13)


DOCUMENTED = '''
[scenarios.accept_tariffs]
[[scenarios.accept_tariffs.tariffs]]
importer = "USA"
exporter = "JPN"
sectors = "all"
except = ["services"]
add = 0.10

[sweep]
method = "monte_carlo"
draws = 10000
seed = 42
chunk_size = 2500

[[sweep.parameters]]
name = "sigma"
sectors = "all"
distribution = "uniform"
low = 0.6
high = 1.5

[[sweep.parameters]]
name = "tariff"
label = "auto_tariff"
importer = "USA"
exporter = "JPN"
sectors = ["motor_vehicles_and_parts"]
values = [0.0, 0.05, 0.10, 0.15, 0.20, 0.25]
'''


def test_documented_sweep_table_is_valid_on_the_us_japan_data(tmp_path):
    """The [sweep] table of the README's "Sensitivity sweeps" section, on the data it names."""
    from tests.conftest import ROOT

    path = write_scenario(tmp_path, DOCUMENTED, data=(ROOT / "data" / "jpn_usa_2024").as_posix())
    study = prepare(path)
    spec = parse_sweep(study.file.sweep, study.file.path, study.benchmark)
    assert spec.n_draws == 10000 and spec.grid_shape == (6,) and spec.labels == ("sigma",)
    bm = study.benchmark
    assert spec.grid[0].cells == ((bm.regions.index("USA"), bm.regions.index("JPN"),
                                   bm.sectors.index("motor_vehicles_and_parts")),)
    # the issue's first example, low = 0.5, would put services' elasticity (1.9) below 1
    bad = write_scenario(tmp_path, DOCUMENTED.replace("low = 0.6", "low = 0.5"),
                         data=(ROOT / "data" / "jpn_usa_2024").as_posix())
    with pytest.raises(ScenarioError, match="services"):
        prepared = prepare(bad)
        parse_sweep(prepared.file.sweep, prepared.file.path, prepared.benchmark)


@pytest.mark.parametrize("distribution,args", [("triangular", (0.7, 1.0, 1.4)),
                                               ("triangular", (0.5, 0.5, 2.0)),
                                               ("normal", (1.0, 0.2)), ("lognormal", (1.0, 0.25))])
def test_quantiles_are_scipy_stats_ones(distribution, args):
    """The design's quantiles (written out so that a sweep need not import scipy.stats) are
    bit for bit those of scipy.stats, at the interval's ends too."""
    from types import SimpleNamespace

    from scipy import stats

    from model.sweep.designs import _quantile

    u = np.r_[np.random.default_rng(5).uniform(size=500), 0.0, 1.0, 0.5]
    got = _quantile(SimpleNamespace(distribution=distribution, args=args), u)
    u = np.clip(u, 1e-12, 1.0 - 1e-12)
    a = args
    want = {"triangular": lambda: stats.triang.ppf(u, (a[1] - a[0]) / (a[2] - a[0]), loc=a[0],
                                                    scale=a[2] - a[0]),
            "normal": lambda: a[0] + a[1] * stats.norm.ppf(u),
            "lognormal": lambda: a[0] * np.exp(a[1] * stats.norm.ppf(u))}[distribution]()
    np.testing.assert_array_equal(got, want)
