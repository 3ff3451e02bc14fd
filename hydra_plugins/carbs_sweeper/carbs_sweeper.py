"""Registers ``hydra/sweeper: carbs`` with Hydra. Hydra discovers plugins only inside the
``hydra_plugins`` namespace package and accepts only plugin classes defined there, so this
module subclasses :class:`carbs.sweep.sweeper.CARBSSweeper` and stores its config schema
(:class:`carbs.sweep.settings.CARBSSweeperConf`) in the ConfigStore."""

from hydra.core.config_store import ConfigStore

from carbs.sweep.settings import CARBSSweeperConf
from carbs.sweep.sweeper import CARBSSweeper as _CARBSSweeper


class CARBSSweeper(_CARBSSweeper):
    """The CARBS Hydra sweeper (see :mod:`carbs.sweep.sweeper`)."""


ConfigStore.instance().store(group="hydra/sweeper", name="carbs", node=CARBSSweeperConf,
                             provider="carbs")
