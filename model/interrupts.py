"""Ctrl-C held back where stopping half-way would do harm, and the standard streams flushed
before the process is left or forked without Python's own clean-up (standard library only, so
that :mod:`model.run` can use it before any heavy import)."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

__all__ = ["deferred_interrupt", "flush_streams"]


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


def flush_streams() -> None:
    """Flush standard output and error: before ``os._exit`` (which flushes nothing) or a fork
    (after which a buffer would be written twice).  A stream the process was started without
    (None) or one closed at the other end is left as it is."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
