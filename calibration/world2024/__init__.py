"""The 2024 datasets of the US–Japan study, built from the sourced figures of ``data/sources``:
the five-region world (JPN, USA, CHN, EU, ROW) and, derived from it, the three-region
(JPN, USA, ROW) and two-region (JPN, USA) datasets.  ``python -m calibration.world2024``
rebuilds them; ``--check`` fails if a committed file is out of date and prints each region's
totals beside the cited figures and the US tariff regimes beside the Yale tracker's rates."""
