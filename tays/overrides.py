"""A value as a Hydra command-line override, ``path=value``: how a sweep launches each trial and
how a recommendation writes its ready command."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = ["format_override"]

_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
# words Hydra's override grammar reads as something other than a string
_KEYWORDS = ("true", "false", "null", "inf", "nan")


def format_override(path: str, value: Any, digits: int | None = None) -> str:
    """``path=value`` as a Hydra override that parses back to ``value``'s type.

    Floats are written exactly (``repr``) by default, or with ``digits`` significant digits for
    a command a person reads (a whole float keeps its ``.0``, so Hydra still reads a float).
    Strings are quoted when Hydra would otherwise read them as another type or split them.
    Raises ``ValueError`` for a non-finite float and ``TypeError`` for a value that is not a
    bool, int, float or str.
    """
    if isinstance(value, (bool, np.bool_)):
        text = "true" if value else "false"
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{path}: cannot pass a non-finite value {value!r} as an override")
        if digits is None:
            text = repr(value)
        else:
            text = f"{value:.{digits}g}"
            if re.fullmatch(r"-?\d+", text):
                text += ".0"
    elif isinstance(value, str):
        text = value
        if not _BARE.match(text) or text.lower() in _KEYWORDS:
            text = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    else:
        raise TypeError(f"{path}: cannot format {value!r} ({type(value).__name__}) as an override")
    return f"{path}={text}"
