"""``finadvisor serve`` and ``finadvisor model``: start the server, locate the packaged model.

``serve`` has a flag for the settings people change at the command line; every other setting is read from its
environment variable ``FINADVISOR_<FIELD>``, and ``serve --help`` lists them all (generated from
:class:`~finadvisor.settings.Settings`, so the list cannot go stale). A flag wins over the environment.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from finadvisor.settings import Settings, load_settings

model_app = typer.Typer(help="The packaged default model.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (env FINADVISOR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env FINADVISOR_PORT).")] = None,
    engine: Annotated[str | None, typer.Option(help="llamacpp | openai | transformers | vllm | fake.")] = None,
    model: Annotated[str | None, typer.Option(help="Local model (GGUF or HF folder); default: packaged Qwen2.5 0.5B.")] = None,
    model_name: Annotated[str | None, typer.Option(help="Served model name.")] = None,
    upstream: Annotated[str | None, typer.Option(help="OpenAI-compatible upstream URL (engine=openai).")] = None,
    api_key: Annotated[str | None, typer.Option(help="Require this bearer key on every route but /health (and the cookie GET) (env FINADVISOR_API_KEY).")] = None,
    n_parallel: Annotated[int | None, typer.Option(help="llama.cpp parallel slots.")] = None,
    n_ctx: Annotated[int | None, typer.Option(help="llama.cpp total context (shared by slots).")] = None,
    n_threads: Annotated[int | None, typer.Option(help="CPU threads (0 = all available cores).")] = None,
    lora: Annotated[list[str] | None, typer.Option(help="LoRA adapter NAME=DIR (repeatable).")] = None,
    tensor_parallel_size: Annotated[int | None, typer.Option(help="vLLM tensor parallel size.")] = None,
    max_lora_rank: Annotated[int | None, typer.Option(help="vLLM --max-lora-rank.")] = None,
    catalog: Annotated[Path | None, typer.Option(help="Catalog JSON for the advisor.")] = None,
    index: Annotated[Path | None, typer.Option(help="Vector index folder for the advisor.")] = None,
    cache: Annotated[str | None, typer.Option(help="Advisor cache: memory or redis://host:port/db.")] = None,
    spending_api_url: Annotated[str | None, typer.Option(help="Spending API URL template.")] = None,
    history_dir: Annotated[Path | None, typer.Option(help="Folder of <user>.json histories (demo provider).")] = None,
    log_level: Annotated[str | None, typer.Option(help="debug | info | warning | error.")] = None,
    log_format: Annotated[str | None, typer.Option(help="text | json (one JSON object a line, for log "
                                                         "shippers).")] = None,
) -> None:
    """Start the OpenAI-compatible server (and the advisor) on the embedded model."""
    from finadvisor.app import create_app
    from finadvisor.logs import configure_logging

    settings = load_settings(host=host, port=port, engine=engine, model=model, model_name=model_name,
                             upstream_url=upstream, api_key=api_key, n_parallel=n_parallel, n_ctx=n_ctx,
                             n_threads=n_threads, lora=lora or None, tensor_parallel_size=tensor_parallel_size,
                             max_lora_rank=max_lora_rank, catalog_path=catalog, index_dir=index, cache_url=cache,
                             spending_api_url=spending_api_url, history_dir=history_dir, log_level=log_level,
                             log_format=log_format)
    configure_logging(settings.log_level, settings.log_format)
    if settings.engine in ("llamacpp", "transformers"):
        from finadvisor.models import resolve_model
        path = resolve_model(settings.model, settings.cache_dir)  # fail fast with a clear message
        logging.getLogger("finadvisor").info("model: %s", path)
    run_server(create_app(settings), settings)


def run_server(app: Any, settings: Settings) -> None:
    """Serve ``app`` under uvicorn with our logging (the one place ``serve`` and the leak test share)."""
    import uvicorn

    from finadvisor.logs import add_secrets, configure_logging

    configure_logging(settings.log_level, settings.log_format)
    add_secrets(settings.api_key, settings.upstream_api_key)
    # log_config=None: keep our redacting (and JSON) handler; uvicorn's own dictConfig would replace it.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                access_log=False, timeout_graceful_shutdown=5, log_config=None)


@model_app.command("path")
def model_path() -> None:
    """Assemble (first time) and verify the packaged default GGUF, then print its path."""
    from finadvisor.models import default_model_path
    typer.echo(str(default_model_path(load_settings().cache_dir)))


FLAGS_FOR = {"host", "port", "engine", "model", "model_name", "upstream_url", "api_key", "n_parallel", "n_ctx",
             "n_threads", "lora", "tensor_parallel_size", "max_lora_rank", "catalog_path", "index_dir", "cache_url",
             "spending_api_url", "history_dir", "log_level", "log_format"}


def env_epilog() -> str:
    """The settings without a ``serve`` flag, each with its environment variable (for ``serve --help``)."""
    from finadvisor.settings import Settings

    rest = [f"FINADVISOR_{name.upper()}" for name in Settings.model_fields if name not in FLAGS_FOR]
    return ("Every other setting is an environment variable (a flag wins over it): " + ", ".join(rest)
            + ". Each is described in finadvisor/settings.py.")


def register(app: typer.Typer) -> None:
    app.command("serve", epilog=env_epilog())(serve)
    app.add_typer(model_app, name="model")
