"""A first run's compilation on two processes.

With numba's cache empty (a new installation, an update of the compiled code) the first solve
compiles the solver on one core: the evaluation of the model (:func:`evaluate_lean
<model.core.kernels.evaluate_lean>`, the largest part), the kernels around it, then the
solver itself; the first outcomes compile :func:`~model.core.outcomes.compute_outcomes`, and
a sweep its draw kernel (:func:`~model.sweep.kernels.solve_draws`).  :func:`start` shares that
work with a forked child, on Linux, from the main thread (:func:`model.processes.can_fork`):

- the run compiles the evaluation, for the types its solves pass it;
- the child meanwhile compiles the solver's other kernels and the outcomes, for the same
  types, into numba's cache, then says so on a pipe;
- the run waits for that word, then solves: compiling the solver loads the child's kernels
  from the cache instead of compiling them;
- for a file with a sweep, the child then waits for the solver to be in the cache and
  compiles the draw kernel; the run waits for it (:meth:`Helper.wait`) before its first
  draw.

Nothing is computed differently: the kernels are the same code, compiled once each.  Where
the child fails, is killed or cannot be had, or numba's cache cannot be written, the run
compiles what is missing itself, as without the child.  The child ends at once on Ctrl-C
and when the run ends (Linux's parent-death signal), and leaves with ``os._exit``.

:func:`signatures` gives the argument types of each kernel as the solver, the outcomes and
the draws call them (a test checks that the run then compiles none of them).
"""

from __future__ import annotations

import os
import select
import time

import numpy as np

from model.processes import can_fork, child_setup, fork, forking, kill

#: seconds the run waits for the child's kernels before compiling them itself
TIMEOUT = 300.0
#: the child's word that the solver's kernels and the outcomes are in the cache
_READY = b"r"


def signatures(bm, settings) -> dict:
    """``{name: (dispatcher, argument types)}`` of the kernels the child compiles: the
    solver's kernels other than the evaluation, the outcomes, and ``evaluate_lean`` itself
    (which the run compiles), each for the types the solver and the outcomes pass."""
    from numba import typeof

    from model.core import fixed_point, kernels, outcomes
    from model.core.params import kernel_params, solver_tuple
    from model.core.policy import make_policy
    from model.core.solver import initial_state

    policy = make_policy(bm)
    p = kernel_params(bm, policy, settings)
    nr, ns = bm.shape
    ws = kernels.workspace.py_func(nr, ns, p.direct)  # the same types as the compiled one
    x = initial_state(bm)
    history = np.zeros((solver_tuple(settings).memory, x.shape[0]))
    s = p.structure
    ev = fixed_point.Equilibrium(ws.lw, ws.L, ws.lP, ws.lc, ws.pi1, ws.E, ws.Y, ws.rents)
    calls = {
        "evaluate_lean": (kernels.evaluate_lean, (x, p, ws)),
        "workspace": (kernels.workspace, (nr, ns, p.direct)),
        "prepare_weights": (kernels.prepare_weights, (p, ws)),
        "_copy": (fixed_point._copy, (x, x)),
        "_update": (fixed_point._update, (x, 0.5, x, s.va, s.vaL, s.vaK, s.frw, s.alpha,
                                          s.E0, ws.lw, ws.L, ws.lP, ws.E, ws.LD, ws.KD)),
        "_anderson_step": (fixed_point._anderson_step, (x, x, x, history, history, 1, nr, ns)),
        "store_shares": (kernels.store_shares, (ws,)),
        "allocate": (outcomes.allocate, (nr, ns)),
        "compute_outcomes": (outcomes.compute_outcomes,
                             (x, p, outcomes.outcome_inputs(bm, policy), ev,
                              outcomes.allocate.py_func(nr, ns))),
    }
    return {name: (f, tuple(typeof(a) for a in args)) for name, (f, args) in calls.items()}


