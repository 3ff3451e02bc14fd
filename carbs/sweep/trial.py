"""A trial as the sweep process tracks it between its suggestion and its record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Trial"]


@dataclass
class Trial:
    """A trial as the sweep process tracks it between suggestion and record."""

    trial_id: str
    config: dict[str, Any]
    job_num: int = -1
    attempt: int = 0  # launches so far
    predicted_cost: float = 0.0
    launched: float = field(default_factory=time.time)
    adopted: bool = False  # running on a worker of a dead sweep; waited for, not relaunched
