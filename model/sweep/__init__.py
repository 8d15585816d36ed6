"""Sensitivity sweeps: the scenarios of a file solved for many values of uncertain parameters.

:mod:`~model.sweep.spec` parses the ``[sweep]`` table; :mod:`~model.sweep.designs` holds one
design object per method; :mod:`~model.sweep.runner` solves the draws (compiled in
:mod:`~model.sweep.kernels`) chunk by chunk, here or on a Dask cluster, saving each chunk in a
:mod:`~model.sweep.store`; :mod:`~model.sweep.assemble` writes ``sweep.nc`` with the estimators
of :mod:`~model.sweep.statistics`; :mod:`~model.sweep.report` adds its section to the report.
"""

from model.sweep.designs import DESIGNS, draw_values, sigma_scales, stroud3
from model.sweep.runner import SweepRun, run_sweep
from model.sweep.spec import SweepSpec, parse_sweep

__all__ = ["DESIGNS", "SweepRun", "SweepSpec", "draw_values", "parse_sweep",
           "run_sweep", "sigma_scales", "stroud3"]
