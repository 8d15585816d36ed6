"""Ctrl-C held back where stopping half-way would do harm, never lost where it lands in code
called back from C, and the standard streams flushed before the process is left or forked
without Python's own clean-up (standard library only, so that :mod:`model.run` can use it
before any heavy import)."""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from contextlib import contextmanager

__all__ = ["deferred_interrupt", "flush_streams", "interrupts_from_callbacks"]


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


@contextmanager
def interrupts_from_callbacks():
    """Within the block, a Ctrl-C whose KeyboardInterrupt is raised in Python code called back
    from C is raised again in the main thread, once it runs Python code of its own, instead
    of being lost.  Python cannot pass an exception out of such a callback: it prints
    "Exception ignored on calling ctypes callback function" with a traceback (or "Exception
    ignored in" a destructor) and goes on.  While numba compiles, llvmlite calls Python
    back for each piece of machine code (its object cache), so a Ctrl-C during a first
    run's compilation could be printed that way and lost.  Other exceptions that cannot be
    raised are reported as Python reports them; a KeyboardInterrupt in another thread (where
    no Ctrl-C arrives: a pool being stopped) is dropped."""
    previous = sys.unraisablehook

    def hook(unraisable):
        if not issubclass(unraisable.exc_type, KeyboardInterrupt):
            previous(unraisable)
        elif threading.current_thread() is threading.main_thread():
            _interrupt_soon()

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


#: seconds after which a Ctrl-C lost in a callback comes again (the callback has returned)
AGAIN = 0.01


def _interrupt_soon() -> None:
    """Ctrl-C again in :data:`AGAIN` seconds, from a thread: at once, its handler would run
    inside the callback still, and be lost again (where it is, the next callback's hook
    sends it once more)."""
    while True:
        try:  # a second Ctrl-C meanwhile is this one
            timer = threading.Timer(AGAIN, _thread.interrupt_main, (signal.SIGINT,))
            timer.daemon = True
            timer.start()
            return
        except KeyboardInterrupt:
            continue


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
