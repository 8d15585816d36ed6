"""Ctrl-C held back where stopping half-way would do harm (standard library only, so that
:mod:`model.run` can use it before any heavy import)."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["deferred_interrupt"]


_held = [0]  # how many deferral blocks are open (the outermost one holds the signal)


@contextmanager
def deferred_interrupt():
    """Hold Ctrl-C (SIGINT) until the block ends, then raise KeyboardInterrupt: for work that
    must not stop half-way (a netCDF file being written or closed, whose library lock an
    interrupt would leave held; a set of renames; imports).  Inside another such block it
    adds nothing (the outermost block raises); in threads other than the main one, where no
    signal arrives, it does nothing."""
    if threading.current_thread() is not threading.main_thread() or _held[0]:
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    _held[0] += 1
    try:
        yield
    finally:
        _held[0] -= 1
        signal.signal(signal.SIGINT,
                      previous if previous is not None else signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt
