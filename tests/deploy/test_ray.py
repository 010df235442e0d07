"""Ray Serve: a local cluster with 2 advisor replicas; concurrent requests are spread over both replicas.

Both shapes are exercised: replicas in front of an OpenAI upstream (a stand-in server process, as vLLM would
be) sharing nothing but the upstream, and replicas sharing one embedded ``llm`` deployment through a handle.
"""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.advisor.conftest import HISTORY
from tests.helpers import free_port, wait_healthy

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")
pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
    )
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield port
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.engines.fake_vllm", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, timeout_s=60)
    yield url + "/v1"
    proc.terminate()
    proc.wait(10)


def _spread(port: int, path: str, body: dict, n: int = 16) -> tuple[set[str], list[int]]:
    def call(i: int) -> httpx.Response:
        return httpx.post(
            f"http://127.0.0.1:{port}{path}", json=body, timeout=60, headers={"Cache-Control": "no-cache"}
        )

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(call, range(n)))
    return {r.headers.get("x-served-by", "") for r in responses}, [r.status_code for r in responses]


def _wait_ready(port: int) -> None:
    wait_healthy(f"http://127.0.0.1:{port}", None, timeout_s=120)


def test_two_replicas_in_front_of_an_upstream(ray_cluster: int, upstream: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.deploy.ray_app import build_app

    app = build_app(
        {
            "replicas": 2,
            "settings": {
                "upstream_url": upstream,
                "embedder": "hash",
                "cache_dir": str(tmp_path / "cache"),
                "index_dir": str(tmp_path / "idx"),
                "rate_limit_per_min": 10000,
            },
        }
    )
    serve.run(app, name="up", route_prefix="/")
    _wait_ready(ray_cluster)
    replicas, codes = _spread(
        ray_cluster,
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "xin chào"}], "max_tokens": 8},
    )
    assert codes == [200] * 16
    assert len(replicas) == 2 and "" not in replicas
    serve.delete("up")


def test_replicas_share_one_embedded_llm_deployment(ray_cluster: int, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from finadvisor.deploy.ray_app import build_app

    app = build_app(
        {
            "replicas": 2,
            "app_name": "emb",
            "llm_num_cpus": 0.5,
            "settings": {
                "engine": "fake",
                "embedder": "hash",
                "cache_dir": str(tmp_path / "cache"),
                "index_dir": str(tmp_path / "idx"),
                "rate_limit_per_min": 10000,
            },
        }
    )
    serve.run(app, name="emb", route_prefix="/")
    _wait_ready(ray_cluster)
    replicas, codes = _spread(
        ray_cluster,
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "một hai"}], "max_tokens": 8},
    )
    assert codes == [200] * 16 and len(replicas) == 2
    r = httpx.post(
        f"http://127.0.0.1:{ray_cluster}/v1/chat/completions",
        timeout=60,
        json={"messages": [{"role": "user", "content": "một hai"}], "max_tokens": 8},
    )
    assert r.json()["choices"][0]["message"]["content"] == "Bạn đã nói: một hai"
    adv = httpx.post(
        f"http://127.0.0.1:{ray_cluster}/api/recommendations", json={"history": HISTORY}, timeout=60
    )
    assert adv.status_code == 200, adv.text
    serve.delete("emb")
