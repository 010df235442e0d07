"""``finadvisor serve`` and ``finadvisor model``: start the server, locate the packaged model.

``serve`` has a flag for the settings people change at the command line; every other setting is read from its
environment variable ``FINADVISOR_<FIELD>``, and ``serve --help`` lists them all (generated from
:class:`~finadvisor.settings.Settings`, so the list cannot go stale). A flag wins over the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from finadvisor.cliopts import setting_option
from finadvisor.settings import EngineName, LogFormat, LogLevel, Settings, WriterName, load_settings

model_app = typer.Typer(help="The packaged default model.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, setting_option("host")] = None,
    port: Annotated[int | None, setting_option("port")] = None,
    engine: Annotated[EngineName | None, setting_option("engine")] = None,
    model: Annotated[str | None, setting_option("model")] = None,
    model_name: Annotated[str | None, setting_option("model_name")] = None,
    upstream: Annotated[str | None, setting_option("upstream_url", "--upstream")] = None,
    api_key: Annotated[str | None, setting_option("api_key")] = None,
    n_parallel: Annotated[int | None, setting_option("n_parallel")] = None,
    n_ctx: Annotated[int | None, setting_option("n_ctx")] = None,
    n_threads: Annotated[int | None, setting_option("n_threads")] = None,
    lora: Annotated[list[str] | None, setting_option("lora")] = None,
    tensor_parallel_size: Annotated[int | None, setting_option("tensor_parallel_size")] = None,
    max_lora_rank: Annotated[int | None, setting_option("max_lora_rank")] = None,
    catalog: Annotated[Path | None, setting_option("catalog_path", "--catalog")] = None,
    index: Annotated[Path | None, setting_option("index_dir", "--index")] = None,
    cache: Annotated[str | None, setting_option("cache_url", "--cache")] = None,
    spending_api_url: Annotated[str | None, setting_option("spending_api_url")] = None,
    history_dir: Annotated[Path | None, setting_option("history_dir")] = None,
    log_level: Annotated[LogLevel | None, setting_option("log_level")] = None,
    log_format: Annotated[LogFormat | None, setting_option("log_format")] = None,
    writer: Annotated[WriterName | None, setting_option("advisor_writer", "--writer")] = None,
) -> None:
    """Start the OpenAI-compatible server (and the advisor) on the embedded model."""
    from finadvisor.engines import loads_local_model
    from finadvisor.logs import configure_logging

    settings = load_settings(
        host=host,
        port=port,
        engine=engine,
        model=model,
        model_name=model_name,
        upstream_url=upstream,
        api_key=api_key,
        n_parallel=n_parallel,
        n_ctx=n_ctx,
        n_threads=n_threads,
        lora=lora or None,
        tensor_parallel_size=tensor_parallel_size,
        max_lora_rank=max_lora_rank,
        catalog_path=catalog,
        index_dir=index,
        cache_url=cache,
        spending_api_url=spending_api_url,
        history_dir=history_dir,
        log_level=log_level,
        log_format=log_format,
        advisor_writer=writer,
    )
    configure_logging(settings.log_level, settings.log_format)
    if loads_local_model(settings):
        from finadvisor.models import resolve_model

        path = resolve_model(settings.model, settings.cache_dir)  # fail fast with a clear message
        logging.getLogger("finadvisor").info("model: %s", path)
    run_server(_app_factory(settings), settings)


def run_server(app: Any, settings: Settings) -> None:
    """Serve ``app`` under uvicorn with our logging (the one place ``serve`` and the leak test share)."""
    import uvicorn

    from finadvisor.logs import add_secrets, configure_logging

    configure_logging(settings.log_level, settings.log_format)
    add_secrets(settings.api_key, settings.upstream_api_key)
    from finadvisor.server.auth import exposure_warning

    if (warning := exposure_warning(settings.host, settings.api_key)) is not None:
        logging.getLogger("finadvisor").warning(warning)
    # log_config=None: keep our redacting (and JSON) handler; uvicorn's own dictConfig would replace it.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=5,
        log_config=None,
    )


@model_app.command("path")
def model_path() -> None:
    """Assemble (first time) and verify the packaged default GGUF, then print its path."""
    from finadvisor.models import default_model_path

    typer.echo(str(default_model_path(load_settings().cache_dir)))


FLAGS_FOR = {
    "host",
    "port",
    "engine",
    "model",
    "model_name",
    "upstream_url",
    "api_key",
    "n_parallel",
    "n_ctx",
    "n_threads",
    "lora",
    "tensor_parallel_size",
    "max_lora_rank",
    "catalog_path",
    "index_dir",
    "cache_url",
    "spending_api_url",
    "history_dir",
    "log_level",
    "log_format",
    "advisor_writer",
}


def env_epilog() -> str:
    """The settings without a ``serve`` flag, each with its environment variable (for ``serve --help``)."""
    from finadvisor.settings import Settings

    rest = [f"FINADVISOR_{name.upper()}" for name in Settings.model_fields if name not in FLAGS_FOR]
    return (
        "Every other setting is an environment variable, or a key of the config file (finadvisor --config "
        "FILE; a flag wins over the environment, which wins over the file): "
        + ", ".join(rest)
        + ". Each is described in finadvisor/settings.py."
    )


def _no_app(settings: Settings) -> Any:
    raise RuntimeError("finadvisor.server.cli.register() was not given the app factory")


# The composition root (finadvisor/cli.py) passes finadvisor.app.create_app: server/ never imports the advisor.
_app_factory: Callable[[Settings], Any] = _no_app


def register(app: typer.Typer, create_app: Callable[[Settings], Any]) -> None:
    """Add ``serve`` (serving what ``create_app`` builds: the server with the advisor) and ``model``."""
    global _app_factory
    _app_factory = create_app
    app.command("serve", epilog=env_epilog())(serve)
    app.add_typer(model_app, name="model")
