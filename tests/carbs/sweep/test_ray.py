"""An async CARBS sweep through Hydra's Ray launcher (``hydra/launcher=ray``) on a real Ray
cluster of two nodes started on this machine (``ray start --head`` and ``ray start
--address=...``, one CPU each, on the loopback address), torn down afterwards."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from carbs.sweep.journal import load_trials

RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_node(args, env, temp):
    """``ray start ... --block`` in a process group of its own (so the node's processes end
    with it); returns once the node runs."""
    log = open(Path(temp) / f"start-{len(os.listdir(temp))}.log", "w+")  # noqa: SIM115
    p = subprocess.Popen([RAY, "start", "--block", "--num-cpus=1", "--disable-usage-stats",
                          "--node-ip-address=127.0.0.1", "--object-store-memory=78643200",
                          "--memory=400000000", f"--dashboard-agent-listen-port={_free_port()}",
                          f"--metrics-export-port={_free_port()}",
                          f"--runtime-env-agent-port={_free_port()}", *args],
                         env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        log.seek(0)
        text = log.read()
        if "Ray runtime started" in text:
            return p
        if p.poll() is not None:
            break
        time.sleep(0.2)
    _stop_node(p)
    pytest.fail(f"ray start failed:\n{text[-3000:]}")


def _stop_node(p):
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=wait)
            return


@pytest.fixture
def ray_cluster(app_env):
    """A head node and a second node, each one raylet with one CPU; yields the address."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    env = {**app_env, "RAY_USAGE_STATS_ENABLED": "0"}
    port = _free_port()
    nodes = []
    try:
        nodes.append(_start_node(["--head", f"--port={port}", "--include-dashboard=false",
                                  f"--ray-client-server-port={_free_port()}",
                                  f"--temp-dir={temp}"], env, temp))
        nodes.append(_start_node([f"--address=127.0.0.1:{port}"], env, temp))
        yield f"127.0.0.1:{port}"
    finally:
        for p in reversed(nodes):
            _stop_node(p)
        shutil.rmtree(temp, ignore_errors=True)


def test_an_async_sweep_runs_its_trials_on_both_nodes_of_a_ray_cluster(sweep, tmp_path,
                                                                       ray_cluster,
                                                                       monkeypatch, app_env):
    monkeypatch.setenv("PYTHONPATH", app_env["PYTHONPATH"])
    _, d = sweep(tmp_path, "hydra/launcher=ray", f"hydra.launcher.ray.init.address={ray_cluster}",
                 "hydra.sweeper.n_jobs=2", "hydra.sweeper.max_trials=4", "sleep=1")
    df = load_trials(d)
    assert len(df) == 4 and (df["status"] == "ok").all()
    assert df["node"].nunique() == 2  # Ray node ids: trials ran on both raylets
    for column in ("output", "cost", "worker", "job_dir", "finished_at", "metric.job_seconds"):
        assert df[column].notna().all(), column
    assert set(df["job_num"]) == {0, 1, 2, 3} and (df["attempt"] == 1).all()
