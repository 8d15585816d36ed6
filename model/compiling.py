"""A first run's compilation on two processes.

With numba's cache empty (a new installation, an update of the compiled code) the first solve
compiles the solver on one core: the evaluation of the model (:func:`evaluate_lean
<model.core.kernels.evaluate_lean>`, the largest part), the kernels around it, then the
solver itself; the first outcomes compile :func:`~model.core.outcomes.compute_outcomes`, and
a sweep its draw kernel (:func:`~model.sweep.kernels.solve_draws`).  :func:`start` shares that
work with a forked child, on Linux, from the main thread (:func:`model.processes.can_fork`):

- the run compiles the two small kernels both need (``split``, ``gauss_solve``), then forks
  the child, then compiles the evaluation, for the types its solves pass it (for a sweep
  solved in the draw kernel, two of the child's kernels first, :data:`EARLY`: the child's
  way to the draw kernel is then the longer);
- the child meanwhile compiles the solver's other kernels, for the same types, into numba's
  cache, says so on a pipe, then compiles the outcomes and says so again;
- the run waits for the first word, then compiles the solver, which loads the child's kernels
  from the cache instead of compiling them (the child compiles the outcomes and the shock's
  kernel meanwhile; for a sweep solved in the draw kernel the run compiles the shock's
  kernel itself, :data:`SHOCK`), then waits for the second word and solves;
- for a sweep solved in the draw kernel, the child then waits for the evaluation to be in
  the cache and compiles the draw kernel, which inlines the solver's function
  (:data:`~model.core.fixed_point.iterate`), while the run compiles the solver; the run
  waits for it (:meth:`Helper.wait`) before the sweep, drawing its figures meanwhile
  (:mod:`model.cli`).

Nothing is computed differently: the kernels are the same code, compiled once each, and a
process loads a kernel from the cache only once the other has written it whole (numba writes
a kernel's index before its code: a file left by an older version of the code could be read
in between).  Where the child fails, is killed or cannot be had, where this machine lets the
run use one core only, or where numba's cache cannot be written, the run compiles what is
missing itself, as without the child.  The child ends at once on Ctrl-C and when the run
ends (Linux's parent-death signal), and leaves with ``os._exit``.

:func:`signatures` gives the argument types of each kernel as the solver, the outcomes and
the draws call them (a test checks that the run then compiles none of them).
"""

from __future__ import annotations

import os
import select
import time

import numpy as np

from model.processes import (can_fork, exit_code, fork, forking, kill, leave_after,
                             several_cores)

#: seconds the run waits for the child's kernels, in all, before compiling them itself
TIMEOUT = 300.0
#: the child's word that the solver's kernels are in the cache, then that the rest are
_READY = b"r"
_REST = b"o"
#: compiled by the run before it forks the child: kernels of both call them (the evaluation
#: ``gauss_solve``, the solver ``split``; the child's Anderson step and outcomes one each)
SHARED = ("split", "gauss_solve")
#: compiled by the run after the fork: the evaluation, then the solver once the child's
#: kernels it calls are in the cache
RUN = ("evaluate_lean", "solve_with_retries")
#: compiled by the child after the solver's other kernels, while the run compiles the solver:
#: what the run needs only once its solver is compiled (the outcomes and the shock's kernel;
#: :data:`SHOCK` is the run's on a first sweep solved in the draw kernel)
LATER = ("compute_outcomes", "_shock_arrays")
#: the shock's kernel, which the draw kernel does not call: compiled by the run after the
#: solver where the child then compiles the draw kernel (the child's is then the longer way),
#: by the child otherwise (it would wait idle for the run's solver)
SHOCK = "_shock_arrays"
#: compiled by the run before the evaluation where the child also compiles the draw kernel
#: (the child's way to it, its kernels then the outcomes, is then the longer: the run would
#: wait for the draw kernel idle), not by the child
EARLY = ("store_shares", "allocate")
#: called by the draw kernel only (Python allocates the outcomes with the plain function,
#: :func:`~model.core.outcomes.new_outcomes`): compiled for a sweep solved in the draw kernel
#: (:data:`EARLY`), by neither process otherwise
DRAWS_ONLY = ("allocate",)


#: the kernels a study's solves call from Python: the solver, the shock and the outcomes
STUDY = ("solve_with_retries", "_shock_arrays", "compute_outcomes")


def loaded(bm, settings, names: tuple[str, ...] = STUDY) -> bool:
    """Load the kernels ``names`` into this process from numba's cache (those not loaded
    already), for the types a solve of ``bm`` with ``settings`` passes them; False, loading
    none, where one is neither loaded nor in the cache (its first call would compile it).  A
    process that forks children to solve (:func:`model.processes.on_processes`) loads them
    first: each child then has them, rather than loading them again, or compiling them each
    where the cache has none."""
    if _LOADED.issuperset(names):  # the types are those of every solve: loaded once
        return True
    try:
        kernels = signatures(bm, settings)
        chosen = [kernels[name] for name in names]
        if not all(function.signatures or compiled(function) for function, _ in chosen):
            return False
        for function, types in chosen:  # Ctrl-C held during each load (model.core.cache)
            function.compile(types)
    except Exception:  # numba's JIT off (plain functions), a kernel's arguments changed:
        return False   # the solves compile or run what they need, on threads
    _LOADED.update(names)
    return True


