"""Work on a pool of Python threads: the compiled solves release the interpreter lock, so
independent solves (sweep draws, the scenarios of a file) run side by side on the cores."""

from __future__ import annotations

import os

#: threads for independent solves in Python (each holds the interpreter lock only between
#: its compiled solves)
SOLVE_THREADS = max(1, min(4, os.cpu_count() or 1))


def on_threads(work, parts: list, threads: int = SOLVE_THREADS) -> list:
    """``[work(*args) for args in parts]``, computed on a pool of ``threads`` threads and
    returned in the order of ``parts``; an exception is raised as the loop would raise the
    first one (later parts may have run).  On Ctrl-C the parts not started are dropped and
    those running are waited for."""
    from concurrent.futures import ThreadPoolExecutor

    if threads <= 1 or len(parts) <= 1:
        return [work(*args) for args in parts]
    pool = ThreadPoolExecutor(min(threads, len(parts)))
    try:
        done = [future.result() for future in [pool.submit(work, *args) for args in parts]]
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return done
