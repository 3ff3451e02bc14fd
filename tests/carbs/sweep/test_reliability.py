"""A sweep directory's contents belong to one sweep: records are matched to their trial, a
resume continues only the same experiment, and the journal alone is enough to go on."""

import json
import time

from carbs.sweep.journal import JOURNAL_FILE, Journal, load_trials


def test_a_stale_record_of_another_sweep_is_not_taken_as_a_new_trials(sweep, tmp_path):
    # an earlier sweep in this directory left its job-0 record; its journal was removed
    _, d = sweep(tmp_path, "hydra.sweeper.max_trials=1")
    old = load_trials(d)
    with Journal.open(d, read_only=True) as j:
        meta = {k: v for k, v in j.meta.items()
                if k not in ("schema_version", "created_at", "sweep_uid")}
    (d / JOURNAL_FILE).unlink()
    (d / "carbs_state.json").unlink()
    assert json.loads((d / ".carbs" / "results" / "job-0.json").read_text())["job_num"] == 0
    # a new sweep there was killed while its job 0 ran: its journal holds job 0 as running
    # (written here as the sweep writes it: the same identity, a new sweep uid)
    params = {c[len("param."):]: old[c][0] for c in old.columns if c.startswith("param.")}
    params["x"] = -1.5  # not the old trial's configuration
    with Journal.create(d / JOURNAL_FILE, meta, list(params)) as j:
        j.add_running("a1b2c3d4e5f60718", params)
        j.launch("a1b2c3d4e5f60718", 0)
    proc, _ = sweep(tmp_path, "hydra.sweeper.max_trials=1", sweep_dir=d)
    assert "job-0.json: it belongs to sweep" in proc.stdout and "a stale record" in proc.stdout
    new = load_trials(d)
    assert new["trial_id"].tolist() == ["a1b2c3d4e5f60718"]
    assert new["attempt"][0] == 2  # relaunched, not ingested from the old sweep's record
    assert new["param.x"][0] == -1.5 and new["output"][0] != old["output"][0]


def test_resume_refuses_another_experiment_in_the_same_directory(sweep, tmp_path):
    _, d = sweep(tmp_path, "hydra.sweeper.max_trials=1", "mode=normal")
    before = (d / JOURNAL_FILE).read_bytes()
    proc, _ = sweep(tmp_path, "hydra.sweeper.max_trials=2", "mode=nan", sweep_dir=d,
                    check=False)
    assert proc.returncode != 0
    line = [ln for ln in proc.stderr.splitlines() if "overrides differ" in ln]
    assert len(line) == 1, proc.stderr[-2000:]
    assert "only in the journal ['mode=normal'], only now ['mode=nan']" in line[0]
    assert (d / JOURNAL_FILE).read_bytes() == before


def test_resume_true_skips_siblings_of_another_experiment(sweep, tmp_path):
    runs = tmp_path / "multirun"
    _, same = sweep(tmp_path, "hydra.sweeper.max_trials=1", "mode=normal",
                    sweep_dir=runs / "first")
    time.sleep(0.05)
    _, other = sweep(tmp_path, "hydra.sweeper.max_trials=1", "mode=nan",
                     sweep_dir=runs / "second")  # newer, another experiment
    sweep(tmp_path, "hydra.sweeper.max_trials=2", "mode=normal", "hydra.sweeper.resume=true",
          sweep_dir=runs / "third")
    assert len(load_trials(same)) == 2 and len(load_trials(other)) == 1
    assert not (runs / "third" / JOURNAL_FILE).exists()


def test_the_journal_alone_rebuilds_the_optimiser(sweep, tmp_path):
    _, d = sweep(tmp_path, "hydra.sweeper.max_trials=2")
    state = d / "carbs_state.json"
    for damage, n in (("delete", 3), ("truncate", 4)):
        if damage == "delete":
            state.unlink()
        else:
            state.write_text(state.read_text()[:200])
        proc, _ = sweep(tmp_path, f"hydra.sweeper.max_trials={n}", sweep_dir=d)
        assert (f"rebuilding the optimiser from the journal's {n - 1} trial(s)"
                in proc.stdout + proc.stderr)
        df = load_trials(d)
        assert len(df) == n and df["trial_id"].is_unique and (df["status"] == "ok").all()
        assert len(json.loads(state.read_text())["observations"]) == n
