"""Hydra plugin shim for the CARBS sweeper (``hydra/sweeper: carbs``); the code is in
:mod:`carbs.sweep.sweeper`."""
