"""Hostile input to the LM recipe: ``lm.train()`` never raises, its failed result names
the field / file and the fix; the CLI exits non-zero for a failed single run (after printing
the result) but hands a sweep the failed result; a damaged checkpoint is skipped, saying so."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import open_dict

from recipes import lm

# Composer loads (~6 s) only in the xdist worker that runs the in-process training tests
pytestmark = pytest.mark.xdist_group("composer")

ROOT = Path(__file__).resolve().parents[3]


def test_missing_data_path_is_a_failed_result(tiny_cfg, tmp_path, failed):
    missing = str(tmp_path / "nowhere" / "*.txt")
    failed(lm.train(tiny_cfg(data={"name": "text_files", "paths": [missing]})),
            "FileNotFoundError", "data.paths", missing)


def test_missing_tokenizer_is_a_failed_result(tiny_cfg, tmp_path, failed):
    missing = str(tmp_path / "tok.model")
    failed(lm.train(tiny_cfg(data={"tokenizer": missing})), "data.tokenizer", missing,
            "leave data.tokenizer null")


def test_empty_corpus_names_the_files_not_val_fraction(tiny_cfg, tmp_path, failed):
    (tmp_path / "a.txt").write_text("\n\n   \n")
    error = failed(lm.train(tiny_cfg(data={"name": "text_files",
                                         "paths": [str(tmp_path / "*.txt")]})),
                    "data.paths", "corpus is empty", "a.txt")
    assert "val_fraction" not in error


def test_broken_jsonl_line_names_file_and_line(tiny_cfg, tmp_path, failed):
    (tmp_path / "d.jsonl").write_text('{"text": "in the beginning"}\n{"text": "and the\n')
    failed(lm.train(tiny_cfg(data={"name": "text_files", "paths": [str(tmp_path / "d.jsonl")]})),
            "data.paths", "d.jsonl:2", "not a JSON record")


def test_binary_text_file_names_the_file(tiny_cfg, tmp_path, failed):
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe\x00" * 100)
    failed(lm.train(tiny_cfg(data={"name": "text_files", "paths": [str(tmp_path / "b.txt")]})),
            "data.paths", "b.txt", "not UTF-8")


@pytest.mark.parametrize(("section", "values", "field"), [
    ("model", {"d_model": 100, "n_heads": 3}, "model.n_heads"),
    ("train", {"lr": -1.0}, "train.lr"),
    ("train", {"bogus": 1}, "bogus"),
    ("model", {"d_model": "wide"}, "model.d_model"),
])
def test_bad_config_is_a_failed_result_naming_the_field(tiny_cfg, section, values, field,
                                                        failed):
    failed(lm.train(tiny_cfg(**{section: values})), field)


@pytest.mark.parametrize("damage", ["truncate", "drop_last_record"])
def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(tiny_cfg, tmp_path, caplog,
                                                                  damage, damage_checkpoint):
    ckpt = tmp_path / "ckpt"
    run = {"tokens": 64 * 16 * 12, "save_folder": str(ckpt), "save_interval": "4ba",
           "autoresume": True, "run_name": "r"}
    first = lm.train(tiny_cfg(train={**run, "stop_after_batches": 8}))
    assert first["status"] == "ok" and first["metric.steps"] == 8
    latest = ckpt / "ep0-ba8-rank0.pt"
    assert (ckpt / "latest-rank0.pt").resolve() == latest
    damage_checkpoint[damage](latest)
    with caplog.at_level(logging.WARNING, logger="recipes.lm.training"):
        resumed = lm.train(tiny_cfg(train=run))
    assert resumed["status"] == "ok", resumed
    assert resumed["metric.resumed_from_step"] == 4 and resumed["metric.steps"] == 12
    line = next(m for m in caplog.messages if str(latest) in m)
    assert str(ckpt / "ep0-ba4-rank0.pt") in line and "previous intact checkpoint" in line
    assert (ckpt / "ep0-ba8-rank0.pt.corrupt").exists()
    assert (ckpt / "latest-rank0.pt").resolve() == ckpt / "ep0-ba12-rank0.pt"


def _cli(args: list[str], cache: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TAYS_CACHE": cache, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "recipes.lm", *args, "logger=none"], cwd=ROOT,
                          env=env, text=True, capture_output=True, timeout=300, check=False)


def test_cli_failed_run_prints_its_result_then_exits_non_zero(lm_cache, tmp_path):
    # any failed result takes the same exit path; a config error reaches it without loading
    # Composer, which keeps this test fast (lm.train()'s own failures are tested above)
    proc = _cli(["model.d_model=100", "model.n_heads=3", f"hydra.run.dir={tmp_path}"], lm_cache,
                tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    result = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    assert result["status"] == "failed" and result["cost"] == 0.0
    assert result["output"] is None  # NaN printed as JSON null
    assert "error: ValueError: model.n_heads: d_model=100 is not divisible" in proc.stderr


@pytest.mark.parametrize(("override", "field"), [("+foo=1", "foo"),
                                                 ("+model.foo=1", "model.foo")])
def test_cli_a_key_added_with_plus_is_an_error_naming_it(lm_cache, tmp_path, override, field):
    """``+key=value`` gets past Hydra's schema check; training must not ignore it."""
    proc = _cli([override, f"hydra.run.dir={tmp_path}"], lm_cache, tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"error: ValueError: {field}: unknown" in proc.stderr


def test_multirun_job_returns_its_failed_result(lm_cache):
    """In a sweep (Hydra's MULTIRUN mode) the task function hands the failed result back."""
    from recipes.lm.__main__ import main

    overrides = ["model.d_model=100", "model.n_heads=3", "logger=none"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        full = compose(config_name="lm", overrides=overrides, return_hydra_config=True)
        job = compose(config_name="lm", overrides=overrides)
    with open_dict(full):
        full.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(full)
    try:
        result = main.__wrapped__(job)  # the task function hydra.main wraps
    finally:
        HydraConfig.instance().cfg = None
    assert result["status"] == "failed" and "model.n_heads" in result["error"]


def test_task_function_exposes_its_result_keys():
    from recipes.lm import __main__ as cli

    assert cli.main.__wrapped__ is cli._task  # what hydra.main hands a sweeper
    assert {"output", "cost", "metric.flops", "metric.tokens", "metric.resumed_from_step"} <= set(
        cli._task.result_keys)
    assert cli.main.result_keys == cli._task.result_keys