class Helper:
    """The child compiling beside the run (see the module's notes): :meth:`wait` before the
    first draw of a sweep, :meth:`stop` when the run ends."""

    def __init__(self, pid: int, ready: int, go: int):
        self.pid, self.ready, self.go = pid, ready, go

    def wait(self, timeout: float = TIMEOUT) -> None:
        """Tell the child that the run has solved (the solver is in the cache, unless the
        cache cannot be written: the child then leaves) and wait for it to finish the draw
        kernel, at most ``timeout`` seconds; then it is ended."""
        if self.pid is None:
            return
        try:
            os.write(self.go, _READY)
        except OSError:  # the child has left
            pass
        deadline = time.monotonic() + timeout
        delay = 0.005
        try:
            while time.monotonic() < deadline:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    self.pid = None
                    break
                time.sleep(delay)
                delay = min(2 * delay, 0.05)
        except ChildProcessError:
            self.pid = None
        self.stop()

    def stop(self) -> None:
        """End the child (if it is still running) and close its pipe."""
        pid, self.pid = self.pid, None
        if pid is not None:
            kill(pid)
        for name in ("ready", "go"):
            fd = getattr(self, name)
            setattr(self, name, None)
            if fd is not None:
                os.close(fd)


def compiled() -> bool:
    """Whether the solver's compiled code is in numba's cache (else the first solve compiles
    it): numba's index for the solver as it is now, in the folder numba reads (the function's
    line is in the index's name, and the stamp of its source and the digest of every file with
    compiled functions (:mod:`model.core.cache`) inside it, so an index left by other code
    does not count)."""
    from model.core import fixed_point

    try:
        index = fixed_point.solve_with_retries._cache._cache_file
    except AttributeError:  # another numba's internals: say nothing rather than wrongly
        return True
    try:
        return bool(index._load_index())
    except Exception:  # an unreadable index: numba compiles again
        return False


def start(bm, settings, sweep: bool) -> Helper | None:
    """Compile the solver's evaluation here while a forked child compiles the rest (see the
    module's notes), and return once the child's kernels are in the cache (or it failed, or
    after :data:`TIMEOUT` seconds); None where no child can be had (the evaluation is then
    left to the first solve).  ``sweep``: the child also compiles the draw kernel."""
    if not can_fork():
        return None
    try:
        kernels = signatures(bm, settings)
    except Exception:  # a kernel's arguments have changed: the first solve compiles all
        return None
    pipes = []
    try:
        for _ in range(2):
            pipes += os.pipe()
    except OSError:
        for fd in pipes:
            os.close(fd)
        return None
    ready_r, ready_w, go_r, go_w = pipes
    parent = os.getpid()
    with forking() as mask:  # the run has the child's id before Ctrl-C can stop it
        pid = fork()
        if pid == 0:
            os.close(ready_r)
            os.close(go_w)
            _child(kernels, bm, sweep, ready_w, go_r, mask, parent)  # never returns
    os.close(ready_w)
    os.close(go_r)
    if pid is None:
        os.close(ready_r)
        os.close(go_w)
        return None
    helper = Helper(pid, ready_r, go_w)
    try:
        function, types = kernels["evaluate_lean"]
        function.compile(types)
        _word(ready_r, TIMEOUT)
    except BaseException:
        helper.stop()
        raise
    if not sweep:
        helper.stop()
    return helper


def _word(fd: int, timeout: float | None) -> bool:
    """Whether a word came on ``fd`` within ``timeout`` seconds (None: at once, without
    waiting); False where its writer has left without one."""
    readable, _, _ = select.select([fd], [], [], timeout)
    return bool(readable) and os.read(fd, 1) == _READY


def _child(kernels: dict, bm, sweep: bool, ready: int, go: int, mask, parent: int) -> None:
    """Compile every kernel but the evaluation into the cache and say so on ``ready``; then,
    for a sweep, the draw kernel as soon as the run's solver is in the cache (or leave when
    the run says on ``go`` that it has solved and the solver is not in the cache); leave."""
    code = 1
    try:
        child_setup(mask, parent)
        for name, (function, types) in kernels.items():
            if name != "evaluate_lean":
                function.compile(types)
        os.write(ready, _READY)
        os.close(ready)
        if sweep:
            from model.sweep.runner import warm_up

            while not compiled():  # the run's solver
                if _word(go, 0.1) and not compiled():  # the cache cannot be written
                    os._exit(1)
            warm_up(bm)
        code = 0
    except BaseException:
        pass
    finally:
        os._exit(code)
