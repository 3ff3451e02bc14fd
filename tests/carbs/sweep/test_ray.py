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


def _spawn_node(args, env, temp):
    """``ray start ... --block`` in a process group of its own (so the node's processes end
    with it); returns the process and its log."""
    log = open(Path(temp) / f"start-{len(os.listdir(temp))}.log", "w+")  # noqa: SIM115
    p = subprocess.Popen([RAY, "start", "--block", "--num-cpus=1", "--disable-usage-stats",
                          "--node-ip-address=127.0.0.1", "--object-store-memory=78643200",
                          "--memory=400000000", f"--dashboard-agent-listen-port={_free_port()}",
                          f"--metrics-export-port={_free_port()}",
                          f"--runtime-env-agent-port={_free_port()}", *args],
                         env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return p, log


def _wait_for_node(p, log, ready=lambda: False):
    """Wait until the node runs (or ``ready()``, e.g. the head's GCS accepts connections)."""
    deadline = time.time() + 120
    while time.time() < deadline:
        log.seek(0)
        text = log.read()
        if "Ray runtime started" in text or ready():
            return
        if p.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"ray start failed:\n{text[-3000:]}")


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop_nodes(procs):
    """End the nodes' process groups with SIGKILL: a throwaway cluster (its temporary directory
    is removed), and Ray's node processes (``ray start --block``, the GCS, the raylet, the
    agents) were all still running 3 s after a SIGTERM here."""
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
    for p in procs:
        p.wait(timeout=30)


@pytest.fixture
def ray_cluster(app_env):
    """A head node and a second node, each one raylet with one CPU; yields the address."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    env = {**app_env, "RAY_USAGE_STATS_ENABLED": "0"}
    port = _free_port()
    nodes = []
    try:
        head = _spawn_node(["--head", f"--port={port}", "--include-dashboard=false",
                            f"--ray-client-server-port={_free_port()}", f"--temp-dir={temp}"],
                           env, temp)
        nodes.append(head[0])
        # the second node starts as soon as the head's GCS listens (it registers there)
        _wait_for_node(*head, ready=lambda: _listening(port))
        second = _spawn_node([f"--address=127.0.0.1:{port}"], env, temp)
        nodes.append(second[0])
        _wait_for_node(*head)
        _wait_for_node(*second)
        yield f"127.0.0.1:{port}"
    finally:
        _stop_nodes(nodes)
        shutil.rmtree(temp, ignore_errors=True)


def test_an_async_sweep_runs_its_trials_on_both_nodes_of_a_ray_cluster(sweep, tmp_path,
                                                                       ray_cluster,
                                                                       monkeypatch, app_env):
    monkeypatch.setenv("PYTHONPATH", app_env["PYTHONPATH"])
    _, d = sweep(tmp_path, "hydra/launcher=ray", f"hydra.launcher.ray.init.address={ray_cluster}",
                 "hydra.sweeper.n_jobs=2", "hydra.sweeper.max_trials=3", "sleep=1")
    df = load_trials(d)
    assert len(df) == 3 and (df["status"] == "ok").all()
    assert df["node"].nunique() == 2  # Ray node ids: trials ran on both raylets
    for column in ("output", "cost", "worker", "job_dir", "finished_at", "metric.job_seconds"):
        assert df[column].notna().all(), column
    assert set(df["job_num"]) == {0, 1, 2} and (df["attempt"] == 1).all()
