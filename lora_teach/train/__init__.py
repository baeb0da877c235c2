"""Training the GW classifier: config, features, precision, classifier, evaluation, checkpoints, data,
the loop, the child process, the command line, and what a step costs.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.train.checkpoint import load_trained, save_trained, trained_files
from lora_teach.train.child import TrainingFailed, run_in_child
from lora_teach.train.classifier import REFERENCE_HEAD, TwoChannelClassifier, build_classifier
from lora_teach.train.cli import config_from_args, main, parser
from lora_teach.train.config import (
    DEFAULT_HEAD,
    DEFAULT_LR,
    POOLINGS,
    PROFILES,
    STRATEGIES,
    TrainConfig,
    upgrade_record,
)
from lora_teach.train.cost import (
    StepCost,
    adaptation_variants,
    measure_step_costs,
    step_memory_bytes,
)
from lora_teach.train.data import TrainingData, prepare_data
from lora_teach.train.evaluation import (
    classifier_features,
    classifier_scores,
    classifier_test_scores,
    evaluate,
    logits,
    validation_loss,
)
from lora_teach.train.features import AUDIO_SCALE, REPRESENTATIONS, log_mel, log_mel_batch, n_frames
from lora_teach.train.loop import train
from lora_teach.train.precision import (
    PRECISIONS,
    autocast,
    choose_precision,
    grad_scaler,
    resolve_precision,
)

__all__ = [
    "TrainConfig",
    "upgrade_record",
    "PROFILES",
    "STRATEGIES",
    "POOLINGS",
    "DEFAULT_HEAD",
    "DEFAULT_LR",
    "PRECISIONS",
    "choose_precision",
    "resolve_precision",
    "autocast",
    "grad_scaler",
    "REPRESENTATIONS",
    "AUDIO_SCALE",
    "log_mel",
    "log_mel_batch",
    "n_frames",
    "TwoChannelClassifier",
    "build_classifier",
    "REFERENCE_HEAD",
    "logits",
    "evaluate",
    "validation_loss",
    "classifier_features",
    "classifier_scores",
    "classifier_test_scores",
    "save_trained",
    "load_trained",
    "trained_files",
    "TrainingData",
    "prepare_data",
    "train",
    "run_in_child",
    "TrainingFailed",
    "main",
    "config_from_args",
    "parser",
    "StepCost",
    "adaptation_variants",
    "step_memory_bytes",
    "measure_step_costs",
]
