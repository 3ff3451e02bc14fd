"""The JSON-lines stores of the resumable benchmarks (one finished run per line).

A benchmark killed mid-write leaves a torn last line: reading skips it, and the next append
starts on a line of its own, so the torn text never swallows a good record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["append_jsonl", "read_jsonl"]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records in ``path`` (none when it does not exist; lines that are not JSON, such as a
    torn last line, are skipped)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def append_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append ``records`` to ``path``, one per line, flushed before returning."""
    text = "".join(json.dumps(r) + "\n" for r in records)
    with path.open("a+b") as f:
        if f.tell() > 0:
            f.seek(-1, 2)
            if f.read(1) != b"\n":  # a torn last line: start on a new one
                text = "\n" + text
        f.write(text.encode())
        f.flush()
