"""Gravitational-wave data: the config, detector noise and whitening, lal's signals, simulation, the cache and the test split.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.gw import cache, config, lal, noise, signals, simulation, test_split
from lora_teach.gw.cache import *  # noqa: F403
from lora_teach.gw.config import *  # noqa: F403
from lora_teach.gw.lal import *  # noqa: F403
from lora_teach.gw.noise import *  # noqa: F403
from lora_teach.gw.signals import *  # noqa: F403
from lora_teach.gw.simulation import *  # noqa: F403
from lora_teach.gw.test_split import *  # noqa: F403

__all__ = [
    *cache.__all__,
    *config.__all__,
    *lal.__all__,
    *noise.__all__,
    *signals.__all__,
    *simulation.__all__,
    *test_split.__all__,
]
