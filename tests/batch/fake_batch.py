"""``python -m tests.batch.fake_batch IN OUT FOLDER [TTFT]``: the real batch (execute) on a scripted fake engine
in its own process, so tests can kill it (SIGKILL, SIGINT) at any point and resume it."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from finadvisor.batch.cli import execute
from finadvisor.batch.inputs import open_source
from finadvisor.engines.fake import FakeEngine
from finadvisor.errors import FinadvisorError
from finadvisor.settings import Settings
from tests.advisor.conftest import good_script


def main() -> int:
    src, out, folder = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    ttft = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
    settings = Settings(
        engine="fake", embedder="hash", cache_dir=folder / "cache", index_dir=folder / "index", n_parallel=4
    )
    try:
        return execute(
            settings,
            open_source(src),
            out,
            input_label=str(src),
            for_time=dt.datetime(2026, 12, 3, 8),
            engine=FakeEngine(script=good_script, ttft_s=ttft),
        )
    except FinadvisorError as exc:  # as finadvisor.cli.main does: one line, exit 1
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
