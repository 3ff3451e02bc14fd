"""The recipes' config errors: OmegaConf's key and type errors, raised while a recipe's config
dataclass is built from a dict or a Hydra ``DictConfig``, as one-line ``ValueError`` s that
start with the field's path."""
from __future__ import annotations

from dataclasses import fields, is_dataclass

from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

__all__ = ["config_error"]


def config_error(err: OmegaConfBaseException) -> ValueError:
    """``err`` as a ``ValueError`` naming the field: an unknown field lists the valid ones (by
    their full path), a value of the wrong type is shown with what was expected."""
    key = err.full_key or "config"
    if isinstance(err, ConfigKeyError) and is_dataclass(err.object_type):
        parent = key.rpartition(".")[0]
        valid = sorted(f"{parent}.{f.name}" if parent else f.name
                       for f in fields(err.object_type))
        return ValueError(f"{key}: unknown field; valid fields: {valid}")
    first_line = str(err).splitlines()[0]
    value = getattr(err, "value", None)
    if value is not None:
        return ValueError(f"{key}={value!r} is invalid: {first_line}")
    return ValueError(f"{key}: {first_line}")
