r"""Running a sensitivity sweep: the scenarios of a file solved for many values of uncertain
parameters (docs/formats.md, "Sensitivity sweeps").

The flow: the design gives the parameters of each draw, independent of chunking
(:mod:`model.sweep.designs`) → each scenario's central solution at every grid point is the
warm start of its draws (:func:`prepare_scenario`) → draws are solved in compiled code, chunk
by chunk (:func:`solve_chunk`), here or on a Dask cluster, each chunk saved as soon as it is
solved (:class:`~model.sweep.store.ChunkStore`) → one ``sweep.nc`` is assembled chunk by
chunk with its statistics (:mod:`model.sweep.assemble`).  Memory holds one chunk at a time; an
interrupted sweep continues from its saved chunks (``resume=True``).  The same seed gives
bit-identical results for any chunk size and any number of workers.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np

from calibration.calibrate import Benchmark
from model.core.outcomes import REGION, SECTOR, OutcomeInputs, outcome_inputs, outcomes
from model.core.params import (KernelParams, Shock, SolverTuple, elasticities, kernel_params,
                               shock, solver_tuple, writable)
from model.core.policy import Policy
from model.core.search import SEARCH_ERRORS, searched, solve_scenario_policy, with_sigma
from model.core.settings import SolverSettings
from model.core.solver import ConvergenceError, initial_state
from model.interrupts import deferred_interrupt
from model.processes import on_processes
from model.sweep.assemble import assemble, stored_rows
from model.sweep.designs import draw_values, sigma_scales
from model.sweep.kernels import (CONVERGED, CONVERGENCE_FAILED, INVALID, SEARCH_FAILED,
                                 solve_draws)
from model.sweep.spec import SweepSpec
from model.sweep.store import ChunkStore, fingerprint
from model.threads import on_threads


class Static(NamedTuple):
    """What every chunk of one scenario shares: kernel parameters, the shocks and warm starts
    of the grid points, the benchmark state, the outcome inputs, the elasticity multipliers of
    the grid points, the solver settings of the draws and the outcome rows stored."""

    p: KernelParams
    oi: OutcomeInputs
    shocks: Shock
    x0s: np.ndarray
    x_init: np.ndarray
    grid_scales: np.ndarray
    st: SolverTuple
    rows_region: np.ndarray
    rows_sector: np.ndarray
    search: "DrawSearch | None" = None


#: the fewest plain draws (of scenarios that search no instrument and have no quotas, over
#: every grid point) that a sweep solves in the compiled draw kernel; fewer are solved one by
#: one, as a searched scenario's draws are (:class:`DrawSearch`), to the same results.  The
#: draw kernel inlines the whole solver and the outcomes: compiling it takes about 10 s of
#: CPU, which a first run (an empty numba cache, :mod:`model.compiling`) spends beside its own
#: compilation, on the same two cores.  Solved one by one, a draw costs about 0.25 ms more
#: (two cores), so below this count a run loses at most about 0.25 s (the main job, with 400
#: plain draws: about 0.1 s a run, for a first run 3-4 s shorter)
KERNEL_DRAWS = 1000


def in_kernel(study, spec: SweepSpec) -> bool:
    """Whether the sweep ``spec`` of ``study`` (its swept scenarios,
    :func:`~model.sweep.spec.swept`) solves its plain draws in the compiled draw kernel: where
    there are at least :data:`KERNEL_DRAWS` of them."""
    plain = sum(not searched(p.search, p.policy) for p in study.scenarios)
    return plain * spec.n_points * spec.n_draws >= KERNEL_DRAWS


@dataclass(frozen=True)
class DrawSearch:
    """A scenario whose draws each solve an endogenous instrument (a target, an optimal tariff,
    a Nash game) or quotas, or a plain scenario of a sweep with few plain draws
    (:func:`in_kernel`): solved draw by draw in Python, a plain scenario's, a target's or plain
    quotas' draws from the central solution of their grid point (state, instrument, quotas),
    a draw whose instrument is not found recorded with status :data:`SEARCH_FAILED`."""

    bm: Benchmark
    policies: tuple  # the scenario's policy at each grid point
    search: object
    settings: SolverSettings
    x0s: tuple = ()  # the central solution of each grid point (a warm start)
    guesses: tuple = ()  # the central instrument value of each grid point
    quota_starts: tuple = ()  # where the central solution's quotas ended (or None)

    def solve(self, g: int, scale: np.ndarray):
        """Draw at grid point ``g`` with elasticity multipliers ``scale``: ``(status,
        iterations, residuals, outcomes, instrument value, instrument tariffs)``."""
        nr = len(self.bm.regions)
        nan = (np.full(3, np.nan), None, np.nan, np.full(nr, np.nan))
        bm, sigma = self.bm, self.bm.sigma * scale
        plain = self.search is None and self.policies[g].quotas is None
        if plain:
            # a plain draw: the draw kernel's elasticities, to the last bit (both levels
            # scaled, not the lower one in proportion to the upper, as sigma=... would)
            base = elasticities(bm, self.policies[g])
            bm, sigma = dataclasses.replace(bm, sigma=base.sigma * scale,
                                            sigma_m=base.sigma_m * scale), None
            valid = (bm.sigma > 1).all() and (bm.sigma_m > 1).all()
        else:
            valid = (sigma > 1).all() and (bm.sigma_m * scale > 1).all()
        if not valid:
            return (INVALID, 0) + nan
        try:
            sol, found = solve_scenario_policy(
                bm, self.policies[g], self.search, self.settings, sigma=sigma,
                x0=self.x0s[g] if self.x0s else None,
                guess=self.guesses[g] if self.guesses else None,
                quota_start=self.quota_starts[g] if self.quota_starts else None,
                diagnose=False)  # a failed draw is recorded, its message not kept
        except ConvergenceError as exc:
            s = exc.solution
            # a plain draw: the solver's status, as the draw kernel records it
            return (exc.status if plain else CONVERGENCE_FAILED, s.iterations,
                    np.array([s.residual, s.price_residual, s.absorption_residual])) + nan[1:]
        except SEARCH_ERRORS:
            return (SEARCH_FAILED, 0) + nan
        out = outcomes(bm if sigma is None else with_sigma(bm, sigma), sol.policy, sol)
        value = np.nan if found is None else found.value
        tariffs = np.full(nr, np.nan) if found is None else found.tariffs
        return (CONVERGED, sol.iterations,
                np.array([sol.residual, sol.price_residual, sol.absorption_residual]), out,
                value, tariffs)


def grid_policy(spec: SweepSpec, policy, point: tuple[int, ...]):
    """The scenario's policy at a grid point (tariff grids set their cells' rates; every other
    part of the policy is kept)."""
    t1 = np.array(policy.t1)
    for g, k in zip(spec.grid, point):
        if g.kind == "tariff":
            for n, i, j in g.cells:
                t1[n, i, j] = g.values[k]
    return policy.replace(t1=t1)


def grid_scale(spec: SweepSpec, point: tuple[int, ...]) -> np.ndarray:
    """Elasticity multipliers of a grid point (sigma grids)."""
    sigma0 = np.asarray(spec.sigma0)
    scale = np.ones(len(sigma0))
    for g, k in zip(spec.grid, point):
        if g.kind == "sigma":
            for j in g.sectors:
                scale[j] = g.values[k] if g.relative else g.values[k] / sigma0[j]
    return scale


def prepare_scenario(spec: SweepSpec, bm: Benchmark, policy: Policy, settings: SolverSettings,
                     draw_settings: SolverSettings | None = None, search=None,
                     kernel: bool = True):
    """Solve the central case of every grid point (the warm starts) and collect the arrays the
    kernel needs.  Returns ``(Static, failed grid points)``; a central case that fails starts
    its draws from the benchmark state.

    A scenario with an endogenous ``search`` (a target, an optimal tariff, a Nash game) or with
    quotas solves its instrument again in every draw (:class:`DrawSearch`); so does any
    scenario with ``kernel`` False (a sweep with few plain draws, :func:`in_kernel`), the
    draws one by one rather than in the draw kernel.  ``draw_settings`` (default ``settings``)
    are the solver settings of the draws.
    """
    points = list(np.ndindex(*spec.grid_shape)) if spec.grid else [()]
    x_init = initial_state(bm)
    endogenous = searched(search, policy) or not kernel
    shocks, x0s, scales, failed, policies, guesses, quotas = [], [], [], [], [], [], []
    for point in points:
        pol = grid_policy(spec, policy, point)
        scale = grid_scale(spec, point)
        policies.append(pol)
        shocks.append(shock(bm, pol.replace(quotas=None)))
        scales.append(scale)
        x0, guess, quota = None, np.nan, None
        try:
            sol, found = solve_scenario_policy(bm, pol, search, settings,
                                               sigma=bm.sigma * scale)
            x0, guess = sol.x, np.nan if found is None else found.value
            quota = sol.quota
        except (ConvergenceError,) + SEARCH_ERRORS:
            pass
        guesses.append(guess)
        quotas.append(quota)
        if x0 is None:
            failed.append(point)
        x0s.append(x_init if x0 is None else x0)
    stacked = Shock(*(np.stack([getattr(s, f) for s in shocks]) for f in Shock._fields))
    rows_region, rows_sector = stored_rows()
    base = policy.replace(quotas=None)
    draws = (DrawSearch(bm, tuple(policies), search, draw_settings or settings,
                        tuple(x0s), tuple(guesses), tuple(quotas)) if endogenous else None)
    static = Static(writable(kernel_params(bm, base, settings)),
                    writable(outcome_inputs(bm, base)), writable(stacked), np.stack(x0s),
                    x_init, np.stack(scales), solver_tuple(draw_settings or settings),
                    rows_region, rows_sector, draws)
    return static, failed


_KERNEL_LOCK = threading.Lock()  # one chunk on the cores at a time per process


def solve_chunk(static: Static, point: np.ndarray, scales: np.ndarray) -> dict:
    """Solve one chunk of draws in compiled code, on ``numba.get_num_threads()`` threads (the
    compiled draws release the interpreter lock); the unit of work of a sweep, on this machine
    or a Dask worker.  ``point[d]`` is the grid point of draw ``d`` and ``scales[d]`` its
    elasticity multipliers (grid times sampled).  The results do not depend on the number of
    threads."""
    nr, ns = static.p.structure.beta.shape
    n = len(point)
    out = {
        "status": np.empty(n, dtype=np.int8),
        "iterations": np.empty(n, dtype=np.int64),
        "residuals": np.empty((n, 3)),
        "region": np.empty((n, len(static.rows_region), nr)),
        "sector": np.empty((n, len(static.rows_sector), nr, ns)),
        "instrument": np.full(n, np.nan),
        "instrument_tariff": np.full((n, nr), np.nan),
    }
    if static.search is not None:
        _solve_searches(static, point, scales, out)
        return out
    point = np.ascontiguousarray(point, dtype=np.int64)
    scales = np.ascontiguousarray(scales)

    def part(a: int, b: int) -> None:
        solve_draws(static.p.structure, static.p.elasticities, static.p.direct, static.oi,
                    static.shocks, static.st, point[a:b], static.x0s, static.x_init,
                    scales[a:b], static.rows_region, static.rows_sector,
                    *(out[k][a:b] for k in ("status", "iterations", "residuals", "region",
                                            "sector")))

    threads = max(1, min(numba.get_num_threads(), n))
    step = max(1, -(-n // (4 * threads)))  # parts of about a quarter of a thread's share
    with _KERNEL_LOCK:  # in parts: Ctrl-C then waits for one part, not all
        on_threads(part, [(a, min(a + step, n)) for a in range(0, n, step)], threads)
    return out


def _solve_searches(static: Static, point, scales, out) -> None:
    """The draws of a scenario with an endogenous instrument, each solved on its own, by
    :data:`~model.threads.SOLVE_THREADS` processes (:func:`~model.processes.on_processes`:
    their Python between solves would keep threads waiting for each other; the results do not
    depend on the number of processes)."""
    region_names = [REGION[k] for k in static.rows_region]
    sector_names = [SECTOR[k] for k in static.rows_sector]

    def draw(d: int):  # only the outcomes stored (what a child sends back)
        status, iterations, residuals, res, value, tariffs = static.search.solve(
            int(point[d]), scales[d])
        rows = None if res is None else ([res[name] for name in region_names],
                                         [res[name] for name in sector_names])
        return status, iterations, residuals, rows, value, tariffs

    solved = on_processes(draw, [(d,) for d in range(len(point))])
    for d, (status, iterations, residuals, rows, value, tariffs) in enumerate(solved):
        out["status"][d], out["iterations"][d], out["residuals"][d] = status, iterations, residuals
        out["instrument"][d], out["instrument_tariff"][d] = value, tariffs
        for k in range(len(region_names)):
            out["region"][d, k] = np.nan if rows is None else rows[0][k]
        for k in range(len(sector_names)):
            out["sector"][d, k] = np.nan if rows is None else rows[1][k]


def chunk_cases(spec: SweepSpec, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid point and elasticity multipliers of cases ``start..stop-1`` of a scenario (case
    ``c`` is draw ``c % n_draws`` at grid point ``c // n_draws``)."""
    cases = np.arange(start, stop)
    point, draw = cases // spec.n_draws, cases % spec.n_draws
    d0, d1 = int(draw.min()), int(draw.max()) + 1
    values = draw_values(spec, d0, d1)
    return point, sigma_scales(spec, values)[draw - d0]


