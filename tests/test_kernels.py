"""Each numba kernel agrees with its NumPy twin in model.equations, for every model option."""

import numpy as np
import pytest
from numba import njit

from calibration.calibrate import calibrate
from calibration.io import make_dataset
from calibration.synthetic import random_dataset
from model.core import equations as eq
from model.core import fixed_point as fp
from model.core import kernels as k
from model.core import layout
from model.core.linalg import gauss_solve
from model.core.settings import SolverSettings
from model.core.policy import make_policy
from model.core.solver import initial_state, solve
from model.sweep.kernels import shock_at
from model.core.params import Shock, kernel_params, scale_elasticities

OPTIONS = {
    "plain": {},
    "nested": {"nested": True},
    "export_tax": {"export_tax": True},
    "preference": {"preference": True},
    "capital": {"capital_share": 0.35},
    "fixed_real_wage": {"fixed_real_wage": [True, False], "capital_share": 0.25},
    "everything": {"nested": True, "export_tax": True, "preference": True,
                   "capital_share": 0.3, "fixed_real_wage": [False, True]},
}


def policy_for(bm, rng, nested=False, export_tax=False, preference=False, capital_share=None,
               fixed_real_wage=None):
    nr = len(bm.regions)
    idx = np.arange(nr)
    t1 = bm.t0 + rng.uniform(0, 0.3, bm.t0.shape)
    t1[idx, idx, :] = 0.0
    d_hat = np.exp(rng.normal(0, 0.1, bm.t0.shape))
    d_hat[idx, idx, :] = 1.0
    e1 = rng.uniform(0, 0.2, bm.t0.shape) if export_tax else None
    if e1 is not None:
        e1[idx, idx, :] = 0.0
    pref = np.exp(rng.normal(0, 0.3, bm.t0.shape)) if preference else None
    frw = None
    if fixed_real_wage is not None:
        frw = np.resize(np.array(fixed_real_wage, dtype=bool), nr)
    return make_policy(bm, t1=t1, d_hat=d_hat, e1=e1, pref=pref, nested=nested,
                       capital_share=capital_share, fixed_real_wage=frw)


def nested_dataset(nr, ns, seed, zeros):
    ds = random_dataset(nr, ns, seed=seed, zero_flows=zeros)
    return make_dataset(ds.regions, ds.sectors, ds.flows, ds.value_added, ds.intermediates,
                        ds.tariffs, ds.sigma, 2.0 * ds.sigma)


@pytest.fixture(params=[(2, 3, 0.0), (3, 5, 0.3), (4, 2, 0.5)], ids=lambda p: f"{p[0]}x{p[1]}z{p[2]}")
def size(request):
    return request.param


@njit
def _prepare(p, ws):
    """:func:`~model.core.kernels.prepare_weights` from Python (it is compiled for compiled
    callers only)."""
    k.prepare_weights(p, ws)


@njit
def _lean(x, p, ws):
    """:func:`~model.core.kernels.evaluate_lean` from Python (as :func:`_prepare`)."""
    k.evaluate_lean(x, p, ws)


@njit
def _store(ws):
    """:func:`~model.core.kernels.store_shares` from Python (as :func:`_prepare`)."""
    k.store_shares(ws)


