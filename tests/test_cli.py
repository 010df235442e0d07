"""The root command line: --version, shell completion, exit codes (0 / 1 runtime / 2 usage), no swallowed imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finadvisor import __version__
from finadvisor.cli import app, exit_code_for
from finadvisor.errors import ConfigError, UpstreamError
from finadvisor.extras import missing, require_extra

ROOT = Path(__file__).resolve().parents[1]


def _main(*args: str) -> subprocess.CompletedProcess[str]:
    """Through ``main()`` as the console script runs it (it maps the project's errors to exit codes)."""
    return subprocess.run(
        [sys.executable, "-c", "from finadvisor.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"finadvisor {__version__}"
    assert CliRunner().invoke(app, ["-V"]).output.strip() == f"finadvisor {__version__}"


def test_shell_completion_completes_subcommands_and_options(monkeypatch):  # type: ignore[no-untyped-def]
    # typer makes --show-completion a bare flag when it can detect the parent shell and an option taking the shell's
    # name when it cannot, so the outcome depended on the process tree; the shell is named explicitly here
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    runner = CliRunner()
    env = {"_FINADVISOR_COMPLETE": "complete_bash", "COMP_WORDS": "finadvisor fine", "COMP_CWORD": "1"}
    result = runner.invoke(app, [], env=env, prog_name="finadvisor")
    assert result.exit_code == 0 and result.output.split() == ["finetune"]
    env = {
        "_FINADVISOR_COMPLETE": "complete_bash",
        "COMP_WORDS": "finadvisor finetune train --drop",
        "COMP_CWORD": "3",
    }
    assert runner.invoke(app, [], env=env, prog_name="finadvisor").output.split() == ["--dropout"]
    script = runner.invoke(app, ["--show-completion", "bash"], prog_name="finadvisor")
    assert script.exit_code == 0 and "_FINADVISOR_COMPLETE=complete_bash" in script.output


@pytest.mark.parametrize(
    "args",
    [
        ["nosuch"],  # unknown command
        ["finetune", "train", "--rank", "abc"],  # bad type
        ["finetune", "train", "--wobble"],  # unknown option
        ["dataset", "generate", "x.txt"],  # missing required --out
    ],
)
def test_clicks_usage_errors_exit_2(args: list[str]):
    assert CliRunner().invoke(app, args).exit_code == 2


def test_project_usage_errors_exit_2_and_runtime_errors_exit_1(tmp_path: Path):
    bad_flag = _main("finetune", "train", "--data", str(tmp_path / "d"), "--out", str(tmp_path))
    assert bad_flag.returncode == 2, bad_flag.stderr
    assert "error: --data" in bad_flag.stderr and "Traceback" not in bad_flag.stderr
    (tmp_path / "d.jsonl").write_text("")
    bad_value = _main(
        "finetune", "train", "--rank", "0", "--data", str(tmp_path / "d.jsonl"), "--out", str(tmp_path)
    )
    assert bad_value.returncode == 2 and "error: --rank must be >= 1" in bad_value.stderr
    corrupt = tmp_path / "gen.state.json"
    corrupt.write_text("{not json")
    (tmp_path / "t.txt").write_text("Một đoạn văn.")
    runtime = _main(
        "dataset",
        "generate",
        str(tmp_path / "t.txt"),
        "--out",
        str(tmp_path / "gen.jsonl"),
        "--upstream",
        "http://127.0.0.1:9/v1",
    )
    assert runtime.returncode == 1, runtime.stderr
    assert "is corrupt" in runtime.stderr and "Traceback" not in runtime.stderr


def test_exit_code_mapping():
    assert exit_code_for(ConfigError("--rank must be >= 1", param="--rank")) == 2
    assert exit_code_for(ConfigError("the model file is missing")) == 1
    assert exit_code_for(UpstreamError("upstream answered 500", param="model")) == 1


def test_missing_extra_names_the_pip_extra():
    assert missing("json", "no_such_module_xyz") == ["no_such_module_xyz"]
    with pytest.raises(ConfigError, match=r"needs no_such_module_xyz, .*pip install 'finadvisor\[ml\]'"):
        require_extra("ml", "fine-tuning", "json", "no_such_module_xyz")
    require_extra("ml", "fine-tuning", "json")  # present: no error


def test_finetune_without_the_ml_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a)
    )
    result = CliRunner().invoke(app, ["finetune", "train", "--data", str(tmp_path), "--out", str(tmp_path)])
    assert isinstance(result.exception, ConfigError)
    assert "needs peft" in result.exception.message and "finadvisor[ml]" in result.exception.message


def _swallowed_own_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Try):
            continue
        caught = set()
        for handler in node.handlers:
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught |= {t.id for t in types if isinstance(t, ast.Name)}
        if not caught & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}:
            continue
        for stmt in node.body:
            for sub in ast.walk(stmt):
                names = (
                    [a.name for a in sub.names]
                    if isinstance(sub, ast.Import)
                    else [sub.module or ""]
                    if isinstance(sub, ast.ImportFrom)
                    else []
                )
                found += [
                    f"{path.relative_to(ROOT)}:{sub.lineno} {n}"
                    for n in names  # type: ignore[attr-defined]
                    if n == "finadvisor"
                    or n.startswith("finadvisor.")
                    or (isinstance(sub, ast.ImportFrom) and sub.level > 0)
                ]
    return found


