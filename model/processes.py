"""Work on forked processes, and the pieces every child of a run shares.

A sweep's searched draws (targets, optimal tariffs, quotas), and a study's scenarios (searches,
welfare decompositions), spend as much time in Python's bookkeeping between their compiled
solves as in the solves: on threads they wait for the interpreter lock, so two threads solve
barely faster than one.  :func:`on_processes` runs such
parts on forked children instead (Linux, from the main thread), each with an interpreter of
its own; elsewhere it runs them on threads (:func:`model.threads.on_threads`).

A child takes parts one at a time from a pipe the run filled with their numbers (a read of a
few bytes from a Linux pipe is whole), so the parts spread over the processes as they finish,
and no lock is held that a child killed mid-part could leave taken.  It sends its results,
pickled, when the pipe is empty.  The run solves parts itself meanwhile, and afterwards any
part a child did not deliver (it failed or was killed): an exception is then raised here, as
on threads.  Children end at once on Ctrl-C and when the run ends (Linux's parent-death
signal), and leave with ``os._exit``, running none of the run's exit handlers.  They are
forked while no other thread of the run compiles (numba's compiler lock held): a child would
find that lock taken for ever.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import threading
import time
import warnings
from contextlib import contextmanager, nullcontext

from model.interrupts import deferred_interrupt, flush_streams
from model.threads import SOLVE_THREADS, cores, on_threads

#: bytes of a part's number in the pipe of parts
_TOKEN = struct.Struct("<I")


def can_fork() -> bool:
    """Whether children can be forked here: on Linux, from the main thread (a worker
    thread's process, a Dask worker's, may hold locks of threads a child would not have)."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and threading.current_thread() is threading.main_thread())


def several_cores() -> bool:
    """Whether this process may run on more than one core (where a child working beside it
    gains time rather than taking it)."""
    return cores() > 1


def on_processes(work, parts: list, processes: int = SOLVE_THREADS) -> list:
    """``[work(*args) for args in parts]`` computed by this process and up to
    ``processes - 1`` forked children, in the order of ``parts``; on threads where no child
    can be forked (:func:`can_fork`, no process or pipe to be had, or too many parts for one
    pipe).  ``work``'s results are pickled back from the children.  A part that fails (here
    or in a child, which then stops) is done again here once the others are done, in order
    with every part a child left undone, so the first failure in order is raised, as the loop
    would raise it (later parts may have run).  On Ctrl-C here the children are killed; they
    end on it themselves."""
    n = len(parts)
    workers = min(processes, n)
    if workers <= 1 or not can_fork():
        return on_threads(work, parts, processes)
    try:
        tasks = _task_pipe(n)
    except OSError:  # no pipe to be had, or too many parts for one
        return on_threads(work, parts, processes)
    children = []  # (process id, read end of its results)
    results, done = [None] * n, [False] * n
    try:
        _fork_children(work, parts, tasks, workers - 1, children)
        if children:
            while (k := _take(tasks)) is not None:
                try:
                    results[k], done[k] = work(*parts[k]), True
                except Exception:  # done again below, in order with every part left undone
                    break
            for pid, fd in children:
                for k, value in _received(fd):
                    results[k], done[k] = value, True
    finally:
        with deferred_interrupt():  # a second Ctrl-C: every child is still ended
            os.close(tasks)
            for pid, fd in children:
                kill(pid)
                os.close(fd)
    if not children:  # no process to be had
        return on_threads(work, parts, processes)
    for k in range(n):  # what a child left undone
        if not done[k]:
            results[k] = work(*parts[k])
    return results


def _fork_children(work, parts, tasks: int, count: int, children: list) -> None:
    """Fork up to ``count`` children doing parts (fewer where no process can be had), each
    added to ``children`` before Ctrl-C can stop the run (so that each is ended)."""
    with forking() as mask:
        for _ in range(count):
            child = _fork(work, parts, tasks, mask)
            if child is None:
                break
            children.append(child)


