"""``batch --ray``: the Ray Data pipeline on a local Ray cluster, calling a shared ``llm`` Serve deployment.

Two shapes: the actors share the ``llm`` deployment of a running application (here one that counts its calls,
to prove every generation went through it), and the default, where the job deploys its own and deletes it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from finadvisor.batch.cli import execute
from finadvisor.batch.inputs import open_source
from finadvisor.batch.report import EXIT_OK
from finadvisor.settings import Settings
from tests.batch.conftest import records, write_folder, write_users

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")
pytestmark = [pytest.mark.slow, pytest.mark.integration]

from finadvisor.deploy.ray_app import LLMDeployment  # noqa: E402  (needs ray)

MORNING = dt.datetime(2026, 12, 3, 8, 0)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
    )
    serve.start(http_options={"host": "127.0.0.1", "port": 0})
    yield
    serve.shutdown()
    ray.shutdown()


class _CountingLLM(LLMDeployment.func_or_class):  # type: ignore[name-defined,misc]
    """The real ``llm`` deployment (fake engine behind its shared gate), counting generations."""

    def __init__(self) -> None:
        super().__init__({"engine": "fake"})
        self.calls = 0

    async def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        self.calls += 1
        async for item in super().stream(request):
            yield item

    def count(self) -> int:
        return self.calls


CountingLLM = serve.deployment(name="llm", ray_actor_options={"num_cpus": 0.5})(_CountingLLM)


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        engine="fake", embedder="hash", cache_dir=tmp_path / "cache", index_dir=tmp_path / "index"
    )


def test_actors_share_a_running_llm_deployment(
    ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handle = serve.run(CountingLLM.bind(), name="shared", route_prefix=None)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    users = write_users(src, 12)
    code = execute(
        _settings(tmp_path),
        open_source(src),
        out,
        input_label=str(src),
        for_time=MORNING,
        ray="local",
        ray_options={"actors": 2, "batch_size": 3, "llm_app": "shared"},
    )
    assert code == EXIT_OK
    recs = records(out)
    assert sorted(r["user"] for r in recs) == users and all(r["status"] == "ok" for r in recs)
    assert handle.count.remote().result() == 12  # every generation went through the shared deployment
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["mode"] == "ray" and summary["ok"] == 12 and summary["users_per_s"] > 0
    # a re-run has nothing left to do
    assert (
        execute(
            _settings(tmp_path),
            open_source(src),
            out,
            input_label=str(src),
            for_time=MORNING,
            ray="local",
            ray_options={"llm_app": "shared"},
        )
        == EXIT_OK
    )
    assert handle.count.remote().result() == 12 and len(records(out)) == 12
    serve.delete("shared")


def test_job_deploys_its_own_llm_and_removes_it(ray_cluster: None, tmp_path: Path) -> None:
    from finadvisor.batch.ray_job import JOB_LLM_APP

    users = write_folder(tmp_path / "histories", 5)
    (tmp_path / "histories" / "bad.json").write_text('{"spending": "nope"}', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = execute(
        _settings(tmp_path),
        open_source(tmp_path / "histories"),
        out,
        input_label="histories",
        for_time=MORNING,
        ray="local",
    )
    assert code == 3  # one user failed; the others went on
    by_user = {r["user"]: r for r in records(out)}
    assert sorted(by_user) == sorted([*users, "bad"])
    assert by_user["bad"]["error"]["kind"] == "validation_failed"
    assert all(by_user[u]["status"] == "ok" for u in users)
    assert JOB_LLM_APP not in serve.status().applications