def make_state(size, option):
    nr, ns, zeros = size
    rng = np.random.default_rng(nr * 100 + ns)
    bm = calibrate(nested_dataset(nr, ns, nr + ns, zeros))
    pol = policy_for(bm, rng, **OPTIONS[option])
    p = kernel_params(bm, pol)
    a, lP, lr, e = layout.split(initial_state(bm), nr, ns)
    x = layout.join(rng.uniform(0.8, 1.2, nr), *(part + rng.normal(0, 0.1, part.shape)
                                                 for part in (lP, lr, e)))
    return bm, p, x


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "iterative"])
@pytest.mark.parametrize("prepared", [False, True], ids=["unprepared", "prepared"])
def test_evaluate_and_map_agree_with_numpy(size, option, direct, prepared):
    """Every path of the compiled evaluation (the prepared price step; the fused evaluation
    of the fixed point, taken when absorption is iterative and no preference shifts act)
    against the NumPy twin, with the weights prepared beforehand or, for a workspace without
    them, by ``evaluate`` and ``fixed_point_map`` themselves."""
    bm, p, x = make_state(size, option)
    p = p._replace(direct=direct)
    nr, ns = bm.shape
    ws = k.new_workspace(nr, ns, direct)
    if prepared:
        _prepare(p, ws)
        fused = not direct and not np.any(p.shock.lpref)
        assert bool(ws.flags[k.FUSED]) == (not np.any(p.shock.lpref))
        assert bool(ws.flags[k.TAXED]) == np.any(p.shock.inv1pe != 1.0)
        if fused:  # a fused evaluation elsewhere first, then the other path here
            _lean(x * 1.01, p, ws)
            ws.flags[k.FUSED] = 0
            _lean(x, p, ws)
            assert not ws.flags[k.STALE]
            _store(ws)  # must leave the shares of the last evaluation
            np.testing.assert_allclose(ws.pi1, eq.evaluate(x, p)["pi1"], rtol=1e-10,
                                       atol=1e-12)
            ws.flags[k.FUSED] = 1
        _lean(x, p, ws)
        # without export taxes the import shares are not stored yet (with them they are)
        assert bool(ws.flags[k.STALE]) == (fused and not ws.flags[k.TAXED])
        _store(ws)
    else:
        assert not ws.ready[0]
        k.evaluate(x, p, ws)
        assert ws.ready[0]
    twin = eq.evaluate(x, p)
    pairs = {"lw": ws.lw, "L": ws.L, "lpva": ws.lpva, "lc": ws.lc, "lPs": ws.lPs, "lP": ws.lP,
             "pi1": ws.pi1, "E1": ws.E, "Y1": ws.Y, "rents": ws.rents, "LD": ws.LD,
             "KD": ws.KD, "income": ws.income}
    for name, got in pairs.items():
        np.testing.assert_allclose(got, twin[name], rtol=1e-10, atol=1e-12, err_msg=name)
    g = np.empty_like(x)
    ws = k.new_workspace(nr, ns, direct)
    if prepared:
        _prepare(p, ws)
    res = fp.fixed_point_map(x, p, 0.7, g, ws)
    assert ws.ready[0]
    g_twin, *res_twin = eq.fixed_point_map(x, p, 0.7)
    np.testing.assert_allclose(g, g_twin, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res, res_twin, rtol=1e-9)


@pytest.mark.parametrize("option", ["plain", "export_tax", "preference"])
def test_shares_sum_to_one_and_expenditure_step_fixes_the_direct_solution(size, option):
    bm, p, x = make_state(size, option)
    out = eq.evaluate(x, p._replace(direct=True))
    np.testing.assert_allclose(out["pi1"].sum(axis=1), (bm.E0 > 0).astype(float), rtol=1e-12)
    income = out["income"]
    step = eq.expenditure_step(out["pi1"], p, income, out["E1"])
    np.testing.assert_allclose(step, out["E1"], rtol=1e-10)
    got = np.empty_like(step)
    nr, ns = step.shape
    k._expenditure_step(out["pi1"], p, income, out["E1"], got, np.empty((nr, ns)),
                        np.empty(nr), np.empty(nr))
    np.testing.assert_allclose(got, step, rtol=1e-12)


def test_effective_price_equals_ces_index_without_preference_shifts(size):
    bm, p, x = make_state(size, "nested")
    out = eq.evaluate(x, p)
    np.testing.assert_allclose(out["lP"], out["lPs"], rtol=0, atol=0)
    bm, p, x = make_state(size, "preference")
    out = eq.evaluate(x, p)
    cheapest = eq.evaluate(x, p._replace(shock=p.shock._replace(
        lpref=np.zeros_like(p.shock.lpref))))["lP"]
    # at the same costs, the mix bought under shifted preferences gives less benchmark utility
    # per unit of spending than the cost-minimising mix (Lagrangian duality of the CES index)
    assert (out["lP"] >= cheapest - 1e-12).all() and (out["lP"] > cheapest + 1e-6).any()


