"""The resumable benchmarks' JSON-lines store: a torn last line loses nothing but itself."""

from __future__ import annotations

from pathlib import Path

from benchmarks.jsonl import append_jsonl, read_jsonl


def test_a_torn_last_line_is_skipped_and_the_next_record_kept(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    assert read_jsonl(path) == []
    append_jsonl(path, [{"seed": 0}])
    with path.open("a") as f:
        f.write('{"seed": 1, "gap"')  # killed mid-write
    append_jsonl(path, [{"seed": 1}, {"seed": 2}])
    assert read_jsonl(path) == [{"seed": 0}, {"seed": 1}, {"seed": 2}]
