"""``python -m finadvisor.batch …``: the batch command on its own (benchmarks, and before it is wired into the
main ``finadvisor`` command line)."""

from __future__ import annotations

import sys

import typer

from finadvisor.batch.cli import register
from finadvisor.errors import FinadvisorError

app = typer.Typer(add_completion=False)


@app.callback()
def _group() -> None:
    """finadvisor's nightly batch (the same command as ``finadvisor batch``)."""


register(app)


def main() -> None:
    try:
        app()
    except FinadvisorError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        sys.exit(1)


if __name__ == "__main__":
    main()
