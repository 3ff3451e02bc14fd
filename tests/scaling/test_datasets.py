"""scaling.datasets: Epoch AI's Chinchilla table ships inside the package."""

import fnmatch
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import scaling
from scaling.datasets import chinchilla_epoch, chinchilla_epoch_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the tomli backport (a dev dependency there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
EPOCH_COLUMNS = ["x", "y", "color", "Model Size", "Training FLOP", "hex_color", "loss"]


def test_raw_file_is_epochs_csv_inside_the_package():
    path = chinchilla_epoch_path()
    assert path.is_file() and path.parent.parent == Path(scaling.__file__).parent
    raw = pd.read_csv(path)
    assert list(raw.columns) == EPOCH_COLUMNS and len(raw) == 245
    assert (raw["Model Size"] > 0).all() and (raw["Training FLOP"] > 0).all()


def test_table_is_in_the_trial_contract():
    table, raw = chinchilla_epoch(), pd.read_csv(chinchilla_epoch_path())
    assert len(table) == 245 and set(table["status"]) == {"ok"}
    assert table.attrs["format"] == "epoch"
    np.testing.assert_allclose(table["output"], raw["loss"])
    np.testing.assert_allclose(table["cost"], raw["Training FLOP"])
    np.testing.assert_allclose(table["metric.flops"], raw["Training FLOP"])
    np.testing.assert_allclose(table["metric.params"], raw["Model Size"])
    np.testing.assert_allclose(table["metric.tokens"], raw["Training FLOP"] / (6 * raw["Model Size"]))
    assert scaling.chinchilla_epoch_path() == chinchilla_epoch_path()


def test_package_data_ships_every_data_file():
    """pyproject's package-data globs cover scaling/data/*, so wheels and installs carry it."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["scaling"]
    files = [p.relative_to(ROOT / "scaling").as_posix() for p in (ROOT / "scaling" / "data").iterdir()]
    assert "data/chinchilla_figure4_epoch.csv" in files and "data/README.md" in files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
