"""A stand-in for ``vllm.entrypoints.openai.api_server``: a tiny OpenAI server on the FakeEngine.

python -m tests.engines.fake_vllm --port P [--die-after S] [--fail-start]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import uvicorn

from finadvisor.engines.fake import FakeEngine
from finadvisor.server import create_app
from finadvisor.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-model-name", default="qwen2.5-0.5b-instruct")
    parser.add_argument("--die-after", type=float, default=0)
    parser.add_argument("--fail-start", action="store_true")
    args, _ = parser.parse_known_args()
    if args.fail_start:
        print("CUDA error: out of memory (simulated)", flush=True)
        sys.exit(3)
    if args.die_after:
        threading.Thread(target=lambda: (time.sleep(args.die_after), os._exit(7)), daemon=True).start()
    settings = Settings(engine="fake", model_name=args.served_model_name)
    uvicorn.run(
        create_app(settings, engine=FakeEngine()), host="127.0.0.1", port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
