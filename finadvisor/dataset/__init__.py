"""Fine-tuning datasets (seed section 6.1): FAQ pages, Next.js data and text -> clean ChatML JSONL.

sources.py      Document, the Source protocol, the SOURCES registry, type detection, folder/URL expansion
nextjs.py       Next.js _next/data JSON: FAQ articles and feature components
html_faq.py     HTML FAQ pages: structured data first (structured_faq.py: JSON-LD, microdata), numbered questions
jsonl_source.py instruction/answer (and ChatML) JSON Lines, streamed
fetch.py        polite httpx fetching: timeouts, retries, rate limit
text.py         HTML to text, NFC, whitespace, comparison keys
clean.py        length filters, exact + MinHash near-duplicate removal
chatml.py       ChatML records, deterministic split, atomic writes
build.py        the streaming build pipeline and its report (report.py)
generate.py     LLM-written Q&A from text, grounded, deduplicated, resumable (llm.py: engine / upstream)
stats.py        what is inside a dataset file
"""

from finadvisor.dataset.build import build_dataset
from finadvisor.dataset.chatml import DEFAULT_SYSTEM_PROMPT, to_chatml
from finadvisor.dataset.clean import CleanConfig, Cleaner, Deduplicator
from finadvisor.dataset.generate import GenerateConfig, generate_dataset
from finadvisor.dataset.items import QAItem
from finadvisor.dataset.sources import SOURCES, Document, Source
from finadvisor.dataset.stats import dataset_stats

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "SOURCES",
    "CleanConfig",
    "Cleaner",
    "Deduplicator",
    "Document",
    "GenerateConfig",
    "QAItem",
    "Source",
    "build_dataset",
    "dataset_stats",
    "generate_dataset",
    "to_chatml",
]
