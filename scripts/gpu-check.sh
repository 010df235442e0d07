#!/usr/bin/env bash
# The GPU paths for real, on a GPU machine: the vLLM engine (tensor parallelism over 2 GPUs when there are
# several), one QLoRA step and one DeepSpeed ZeRO-3 step. On CPU (CI) these paths run only as stand-ins (a fake
# vLLM process, "refused on CPU" errors); this script is what exercises them. Prints one JSON line; exit 0 when
# every step passed, 1 when one failed, 2 when the machine cannot run it (no CUDA, a package missing).
#
#   bash scripts/gpu-check.sh [WORK_DIR]        # needs: CUDA GPUs, the ml extra, vllm, bitsandbytes, deepspeed
#
# Offline: the base model is the packaged GGUF, dequantised once into an HF folder (vLLM and QLoRA need one);
# the training data is the packaged FAQ corpus. About 5-10 minutes on one H100, most of it vLLM's start-up.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
WORK=${1:-$(mktemp -d -t finadvisor-gpu-check-XXXXXX)}
mkdir -p "$WORK"
export FINADVISOR_INDEX_DIR="$WORK/index" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
LOGS="$WORK/logs" && mkdir -p "$LOGS"

json_escape() { "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()[-600:]))'; }
finish() {  # $1 exit code; $2.. key=json pairs
  local code=$1 && shift
  local body && body=$(printf '%s,' "$@") && body=${body%,}
  echo "{\"gpus\": ${GPUS:-0}, \"work_dir\": \"$WORK\", $body}"
  exit "$code"
}

# 1. The machine: CUDA GPUs and the packages the GPU paths import.
GPUS=$("$PY" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>/dev/null || echo 0)
[ "$GPUS" -ge 1 ] || finish 2 '"ok": false' '"error": "no CUDA GPU visible to torch"'
MISSING=$("$PY" - <<'EOF'
import importlib.util
print(" ".join(m for m in ("vllm", "bitsandbytes", "deepspeed", "peft", "trl", "gguf") if importlib.util.find_spec(m) is None))
EOF
)
[ -z "$MISSING" ] || finish 2 '"ok": false' "\"error\": \"missing packages: $MISSING (pip install 'finadvisor[ml]' vllm bitsandbytes deepspeed)\""
# Qwen2.5-0.5B has 14 attention heads and 2 KV heads: tensor parallelism over 2 GPUs is the largest that divides.
TP=$([ "$GPUS" -ge 2 ] && echo 2 || echo 1)

# 2. An HF folder of the packaged model (the GGUF, dequantised to bf16), and the FAQ training data.
BASE="$WORK/base-hf"
if [ ! -f "$BASE/config.json" ]; then
  "$PY" - "$BASE" >"$LOGS/base.log" 2>&1 <<'EOF' || finish 1 '"ok": false' "\"error\": \"could not write the HF base\"" "\"log\": $(json_escape <"$LOGS/base.log")"
import sys
import torch
from finadvisor.hf_models import load_base, resolve_base
model, tokenizer = load_base(resolve_base(None), device="cpu", dtype=torch.bfloat16)  # the packaged GGUF
model.save_pretrained(sys.argv[1])
tokenizer.save_pretrained(sys.argv[1])
EOF
fi
"$PY" -m finadvisor.cli dataset build finadvisor/data/faq_demo --out "$WORK/train.jsonl" >"$LOGS/dataset.log" 2>&1 \
  || finish 1 '"ok": false' "\"error\": \"dataset build failed\"" "\"log\": $(json_escape <"$LOGS/dataset.log")"

# 3. vLLM, supervised by finadvisor (finadvisor/engines/vllm.py), one chat completion through our API.
vllm_step() {
  local port && port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local t0=$SECONDS
  FINADVISOR_CACHE_DIR="$WORK/cache" setsid "$PY" -m finadvisor.cli serve --engine vllm --model "$BASE" \
    --tensor-parallel-size "$TP" --host 127.0.0.1 --port "$port" --log-level warning >"$LOGS/vllm.log" 2>&1 &
  local pid=$!
  local up=0
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    if "$PY" -c 'import sys, httpx; sys.exit(httpx.get(sys.argv[1], timeout=2).status_code != 200)' \
         "http://127.0.0.1:$port/health" 2>/dev/null; then up=1 && break; fi
    sleep 1
  done
  local answer=""
  if [ "$up" = 1 ]; then
    answer=$("$PY" - "$port" 2>>"$LOGS/vllm.log" <<'EOF'
import json, sys, httpx
url = f"http://127.0.0.1:{sys.argv[1]}"
model = httpx.get(f"{url}/v1/models", timeout=30).json()["data"][0]["id"]
r = httpx.post(f"{url}/v1/chat/completions", timeout=300, json={"model": model, "max_tokens": 16, "temperature": 0,
               "messages": [{"role": "user", "content": "Thủ đô của Việt Nam là gì?"}]})
body = r.json()
ok = r.status_code == 200 and bool(body["choices"][0]["message"]["content"].strip())
print(json.dumps({"ok": ok, "status": r.status_code, "completion_tokens": body.get("usage", {}).get("completion_tokens")}))
EOF
)
  fi
  # SIGTERM lets finadvisor stop vLLM's own process group (engines/vllm.py starts it in a new session); only
  # what is left after a minute is killed.
  kill -TERM -- "-$pid" 2>/dev/null
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -KILL -- "-$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  if [ -n "$answer" ]; then
    echo "{\"tensor_parallel_size\": $TP, \"seconds\": $((SECONDS - t0)), \"result\": $answer, \"ok\": $("$PY" -c 'import json,sys; print(str(json.loads(sys.argv[1])["ok"]).lower())' "$answer")}"
  else
    echo "{\"tensor_parallel_size\": $TP, \"ok\": false, \"log\": $(json_escape <"$LOGS/vllm.log")}"
  fi
}

# 4. One fine-tuning run of 2 steps (finadvisor/finetune/train.py), QLoRA or DeepSpeed ZeRO-3.
train_step() {  # $1 name; the rest: launcher and extra flags
  local name=$1 && shift
  local t0=$SECONDS
  if "$@" --data "$WORK/train.jsonl" --out "$WORK/$name-adapter" --base "$BASE" --max-steps 2 --max-length 128 \
       --batch-size 2 --save-steps 2 --no-gguf >"$LOGS/$name.log" 2>&1 \
     && [ -f "$WORK/$name-adapter/adapter_model.safetensors" ]; then
    echo "{\"ok\": true, \"seconds\": $((SECONDS - t0)), \"summary\": $(grep -a '^trained ' "$LOGS/$name.log" | tail -1 | json_escape)}"
  else
    echo "{\"ok\": false, \"log\": $(json_escape <"$LOGS/$name.log")}"
  fi
}

VLLM=$(vllm_step)
QLORA=$(train_step qlora "$PY" -m finadvisor.cli finetune train --qlora)
# DeepSpeed through torchrun (it sets up torch.distributed), one process per GPU.
DS=$(train_step deepspeed "$PY" -m torch.distributed.run --standalone --nproc_per_node "$GPUS" \
     -m finadvisor.cli finetune train --deepspeed recipes/ds_zero3.json)

ALL_OK=$("$PY" -c 'import json,sys; print(str(all(json.loads(a)["ok"] for a in sys.argv[1:])).lower())' "$VLLM" "$QLORA" "$DS")
finish "$([ "$ALL_OK" = true ] && echo 0 || echo 1)" "\"ok\": $ALL_OK" "\"vllm\": $VLLM" "\"qlora\": $QLORA" \
  "\"deepspeed\": $DS"