def test_iterative_and_direct_expenditure_give_the_same_equilibrium():
    bm = calibrate(random_dataset(3, 6, seed=4))
    t1 = bm.t0 + 0.2
    t1[[0, 1, 2], [0, 1, 2], :] = 0.0
    pol = make_policy(bm, t1=t1)
    a = solve(bm, pol, SolverSettings(expenditure="direct"))
    b = solve(bm, pol, SolverSettings(expenditure="iterative"))
    np.testing.assert_allclose(b.w_hat, a.w_hat, rtol=1e-9)
    np.testing.assert_allclose(b.E1, a.E1, rtol=1e-8)


def test_parameter_replacements_inside_compiled_code(size):
    """The sweep's compiled replacements change what they should and nothing else."""
    bm, p, x = make_state(size, "everything")
    scale = np.linspace(0.5, 1.5, len(p.elasticities.sigma))
    el = scale_elasticities(p.elasticities, scale)
    np.testing.assert_array_equal(el.sigma, p.elasticities.sigma * scale)
    np.testing.assert_array_equal(el.sigma_m, p.elasticities.sigma_m * scale)
    stacked = Shock(*(np.stack([getattr(p.shock, f), 2.0 * getattr(p.shock, f)])
                      for f in Shock._fields))
    for g in (0, 1):
        got = shock_at(stacked, g)
        for name in Shock._fields:
            assert np.array_equal(getattr(got, name), (g + 1.0) * getattr(p.shock, name)), name


#: solves of every path of the evaluation, three times each after a first one, with numba's
#: count of the arrays allocated and freed printed before and after (NUMBA_NRT_STATS=1)
COUNT_ARRAYS = """
import gc
import numpy as np
from numba.core.runtime import rtsys
from tests.test_kernels import OPTIONS, nested_dataset, policy_for
from calibration.calibrate import calibrate
from model.core.settings import SolverSettings
from model.core.solver import solve

bm = calibrate(nested_dataset(3, 4, 7, 0.3))
cases = [(policy_for(bm, np.random.default_rng(1), **options), SolverSettings(expenditure=e))
         for options in OPTIONS.values() for e in ("iterative", "direct")]
for policy, settings in cases:
    solve(bm, policy, settings)
gc.collect()
before = rtsys.get_allocation_stats()
for _ in range(3):
    for policy, settings in cases:
        solve(bm, policy, settings)
gc.collect()
after = rtsys.get_allocation_stats()
print(*(b - a for a, b in zip(before, after)))
"""


def test_solves_free_every_array_they_allocate():
    """The kernels compiled without reference counts (``LEAF``) call no compiled function
    that returns an array (its reference would never be given back, or be given back twice):
    repeated solves of every path of the evaluation free as many arrays as they allocate."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", COUNT_ARRAYS], cwd=root, text=True,
                          capture_output=True, env={**os.environ, "NUMBA_NRT_STATS": "1"},
                          timeout=900)
    assert done.returncode == 0, done.stderr
    alloc, free, mi_alloc, mi_free = map(int, done.stdout.split())
    assert alloc > 0 and mi_alloc > 0  # the solves allocated
    assert (alloc, mi_alloc) == (free, mi_free)


def test_split_leaf_gives_the_views_of_split():
    """The state's parts inside kernels compiled without reference counts are the same views
    as :func:`~model.core.layout.split`'s (values and memory)."""
    x = np.arange(layout.size(3, 4), dtype=float)
    for got, want in zip(layout.split_leaf(x, 3, 4), layout.split(x, 3, 4)):
        assert got.shape == want.shape and np.array_equal(got, want)
        assert np.shares_memory(got, x) and got.ctypes.data == want.ctypes.data


