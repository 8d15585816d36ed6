"""Sensitivity sweeps: the scenarios of a file solved for many values of uncertain parameters.

:mod:`~model.sweep.spec` parses the ``[sweep]`` table; :mod:`~model.sweep.designs` holds one
design object per method; :mod:`~model.sweep.runner` solves the draws (compiled in
:mod:`~model.sweep.kernels`) chunk by chunk, here or on a Dask cluster, saving each chunk in a
:mod:`~model.sweep.store`; :mod:`~model.sweep.assemble` writes ``sweep.nc`` with the estimators
of :mod:`~model.sweep.statistics`; :mod:`~model.sweep.report` adds its section to the report.

Importing the package loads none of them: each name below is imported from its module when it
is first used (the child that draws a sweep's figures reads :mod:`~model.sweep.report`
without loading the solver and its compiled code).
"""

import importlib

#: the package's names and the modules that define them
_WHERE = {"DESIGNS": "designs", "draw_values": "designs", "sigma_scales": "designs",
          "stroud3": "designs", "SweepRun": "runner", "run_sweep": "runner",
          "SweepSpec": "spec", "parse_sweep": "spec"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
