"""Batch fixtures: settings on the fake engine in temp folders, distinct users' histories, output readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finadvisor.settings import Settings


def history_for(i: int) -> dict:
    """A distinct history per user (distinct cache keys), in the seed's shape."""
    return {
        "earning": [{"name": "Lương", "amount": 15_000_000 + i * 1000, "count": 1}],
        "spending": [
            {"name": "Ăn uống", "amount": 3_000_000 + i * 1000, "count": 30 + i},
            {"name": "Hóa đơn điện", "amount": 1_200_000, "count": 1},
            {"name": "Nạp tiền điện thoại", "amount": 200_000, "count": 2},
        ],
    }


def write_users(path: Path, n: int, *, prefix: str = "u") -> list[str]:
    users = [f"{prefix}{i:03d}" for i in range(n)]
    with path.open("w", encoding="utf-8") as fh:
        for i, user in enumerate(users):
            fh.write(json.dumps({"user": user, "history": history_for(i)}, ensure_ascii=False) + "\n")
    return users


def write_folder(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    users = [f"user-{i:02d}" for i in range(n)]
    for i, user in enumerate(users):
        (folder / f"{user}.json").write_text(json.dumps(history_for(i), ensure_ascii=False), encoding="utf-8")
    return users


def records(path: Path) -> list[dict]:
    from finadvisor.batch.output import read_records

    return read_records(path)


@pytest.fixture
def batch_settings(tmp_path: Path) -> Settings:
    return Settings(
        engine="fake",
        cache_dir=tmp_path / "cache",
        embedder="hash",
        index_dir=tmp_path / "index",
        n_parallel=4,
        rate_limit_per_min=10_000,
    )
