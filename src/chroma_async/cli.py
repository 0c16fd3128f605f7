"""The ``chroma-async`` command line: ``chroma-async demo`` runs the SDK on a real workload."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

PROG = "chroma-async"

_DEMO_DESCRIPTION = """\
Show chroma-async at work on a real workload, offline: ingest a few thousand docstrings
of the Python standard library (with embeddings of the all-MiniLM-L6-v2 sentence model,
computed ahead of time and shipped with the package) from several coroutines at once,
then run semantic queries with and without filters, and print the results, throughput
and latency.

The data goes to a persistent database in .chroma when the persistent transport is
installed, to memory otherwise."""

_DEMO_EPILOG = """\
The demo's queries ship with their embeddings: no model is loaded and nothing is
downloaded, so the demo cannot search for text of your own. To do that, create a
collection with an embedding function (see the user guide) or pass query_embeddings
computed by your model."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from chroma_async import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description="chroma-async: an asynchronous SDK for the Chroma vector database."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="ingest and query a real corpus, with throughput figures",
        description=_DEMO_DESCRIPTION,
        epilog=_DEMO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    storage = demo.add_mutually_exclusive_group()
    storage.add_argument(
        "--path",
        help="directory of the persistent database (default: .chroma, when the persistent "
        "transport is installed); its demo collection is replaced",
    )
    storage.add_argument(
        "--memory", action="store_true", help="keep the data in memory only, gone at exit"
    )
    demo.add_argument(
        "--limit",
        type=_positive,
        metavar="N",
        help="ingest only N records, spread over the whole corpus (default: all)",
    )
    demo.add_argument(
        "--batch-size", type=_positive, default=256, metavar="N", help="records per add call"
    )
    demo.add_argument(
        "--concurrency",
        type=_positive,
        default=4,
        metavar="N",
        help="coroutines writing (and then querying) at the same time (default: 4)",
    )
    demo.add_argument(
        "--results", type=_positive, default=3, metavar="N", help="results shown per query"
    )
    demo.add_argument(
        "--rounds",
        type=_positive,
        default=20,
        metavar="N",
        help="times each query is repeated for the throughput figure (default: 20)",
    )
    demo.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default="asyncio",
        help="event loop to run on (trio must be installed)",
    )
    demo.add_argument(
        "--no-progress", action="store_true", help="do not draw the progress bar on stderr"
    )
    return parser


def _storage_path(args: argparse.Namespace) -> str | None:
    """Absolute path of the persistent database, or None for memory."""
    if args.memory:
        return None
    if args.path is not None:
        return os.path.abspath(str(args.path))
    from chroma_async.registry import available_schemes

    if "file" in available_schemes():
        return os.path.abspath(".chroma")
    return None


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside an exception group (a task group's), or ``exc`` itself."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(inner, (list, tuple)) and all(isinstance(e, BaseException) for e in inner):
        return [leaf for e in inner for leaf in _leaves(e)]
    return [exc]


def _demo(args: argparse.Namespace) -> int:
    import anyio

    from chroma_async.demo import DemoDataError, DemoError, DemoOptions, run_demo
    from chroma_async.errors import ChromaError

    if args.backend == "trio" and importlib.util.find_spec("trio") is None:
        print(f"{PROG} demo: error: --backend trio needs trio: pip install trio", file=sys.stderr)
        return 2
    options = DemoOptions(
        path=_storage_path(args),
        limit=args.limit,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        n_results=args.results,
        rounds=args.rounds,
        progress=not args.no_progress,
    )

    async def run() -> None:
        await run_demo(options, sys.stdout, sys.stderr)

    expected = (ChromaError, DemoDataError, DemoError, OSError)
    try:
        anyio.run(run, backend=args.backend)
    except KeyboardInterrupt:
        print(f"\n{PROG} demo: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        leaves = _leaves(exc)
        if not all(isinstance(leaf, expected) for leaf in leaves):
            raise  # a bug, not a condition: keep the traceback
        for leaf in leaves:
            print(f"{PROG} demo: error: {type(leaf).__name__}: {leaf}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chroma-async`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