@contextmanager
def forking():
    """Ctrl-C held while children are forked: in the run until the block ends (also one that
    another thread receives), so that the run knows every child before an interrupt can stop
    it; in each child until :func:`child_setup` restores the mask this yields.  Where numba is
    loaded, its compiler lock is held too: no other thread compiles while children are forked
    (a child would find the lock taken for ever)."""
    compiler = sys.modules.get("numba.core.compiler_lock")
    with deferred_interrupt(), (nullcontext() if compiler is None
                                else compiler.global_compiler_lock):
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield held
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _task_pipe(n: int) -> int:
    """The read end of a pipe holding the numbers ``0..n-1`` (its write end closed)."""
    r, w = os.pipe()
    try:
        data = b"".join(_TOKEN.pack(k) for k in range(n))
        if len(data) > 65536:  # more than a pipe holds by default
            import fcntl

            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, len(data))  # OSError if above the system's limit
        os.set_blocking(w, False)
        if os.write(w, data) != len(data):
            raise OSError("the pipe of parts is too small")
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    return r


def _take(fd: int) -> int | None:
    """The next part's number from the pipe of parts, or None once it is empty."""
    data = os.read(fd, _TOKEN.size)
    return _TOKEN.unpack(data)[0] if len(data) == _TOKEN.size else None


def fork() -> int | None:
    """``os.fork()`` with the standard streams flushed first (nothing buffered written twice),
    or None where no process can be had (a process limit, memory)."""
    flush_streams()
    try:
        with warnings.catch_warnings():  # Python 3.12+ warns of forking with threads alive:
            warnings.simplefilter("ignore", DeprecationWarning)  # the child uses none of theirs
            return os.fork()
    except OSError:
        return None


def _fork(work, parts, tasks: int, mask) -> tuple[int, int] | None:
    """``(process id, read end of its results)`` of a child doing parts, or None where no
    process (or no pipe: too many open files) can be had."""
    parent = os.getpid()
    try:
        r, w = os.pipe()
    except OSError:
        return None
    pid = fork()
    if pid is None:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:
        os.close(r)
        _child(work, parts, tasks, w, mask, parent)  # never returns
    os.close(w)
    return pid, r


def _child(work, parts, tasks: int, out: int, mask, parent: int) -> None:
    """Do parts until none is left (or one fails), send ``[(number, result), ...]`` and
    leave."""
    code = 1
    try:
        child_setup(mask, parent)
        finished = []
        try:
            while (k := _take(tasks)) is not None:
                finished.append((k, work(*parts[k])))
        except Exception:  # the run does this part again and raises its exception
            pass
        else:
            code = 0
        data = pickle.dumps(finished, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(out, view):]
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _received(fd: int) -> list:
    """A child's ``[(number, result), ...]`` (empty if it sent nothing whole)."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:  # a child killed mid-write: its parts are done here
        return []


def child_setup(mask, parent: int) -> None:
    """The start of a forked child: Ctrl-C ends it at once (no Python code of the run's runs
    in it), the signal mask of the run before the fork, death with the run, and standard
    streams of its own."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    _die_with_parent(parent)
    _own_streams()


def _own_streams() -> None:
    """Standard streams of the child's own on the same files: the run's stream objects may
    hold a lock of a thread that is not in the child (a notebook's output stream), which a
    warning printed in the child would wait for forever."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        try:
            stream = open(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace")
        except OSError:  # the run has no such stream
            stream = open(os.devnull, "w")
        setattr(sys, name, stream)


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the run ended before the signal was set
        os._exit(1)


def running(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts: it cannot be
    signalled, but it runs)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def kill(pid: int) -> None:
    """Kill a child (if it is still running) and reap it.  A child that another has reaped
    is not signalled: its process id may be another process's by then."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return  # it had ended: reaped now
    except ChildProcessError:  # reaped by another
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def exit_code(pid: int, timeout: float) -> int | None:
    """A child's exit code once it has ended, or None: killed after ``timeout`` seconds, or
    reaped by another (then it counts as failed)."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            kill(pid)
            return None
        time.sleep(delay)
        delay = min(2 * delay, 0.05)


def leave_after(work, mask, parent: int) -> None:
    """The whole life of a forked child that does ``work()``: :func:`child_setup`, then
    ``work``, then ``os._exit`` with 0, or 1 where it raised (anything, Ctrl-C included)."""
    code = 1
    try:
        child_setup(mask, parent)
        work()
        code = 0
    except BaseException:
        pass
    finally:
        os._exit(code)
