"""The ``finadvisor`` command line: wiring only, no logic of its own.

    finadvisor --version
    finadvisor --install-completion            # bash, zsh, fish, PowerShell (Typer/Click completion)

Each domain package owns a Typer sub-app in its ``cli.py``; they are imported plainly, so a broken import inside
finadvisor is a traceback, never a command that silently disappears. Optional third-party pieces (torch/peft/trl
for ``finetune``, ray for ``deploy``) are checked inside the commands that need them, with the extra to install
(:mod:`finadvisor.extras`); heavy libraries are imported inside commands, so ``finadvisor --help`` stays fast.

Exit codes follow Click's convention, and every error is one line on stderr (``--debug`` adds the traceback):

    0  success
    1  a runtime error (missing model, upstream down, disk full, an unexpected exception): one line
    2  a usage error: Click's own (unknown option, a value outside the choices, missing argument or file), and a
       project ConfigError that names the flag, variable or config key at fault in its ``param``
       (``--rank must be >= 1``, ``FINADVISOR_PORT 'abc': Input should be a valid integer``)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

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
from finadvisor.settings import CONFIG_ENV, Settings, settings_error

USAGE_EXIT = 2  # click.UsageError.exit_code
RUNTIME_EXIT = 1

app = typer.Typer(
    name="finadvisor", no_args_is_help=True, add_completion=True, help="Self-hosted LLM financial advisor."
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"finadvisor {__version__}")
        raise typer.Exit()


DEBUG_ENV = "FINADVISOR_DEBUG"


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    config: Path | None = typer.Option(  # noqa: B008 - Typer's idiom
        None,
        "--config",
        help="TOML file of settings (keys: the FINADVISOR_* names in lower case); a flag wins "
        "over the environment, which wins over the file. Default: ./finadvisor.toml when present. "
        "\\[env var: FINADVISOR_CONFIG]",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error. \\[env var: FINADVISOR_DEBUG]"
    ),
) -> None:
    """Self-hosted LLM financial advisor."""
    if config is not None:  # every Settings() of this process (and of the processes it starts) reads it
        os.environ[CONFIG_ENV] = str(config)
    if debug:
        os.environ[DEBUG_ENV] = "1"


def _create_app(settings: Settings) -> Any:
    """The server with the advisor's routes (imported on use: ``finadvisor --help`` stays fast)."""
    from finadvisor.app import create_app

    return create_app(settings)


register_server(app, _create_app)
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


def _fail(message: str, code: int) -> None:
    """One line on stderr, then exit; with ``--debug`` the exception propagates (a full traceback)."""
    if os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes"):
        raise  # the exception being handled: _fail is only called from ``except`` blocks
    message = " ".join(message.replace("Value error, ", "").split())
    if message:  # (Click's "no arguments: here is the help" has no message)
        typer.secho("error: " + message, err=True, fg="red")
    sys.exit(code)


def main() -> None:
    from finadvisor.logs import configure_command_logging

    configure_command_logging()  # redaction in every command, not only serve (issue 25)
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # Click's errors: bad option, value, choice, missing argument or file
        ctx = getattr(exc, "ctx", None)
        message = exc.format_message()
        hint = (
            f" (see '{ctx.command_path} --help')"
            if ctx is not None and message and exc.exit_code == USAGE_EXIT
            else ""
        )
        _fail(message + hint, exc.exit_code)
    except typer.Abort:
        _fail("aborted", RUNTIME_EXIT)
    except (
        ValidationError
    ) as exc:  # a Settings() built outside load_settings: still one line naming the source
        if exc.title != Settings.__name__:
            _fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)", RUNTIME_EXIT)
        _fail(settings_error(exc).message + f" (see '{_command()} --help')", USAGE_EXIT)
    except FinadvisorError as exc:
        code = exit_code_for(exc)
        _fail(exc.message + (f" (see '{_command()} --help')" if code == USAGE_EXIT else ""), code)
    except OSError as exc:  # disk full, permissions, missing files: one line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}", RUNTIME_EXIT)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug or an unexpected library error: still one line; --debug shows where
        _fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)", RUNTIME_EXIT)
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


def _command() -> str:
    """``finadvisor <sub-command> ...`` as typed (options skipped), for the hint after a usage error."""
    import typer.main

    command = typer.main.get_command(app)
    path = ["finadvisor"]
    for word in sys.argv[1:]:
        commands = getattr(command, "commands", {})
        if word in commands:
            path.append(word)
            command = commands[word]
    return " ".join(path)


if __name__ == "__main__":
    main()
