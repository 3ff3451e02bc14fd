"""Bad input to a sweep, as a hostile user gives it: each answer is one line naming the file or
field, what is wrong and the fix, and nothing is lost."""

import os
import shutil
import subprocess

import pytest

from carbs.sweep.journal import JOURNAL_FILE, load_trials


@pytest.mark.parametrize("mode, named", [
    ("cost_inf", "the task returned inf"),
    ("cost_str", "the task returned '9.13' (a str; return a number)"),
])
def test_a_bad_cost_is_named_as_the_task_returned_it(sweep, tmp_path, mode, named):
    _, d = sweep(tmp_path, "hydra.sweeper.max_trials=1", f"mode={mode}")
    (error,) = load_trials(d)["error"]
    assert error == f"cost 'cost' must be a finite number > 0; {named}"


def test_costs_whose_sum_overflows_stop_the_sweep_naming_the_cause(sweep, tmp_path):
    proc, d = sweep(tmp_path, "hydra.sweeper.max_trials=4", "mode=huge_cost", check=False)
    assert proc.returncode != 0
    (line,) = [ln for ln in proc.stderr.splitlines() if "overflows" in ln]
    assert "hydra.sweeper.cost: the sweep's total cost overflows: 1e+308 + 1e+308" in line
    assert "report the cost in larger units" in line
    df = load_trials(d)
    assert len(df) == 2 and df["cost"].sum() == 1e308  # the total stays finite
    assert df["status"].tolist() == ["ok", "failed"]


@pytest.mark.parametrize("overrides, message", [
    (["+hydra.sweeper.search_space.mode={space:linear,center:1,min:0,max:2}"],
     ("hydra.sweeper.search_space.mode: 'mode' is a string in the config ('normal'), which a "
      "numeric space cannot produce; use space: categorical")),
    (["+bad=int_scale"],
     "hydra.sweeper.search_space.size.scale: integer scale 0.001 is too small"),
    (["hydra.sweeper.direction=down"], "hydra.sweeper.direction"),
    (["hydra.sweeper.max_trial_cost_fraction=0.1"],
     "max_trial_cost_fraction needs hydra.sweeper.max_cost"),
])
def test_bad_settings_are_refused_before_the_first_trial(sweep, tmp_path, overrides, message):
    proc, d = sweep(tmp_path, *overrides, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]
    assert not (d / JOURNAL_FILE).exists()


@pytest.fixture(scope="module")
def finished_sweep(sweep, tmp_path_factory):
    """A finished one-trial sweep to damage (a copy per test)."""
    tmp = tmp_path_factory.mktemp("finished")
    _, d = sweep(tmp, "hydra.sweeper.max_trials=1")
    return d


@pytest.mark.xdist_group("sweep_finished")  # one worker builds finished_sweep
@pytest.mark.parametrize("damage", ["scrambled", "truncated", "empty"])
def test_resume_on_a_damaged_journal_says_which_file_and_the_fix(sweep, tmp_path, damage,
                                                                 finished_sweep):
    d = tmp_path / "sweep"
    shutil.copytree(finished_sweep, d)
    journal = d / JOURNAL_FILE
    data = journal.read_bytes()
    if damage == "scrambled":
        journal.write_bytes(data[:100] + bytes(reversed(data[100:4196])) + data[4196:])
    elif damage == "truncated":
        journal.write_bytes(data[:1500])
    else:
        journal.write_bytes(b"")
    proc, _ = sweep(tmp_path, "hydra.sweeper.max_trials=2", sweep_dir=d, check=False)
    assert proc.returncode != 0
    (line,) = [ln for ln in proc.stderr.splitlines() if "cannot resume" in ln]
    assert f"hydra.sweep.dir={d}: cannot resume from {journal}" in line
    assert f"move it aside (mv {journal} {journal}.bad)" in line
    assert "Traceback" not in proc.stderr


def _read_only(paths, on):
    """Make ``paths`` read-only (or writable again): by permissions, and for root, whom
    permissions do not stop, by the immutable attribute (``chattr +i``)."""
    for path in paths:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)
        else:
            path.chmod((0o555 if path.is_dir() else 0o444) if on else
                       (0o755 if path.is_dir() else 0o644))


@pytest.mark.xdist_group("sweep_finished")
def test_resume_in_a_read_only_directory_names_the_file_and_the_fix(sweep, tmp_path,
                                                                    finished_sweep):
    d = tmp_path / "sweep"
    shutil.copytree(finished_sweep, d)
    paths = [d, *d.rglob("*")]
    _read_only(paths, True)
    try:
        proc, _ = sweep(tmp_path, "hydra.sweeper.max_trials=2", sweep_dir=d, check=False)
    finally:
        _read_only(paths, False)
    assert proc.returncode != 0
    (line,) = [ln for ln in proc.stderr.splitlines() if "cannot write" in ln]
    assert f"hydra.sweep.dir={d}: cannot write {d / '.carbs' / 'lock'} (" in line
    assert "make it writable, or copy it" in line
    assert "Traceback" not in proc.stderr
    assert len(load_trials(d)) == 1
