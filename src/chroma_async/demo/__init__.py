"""``chroma-async demo``: the SDK on a real workload, offline.

A few thousand docstrings of the Python standard library, with embeddings of the
all-MiniLM-L6-v2 sentence-embedding model computed ahead of time (``data/``, built by
``scripts/build_demo_data.py``), are ingested concurrently and then queried with and
without filters. No model and no network are needed at demo time; the demo's queries
ship with their embeddings, so it cannot search for new text.
"""

from __future__ import annotations

from chroma_async.demo.corpus import Corpus, DemoDataError, DemoQuery, load_corpus, load_queries
from chroma_async.demo.runner import DemoError, DemoOptions, DemoReport, QueryOutcome, run_demo

__all__ = [
    "Corpus",
    "DemoDataError",
    "DemoError",
    "DemoOptions",
    "DemoQuery",
    "DemoReport",
    "QueryOutcome",
    "load_corpus",
    "load_queries",
    "run_demo",
]
