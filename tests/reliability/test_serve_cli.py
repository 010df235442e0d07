"""``serve --help`` accounts for every setting (a flag, or its FINADVISOR_* variable), and --log-format exists."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from finadvisor.cli import app
from finadvisor.server.cli import FLAGS_FOR
from finadvisor.settings import Settings


def _help() -> str:
    result = CliRunner().invoke(
        app, ["serve", "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"}, terminal_width=400
    )
    assert result.exit_code == 0, result.output
    return re.sub(r"\s+", " ", result.output)


def test_every_setting_is_a_flag_or_a_listed_env_var() -> None:
    text = _help()
    assert "--log-format" in text
    for name in Settings.model_fields:
        if name in FLAGS_FOR:
            continue
        assert f"FINADVISOR_{name.upper()}" in text, name
    assert FLAGS_FOR <= set(Settings.model_fields)  # no stale names in the flag list


def test_log_format_is_validated() -> None:
    import pytest
    from pydantic import ValidationError

    assert Settings(log_format="json").log_format == "json"
    with pytest.raises(ValidationError):
        Settings(log_format="xml")  # type: ignore[arg-type]
