"""tune-as-you-scale's trial contract: what ``carbs``, ``scaling`` and ``recipes`` share.

A *trial* is one run of a recipe at one point of a search space; it returns an ``output`` (the
objective) and a ``cost``, and is one row of a sweep's journal and of every table ``scaling``
fits. This package holds each concept of that contract once, importable without torch or
Hydra:

- search spaces: :class:`Param` and its spaces (:class:`LinearSpace`, :class:`LogSpace`,
  :class:`LogitSpace`, :class:`CategoricalSpace`), their basic-space transforms
  (:func:`forward`, :func:`inverse`), and a space written as data
  (:func:`params_from_search_space`, :func:`param_from_spec`, :func:`param_to_spec`);
- :func:`format_override`: a value as a Hydra command-line override;
- :func:`jsonable`: the standard-JSON rule of every file the project writes;
- :func:`atomic_write_text`, :func:`atomic_path`, :func:`utc_now`: files and timestamps;
- :func:`read_journal_meta`: a sweep journal's ``meta`` (its search space), read-only;
- :func:`pareto_indices`: the 2-D cost/value Pareto front;
- :func:`resolve_device`: a config's ``device`` string as a ``torch.device`` (torch loads on
  the call);
- :func:`light_log_axes` (:mod:`tays.plots`, loads matplotlib on first use): the log axes of
  every plot.

Arrows point here: ``carbs -> tays``, ``scaling -> tays``, ``recipes -> tays``; ``tays``
imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tays.device import resolve_device
from tays.files import atomic_path, atomic_write_text, utc_now
from tays.journal import read_journal_meta
from tays.jsonsafe import jsonable
from tays.overrides import format_override
from tays.pareto import pareto_indices
from tays.searchspace import (
    SearchSpaceError,
    param_from_spec,
    param_to_spec,
    params_from_search_space,
)
from tays.spaces import (
    NUMERIC_KINDS,
    AnySpace,
    CategoricalSpace,
    LinearSpace,
    LogitSpace,
    LogSpace,
    Param,
    Space,
    forward,
    inverse,
    space_from_json,
)

__all__ = [
    "NUMERIC_KINDS",
    "AnySpace",
    "CategoricalSpace",
    "LinearSpace",
    "LogSpace",
    "LogitSpace",
    "Param",
    "SearchSpaceError",
    "Space",
    "atomic_path",
    "atomic_write_text",
    "format_override",
    "forward",
    "inverse",
    "jsonable",
    "light_log_axes",
    "param_from_spec",
    "param_to_spec",
    "params_from_search_space",
    "pareto_indices",
    "read_journal_meta",
    "resolve_device",
    "space_from_json",
    "utc_now",
]


def __getattr__(name: str) -> Any:
    if name == "light_log_axes":  # matplotlib loads on first use
        from tays.plots import light_log_axes

        return light_log_axes
    raise AttributeError(f"module 'tays' has no attribute {name!r}")


if TYPE_CHECKING:
    from tays.plots import light_log_axes
