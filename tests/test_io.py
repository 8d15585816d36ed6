"""Dataset loading: the example loads; each kind of broken dataset is refused with a message
naming the file, the row and the numbers."""

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.io import DatasetError, load_dataset
from tests.conftest import EXAMPLE


def test_example_dataset_loads_and_balances():
    ds = load_dataset(EXAMPLE)
    assert ds.regions == ("HOME", "FOREIGN")
    assert ds.sectors == ("agriculture", "manufacturing", "autos", "services")
    assert ds.flows.shape == (2, 2, 4) and ds.intermediates.shape == (2, 4, 4)
    bm = calibrate(ds)
    np.testing.assert_allclose(bm.beta + bm.gamma.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(bm.pi0.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(bm.alpha.sum(axis=1), 1.0, rtol=1e-14)
    # income = value added + tariff revenue + deficit = total final demand (docs/model.md)
    np.testing.assert_allclose(bm.I0, bm.F0.sum(axis=1), rtol=1e-13)
    assert bm.D0[0] < 0 < bm.D0[1]  # HOME runs a surplus in the example
    assert abs(bm.D0.sum()) < 1e-9
    assert (bm.t0 > 0).any()
    assert ds.files_hash and len(ds.files_hash) == 64


def edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


BROKEN = [
    # (file, old text, new text, words the message must contain)
    ("flows.csv", "HOME,HOME,agriculture,58.000", "HOME,HOME,agriculture,-58.000",
     ["flows.csv", "line 2", "negative"]),
    ("flows.csv", "HOME,HOME,agriculture,58.000", "HOME,HOME,agriculture,nan",
     ["flows.csv", "line 2", "not finite"]),
    ("flows.csv", "HOME,HOME,agriculture,58.000", "HOME,HOME,agriculture,abc",
     ["flows.csv", "line 2", "not a number"]),
    ("flows.csv", "HOME,HOME,agriculture,58.000", "HOME,MARS,agriculture,58.000",
     ["flows.csv", "line 2", "unknown region 'MARS'", "HOME, FOREIGN"]),
    ("flows.csv", "HOME,HOME,agriculture,58.000", "HOME,HOME,mining,58.000",
     ["flows.csv", "line 2", "unknown sector 'mining'"]),
    ("flows.csv", "HOME,FOREIGN,agriculture,2.000", "HOME,HOME,agriculture,2.000",
     ["flows.csv", "line 3", "duplicate", "line 2"]),
    ("flows.csv", "HOME,HOME,agriculture,58.000", "HOME,HOME,agriculture,59.000",
     ["accounts do not balance", "HOME/agriculture", "61", "60"]),
    ("flows.csv", "exporter,importer", "origin,importer", ["flows.csv", "missing column", "exporter"]),
    ("value_added.csv", "HOME,services,", "HOME,services_x,", ["value_added.csv", "missing",
                                                              "HOME/services"]),
    ("tariffs.csv", "0.05", "-1.5", ["tariffs.csv", "line 2", "above -1"]),
    ("elasticities.csv", "autos,2.8", "autos,0.9", ["elasticities.csv", "sigma 0.9", "above 1"]),
    ("elasticities.csv", "autos,2.8\n", "", ["elasticities.csv", "no elasticity", "autos"]),
    ("dataset.toml", 'name = "example"', 'name = "example', ["dataset.toml", "not valid TOML"]),
    ("dataset.toml", 'year = 2024', 'yr = 2024', ["dataset.toml", "missing key", "year"]),
]


@pytest.mark.parametrize("name,old,new,words", BROKEN, ids=[f"{b[0]}:{b[3][-1]}" for b in BROKEN])
def test_broken_dataset_is_refused_with_a_precise_message(example_copy, name, old, new, words):
    edit(example_copy / name, old, new)
    with pytest.raises(DatasetError) as info:
        load_dataset(example_copy)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_negative_final_demand_is_refused_naming_the_cell(example_copy):
    # HOME sells most of its autos abroad: output is unchanged, but what HOME absorbs
    # (100 + 25 x 1.025 = 125.625) falls below what its industries use as inputs
    # (0.01 x 900 + 0.20 x 300 + 0.02 x 4200 = 153)
    edit(example_copy / "flows.csv", "HOME,HOME,autos,230.000", "HOME,HOME,autos,100.000")
    edit(example_copy / "flows.csv", "HOME,FOREIGN,autos,70.000", "HOME,FOREIGN,autos,200.000")
    with pytest.raises(DatasetError) as info:
        load_dataset(example_copy)
    message = str(info.value)
    assert "final demand for autos in HOME is negative" in message
    assert "125.625" in message and "153" in message


def test_missing_folder_and_file(tmp_path, example_copy):
    with pytest.raises(DatasetError, match="dataset folder not found"):
        load_dataset(tmp_path / "nowhere")
    (example_copy / "flows.csv").unlink()
    with pytest.raises(DatasetError, match=r"flows\.csv: required file is missing"):
        load_dataset(example_copy)


def test_alternative_elasticity_file(example_copy):
    (example_copy / "elasticities_alt.csv").write_text(
        "sector,sigma,sigma_m\nagriculture,2,4\nmanufacturing,3,6\nautos,4,8\nservices,5,10\n")
    ds = load_dataset(example_copy, elasticities="elasticities_alt.csv")
    np.testing.assert_array_equal(ds.sigma, [2, 3, 4, 5])
    np.testing.assert_array_equal(ds.sigma_m, [4, 6, 8, 10])
    assert ds.files_hash != load_dataset(example_copy).files_hash


def test_a_spreadsheet_byte_order_mark_is_read(example_copy):
    path = example_copy / "flows.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_dataset(example_copy).flows.sum() == load_dataset(EXAMPLE).flows.sum()
