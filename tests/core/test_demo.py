"""``chroma-async demo``: the shipped data, the progress bar, and the demo end to end."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chroma_async.cli import main
from chroma_async.demo import DemoOptions, DemoReport, QueryOutcome, load_corpus, load_queries
from chroma_async.demo.progress import ProgressBar
from chroma_async.demo.runner import run_demo

CORPUS_SIZE = 3854
# verified by hand with exact numpy search over the shipped embeddings (distance 0.152,
# the runner-up re.split... is at 0.40 and shlex.split at 0.31)
REGEX_QUERY = "split a string using a regular expression pattern"
REGEX_TOP_HIT = "re.Pattern.split"
SHELL_QUERY = "run a shell command and capture its output"
SHELL_TOP_HIT = "subprocess.getoutput"


# --- the shipped data -----------------------------------------------------------------


def test_shipped_corpus_is_real_text_with_unit_length_embeddings() -> None:
    corpus = load_corpus()
    assert len(corpus) == CORPUS_SIZE == corpus.manifest.records
    assert corpus.manifest.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert corpus.embeddings.shape == (CORPUS_SIZE, 384)
    assert corpus.embeddings.dtype == np.float32
    norms = np.linalg.norm(corpus.embeddings, axis=1)
    assert np.allclose(norms, 1.0, atol=5e-3)  # unit length, up to float16 rounding
    assert len(set(corpus.ids)) == CORPUS_SIZE
    assert len(set(corpus.documents)) == CORPUS_SIZE
    by_id = dict(zip(corpus.ids, corpus.documents, strict=True))
    assert by_id["json.loads"].startswith("Deserialize")
    kinds = {m["kind"] for m in corpus.metadatas}
    assert kinds == {"module", "class", "function", "method"}
    for metadata, document in zip(corpus.metadatas, corpus.documents, strict=True):
        assert set(metadata) == {"module", "package", "kind", "topic", "length"}
        assert metadata["length"] == len(document)


def test_limit_keeps_records_spread_over_the_whole_corpus() -> None:
    corpus = load_corpus(200)
    assert len(corpus) == 200
    assert corpus.embeddings.shape == (200, 384)
    packages = {m["package"] for m in corpus.metadatas}
    assert {"asyncio", "xml"} <= packages  # from the start and the end of the sorted corpus
    full = load_corpus()
    row = full.ids.index(corpus.ids[-1])
    assert np.array_equal(corpus.embeddings[-1], full.embeddings[row])


def test_shipped_queries_have_embeddings_and_valid_filters() -> None:
    queries = load_queries()
    assert len(queries) >= 8
    assert all(q.embedding.shape == (384,) for q in queries)
    assert any(q.where is None and q.where_document is None for q in queries)
    assert any(q.where is not None for q in queries)
    assert any(q.where_document is not None for q in queries)


# --- progress bar ---------------------------------------------------------------------


def test_progress_bar_off_a_terminal_prints_one_line_per_quarter() -> None:
    stream = io.StringIO()
    bar = ProgressBar(100, "ingest", stream, interactive=False, clock=lambda: 1.0)
    for _ in range(20):
        bar.advance(5)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("ingest [")
    assert "25/100" in lines[0]
    assert "100/100" in lines[-1]
    assert "\r" not in stream.getvalue()


def test_progress_bar_on_a_terminal_redraws_in_place_and_ends_its_line() -> None:
    stream = io.StringIO()
    now = [0.0]
    bar = ProgressBar(
        10, "ingest", stream, interactive=True, min_interval=0.1, clock=lambda: now[0]
    )
    for _ in range(10):
        now[0] += 0.01  # faster than min_interval: only some draws happen
        bar.advance(1)
    bar.close()
    bar.close()
    text = stream.getvalue()
    assert text.endswith("10/10 100% 100/s 0.1s\n")
    assert 1 <= text.count("\r") < 10
    assert text.count("\n") == 1


# --- the demo end to end --------------------------------------------------------------


def _by_text(report: DemoReport, text: str) -> QueryOutcome:
    return next(q for q in report.queries if q.text == text)


@pytest.mark.anyio
async def test_demo_ingests_the_corpus_and_finds_known_neighbours() -> None:
    out, err = io.StringIO(), io.StringIO()
    options = DemoOptions(path=None, rounds=2, n_results=5)
    report = await run_demo(options, out, err)

    assert report.records == report.count_after_ingest == CORPUS_SIZE
    assert report.records_per_s > 0
    assert report.throughput_queries == 2 * len(report.queries)
    assert report.queries_per_s > 0

    assert _by_text(report, REGEX_QUERY).ids[0] == REGEX_TOP_HIT
    assert _by_text(report, SHELL_QUERY).ids[0] == SHELL_TOP_HIT
    for outcome in report.queries:
        assert len(outcome.ids) == 5, outcome.text
        assert outcome.distances == sorted(outcome.distances)
        assert all(0.0 <= d <= 1.0 for d in outcome.distances)  # cosine, related texts
        if outcome.where is not None and "kind" in outcome.where:
            wanted = outcome.where["kind"]
            allowed = wanted["$in"] if isinstance(wanted, dict) else [wanted]
            assert all(m["kind"] in allowed for m in outcome.metadatas), outcome.text
        if outcome.where is not None and "topic" in outcome.where:
            assert all(m["topic"] == outcome.where["topic"] for m in outcome.metadatas)
        if outcome.where is not None and "$and" in outcome.where:
            assert all(m["topic"] == "file-formats" for m in outcome.metadatas)
            assert all(int(m["length"]) < 300 for m in outcome.metadatas)
        if outcome.where_document is not None:
            needle = outcome.where_document["$contains"]
            assert all(needle in d for d in outcome.documents), outcome.text

    text = out.getvalue()
    assert f"ingested {CORPUS_SIZE:,} records" in text
    assert "records/s" in text
    assert "queries/s" in text
    assert "p50" in text
    assert REGEX_TOP_HIT in text
    assert "ingest [" in err.getvalue()  # the progress bar, plain lines off a terminal


def test_cli_demo_runs_with_a_limit_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--memory", "--limit", "400", "--rounds", "1", "--concurrency", "3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "ingested 400 records" in captured.out
    assert "records/s" in captured.out
    assert "queries/s" in captured.out
    assert "100%" in captured.err


def test_cli_demo_help_says_the_queries_are_precomputed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc_info:
        main(["demo", "--help"])
    assert exc_info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "cannot search for text of your own" in help_text
    assert "--memory" in help_text
    assert "--path" in help_text


def test_cli_demo_failure_prints_a_clear_error_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("not a database")
    code = main(["demo", "--path", str(not_a_directory), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith("chroma-async demo: error: ")


def test_cli_rejects_bad_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        main(["demo", "--limit", "0"])
    assert exc_info.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_console_module_runs_in_a_fresh_process() -> None:
    command = ["demo", "--memory", "--limit", "300", "--rounds", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "chroma_async.cli", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ingested 300 records" in proc.stdout
