"""Execute the notebooks headless (nbclient) and write their figures; outputs are not saved.

    python notebooks/run.py                       # all seven, figures into notebooks/figures/
    python notebooks/run.py pareto_front procgen  # some of them
    python notebooks/run.py --figures /tmp/figs   # figures elsewhere (the tests do this)

Each notebook runs in ``notebooks/`` (so ``data/`` and ``figures/`` resolve there) in a kernel
whose BLAS/OpenMP/torch threads are pinned to one (``OMP_NUM_THREADS=1``: oversubscribed threads
ran 30-70x slower on small shared machines). The ``.ipynb`` files stay without outputs; a cell
error stops that notebook and the script exits with status 1 after trying the others.
Environment read by the notebooks: ``NOTEBOOK_DATA`` (tables, default ``data``),
``NOTEBOOK_FIGURES`` (PNG and JSON output, default ``figures``), ``NOTEBOOK_BOOTSTRAP``
(bootstrap resamples, default per notebook).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ("pareto_front", "hyperparameter_scaling", "chinchilla_comparison",
             "extrapolation_check", "chinchilla_replication", "procgen", "tuner_comparison")
logger = logging.getLogger("notebooks")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def kernel_env(figures: Path | None = None, data: Path | None = None,
               bootstrap: int | None = None) -> dict[str, str]:
    """The environment of the notebook kernel: threads pinned to 1, headless matplotlib."""
    env = dict(os.environ)
    env.update({v: "1" for v in THREAD_VARS})
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    if figures is not None:
        env["NOTEBOOK_FIGURES"] = str(Path(figures).resolve())
    if data is not None:
        env["NOTEBOOK_DATA"] = str(Path(data).resolve())
    if bootstrap is not None:
        env["NOTEBOOK_BOOTSTRAP"] = str(bootstrap)
    # the repository root first, so the kernel imports this checkout's packages
    root = str(HERE.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def execute(name: str, figures: Path | None = None, data: Path | None = None,
            bootstrap: int | None = None, timeout: int = 600,
            km: KernelManager | None = None) -> tuple[nbformat.NotebookNode, float]:
    """Run ``notebooks/<name>.ipynb`` top to bottom; returns the executed notebook (in memory
    only) and its wall time. Raises ``nbclient.exceptions.CellExecutionError`` on a cell error.

    ``km``: a kernel shared with other notebooks (see :func:`execute_many`); the notebook then
    starts with ``%reset -f``, so it sees none of the previous notebook's names."""
    nb = nbformat.read(HERE / f"{name}.ipynb", as_version=4)
    if km is not None:
        nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f\nimport matplotlib.pyplot as plt\n"
                                                     "plt.close('all')\ndel plt"))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", km=km,
                            resources={"metadata": {"path": str(HERE)}})
    start = time.perf_counter()
    client.execute(env=kernel_env(figures, data, bootstrap))
    return nb, time.perf_counter() - start


def execute_many(names: list[str], figures: Path | None = None, bootstrap: int | None = None,
                 timeout: int = 600, shared_kernel: bool = False) -> dict[str, tuple[str | None,
                                                                                    float]]:
    """Run several notebooks; returns ``{name: (error or None, seconds)}`` after trying all.

    ``shared_kernel``: run them one after another in one kernel (each starts with ``%reset -f``)
    instead of one fresh kernel each; the test suite does this to pay the kernel's start-up and
    imports once."""
    km = KernelManager(kernel_name="python3") if shared_kernel else None
    out: dict[str, tuple[str | None, float]] = {}
    try:
        for name in names:
            start = time.perf_counter()
            try:
                _, seconds = execute(name, figures, None, bootstrap, timeout, km=km)
                out[name] = (None, seconds)
            except Exception as err:  # noqa: BLE001  (report every notebook)
                out[name] = (f"{type(err).__name__}: {str(err)[-4000:]}",
                             time.perf_counter() - start)
    finally:
        if km is not None and km.has_kernel:
            km.shutdown_kernel(now=True)
    return out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", default=list(NOTEBOOKS),
                    help=f"notebooks to run (default: all: {', '.join(NOTEBOOKS)})")
    ap.add_argument("--figures", type=Path, default=None,
                    help="where the PNG/JSON outputs go (default notebooks/figures)")
    ap.add_argument("--bootstrap", type=int, default=None,
                    help="bootstrap resamples (default: each notebook's own)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    ap.add_argument("--shared-kernel", action="store_true",
                    help="one kernel for all (each notebook starts with %%reset -f); faster")
    args = ap.parse_args(argv)
    runs = execute_many([Path(n).stem for n in args.names], args.figures, args.bootstrap,
                        args.timeout, shared_kernel=args.shared_kernel)
    for name, (error, seconds) in runs.items():
        if error is None:
            logger.info("%s: ok in %.1f s", name, seconds)
        else:
            logger.error("%s: FAILED after %.1f s: %s", name, seconds, error[-2000:])
    failed = [name for name, (error, _) in runs.items() if error is not None]
    where = args.figures or HERE / "figures"
    logger.info("figures in %s%s", where, f"; failed: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