_LOADED: set = set()  # the kernels :func:`loaded` has loaded in this process


def signatures(bm, settings) -> dict:
    """``{name: (dispatcher, argument types)}`` of the kernels shared out, each for the types
    the solver and the outcomes pass: :data:`SHARED`, the run's (:data:`RUN`), the solver's
    other kernels and :data:`LATER`, the child's (but :data:`EARLY`, the run's on a first
    sweep)."""
    from numba import typeof

    from model.core import fixed_point, kernels, layout, linalg, outcomes, params
    from model.core.params import kernel_params, solver_tuple
    from model.core.policy import make_policy
    from model.core.solver import initial_state

    policy = make_policy(bm)
    p = kernel_params(bm, policy, settings, compiled=False)  # the shock compiled later
    nr, ns = bm.shape
    ws = kernels.new_workspace(nr, ns, p.direct)  # the same types as the compiled one
    x = initial_state(bm)
    memory = solver_tuple(settings).memory
    history, gram = np.zeros((memory, x.shape[0])), np.zeros((memory, memory))
    s = p.structure
    ev = fixed_point.Equilibrium(ws.lw, ws.L, ws.lP, ws.lc, ws.pi1, ws.E, ws.Y, ws.rents)
    grid = np.zeros((nr, 2 * ns))[:, ::2]  # a view of any layout, as the compiled split's
    parts = (x[:nr], grid, grid, grid)  # the parts of a state as the compiled split gives
    calls = {
        "split": (layout.split, (x, nr, ns)),
        "gauss_solve": (linalg.gauss_solve, (ws.mat, ws.rhs)),
        "evaluate_lean": (kernels.evaluate_lean, (x, p, ws)),
        "workspace": (kernels.workspace, (nr, ns, p.direct)),
        "prepare_weights": (kernels.prepare_weights, (p, ws)),
        "_copy": (fixed_point._copy, (x, x)),
        "_update": (fixed_point._update, parts + parts + (0.5, s.va, s.vaL, s.vaK, s.frw,
                                                          s.alpha, s.E0, ws.lw, ws.L, ws.lP,
                                                          ws.E, ws.LD, ws.KD, ws.er)),
        "_gram_row": (fixed_point._gram_row, (history, 0, 1, gram)),
        "_anderson_step": (fixed_point._anderson_step,
                           (x, x, x, history, history, gram, 1, x, x[:nr], gram, x[:memory])),
        "store_shares": (kernels.store_shares, (ws,)),
        "solve_with_retries": (fixed_point.solve_with_retries,
                               (x, x, p, solver_tuple(settings), x)),
        "_shock_arrays": (params._shock_arrays, params.shock_inputs(bm, policy)),
        "allocate": (outcomes.allocate, (nr, ns)),
        "compute_outcomes": (outcomes.compute_outcomes,
                             (x, p, outcomes.outcome_inputs(bm, policy), ev,
                              outcomes.new_outcomes(nr, ns))),
    }
    return {name: (f, tuple(typeof(a) for a in args)) for name, (f, args) in calls.items()}


class Helper:
    """The child compiling beside the run (see the module's notes): :meth:`wait` before the
    first draw of a sweep, :meth:`stop` when the run ends.  ``ready``: whether the child said
    that its kernels are in the cache."""

    def __init__(self, pid: int | None, words: int, go: int):
        self.pid, self.words, self.go = pid, words, go
        self.ready = False

    @property
    def running(self) -> bool:
        """Whether the child may still be compiling (the draw kernel)."""
        return self.pid is not None

    def wait(self, timeout: float = TIMEOUT) -> int | None:
        """Tell the child that the run has solved (the evaluation is in the cache, unless
        the cache cannot be written: the child then leaves) and wait for it to finish the draw
        kernel, at most ``timeout`` seconds (then it is ended).  Returns its exit code (None:
        ended here, or already waited for)."""
        code = None
        if self.pid is not None:
            try:
                os.write(self.go, _READY)
            except OSError:  # the child has left
                pass
            code = exit_code(self.pid, timeout)
            self.pid = None
        self.stop()
        return code

    def stop(self) -> None:
        """End the child (if it is still running) and close its pipes."""
        pid, self.pid = self.pid, None
        if pid is not None:
            kill(pid)
        for name in ("words", "go"):
            fd = getattr(self, name)
            setattr(self, name, None)
            if fd is not None:
                os.close(fd)


