#!/usr/bin/env bash
# Rebuild the advisor's writer LoRA shipped in finadvisor/data/writer_lora/ (issue 24), from the repo alone:
# training pairs -> the dataset builder -> CPU LoRA (checkpoints; rerun with RESUME=1 after an interruption) ->
# GGUF LoRA -> sha256 next to it. On 2 CPU cores the training takes about an hour (about 22 s a step).
#
#   bash scripts/build_writer_adapter.sh              # the shipped adapter is step 150, the end of the recipe
#   RESUME=1 bash scripts/build_writer_adapter.sh     # carry on from the last checkpoint
#
# The training pairs rebuild byte for byte (data/writer/SHA256SUMS is checked). The adapter is trained with seed 0,
# but CPU float reductions depend on threads and BLAS, so a rebuilt adapter.gguf may differ in its last bits from
# the shipped one (finadvisor/data/writer_lora/adapter.gguf.sha256 names the shipped file).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
FA=${FA:-.venv/bin/finadvisor}
STEPS=${STEPS:-150}
OUT=${OUT:-out/writer}
SYSTEM=$("$PY" -c 'from finadvisor.advisor.slot_writer import SYSTEM; print(SYSTEM)')
if [[ -z "${RESUME:-}" ]]; then
  "$PY" -m finadvisor.advisor.writer_data --out data/writer/raw.jsonl --histories 500
  "$FA" dataset build data/writer/raw.jsonl --source-type jsonl --system-prompt "$SYSTEM" \
      --out data/writer/train.jsonl --eval-out data/writer/eval.jsonl --eval-ratio 0.05 --near-dup 1.0
  (cd data/writer && sha256sum -c SHA256SUMS) || echo "warning: the rebuilt pairs differ from the committed ones" >&2
  "$FA" finetune train --recipe recipes/writer-lora.yaml --out "$OUT"
else
  "$FA" finetune train --recipe recipes/writer-lora.yaml --out "$OUT" --resume
fi
# the shipped adapter is the checkpoint at STEPS (the recipe's schedule runs to 150)
CKPT="$OUT/checkpoints/checkpoint-$STEPS"
[[ -d "$CKPT" ]] || CKPT="$OUT"
"$FA" finetune export-gguf --adapter "$CKPT" --out finadvisor/data/writer_lora/adapter.gguf --outtype f16
(cd finadvisor/data/writer_lora && sha256sum adapter.gguf > adapter.gguf.sha256 && cat adapter.gguf.sha256)