def test_nothing_in_finadvisor_swallows_an_import_error_of_its_own_modules():
    offenders = [
        hit for path in sorted((ROOT / "finadvisor").rglob("*.py")) for hit in _swallowed_own_imports(path)
    ]
    assert offenders == []


def test_the_swallow_detector_finds_the_old_pattern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    old = (
        "try:\n    mod = __import__('x')\n    from finadvisor.finetune.cli import app\n"
        "except ModuleNotFoundError:\n    pass\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(old)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _swallowed_own_imports(probe) == ["probe.py:3 finadvisor.finetune.cli"]


def test_every_domain_command_is_registered():
    import typer.main

    names = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert {"serve", "recommend", "catalog", "bench", "dataset", "finetune", "deploy", "batch"} <= names


# ------------------------------------------------------------------ issue 26: one line, the right exit code
def _run_main(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """``main()`` in-process, as the console script runs it: (exit code, stderr)."""
    from finadvisor.cli import main

    monkeypatch.setattr(sys, "argv", ["finadvisor", *args])
    for name in (
        "FINADVISOR_DEBUG",
        "FINADVISOR_CONFIG",
    ):  # --debug / --config set them: undone after the test
        monkeypatch.setenv(name, "")
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    path = tmp_path / "h.json"
    path.write_text('{"spending": [{"name": "Ăn uống", "amount": 100000, "count": 3}], "earning": []}')
    return path


USAGE_CASES = {
    "serve --engine bogus": (["serve", "--engine", "bogus"], {}, ["'bogus'", "'llamacpp'", "--engine"]),
    "recommend --engine bogus": (
        ["recommend", "--history", "{history}", "--engine", "bogus"],
        {},
        ["'bogus'", "'fake'"],
    ),
    "serve --log-level loud": (["serve", "--log-level", "loud"], {}, ["'loud'", "'debug'", "'warning'"]),
    "FINADVISOR_PORT=abc serve": (
        ["serve"],
        {"FINADVISOR_PORT": "abc"},
        ["FINADVISOR_PORT", "'abc'", "integer"],
    ),
    "serve --port 70000": (["serve", "--port", "70000"], {}, ["--port", "70000", "65535"]),
    "serve --port x": (["serve", "--port", "x"], {}, ["--port", "'x'", "whole number"]),
    "FINADVISOR_LOG_FORMAT=xml serve": (
        ["serve"],
        {"FINADVISOR_LOG_FORMAT": "xml"},
        ["FINADVISOR_LOG_FORMAT", "'xml'", "'json'"],
    ),
    "catalog search without --query or --history": (
        ["catalog", "search", "--index", "{tmp}"],
        {},
        ["--query", "--history", "exactly one"],
    ),
    "recommend --now yesterday": (
        ["recommend", "--history", "{history}", "--now", "yesterday"],
        {},
        ["'yesterday'", "ISO 8601"],
    ),
    "bench -c 1,x": (["bench", "--url", "http://127.0.0.1:9", "-c", "1,x"], {}, ["--concurrency", "'1,x'"]),
    "bench --target foo": (
        ["bench", "--url", "http://127.0.0.1:9", "--target", "foo"],
        {},
        ["'foo'", "'chat'", "'advisor'"],
    ),
    "missing --history file": (
        ["recommend", "--history", "{tmp}/nope.json"],
        {},
        ["--history", "nope.json", "does not exist"],
    ),
    "missing catalog file": (
        ["catalog", "build", "{tmp}/nope.json", "--index", "{tmp}/idx"],
        {},
        ["nope.json", "does not exist"],
    ),
    "batch --engine bogus": (
        ["batch", "--input", "{history}", "--out", "{tmp}/o.jsonl", "--engine", "bogus"],
        {},
        ["'bogus'"],
    ),
    "unknown command": (["nosuch"], {}, ["nosuch"]),
    "--config with a missing file": (
        ["--config", "{tmp}/nope.toml", "serve"],
        {},
        ["nope.toml does not exist", "finadvisor serve --help"],
    ),
    "a bad variable read by Settings() directly": (
        ["dataset", "generate", "{history}", "--out", "{tmp}/o.jsonl"],
        {"FINADVISOR_N_BATCH": "x"},
        ["FINADVISOR_N_BATCH 'x'", "finadvisor dataset generate --help"],
    ),
}


@pytest.mark.parametrize("case", sorted(USAGE_CASES))
def test_usage_errors_are_one_line_naming_the_value_exit_2(
    case: str,
    tmp_path: Path,
    history_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    args, env, wanted = USAGE_CASES[case]
    args = [a.format(tmp=tmp_path, history=history_file) for a in args]
    code, err = _run_main(monkeypatch, capsys, *args, env=env)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line
    assert "Traceback" not in err
    for fragment in wanted:
        assert fragment in err, (fragment, err)


def test_a_runtime_error_is_one_line_exit_1_and_debug_shows_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import finadvisor.advisor.cli as advisor_cli

    def broken(*_args: object) -> None:
        raise RuntimeError("the engine fell over")

    bad = tmp_path / "h.json"
    bad.write_text("{not json")
    code, err = _run_main(monkeypatch, capsys, "recommend", "--history", str(bad))
    assert code == 1 and err.count("\n") == 1 and "not valid JSON" in err and "Traceback" not in err

    monkeypatch.setattr(advisor_cli, "load_history_file", broken)
    code, err = _run_main(monkeypatch, capsys, "recommend", "--history", str(bad))
    assert code == 1 and err.strip() == (
        "error: RuntimeError: the engine fell over (run with --debug for the traceback)"
    )
    with pytest.raises(RuntimeError, match="fell over"):  # --debug: the exception itself (Typer prints it)
        _run_main(monkeypatch, capsys, "--debug", "recommend", "--history", str(bad))


def test_every_serve_flag_shows_its_default_and_environment_variable():
    import typer.main

    from finadvisor.settings import Settings

    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    flags = [p for p in serve.params if p.name != "help"]
    assert len(flags) == 21  # --writer (issue 24) included
    for param in flags:
        assert "[env var: FINADVISOR_" in (param.help or "").replace("\\[", "["), param.name
        assert isinstance(param.show_default, str) and param.show_default, param.name
    port = next(p for p in flags if p.name == "port")
    assert port.show_default == str(Settings.model_fields["port"].default) == "8000"


@pytest.mark.parametrize(
    ("words", "choices"),
    [
        ("finadvisor serve --engine ", ["llamacpp", "openai", "transformers", "vllm", "fake"]),
        ("finadvisor serve --log-level ", ["debug", "info", "warning", "error"]),
        ("finadvisor bench --target ", ["chat", "advisor"]),
        ("finadvisor recommend --engine ", ["llamacpp", "openai", "transformers", "vllm", "fake"]),
    ],
)
def test_completion_lists_the_choices(words: str, choices: list[str]):
    env = {
        "_FINADVISOR_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split())),
    }
    result = CliRunner().invoke(app, [], env=env, prog_name="finadvisor")
    assert result.output.split() == choices