def compiled(function=None) -> bool:
    """Whether the solver's compiled code (or that of the kernel ``function``) is in numba's
    cache, whole (else the first solve compiles it): numba's index for it as it is now, in
    the folder numba reads (the function's line is in the index's name, and the stamp of its
    source and the digest of every file with compiled functions (:mod:`model.core.cache`)
    inside it, so an index left by other code does not count), and each code file it names
    written after it."""
    from model.core import fixed_point

    try:
        index = (function or fixed_point.solve_with_retries)._cache._cache_file
        folder, path = index._cache_path, index._index_path
    except AttributeError:  # another numba's internals: say nothing rather than wrongly
        return True
    try:
        overloads = index._load_index()
        written = os.stat(path).st_mtime_ns
        return bool(overloads) and all(
            os.stat(os.path.join(folder, name)).st_mtime_ns >= written
            for name in overloads.values())
    except Exception:  # an unreadable index or code file: numba compiles again
        return False


def start(bm, settings, sweep: bool) -> Helper | None:
    """Compile the solver's evaluation here while a forked child compiles the solver's other
    kernels, then the solver while the child compiles the outcomes and the shock (see the
    module's notes), and return once the child's kernels are in the cache (or it failed, or
    after :data:`TIMEOUT` seconds); None where no child can be had, this process may use one
    core only, or a kernel does not compile for the types given (the first solve then
    compiles what is not in the cache).  ``sweep``: the child also compiles the draw kernel."""
    if not can_fork() or not several_cores():
        return None
    try:
        kernels = signatures(bm, settings)
        for name in SHARED:
            function, types = kernels[name]
            function.compile(types)
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
    words, words_w, go_r, go = pipes
    childs = [words_w, go_r]  # the child's ends, closed here once it has them
    parent = os.getpid()
    helper = Helper(None, words, go)
    try:
        # no other thread compiling while the child is forked (forking holds numba's lock);
        # the run has the child's id before Ctrl-C can stop it
        with forking() as mask:
            helper.pid = fork()
            if helper.pid == 0:
                os.close(words)
                os.close(go)
                leave_after(lambda: _child(kernels, bm, sweep, words_w, go_r), mask,
                            parent)  # never returns
        while childs:
            os.close(childs.pop())
        if helper.pid is None:  # no process to be had
            helper.stop()
            return None
        for name in EARLY if sweep else ():
            if name in kernels:
                function, types = kernels[name]
                function.compile(types)
        function, types = kernels["evaluate_lean"]
        function.compile(types)
        deadline = time.monotonic() + TIMEOUT
        helper.ready = _word(words, TIMEOUT) == _READY
        if helper.ready and "solve_with_retries" in kernels:
            function, types = kernels["solve_with_retries"]
            function.compile(types)
        if sweep and SHOCK in kernels:
            function, types = kernels[SHOCK]
            function.compile(types)
        helper.ready = helper.ready and _word(
            words, max(0.0, deadline - time.monotonic())) == _REST
    except BaseException as exc:
        while childs:
            os.close(childs.pop())
        helper.stop()
        if isinstance(exc, Exception):  # the types of the evaluation or of the solver have
            return None  # changed: the first solve compiles what it needs, the child's
        raise  # kernels from the cache
    if not sweep:
        helper.stop()
    return helper


def _word(fd: int, timeout: float) -> bytes | None:
    """What came on ``fd`` within ``timeout`` seconds: a word, ``b""`` where its writer has
    left without one, or None where nothing came."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if not poller.poll(int(timeout * 1000)):
        return None
    return os.read(fd, 1)


def _child(kernels: dict, bm, sweep: bool, words: int, go: int) -> None:
    """Compile the child's kernels into the cache and say so on ``words``, the solver's first,
    then :data:`LATER` (for a sweep, without :data:`EARLY` and :data:`SHOCK`, the run's;
    otherwise without :data:`DRAWS_ONLY`, which nothing then calls); then, for a sweep, the
    draw kernel as soon as the run's evaluation is in the cache (the draw kernel inlines the
    solver's iteration: it does not wait for the solver), or leave when the run says on
    ``go`` that it has solved and the evaluation is not in the cache, or has left."""
    run = SHARED + RUN + (EARLY + (SHOCK,) if sweep else ())
    for name, (function, types) in kernels.items():
        if name not in run + LATER + DRAWS_ONLY:
            function.compile(types)
    os.write(words, _READY)
    for name in LATER:
        if name in kernels and name not in run:
            function, types = kernels[name]
            function.compile(types)
    os.write(words, _REST)
    os.close(words)
    if sweep:
        from model.sweep.runner import warm_up

        _wait_compiled(kernels["evaluate_lean"][0], go)  # the run's
        warm_up(bm)


def _wait_compiled(function, go: int) -> None:
    """Wait until the run's kernel ``function`` is in the cache, whole; raises where the run
    says on ``go`` that it has solved (or has left) and it is not (a cache that cannot be
    written: the child has nothing left to compile for the run)."""
    while not compiled(function):
        said = _word(go, 0.1)
        if said is not None and (said != _READY or not compiled(function)):
            raise RuntimeError(f"the run has solved, and {function.py_func.__name__} is not "
                               "in the cache")
