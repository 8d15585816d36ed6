"""Ctrl-C held back where stopping half-way would do harm, sent again where it lands in code
called back from C (where Python would drop it), and the standard streams flushed before the
process is left or forked without Python's own clean-up (standard library only, so that
:mod:`model.run` can use it before any heavy import)."""

from __future__ import annotations

import _thread
import signal
import sys
import threading
import time
from contextlib import contextmanager

__all__ = ["caused_by_interrupt", "compiled_call", "deferred_interrupt", "flush_streams",
           "interrupt_from", "interrupts_from_callbacks"]


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
    from C is sent again to the main thread once that code has returned, instead of being
    lost.  Python cannot pass an exception out of such a callback: it prints "Exception
    ignored on calling ctypes callback function" with a traceback (or "Exception ignored in"
    a destructor) and goes on.  While numba compiles, llvmlite calls Python back for each
    piece of machine code (its object cache), so a Ctrl-C during a first run's compilation
    could be printed that way and lost.  One still waiting to be sent when the block ends is
    raised there.  Other exceptions that cannot be raised are reported as Python reports
    them; a KeyboardInterrupt in another thread (where no Ctrl-C arrives: a pool being
    stopped) is dropped."""
    previous = sys.unraisablehook

    def hook(unraisable):
        if not issubclass(unraisable.exc_type, KeyboardInterrupt):
            previous(unraisable)
        elif threading.current_thread() is threading.main_thread():
            _in_hook[0] += 1
            try:
                _send_again()
            except KeyboardInterrupt:  # another Ctrl-C meanwhile: the same stop
                if not _pending:
                    _send_again()
            finally:
                _in_hook[0] -= 1

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
        with _lock:  # not sent yet: raised here (on the way out of an error: dropped)
            waiting = bool(_pending)
            _pending.clear()
    if waiting:
        raise KeyboardInterrupt


#: seconds after which a Ctrl-C taken from a callback is sent again (the callback has
#: returned; while the main thread is in :func:`interrupts_from_callbacks`' hook, later)
AGAIN = 0.01

_pending: list = []  # the Ctrl-Cs taken from callbacks and not sent again yet
_lock = threading.Lock()
_in_hook = [0]  # whether the main thread is in the hook (sent then, it would be lost again)


def _send_again() -> None:
    """Send Ctrl-C to the main thread again from another thread in :data:`AGAIN` seconds:
    sent at once, its handler would run inside the callback still, and be lost again."""
    token = object()
    with _lock:
        _pending.append(token)

    def send():
        time.sleep(AGAIN)
        while _in_hook[0]:
            time.sleep(AGAIN)
        with _lock:
            if token not in _pending:  # raised at the block's end
                return
            _pending.remove(token)
        _interrupt_main()

    threading.Thread(target=send, name="ctrl-c again", daemon=True).start()


def _interrupt_main() -> None:
    """Ctrl-C to the main thread, where Python handles it: as a signal where there are
    threads' signals (it wakes a system call the main thread waits in, such as a wait for
    a child), else as Python's own call."""
    if signal.getsignal(signal.SIGINT) in (signal.SIG_DFL, signal.SIG_IGN, None):
        return
    kill = getattr(signal, "pthread_kill", None)
    if kill is not None:
        kill(threading.main_thread().ident, signal.SIGINT)
    else:
        _thread.interrupt_main(signal.SIGINT)


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is a KeyboardInterrupt or was raised because of one (Python wraps an
    interrupt inside some imports, numba one during a compiled call: :func:`interrupt_from`)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def interrupt_from(exc: SystemError) -> BaseException:
    """What a compiled call that raised ``exc`` raises: KeyboardInterrupt where a Ctrl-C came
    during the call, else ``exc``.  numba gives Python a compiled function's arrays by running
    Python code (for their class), where an interrupt that came meanwhile is raised; the call
    then fails with SystemError ("returned a result with an exception set"), the interrupt as
    its cause.  (A named tuple returned so is worse: numba calls the class it did not get, a
    crash of the process; compiled functions called from Python return plain tuples.)"""
    if not caused_by_interrupt(exc):
        return exc
    interrupt = KeyboardInterrupt()
    interrupt.__cause__ = exc
    return interrupt


def compiled_call(function, *args):
    """``function(*args)``, a compiled function called from Python that returns arrays, with
    a Ctrl-C that came during the call raised as KeyboardInterrupt (:func:`interrupt_from`),
    not as the SystemError numba raises; otherwise an ``except Exception`` would take it for
    a failed call."""
    try:
        return function(*args)
    except SystemError as exc:
        raise interrupt_from(exc)


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
