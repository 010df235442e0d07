"""The ``finadvisor`` command line: wiring only, no logic of its own.

Each domain package owns a Typer sub-app in its ``cli.py`` (imports of heavy libraries happen inside commands,
so ``finadvisor --help`` stays fast). Errors from the project's hierarchy become one clear line and exit code 1.
"""

from __future__ import annotations

import sys

import typer

from finadvisor.errors import FinadvisorError

app = typer.Typer(name="finadvisor", no_args_is_help=True, add_completion=False,
                  help="Self-hosted LLM financial advisor.")


def _register() -> None:
    from finadvisor.server.cli import register as register_server

    register_server(app)
    for module, name in [
        ("finadvisor.catalog.cli", "catalog"),
        ("finadvisor.bench.cli", "bench"),
        ("finadvisor.dataset.cli", "dataset"),
        ("finadvisor.finetune.cli", "finetune"),
        ("finadvisor.deploy.cli", "deploy"),
    ]:
        try:
            mod = __import__(module, fromlist=["app"])
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("finadvisor"):
                continue  # that package is not built yet
            raise
        app.add_typer(mod.app, name=name)
    try:
        from finadvisor.advisor.cli import register as register_advisor
    except ModuleNotFoundError as exc:
        if not (exc.name and exc.name.startswith("finadvisor")):
            raise
    else:
        register_advisor(app)


_register()


def main() -> None:
    try:
        app()
    except FinadvisorError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        sys.exit(1)
    except OSError as exc:  # disk full, permissions, missing files: one line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        typer.secho(f"error: {exc.strerror or exc}{where}", err=True, fg="red")
        sys.exit(1)


if __name__ == "__main__":
    main()
