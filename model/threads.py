"""Work on a pool of Python threads: the compiled solves release the interpreter lock, so
independent solves (sweep draws, the scenarios of a file) run side by side on the cores.

On Ctrl-C the main thread stops waiting, parts not started are dropped, and the parts running
stop at their next solve (:func:`check`, called before every compiled solve, raises
``KeyboardInterrupt`` in them), so an interrupt never waits for whole searches."""

from __future__ import annotations

import os
import threading


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cores() -> int:
    """``NUMBA_NUM_THREADS`` if set (the thread setting of the sweeps too), else
    :func:`cores`."""
    given = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    return cores()


#: threads for independent solves in Python (each holds the interpreter lock only between
#: its compiled solves); at most 4, as each holds a solve's memory
SOLVE_THREADS = max(1, min(4, _cores()))

_LOCAL = threading.local()  # the stop events of the pools the current thread works for


def check() -> None:
    """Raise ``KeyboardInterrupt`` in a worker thread whose pool (or a pool it works for in
    turn) was interrupted; a thread that works for no pool (the main thread, which gets
    Ctrl-C itself) is never stopped here."""
    for stop in getattr(_LOCAL, "stops", ()):
        if stop.is_set():
            raise KeyboardInterrupt


def on_threads(work, parts: list, threads: int = SOLVE_THREADS) -> list:
    """``[work(*args) for args in parts]``, computed on a pool of ``threads`` threads and
    returned in the order of ``parts``; an exception is raised as the loop would raise the
    first one (later parts may have run).  On Ctrl-C (or any exception) the parts not started
    are dropped and those running stop at their next solve.  Each pool has its own stop, so an
    interrupted pool stops no other (one running at the same time on other threads)."""
    from concurrent.futures import ThreadPoolExecutor

    if threads <= 1 or len(parts) <= 1:
        return [work(*args) for args in parts]
    stop = threading.Event()  # set once, never cleared: a second Ctrl-C cannot undo it
    stops = tuple(getattr(_LOCAL, "stops", ())) + (stop,)

    def part(*args):
        _LOCAL.stops = stops
        return work(*args)

    pool = ThreadPoolExecutor(min(threads, len(parts)))
    try:
        done = [future.result() for future in [pool.submit(part, *args) for args in parts]]
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return done
