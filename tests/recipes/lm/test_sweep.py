"""``python -m benchmarks.gpu_check --dry-run``: every section of the GPU check at tiny sizes on
the CPU, printing the JSON object the GPU run prints (last line), in two tests that run side by
side: the in-process sections (beside the other tests that load Composer), and the sections that
start processes: the recipe's command line through Composer's launcher, and a real CARBS sweep of
the LM recipe through Hydra (the sweeper, the journal, Composer), the test sweep ``lm_smoke``
(``sweep_conf/``, given with ``--config-dir``), whose journal ``scaling`` reads. Then the check's
time budgets: a section past its budget is stopped and the JSON line still printed; a process
past its budget is stopped with its children."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import scaling
from benchmarks import gpu_check, suggest_latency  # noqa: F401  (imported before any timer)
from carbs import load_trials

HERE = Path(__file__).resolve().parent
IN_PROCESS = ["lm", "lm_memory", "attention", "ppo", "suggest"]
PROCESSES = ["lm_ranks", "lm_sweep"]


def _dry_run(tmp_path, capsys, sections: list[str], *args: str) -> dict:
    rc = gpu_check.main(["--dry-run", "--out", str(tmp_path / "out"), "--sections",
                         ",".join(sections), *args])
    out, err = capsys.readouterr()
    assert rc == 0, err[-4000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["benchmark"] == "gpu_check" and result["dry_run"] is True
    assert result["device"] == "cpu" and result["time_budget_s"] == 540
    assert list(result["sections"]) == sections
    for name, sec in result["sections"].items():
        assert "error" not in sec and not sec.get("timed_out"), (name, sec)
        assert 0 <= sec["section_seconds"] <= sec["budget_s"]
    return result["sections"]


def test_sections_cover_the_check():
    assert IN_PROCESS + PROCESSES == list(gpu_check.SECTIONS)


@pytest.mark.xdist_group("composer")  # loads Composer: beside the in-process training tests
def test_gpu_check_dry_run_in_process_sections(tmp_path, capsys):
    sections = _dry_run(tmp_path, capsys, IN_PROCESS)
    lm = sections["lm"]
    for arm in ("composer", "plain", "composer_eager"):
        assert lm[arm]["tokens_per_s"] > 0, arm
    assert lm["mfu"] is None and lm["target_mfu"] == 0.40  # no peak FLOP/s on a CPU
    assert lm["compile_speedup"] > 0
    memory = sections["lm_memory"]  # a CPU run: the whole batch at once, for both passes
    assert memory["microbatch_size"] == memory["eval_microbatch_size"] == 16 and memory["fits"]
    shapes = sections["attention"]["shapes"]
    assert [s["predicted_flash"] for s in shapes.values()] == [True, False, False]
    assert sections["attention"]["config_check_agrees"] is None  # no flash kernel on a CPU
    ppo = sections["ppo"]
    assert ppo["steps_per_s"] > 0 and ppo["game"] == "coinrun"
    assert ppo["restored_state_replays_actions"] is True
    sug = sections["suggest"]
    assert sug["gpu"]["warm_s"] > 0 and sug["cpu"]["cold_s"] > 0
    assert sug["default_device"] == "cpu" and sug["default_is_faster"] is True


def test_gpu_check_dry_run_processes_and_an_lm_sweep_whose_journal_scaling_reads(
        lm_cache, tmp_path, monkeypatch, capsys):
    for var, value in {"TAYS_CACHE": lm_cache, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                       "HF_DATASETS_OFFLINE": "1"}.items():  # the processes inherit them
        monkeypatch.setenv(var, value)
    sections = _dry_run(tmp_path, capsys, PROCESSES, "--sweep", "lm_smoke",
                        "--sweep-config-dir", str(HERE / "sweep_conf"), "--sweep-trials", "2")
    ranks = sections["lm_ranks"]  # the launcher path, one CPU process
    assert ranks["returncode"] == 0 and ranks["status"] == "ok" and ranks["world_size"] == 1

    sweep = sections["lm_sweep"]
    assert sweep["returncode"] == 0 and not sweep["timed_out"]
    assert sweep["trials"] == 2 and sweep["ok"] == 2
    assert "--config-dir" in sweep["command"] and "+sweep=lm_smoke" in sweep["command"]
    table = pd.read_csv(sweep["table"])
    assert {"gpu", "metric.mfu", "metric.mfu_steady", "metric.flops", "output",
            "cost"} <= set(table.columns)
    assert (table["gpu"] == "cpu").all()
    df = load_trials(sweep["journal"])  # the sweep's journal, as the GPU check ships it
    assert len(df) == 2 and (df["status"] == "ok").all()
    assert (df["cost"] == df["metric.flops"]).all() and (df["output"] > 0).all()
    assert {"param.train.lr", "param.train.tokens", "param.model.n_layers", "metric.params",
            "metric.tokens", "metric.wall_seconds", "metric.tokens_per_second_steady",
            "metric.microbatch_size"} <= set(df.columns)
    # every trial trained what CARBS asked for
    assert (df["metric.tokens"] >= df["param.train.tokens"]).all()
    table = scaling.load_table(sweep["journal"])
    assert len(table) == 2 and "metric.params" in table


def test_a_section_past_its_budget_is_stopped_and_the_json_line_still_printed(tmp_path,
                                                                              capsys):
    rc = gpu_check.main(["--dry-run", "--out", str(tmp_path), "--sections", "suggest,attention",
                         "--time-budget-s", "0.3"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and list(result["sections"]) == ["suggest", "attention"]
    suggest = result["sections"]["suggest"]
    assert suggest["timed_out"] and suggest["budget_s"] == pytest.approx(0.2)
    assert "SectionTimeout" in suggest["error"]
    assert json.loads((tmp_path / "result.json").read_text()) == result


def test_a_process_past_its_budget_is_stopped_with_its_children(tmp_path):
    """A sweep or the launcher is stopped with every process it started (its process group)."""
    child = tmp_path / "child.pid"
    code = ("import subprocess, sys, time; p = subprocess.Popen(['sleep', '60']); "
            f"open({str(child)!r}, 'w').write(str(p.pid)); print('started', flush=True); "
            "time.sleep(60)")
    started = time.perf_counter()
    rc, tail, timed_out = gpu_check._run_process([sys.executable, "-c", code], 2.0,
                                                 tmp_path / "log")
    assert timed_out and rc is not None and "started" in tail
    assert time.perf_counter() - started < 20
    stat = Path(f"/proc/{int(child.read_text())}/stat")
    time.sleep(0.2)
    # the grandchild went with it (gone, or a zombie where PID 1 does not reap orphans)
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
