"""The labelled advisor sets, by name, for every advisor benchmark (one list, so a new set reaches them all).

from eval_sets import SETS, load_items     # the benchmarks put their own folder on sys.path
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "finadvisor" / "data"
SETS = {
    "dev": ["eval_retrieval.json", "eval_advisor_adversarial.json"],
    "old-heldout": ["eval_retrieval_heldout.json"],
    "heldout": ["eval_advisor_heldout.json"],
    **{f"heldout{n}": [f"eval_advisor_heldout{n}.json"] for n in range(2, 12)},
    "dev2": ["eval_advisor_dev2.json"],
}


def load_items(which: str) -> list[dict]:
    """Every labelled history of a set (items without a history are retrieval-only rows)."""
    items: list[dict] = []
    for name in SETS[which]:
        data = json.loads((DATA / name).read_text())
        items += [i for i in (data["items"] if isinstance(data, dict) else data) if "history" in i]
    return items
