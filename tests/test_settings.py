"""Settings precedence (flag > environment > config file > default), the config file, and one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from finadvisor.errors import ConfigError
from finadvisor.settings import Settings, load_settings


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "finadvisor.toml"
    path.write_text('port = 8100\nhost = "0.0.0.0"\nlog_level = "warning"\nlora = ["a=/x"]\n')
    monkeypatch.setenv("FINADVISOR_CONFIG", str(path))
    for name in ("FINADVISOR_PORT", "FINADVISOR_HOST", "FINADVISOR_LOG_LEVEL", "FINADVISOR_LORA"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_precedence_flag_over_environment_over_file_over_default(
    config: Path, monkeypatch: pytest.MonkeyPatch
):
    settings = load_settings()
    assert (settings.port, settings.host, settings.log_level, settings.lora) == (
        8100,
        "0.0.0.0",
        "warning",
        ["a=/x"],
    )
    assert settings.n_parallel == Settings.model_fields["n_parallel"].default  # not in the file: the default
    monkeypatch.setenv("FINADVISOR_PORT", "8200")
    assert load_settings().port == 8200  # the environment beats the file
    assert load_settings(port=8300).port == 8300  # a flag beats both
    assert load_settings(port=None).port == 8200  # None = flag not given


def test_the_working_folders_finadvisor_toml_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FINADVISOR_CONFIG", raising=False)
    monkeypatch.delenv("FINADVISOR_PORT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_settings().port == 8000
    (tmp_path / "finadvisor.toml").write_text("port = 8101\n")
    assert load_settings().port == 8101


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("prot = 1\n", "unknown setting 'prot'"),
        ("port = \n", "is not readable TOML"),
        ('port = "abc"\n', "finadvisor.toml: port 'abc': Input should be a valid integer"),
        ('engine = "bogus"\n', "engine 'bogus': Input should be 'llamacpp', 'openai'"),
    ],
)
def test_a_bad_config_file_is_one_clear_error(config: Path, content: str, message: str):
    config.write_text(content)
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings()
    assert raised.value.param  # a usage error: exit 2 in the CLI


def test_a_missing_config_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FINADVISOR_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="nope.toml does not exist"):
        load_settings()


def test_bad_values_name_their_source(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FINADVISOR_CONFIG", raising=False)
    monkeypatch.setenv("FINADVISOR_MAX_WAITING", "lots")
    with pytest.raises(ConfigError, match="FINADVISOR_MAX_WAITING 'lots': Input should be a valid integer"):
        load_settings()
    monkeypatch.delenv("FINADVISOR_MAX_WAITING")
    with pytest.raises(ConfigError, match="--port 70000: Input should be less than or equal to 65535"):
        load_settings(port=70000)


def test_cli_config_flag_reaches_every_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """``finadvisor --config FILE serve``: a bad value in the file is a one-line usage error naming the file."""
    from finadvisor.cli import main

    path = tmp_path / "site.toml"
    path.write_text('log_format = "xml"\n')
    monkeypatch.setenv("FINADVISOR_CONFIG", "")  # recorded, so what --config sets is undone after the test
    monkeypatch.delenv("FINADVISOR_LOG_FORMAT", raising=False)
    monkeypatch.setattr(sys, "argv", ["finadvisor", "--config", str(path), "serve"])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert "site.toml: log_format 'xml'" in err and "'json'" in err


def test_log_level_is_a_choice_read_in_any_case():
    assert load_settings(log_level="WARNING").log_level == "warning"
    with pytest.raises(ConfigError, match="'loud'"):
        load_settings(log_level="loud")


def test_the_dead_retrieval_settings_are_gone():
    assert not {"retrieval_top_k", "retrieval_min_share"} & set(Settings.model_fields)
