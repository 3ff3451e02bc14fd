"""Data shipped with :mod:`scaling` (package data in ``scaling/data/``; provenance in its README).

* :func:`chinchilla_epoch`: the 245 training runs of Chinchilla (Hoffmann et al. 2022, Figure 4)
  reconstructed by Epoch AI (Besiroglu et al. 2024), as a trial table in the project's contract.
* :func:`chinchilla_epoch_path`: the same data as Epoch's CSV file, unchanged (columns ``x``,
  ``y``, ``color``, ``Model Size``, ``Training FLOP``, ``hex_color``, ``loss``), e.g. for
  ``python -m scaling report "$(python -c 'import scaling; print(scaling.chinchilla_epoch_path())')"``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scaling.io import load_table

__all__ = ["chinchilla_epoch", "chinchilla_epoch_path"]

DATA_DIR = Path(__file__).resolve().with_name("data")


def chinchilla_epoch_path() -> Path:
    """Path of Epoch AI's ``svg_extracted_data.csv``, shipped as ``chinchilla_figure4_epoch.csv``.

    Read it with ``pandas.read_csv`` for Epoch's own columns (N = ``Model Size``, C =
    ``Training FLOP``, ``loss``), or pass it to :func:`scaling.load_table` / ``python -m scaling
    report``, which convert it as :func:`chinchilla_epoch` does.
    """
    return DATA_DIR / "chinchilla_figure4_epoch.csv"


def chinchilla_epoch() -> pd.DataFrame:
    """Epoch AI's Chinchilla runs as a trial table (see :func:`scaling.io.from_epoch`).

    One ``ok`` row per run: ``output`` = loss, ``cost`` = ``metric.flops`` = C (training FLOPs),
    ``metric.params`` = N, ``metric.tokens`` = C / (6 N); ``attrs["format"] == "epoch"``.
    """
    return load_table(chinchilla_epoch_path(), format="epoch")
