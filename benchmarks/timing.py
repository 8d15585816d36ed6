"""Timing helpers: medians over a time budget, runs with a time limit, fresh-process runs,
and a description of the machine."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _child(fn, conn):
    try:
        conn.send(("ok", timed(fn)))
    except BaseException as err:  # report any failure to the parent
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


def run_limited(fn: Callable[[], Any], limit: float):
    """Run ``fn`` in a forked copy of this process and stop it after ``limit`` seconds.

    Returns ``("ok", (seconds, result))``, ``("error", message)`` or ``("timeout", limit)``.
    The result must be picklable.  Where ``fork`` is not available the call runs here,
    without a limit.
    """
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        return "ok", timed(fn)
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, child), daemon=True)
    proc.start()
    child.close()
    if parent.poll(limit):
        status, payload = parent.recv()
        proc.join()
        return status, payload
    proc.terminate()
    proc.join()
    return "timeout", limit


def run_python(code: str, env: dict | None = None, timeout: float = 600) -> dict:
    """Run ``python -c code`` from the project root in a fresh process; the code prints one
    JSON object on its last line, which is returned with the process's wall time."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = time.perf_counter() - start
    return result


def machine() -> dict:
    """CPU, cores, memory, and the versions that matter for the timings."""
    import numba
    import numpy
    import scipy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        import psutil

        memory = psutil.virtual_memory().total / 2**30
    except ImportError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
    }


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def count(minimum: int = 1) -> Callable[[str], int]:
    """A command-line type: a whole number of at least ``minimum`` (runs, rounds, draws), or
    the parser's error naming the option."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def seconds(text: str) -> float:
    """A command-line type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def spread(values) -> tuple[float, float, float]:
    """``(min, median, max)``."""
    return (min(values), median(values), max(values)) if values else (float("nan"),) * 3
