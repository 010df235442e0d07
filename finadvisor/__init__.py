"""finadvisor: a self-hosted LLM financial advisor (serving, RAG, benchmarks, datasets, fine-tuning)."""

__version__ = "0.1.0"
