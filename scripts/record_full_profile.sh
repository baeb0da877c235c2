#!/usr/bin/env bash
# Record the `full` profile (the reference's scale: 1000 + 1000 samples, up to 20 epochs, early
# stopping after 5 epochs without a better validation AUC) for each strategy and Whisper model.
# Writes data/results/full/<whisper>/<strategy>/results.json (checkpoints stay out of git).
#     bash scripts/record_full_profile.sh [tiny.en base]
set -euo pipefail
cd "$(dirname "$0")/.."
models=("${@:-tiny.en}")
[ $# -eq 0 ] && models=(tiny.en base)
for whisper in "${models[@]}"; do
  for strategy in frozen_encoder lora full_finetune; do
    python -m lora_teach.train --profile full --whisper "$whisper" --model "$strategy" --patience 5 \
      --out "data/results/full/$whisper/$strategy" --no-progress
  done
done
