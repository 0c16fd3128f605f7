"""Document filters: substring search over the joined text, regexes per document."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chroma_async.errors import InvalidArgumentError
from chroma_async.filters import DocText
from chroma_async_local import CollectionStore
from chroma_async_local.document_text import DocumentColumn

DOCS = {
    "a": "hello world",
    "b": "foo",
    "c": None,
    "d": "Hello",
    "e": "bar baz",
    "f": "world",
}


@pytest.fixture
def filled(store: CollectionStore) -> CollectionStore:
    ids = list(DOCS)
    store.add(ids, np.ones((len(ids), 2), dtype=np.float32), documents=[DOCS[i] for i in ids])
    return store


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("$contains", "world", ["a", "f"]),
        ("$contains", "hello", ["a"]),
        ("$not_contains", "world", ["b", "c", "d", "e"]),
        ("$regex", "^H", ["d"]),
        ("$not_regex", "^H", ["a", "b", "c", "e", "f"]),
        ("$regex", "(?i)hello", ["a", "d"]),
        ("$contains", "o\x00b", []),
        ("$contains", "worldfoo", []),
    ],
)
def test_document_operators_match_chromadb(
    filled: CollectionStore, op: str, value: str, expected: list[str]
) -> None:
    """Case-sensitive; a record without a document matches only the negations; a match
    never spans two documents."""
    node = DocText(op=op, value=value)  # type: ignore[arg-type]
    assert filled.ids_of(filled.select(where_document=node)) == expected


def test_contains_sees_updated_and_deleted_documents(filled: CollectionStore) -> None:
    node = DocText(op="$contains", value="world")
    filled.update(["b"], documents=["new world"])
    filled.delete(ids=["a"])
    assert filled.ids_of(filled.select(where_document=node)) == ["b", "f"]


def test_invalid_regex_names_the_pattern(filled: CollectionStore) -> None:
    with pytest.raises(InvalidArgumentError, match=r"'\(unclosed'"):
        filled.select(where_document=DocText(op="$regex", value="(unclosed"))


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(st.one_of(st.none(), st.text(alphabet="ab\x00c", max_size=8)), max_size=12),
    needle=st.text(alphabet="ab\x00c", min_size=1, max_size=3),
)
def test_joined_text_search_equals_per_document_search(docs: list[str | None], needle: str) -> None:
    column = DocumentColumn(len(docs))
    column.set_many(list(range(len(docs))), docs)
    expected = [d is not None and needle in d for d in docs]
    assert column.contains(needle, len(docs)).tolist() == expected
    pattern = re.escape(needle)
    assert column.matches(pattern, len(docs)).tolist() == expected
