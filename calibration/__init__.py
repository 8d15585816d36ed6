"""Datasets: reading and checking them, balancing them, and computing the benchmark shares."""

from calibration.calibrate import Benchmark, calibrate
from calibration.io import Dataset, DatasetError, load_dataset, make_dataset

__all__ = ["Benchmark", "Dataset", "DatasetError", "calibrate", "load_dataset", "make_dataset"]
