#!/usr/bin/env bash
# Rebuild the advisor's writer LoRA shipped in finadvisor/data/writer_lora/ (issue 24) from the repo alone:
# the committed training pairs (data/writer/, sha256 in SHA256SUMS) -> CPU LoRA (checkpoints; RESUME=1 carries on
# after an interruption) -> GGUF LoRA (f16) -> its sha256. On 2 CPU cores training takes about an hour
# (150 steps, about 22 s a step when nothing else runs).
#
#   bash scripts/build_writer_adapter.sh                 # train on the committed pairs (what shipped)
#   RESUME=1 bash scripts/build_writer_adapter.sh        # carry on from the last checkpoint
#   PAIRS=1 bash scripts/build_writer_adapter.sh         # first write new pairs from the code (writer_data) and
#                                                        # the dataset builder, replacing data/writer/*
#
# The committed pairs were written by `python -m finadvisor.advisor.writer_data --histories 500` at commit
# ecb65bb. Its synthetic histories are drawn from the lexicon's phrases, so any later lexicon edit gives other
# pairs (PAIRS=1 says so when the sha256 differs). Training uses seed 0, but CPU float reductions depend on
# threads and BLAS: a rebuilt adapter.gguf may differ from the shipped one in its last bits.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
FA=${FA:-.venv/bin/finadvisor}
STEPS=${STEPS:-150}
OUT=${OUT:-out/writer}
if [[ -n "${PAIRS:-}" ]]; then
  SYSTEM=$("$PY" -c 'from finadvisor.advisor.slot_writer import SYSTEM; print(SYSTEM)')
  "$PY" -m finadvisor.advisor.writer_data --out data/writer/raw.jsonl --histories 500
  "$FA" dataset build data/writer/raw.jsonl --source-type jsonl --system-prompt "$SYSTEM" \
      --out data/writer/train.jsonl --eval-out data/writer/eval.jsonl --eval-ratio 0.05 --near-dup 1.0
  (cd data/writer && sha256sum -c SHA256SUMS) || echo "note: these pairs differ from the committed ones" >&2
else
  (cd data/writer && sha256sum -c SHA256SUMS)
fi
if [[ -n "${RESUME:-}" ]]; then
  "$FA" finetune train --recipe recipes/writer-lora.yaml --out "$OUT" --resume
else
  "$FA" finetune train --recipe recipes/writer-lora.yaml --out "$OUT"
fi
CKPT="$OUT/checkpoints/checkpoint-$STEPS"   # the shipped adapter is the recipe's last step
[[ -d "$CKPT" ]] || CKPT="$OUT"
"$FA" finetune export-gguf --adapter "$CKPT" --out finadvisor/data/writer_lora/adapter.gguf --outtype f16
(cd finadvisor/data/writer_lora && sha256sum adapter.gguf > adapter.gguf.sha256 && cat adapter.gguf.sha256)
