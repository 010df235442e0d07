"""`finadvisor catalog ...` end to end through Typer's runner, with the hash embedder."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from finadvisor.catalog import demo_catalog_path
from finadvisor.catalog.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_build_search_add_remove_list(tmp_path):
    idx = str(tmp_path / "idx")
    out = run("build", str(demo_catalog_path()), "--index", idx, "--embedder", "hash")
    assert out.exit_code == 0 and "indexed 38 services" in out.output
    res = run("search", "--index", idx, "--query", "thanh toán hóa đơn điện", "--top-k", "3", "--json")
    hits = json.loads(res.stdout)
    assert len(hits) == 3 and set(hits[0]) == {"service", "link", "description", "score"}
    assert hits[0]["link"] == "https://finadvisor.vn/dich-vu/hoa-don-dien"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)

    history = tmp_path / "h.json"
    history.write_text(
        json.dumps({"data": {"spending": [{"name": "Vé máy bay", "amount": "3.000.000", "count": 1}]}})
    )
    res = run("search", "--index", idx, "--history", str(history), "--top-k", "2", "--json")
    assert json.loads(res.stdout)[0]["link"] == "https://finadvisor.vn/dich-vu/ve-may-bay"

    entry = tmp_path / "e.json"
    entry.write_text(
        json.dumps(
            {
                "service": "Vé ca nhạc",
                "link": "https://finadvisor.vn/dich-vu/ve-ca-nhac",
                "description": "Đặt vé ca nhạc và liveshow",
            },
            ensure_ascii=False,
        )
    )
    assert "added 1, updated 0; the index now holds 39" in run("add", str(entry), "--index", idx).output
    assert (
        "removed 1 of 2; the index now holds 38"
        in run("remove", "https://finadvisor.vn/dich-vu/ve-ca-nhac", "nope", "--index", idx).output
    )
    listed = json.loads(run("list", "--index", idx, "--json").stdout)
    assert len(listed) == 38 and all(e["link"] != "https://finadvisor.vn/dich-vu/ve-ca-nhac" for e in listed)


def test_bad_catalog_and_bad_args_raise_project_errors(tmp_path):
    import pytest

    from finadvisor.errors import FinadvisorError

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"service": "A", "link": "javascript:alert(1)", "description": "d"}]))
    with pytest.raises(
        FinadvisorError,
        match=r"catalog entry 0 \('A'\): field 'link' 'javascript:alert\(1\)' "
        r"scheme 'javascript' can run script",
    ):
        run("build", str(bad), "--index", str(tmp_path / "i"), "--embedder", "hash")
    neither = run("search", "--index", str(tmp_path / "i"))  # a usage error: exit 2
    assert neither.exit_code == 2 and "exactly one of --query" in neither.output


def test_build_pre_embeds_the_vocabulary_and_warm_adds_names(tmp_path):

    idx = tmp_path / "idx"
    out = run("build", str(demo_catalog_path()), "--index", str(idx), "--embedder", "hash")
    assert out.exit_code == 0 and "category names pre-embedded" in out.output
    saved = {str(t) for t in _saved_texts(idx / "queries.npz")}
    assert {"Ăn uống", "FOOD_AND_BEVERAGE"} <= saved
    names = tmp_path / "names.txt"
    names.write_text("Ăn uống\nPhí bảo trì thang máy\n", encoding="utf-8")
    out = run("warm", "--index", str(idx), str(names))
    assert out.exit_code == 0 and "1 new of 2 category names" in out.output
    saved = {str(t) for t in _saved_texts(idx / "queries.npz")}
    assert "Phí bảo trì thang máy" in saved and "Ăn uống" in saved
    out = run(
        "build",
        str(demo_catalog_path()),
        "--index",
        str(tmp_path / "bare"),
        "--embedder",
        "hash",
        "--no-vocabulary",
    )
    assert "0 category names" in out.output and not (tmp_path / "bare" / "queries.npz").exists()


def test_sync_follows_an_edited_catalog(tmp_path):
    entries = json.loads(demo_catalog_path().read_text(encoding="utf-8"))
    path = tmp_path / "c.json"
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    idx = str(tmp_path / "idx")
    assert run("build", str(path), "--index", idx, "--embedder", "hash", "--no-vocabulary").exit_code == 0
    path.write_text(json.dumps(entries[1:], ensure_ascii=False), encoding="utf-8")
    out = run("sync", str(path), "--index", idx)
    assert out.exit_code == 0 and "added 0, updated 0, removed 1; the index now holds 37" in out.output
    assert "added 0, updated 0, removed 0" in run("sync", str(path), "--index", idx).output


def _saved_texts(path):  # type: ignore[no-untyped-def]
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return list(data["texts"])


def test_without_index_the_commands_use_the_servers_index(tmp_path, monkeypatch):
    """No --index: the folder ``finadvisor serve`` opens (FINADVISOR_INDEX_DIR, else <cache_dir>/index)."""
    monkeypatch.setenv("FINADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FINADVISOR_INDEX_DIR", raising=False)
    out = run("build", str(demo_catalog_path()), "--embedder", "hash", "--no-vocabulary")
    assert out.exit_code == 0 and str(tmp_path / "cache" / "index") in out.output
    assert (tmp_path / "cache" / "index" / "meta.json").is_file()
    res = run("search", "--query", "thanh toán hóa đơn điện", "--top-k", "1", "--json")
    assert res.exit_code == 0 and len(json.loads(res.output)) == 1
    monkeypatch.setenv("FINADVISOR_INDEX_DIR", str(tmp_path / "elsewhere"))
    from finadvisor.settings import load_settings

    assert load_settings().index_folder == tmp_path / "elsewhere"
