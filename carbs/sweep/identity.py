"""A sweep's identity: what a resumed sweep must share with the journal it continues (its
search space, objective, direction and cost key, the command line's fixed overrides and the
app's config name; :meth:`carbs.sweep.settings.CARBSSweeperConf.identity`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from carbs.sweep.settings import SweepConfigError

__all__ = ["check_identity", "identity_diff"]


def check_identity(meta: Mapping[str, Any], identity: Mapping[str, Any], path: Path) -> None:
    """A resumed sweep must have the journal's identity (raises SweepConfigError with a
    one-line difference)."""
    diff = identity_diff(meta, identity)
    if diff:
        raise SweepConfigError(f"{diff} ({path}); resume with the original settings, or start a "
                               "new sweep in a new hydra.sweep.dir")


def identity_diff(meta: Mapping[str, Any], identity: Mapping[str, Any]) -> str | None:
    """The first difference between a journal's identity and a sweep's, as one line (None
    when they match). Keys a journal predates are not compared."""
    old_space, new_space = meta.get("space") or {}, identity["space"]
    for name in list(new_space) + [n for n in old_space if n not in new_space]:
        if old_space.get(name) != new_space.get(name):
            return (f"hydra.sweeper.search_space.{name}: differs from the journal's (journal: "
                    f"{old_space.get(name)}, now: {new_space.get(name)})")
    if list(old_space) != list(new_space):
        return (f"hydra.sweeper.search_space: the parameter order differs from the journal's "
                f"({list(old_space)})")
    for key, field_name in (("objective", "objective"), ("direction", "direction"),
                            ("cost_key", "cost")):
        if meta.get(key) != identity[key]:
            return (f"hydra.sweeper.{field_name}={identity[key]!r} differs from the journal's "
                    f"{meta.get(key)!r}")
    if "fixed_overrides" in meta and "fixed_overrides" in identity:
        old, new = set(meta["fixed_overrides"]), set(identity["fixed_overrides"])
        if old != new:
            return (f"the command line's overrides differ from the journal's: only in the "
                    f"journal {sorted(old - new)}, only now {sorted(new - old)}")
    if meta.get("config_name", identity.get("config_name")) != identity.get("config_name"):
        return (f"the app's config {identity.get('config_name')!r} differs from the journal's "
                f"{meta.get('config_name')!r}")
    return None
