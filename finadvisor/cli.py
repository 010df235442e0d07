"""The ``finadvisor`` command line: wiring only, no logic of its own.

    finadvisor --version
    finadvisor --install-completion            # bash, zsh, fish, PowerShell (Typer/Click completion)

Each domain package owns a Typer sub-app in its ``cli.py``; they are imported plainly, so a broken import inside
finadvisor is a traceback, never a command that silently disappears. Optional third-party pieces (torch/peft/trl
for ``finetune``, ray for ``deploy``) are checked inside the commands that need them, with the extra to install
(:mod:`finadvisor.extras`); heavy libraries are imported inside commands, so ``finadvisor --help`` stays fast.

Exit codes follow Click's convention:

    0  success
    1  a runtime error from the project's hierarchy (missing model, upstream down, disk full): one line
    2  a usage error: Click's own (unknown option, bad type, missing argument), and a project ConfigError that
       names the flag at fault in its ``param`` (``--rank must be >= 1``)
"""

from __future__ import annotations

import sys

import typer

from finadvisor import __version__
from finadvisor.advisor.cli import register as register_advisor
from finadvisor.batch.cli import register as register_batch
from finadvisor.bench.cli import app as bench_app
from finadvisor.catalog.cli import app as catalog_app
from finadvisor.dataset.cli import app as dataset_app
from finadvisor.deploy.cli import app as deploy_app
from finadvisor.errors import ConfigError, FinadvisorError
from finadvisor.finetune.cli import app as finetune_app
from finadvisor.server.cli import register as register_server

USAGE_EXIT = 2  # click.UsageError.exit_code
RUNTIME_EXIT = 1

app = typer.Typer(name="finadvisor", no_args_is_help=True, add_completion=True,
                  help="Self-hosted LLM financial advisor.")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"finadvisor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Self-hosted LLM financial advisor."""


register_server(app)
app.add_typer(catalog_app, name="catalog")
app.add_typer(bench_app, name="bench")
app.add_typer(dataset_app, name="dataset")
app.add_typer(finetune_app, name="finetune")
app.add_typer(deploy_app, name="deploy")
register_advisor(app)
register_batch(app)


def exit_code_for(exc: FinadvisorError) -> int:
    """2 for a ConfigError that names the flag at fault (a usage error), 1 for everything else."""
    return USAGE_EXIT if isinstance(exc, ConfigError) and exc.param else RUNTIME_EXIT


def main() -> None:
    try:
        app()
    except FinadvisorError as exc:
        code = exit_code_for(exc)
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        if code == USAGE_EXIT:
            typer.echo("Try the command with --help for its options.", err=True)
        sys.exit(code)
    except OSError as exc:  # disk full, permissions, missing files: one line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        typer.secho(f"error: {exc.strerror or exc}{where}", err=True, fg="red")
        sys.exit(RUNTIME_EXIT)


if __name__ == "__main__":
    main()
