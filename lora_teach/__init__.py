"""lora_teach: LoRA from its equation, run as loops, to Whisper detecting gravitational waves."""

from lora_teach.adapter import load_adapter, save_adapter
from lora_teach.inject import (
    add_lora,
    lora_disabled,
    lora_layers,
    merge_lora,
    remove_lora,
    unmerge_lora,
)
from lora_teach.lora import LoRALinear
from lora_teach.lora_plus import lora_plus_param_groups
from lora_teach.params import ParameterCount, count_parameters
from lora_teach.peft_format import export_peft_adapter, import_peft_adapter

__version__ = "0.1.0"

__all__ = [
    "LoRALinear",
    "add_lora",
    "lora_layers",
    "lora_disabled",
    "merge_lora",
    "unmerge_lora",
    "remove_lora",
    "save_adapter",
    "load_adapter",
    "export_peft_adapter",
    "import_peft_adapter",
    "lora_plus_param_groups",
    "ParameterCount",
    "count_parameters",
]
