"""Suite-wide settings: pin torch threads (oversubscription ran 30-70x slower on 2-core machines);
each test leaves the existing loggers as it found them."""
import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config) -> None:
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return  # pytest-xdist's controller runs no test: it need not load torch (~3 s of CPU)
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _logging_restored():
    """Each test leaves the loggers that existed before it as it found them (level, disabled,
    propagate): a CLI's main() called in-process (e.g. one that quietens the ``carbs`` package)
    otherwise changes what later tests in the same worker log, and tests depend on their order.
    Loggers created during the test keep what their library gave them."""
    import logging

    loggers = [lg for lg in logging.Logger.manager.loggerDict.values()
               if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled, lg.propagate) for lg in loggers]
    yield
    for lg, level, disabled, propagate in saved:
        if lg.level != level:
            lg.setLevel(level)
        lg.disabled, lg.propagate = disabled, propagate
