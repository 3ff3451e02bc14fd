"""The rule of every JSON file and line the project writes: standard JSON (RFC 8259).

Mappings get string keys, tuples and numpy arrays become lists, numpy scalars Python numbers,
and non-finite floats (NaN, inf) ``null``: a failed trial's NaN output, a CPU run's NaN MFU.
Readers turn ``null`` back into NaN where a number is expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["jsonable"]


def jsonable(x: Any) -> Any:
    """``x`` as standard JSON values: recursively, numpy scalars and arrays as Python values and
    non-finite floats as ``None``."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
