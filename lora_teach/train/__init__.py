"""Training the GW classifier: profiles, config, the machine's check, features, precision,
classifier (and the from-scratch CNN controls), evaluation, checkpoints, data, the loop, the child process, the command line,
what a step costs, and the export to Hugging Face transformers.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.train import (
    checkpoint,
    child,
    classifier,
    cli,
    cnn,
    config,
    cost,
    data,
    environment,
    evaluation,
    features,
    loop,
    precision,
    profiles,
    transformers_adapter,
)
from lora_teach.train.checkpoint import *  # noqa: F403
from lora_teach.train.child import *  # noqa: F403
from lora_teach.train.classifier import *  # noqa: F403
from lora_teach.train.cli import *  # noqa: F403
from lora_teach.train.cnn import *  # noqa: F403
from lora_teach.train.config import *  # noqa: F403
from lora_teach.train.cost import *  # noqa: F403
from lora_teach.train.data import *  # noqa: F403
from lora_teach.train.environment import *  # noqa: F403
from lora_teach.train.evaluation import *  # noqa: F403
from lora_teach.train.features import *  # noqa: F403
from lora_teach.train.loop import *  # noqa: F403
from lora_teach.train.precision import *  # noqa: F403
from lora_teach.train.profiles import *  # noqa: F403
from lora_teach.train.transformers_adapter import *  # noqa: F403

__all__ = [
    *checkpoint.__all__,
    *child.__all__,
    *classifier.__all__,
    *cli.__all__,
    *cnn.__all__,
    *config.__all__,
    *cost.__all__,
    *data.__all__,
    *environment.__all__,
    *evaluation.__all__,
    *features.__all__,
    *loop.__all__,
    *precision.__all__,
    *profiles.__all__,
    *transformers_adapter.__all__,
]
