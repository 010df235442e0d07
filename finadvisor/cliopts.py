"""Typer options generated from :class:`~finadvisor.settings.Settings`, so a flag's help, default and
environment variable are the setting's own and cannot drift from it.

    port: Annotated[int | None, setting_option("port")] = None

The function's default stays ``None`` ("not given"): the value then comes from the environment, the config file
or the setting's default, in that order (:func:`~finadvisor.settings.load_settings`), and ``--help`` shows that
default and the variable. Whole numbers are parsed here, so a bad one is a usage error naming the value.
"""

from __future__ import annotations

from typing import Any

import typer

from finadvisor.settings import Settings


def env_var(field: str) -> str:
    return f"FINADVISOR_{field.upper()}"


def shown_default(field: str) -> str:
    """The default as ``--help`` prints it ("none" for an unset optional, the packaged model's note, ...)."""
    info = Settings.model_fields[field]
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return str(value)


def whole_number(value: str | int) -> int:
    """A Typer ``parser`` for whole-number flags: the error names the value (bounds are checked by Settings)."""
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a whole number") from None


def setting_option(field: str, *names: str, help: str | None = None, **kwargs: Any) -> Any:
    """A Typer option for the setting ``field``: its description (or ``help``), default and variable."""
    info = Settings.model_fields[field]
    text = (help or info.description or "").rstrip()
    if info.annotation is int or info.annotation == int | None:
        kwargs.setdefault("parser", whole_number)
    # "\\[": Typer reads help as rich markup, where a bare "[env var: ...]" would be taken for a style tag
    return typer.Option(
        *names, help=f"{text} \\[env var: {env_var(field)}]", show_default=shown_default(field), **kwargs
    )