def test_anderson_mixing_weights_solve_the_least_squares_problem():
    rng = np.random.default_rng(0)
    dF = rng.normal(size=(5, 40))
    f = rng.normal(size=40)
    for stored in (1, 3, 5):
        expected = np.linalg.lstsq(dF[:stored].T, f, rcond=None)[0]
        gram = np.full((5, 5), np.nan)  # filled row by row, as the solver fills it
        for h in range(stored):
            fp._gram_row(dF, h, h + 1, gram)
        np.testing.assert_allclose(gram[:stored, :stored], dF[:stored] @ dF[:stored].T,
                                   rtol=1e-12)
        weights = np.full(5, np.nan)
        assert fp._mixing_weights(gram, dF, stored, f, np.empty((5, 5)), weights)
        np.testing.assert_allclose(weights[:stored], expected, rtol=1e-9)
    dF[2] = rng.normal(size=40)  # a full history: the oldest row overwritten
    fp._gram_row(dF, 2, 5, gram)
    assert np.array_equal(gram, gram.T)
    np.testing.assert_allclose(gram, dF @ dF.T, rtol=1e-12)


@pytest.mark.parametrize("case", ["plain", "zero_flows", "sigma_near_one", "prohibitive",
                                  "preferences"])
def test_prepared_price_step_agrees_with_the_full_one_and_its_twin(case):
    """The price step with the constant factors prepared once per solve (one exponential per
    cell) against the full formulation (two per flow) and the NumPy twins of both."""
    from calibration.calibrate import calibrate
    from calibration.synthetic import random_dataset
    from model.core import equations
    from model.core.kernels import _prices_and_shares, _prices_and_shares_prepared
    from model.core.kernels import new_workspace as workspace
    from model.core.params import kernel_params
    from model.core.policy import make_policy

    rng = np.random.default_rng(11)
    ds = random_dataset(4, 5, seed=3, zero_flows=0.4 if case == "zero_flows" else 0.0,
                        sigma_range=(1.0001, 1.001) if case == "sigma_near_one" else (1.5, 8))
    bm = calibrate(ds)
    t1 = np.array(bm.t0) + rng.uniform(0, 0.3, bm.t0.shape)
    idx = np.arange(4)
    t1[idx, idx, :] = 0.0
    if case == "prohibitive":
        t1[0, 1, :] = np.inf
    pref = np.ones(bm.t0.shape)
    if case == "preferences":
        pref[2, 3, 1] = 2.5
    p = kernel_params(bm, make_policy(bm, t1=t1, pref=pref, nested=True))
    lc = rng.normal(0, 0.2, (4, 5))
    full = workspace(4, 5, False)
    _prices_and_shares(lc, p, full.lPs, full.lP, full.pi1)
    ws = workspace(4, 5, False)
    _prepare(p, ws)
    _prices_and_shares_prepared(lc, p, ws)
    twin = equations.prices_and_shares_prepared(lc, p, equations.price_weights(p))
    old_twin = equations.prices_and_shares(lc, p)
    for got in ((ws.lPs, ws.lP, ws.pi1), twin, old_twin):
        np.testing.assert_allclose(got[0], full.lPs, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[1], full.lP, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[2], full.pi1, rtol=1e-12, atol=1e-14)
    if case == "zero_flows":
        assert (full.pi1 == 0).any() and (ws.pi1[full.pi1 == 0] == 0).all()
    if case == "prohibitive":
        assert (ws.pi1[0, 1, :] == 0).all()
    # the fused evaluation of the fixed point (one-level and nested markets) against the twin
    for nested in (True, False):
        p = kernel_params(bm, make_policy(bm, t1=t1, pref=pref, nested=nested))
        x = layout.join(rng.uniform(0.8, 1.2, 4), *(rng.normal(0, 0.1, (4, 5)) for _ in "PKE"))
        x[-20:] = np.exp(x[-20:])  # absorption relative to the benchmark
        ws = workspace(4, 5, False)
        _prepare(p, ws)
        k.evaluate(x, p, ws)
        twin = eq.evaluate(x, p)
        for name, got in {"lP": ws.lP, "pi1": ws.pi1, "E1": ws.E, "Y1": ws.Y, "LD": ws.LD,
                          "rents": ws.rents}.items():
            np.testing.assert_allclose(got, twin[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_the_direct_absorption_solve_agrees_with_lapack():
    """The elimination of the direct option and the Anderson weights against
    numpy.linalg.solve, on matrices that need row exchanges (a zero on the diagonal) and on a
    singular one (reported, not solved)."""
    rng = np.random.default_rng(3)
    for size in (1, 2, 7, 40):
        mat = rng.normal(size=(size, size)) + size * np.eye(size)
        if size > 1:
            mat[0, 0] = 0.0
        rhs = rng.normal(size=size)
        want = np.linalg.solve(mat, rhs)
        a, b = mat.copy(), rhs.copy()
        assert gauss_solve(a, b)
        np.testing.assert_allclose(b, want, rtol=1e-12, atol=1e-12)
    singular = np.ones((3, 3))
    assert not gauss_solve(singular, np.ones(3))


@njit
def _write_through_split(x, nr, ns):
    """Write 1, 2, 3 and 4 into the last entry of each part of the state, compiled."""
    a, lP, lr, e = layout.split(x, nr, ns)
    a[nr - 1] = 1.0
    lP[nr - 1, ns - 1] = 2.0
    lr[nr - 1, ns - 1] = 3.0
    e[nr - 1, ns - 1] = 4.0


@pytest.mark.parametrize("nr, ns", [(1, 1), (2, 13), (5, 3)])
def test_split_gives_the_same_views_compiled_and_in_python(nr, ns):
    """The compiled split makes its 2-D parts from the state's stride, the Python one reshapes
    slices: the same shapes and values, and each part a view (writing into it writes into x)."""
    x = np.random.default_rng(nr * ns).normal(size=layout.size(nr, ns))
    compiled, python = layout.split(x, nr, ns), layout.split.py_func(x, nr, ns)
    assert [p.shape for p in compiled] == [(nr,), (nr, ns), (nr, ns), (nr, ns)]
    for c, p in zip(compiled, python):
        np.testing.assert_array_equal(c, p)
    np.testing.assert_array_equal(layout.join(*compiled), x)
    _write_through_split(x, nr, ns)
    m = nr * ns
    assert (x[nr - 1], x[nr + m - 1], x[nr + 2 * m - 1], x[-1]) == (1.0, 2.0, 3.0, 4.0)
    assert python[3][-1, -1] == 4.0  # the Python parts see the compiled writes


def test_a_kernel_for_compiled_callers_only_refuses_a_call_from_python():
    """A kernel compiled without numba's wrapper for Python callers
    (:func:`model.core.linalg.inner`) raises TypeError, naming it, when Python calls it (numba
    would call the missing wrapper at address 0, a crash); compiled code calls it as before,
    and its plain function runs from Python."""
    from model.core import linalg, markets, outcomes

    bm, p, x = make_state((2, 3, 0), "plain")
    ws = k.new_workspace(2, 3, False)
    for kernel, args in ((k.evaluate_lean, (x, p, ws)), (k.prepare_weights, (p, ws)),
                         (k.workspace, (2, 3, False)), (outcomes.allocate, (2, 3)),
                         (fp._copy, (x, x.copy()))):
        assert isinstance(kernel, linalg.CompiledCallersOnly)
        with pytest.raises(TypeError, match=f"{kernel.py_func.__name__} is compiled for "
                                            "compiled callers only"):
            kernel(*args)
    assert isinstance(markets.sales_untaxed, linalg.CompiledCallersOnly)
    assert not isinstance(k.evaluate, linalg.CompiledCallersOnly)  # Python calls it
    _prepare(p, ws)
    _lean(x, p, ws)
    _store(ws)
    np.testing.assert_allclose(ws.E, eq.evaluate(x, p)["E1"], rtol=1e-10, atol=1e-12)
    assert k.workspace.py_func(2, 3, False).pi1.shape == (2, 2, 3)
