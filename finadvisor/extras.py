"""Optional third-party pieces, checked explicitly: a missing extra is one clear line naming what to install.

    require_extra("ml", "fine-tuning", "torch", "transformers", "peft", "trl", "datasets")

The check asks ``importlib.util.find_spec`` whether a distribution's top-level module is installed; it never
imports it and never catches an ``ImportError``, so a broken import inside finadvisor (or inside an installed
library) still surfaces as the traceback it is, instead of a command that silently disappears (issue 16.2).
"""

from __future__ import annotations

import importlib.util

from finadvisor.errors import ConfigError

ML = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "gguf",
)  # pyproject.toml [project.optional-dependencies] ml
RAY = ("ray",)


def missing(*modules: str) -> list[str]:
    """The top-level modules among ``modules`` that are not installed."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def require_extra(extra: str, feature: str, *modules: str) -> None:
    """Raise a ConfigError naming ``pip install 'finadvisor[extra]'`` when any of ``modules`` is absent."""
    absent = missing(*modules)
    if absent:
        raise ConfigError(
            f"{feature} needs {', '.join(absent)}, which is not installed: pip install 'finadvisor[{extra}]'"
        )