def warm_up(bm: Benchmark) -> None:
    """Solve one draw of the benchmark in the compiled draw kernel: compiles it (or loads it
    from the cache) so that a progress bar measures solving, not compiling.  The draw's shock
    is computed by the shock kernel's plain function (the draw kernel does not call that
    kernel, which a first run compiles in the other process, :mod:`model.compiling`)."""
    from model.core.policy import make_policy

    pol = make_policy(bm)
    nr, ns = bm.shape
    rows_region, rows_sector = stored_rows()
    params = kernel_params(bm, pol, compiled=False)
    static = Static(writable(params), writable(outcome_inputs(bm, pol)),
                    writable(Shock(*(np.stack([a]) for a in params.shock))),
                    initial_state(bm)[None, :], initial_state(bm), np.ones((1, ns)),
                    solver_tuple(SolverSettings()), rows_region, rows_sector)
    solve_chunk(static, np.zeros(1, dtype=np.int64), np.ones((1, ns)))


@dataclass(frozen=True)
class SweepRun:
    """What a finished sweep reports: the file written, solves, failed draws per scenario and
    the central cases that did not converge."""

    path: Path
    solves: int
    failed: dict
    central_failed: list
    seconds: float


def run_sweep(study, spec: SweepSpec, path, *, resume: bool = False, scheduler=None,
              progress: bool = False, settings: SolverSettings | None = None,
              chunks: Path | None = None) -> SweepRun:
    """Solve every scenario of ``study`` at every draw and grid point of ``spec`` and write
    ``path`` (``sweep.nc``).

    Chunks are saved in ``chunks`` (default ``<path stem>_chunks/`` beside ``path``) as they
    are solved and removed once ``path`` is written.  ``resume`` keeps the chunks of an
    interrupted run of the same sweep and solves only the rest; ``scheduler`` (an address such
    as ``tcp://host:8786`` or a ``distributed.Client``) runs chunks on a Dask cluster;
    ``progress`` shows a progress bar after one second.  ``settings`` overrides the file's
    solver settings for the draws (the central cases use the file's).
    """
    from tqdm import tqdm

    begin = time.perf_counter()
    path = Path(path)
    settings = settings or study.file.solver
    store = ChunkStore(chunks or path.parent / f"{path.stem}_chunks",
                       fingerprint(study, spec, settings), resume)
    total = spec.n_points * spec.n_draws
    n_chunks = -(-total // spec.chunk_size)
    kernel = in_kernel(study, spec)
    if progress and kernel:  # compile the draw kernel before the bar starts measuring
        warm_up(study.benchmark)
    scheduler = scheduler if scheduler is not None else spec.scheduler
    client = None
    if isinstance(scheduler, str):
        from distributed import Client

        # not the process's default client: a default one sets Dask's global configuration
        # (left set if the connection fails) and routes every netCDF write through a lock on
        # the cluster; the chunks are submitted to this client explicitly
        client = scheduler = Client(scheduler, timeout="20s", set_as_default=False)
    central_failed = []
    bar = tqdm(total=total * len(study.scenarios), unit="draw", delay=1.0, disable=not progress,
               desc="sweep")
    try:
        for s, prepared in enumerate(study.scenarios):
            static, failed = prepare_scenario(spec, study.benchmark, prepared.policy,
                                              study.file.solver, settings, prepared.search,
                                              kernel)
            central_failed += [(prepared.name, pt) for pt in failed]
            todo = []
            for c in range(n_chunks):
                start, stop = c * spec.chunk_size, min((c + 1) * spec.chunk_size, total)
                if store.has(s, c):
                    bar.update(stop - start)
                else:
                    todo.append((c, start, stop))
            run = _run_local if scheduler is None else _run_dask
            run(spec, static, todo, lambda c, start, out: store.write(s, c, out, start), bar,
                scheduler)
    finally:
        bar.close()
        if client is not None:
            client.close()
    with deferred_interrupt():  # reads and writes netCDF files throughout
        failed = assemble(study, spec, path, store, n_chunks, settings)
    # after an interrupt while assembling (raised above) the chunks stay, for --resume
    with deferred_interrupt():
        store.remove()
    return SweepRun(path, total * len(study.scenarios), failed, central_failed,
                    time.perf_counter() - begin)


def _run_local(spec, static, todo, save, bar, scheduler=None):
    for c, start, stop in todo:
        point, scales = chunk_cases(spec, start, stop)
        scales = scales * static.grid_scales[point]
        save(c, start, solve_chunk(static, point, scales))
        bar.update(stop - start)


def _run_dask(spec, static, todo, save, bar, client):
    """Chunks as tasks on a Dask cluster (``client``, a ``distributed.Client``); results come
    back to this process, which writes them (the workers need no shared file system).  The
    scenario's arrays are sent to every worker once; at most two chunks per worker thread are
    in flight, so memory stays bounded."""
    from distributed import as_completed

    remote = client.scatter([static], broadcast=True)[0]
    limit = max(2 * sum(client.nthreads().values()), 2)
    pending = iter(todo)
    futures = {}

    def submit():
        for c, start, stop in pending:
            point, scales = chunk_cases(spec, start, stop)
            scales = scales * static.grid_scales[point]
            fut = client.submit(solve_chunk, remote, point, scales, pure=False)
            futures[fut] = (c, start, stop)
            return fut
        return None

    queue = as_completed(loop=client.loop)
    for _ in range(limit):
        fut = submit()
        if fut is None:
            break
        queue.add(fut)
    for fut in queue:
        c, start, stop = futures.pop(fut)
        save(c, start, fut.result())
        bar.update(stop - start)
        fut.release()
        nxt = submit()
        if nxt is not None:
            queue.add(nxt)
