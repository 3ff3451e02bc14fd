"""The optimiser's parameter spaces.

The spaces themselves (:class:`LinearSpace`, :class:`LogSpace`, :class:`LogitSpace`,
:class:`CategoricalSpace`, :class:`Param`) are the trial contract's, defined in
:mod:`tays.spaces` and re-exported here (``from carbs import LogSpace, Param``). What is the
optimiser's own: integer reachability. A Normal(0, radius) step in basic space must be able to
reach the neighbouring integer. If the basic-space gap to the neighbour of the search center
exceeds the search radius, then: when ``scale`` was left at its default (``None``), CARBS picks
the scale that makes the gap equal to the radius and logs a WARNING; when the user set
``scale`` explicitly, it raises ``ValueError`` naming the parameter and the smallest scale that
works.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from tays.spaces import (
    AnySpace,
    CategoricalSpace,
    LinearSpace,
    LogitSpace,
    LogSpace,
    Param,
    Space,
    space_from_json,
)

logger = logging.getLogger("carbs")

__all__ = [
    "AnySpace",
    "CategoricalSpace",
    "LinearSpace",
    "LogSpace",
    "LogitSpace",
    "Param",
    "Space",
    "check_integer_reachability",
    "space_from_json",
]


def check_integer_reachability(params: Sequence[Param], radius: float) -> list[Param]:
    """Ensure neighbouring integers are reachable with a Normal(0, radius) step in basic space.

    Default scales (``None``) are fixed automatically (WARNING logged); explicit scales that are
    too small raise ``ValueError`` naming the parameter and the smallest working scale.
    """
    out = []
    for p in params:
        sp = p.space
        if isinstance(sp, Space) and sp.is_integer:
            gap = sp.neighbour_gap(float(p.search_center))
            if gap > radius * (1 + 1e-9):
                needed = sp.effective_scale * gap / radius
                if sp.scale is not None:
                    raise ValueError(
                        f"Param {p.name!r}: integer scale {sp.scale} is too small: with search "
                        f"radius {radius} the neighbouring values of {p.search_center} are "
                        f"unreachable; use scale >= {needed:.4g} (or leave scale=None to choose "
                        "it automatically)"
                    )
                logger.warning(
                    "Param %r: integer space scale set to %.4g (from 1.0) so that neighbouring "
                    "values are reachable with search radius %s",
                    p.name,
                    needed,
                    radius,
                )
                p = Param(p.name, dataclasses.replace(sp, scale=needed), p.search_center)
        out.append(p)
    return out
