"""The forgetting record: the runs the code defines, each strategy's speech after training."""

import json

from lora_teach._paths import RESULTS
from lora_teach.experiments.forgetting import RUNS


def test_the_forgetting_record_holds_the_runs_the_code_defines():
    record = json.loads((RESULTS / "forgetting" / "tiny.en.json").read_text())
    assert [(r["strategy"], r["lr"]) for r in record["runs"]] == RUNS
    lora = [r for r in record["runs"] if r["strategy"] == "lora"]
    assert all({"final", "adapter_off", "merged"} <= set(r) for r in lora)
