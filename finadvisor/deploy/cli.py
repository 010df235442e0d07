"""``finadvisor deploy ray``: run the advisor app as a Ray Serve application (replicas + autoscaling)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from finadvisor.errors import ConfigError
from finadvisor.extras import RAY, require_extra

app = typer.Typer(help="Scale-out deployments (Ray Serve).", no_args_is_help=True)


@app.command("ray")
def ray_cmd(
    replicas: Annotated[int, typer.Option(help="Advisor HTTP replicas (ignored with --config).")] = 2,
    config: Annotated[
        Path | None, typer.Option(help="A Ray Serve config YAML (see finadvisor/deploy/serve_config.yaml).")
    ] = None,
    upstream: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible LLM URL (vLLM); default: embedded model as an 'llm' deployment."
        ),
    ] = None,
    cache: Annotated[str | None, typer.Option(help="Shared cache, e.g. redis://127.0.0.1:6379/0.")] = None,
    port: Annotated[int, typer.Option(help="HTTP port of the Serve proxy.")] = 8000,
    host: Annotated[str, typer.Option(help="HTTP host of the Serve proxy.")] = "127.0.0.1",
    address: Annotated[
        str | None, typer.Option(help="Existing Ray cluster address (default: start a local one).")
    ] = None,
) -> None:
    """Deploy on Ray Serve and block until Ctrl-C."""
    require_extra("ray", "finadvisor deploy ray", *RAY)
    import ray
    from ray import serve

    from finadvisor.deploy.ray_app import DEFAULT_APP_NAME, build_app

    if config is not None:
        import yaml

        if not config.is_file():
            raise ConfigError(f"{config} does not exist")
        spec = yaml.safe_load(config.read_text())
        http = spec.get("http_options", {})
        apps = spec.get("applications") or []
        if not apps:
            raise ConfigError(f"{config} has no applications")
        ray.init(address=address, include_dashboard=False)
        serve.start(http_options={"host": http.get("host", host), "port": http.get("port", port)})
        for entry in apps:
            if entry.get("import_path") != "finadvisor.deploy.ray_app:build_app":
                raise ConfigError(
                    f"{config}: only finadvisor.deploy.ray_app:build_app is supported here; "
                    "use `serve run` for other applications"
                )
            serve.run(
                build_app(entry.get("args", {})),
                name=entry.get("name", DEFAULT_APP_NAME),
                route_prefix=entry.get("route_prefix", "/"),
            )
    else:
        settings = {k: v for k, v in {"upstream_url": upstream, "cache_url": cache}.items() if v}
        ray.init(address=address, include_dashboard=False)
        serve.start(http_options={"host": host, "port": port})
        serve.run(
            build_app({"replicas": replicas, "settings": settings}), name=DEFAULT_APP_NAME, route_prefix="/"
        )
    typer.echo(f"finadvisor is serving on Ray at http://{host}:{port} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        serve.shutdown()
