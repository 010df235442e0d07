"""``dataset generate`` on the real default model, over the text of the fixture corpus (issue 15.9).

    flock /tmp/finadvisor-heavy.lock .venv/bin/python benchmarks/dataset_generate_real.py --out /tmp/gen-real \
        --extra finadvisor/data/faq_demo/html --limit 6

The fixture corpus (``tests/fixtures/dataset``) is turned into plain text first: ``notes.txt`` as is, the visible
text of every HTML page, the article texts of the Next.js FAQ. Each becomes a ``.txt`` file under ``--out``, and
``generate_dataset`` runs over them with the embedded engine (the packaged Qwen2.5-Coder-0.5B GGUF), timing every
chunk. It prints the report, the pairs kept and a table of drop reasons; the last line is one JSON record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from finadvisor.dataset.generate import GenerateConfig, generate_dataset
from finadvisor.dataset.llm import EngineLLM
from finadvisor.dataset.text import clean_field, html_to_text, normalize

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "dataset"


def corpus_texts(folder: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".txt":
            texts[path.stem] = path.read_text(encoding="utf-8")
        elif path.suffix in (".html", ".htm"):
            texts[path.stem] = normalize(html_to_text(path.read_text(encoding="utf-8")))
        elif path.name == "nextjs_faq.json":
            articles = json.loads(path.read_text(encoding="utf-8"))["pageProps"]["data"]["articles"]
            texts[path.stem] = "\n\n".join(
                f"{a['title']}\n{clean_field(a['description_text'])}"
                for a in articles
                if isinstance(a, dict)
                and isinstance(a.get("title"), str)
                and isinstance(a.get("description_text"), str)
            )
    return {k: v for k, v in texts.items() if len(v.strip()) > 40}


class TimedLLM:
    """Wraps a JsonLLM and records how long each chunk's call took, and the raw replies."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.seconds: list[float] = []
        self.replies: list[str] = []

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> str:
        started = time.perf_counter()
        reply = await self.inner.complete(messages, schema, max_tokens)
        self.seconds.append(time.perf_counter() - started)
        self.replies.append(reply)
        return str(reply)


async def run(out_dir: Path, limit: int | None, extra: list[Path]) -> dict[str, Any]:
    from finadvisor.engines import create_engine
    from finadvisor.settings import Settings

    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    texts = corpus_texts(FIXTURES)
    for folder in extra:
        texts.update(corpus_texts(folder))
    for name, text in list(texts.items())[:limit]:
        path = out_dir / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    out = out_dir / "generated.jsonl"
    for stale in (out, out.with_name("generated.state.json")):
        stale.unlink(missing_ok=True)
    llm = TimedLLM(EngineLLM(create_engine(Settings())))
    started = time.perf_counter()
    report = await generate_dataset(files, out, llm, GenerateConfig())
    wall = time.perf_counter() - started
    (out_dir / "replies.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in llm.replies), encoding="utf-8"
    )
    summary = report.to_dict()
    summary.update(
        {
            "files": len(files),
            "wall_s": round(wall, 1),
            "calls": len(llm.seconds),
            "s_per_call_mean": round(sum(llm.seconds) / max(len(llm.seconds), 1), 1),
            "s_per_chunk": round(sum(llm.seconds) / max(report.processed + report.failed, 1), 1),
            "kept_share": round(report.kept / report.proposed, 3) if report.proposed else None,
        }
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the texts, output and replies")
    parser.add_argument("--limit", type=int, default=None, help="only the first N corpus files")
    parser.add_argument(
        "--extra",
        type=Path,
        action="append",
        default=[],
        help="another folder of .txt/.html files after the fixtures (e.g. finadvisor/data/faq_demo/html)",
    )
    args = parser.parse_args()
    summary = asyncio.run(run(args.out, args.limit, args.extra))
    rows = [
        json.loads(line) for line in (args.out / "generated.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    for row in rows:
        print(f"Q: {row['messages'][1]['content']}\nA: {row['messages'][2]['content']}\n")
    print(
        f"chunks {summary['chunks']}, proposed {summary['pairs_proposed']}, kept {summary['pairs_kept']} "
        f"({summary['kept_share']}), dropped {summary['dropped']}, {summary['s_per_chunk']} s/chunk"
    )
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
