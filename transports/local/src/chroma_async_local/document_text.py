"""Record documents, searchable without a Python loop over every record.

Substring tests (``$contains`` / ``$not_contains``) run on one string that joins every
document, built lazily after a change: ``str.find`` (C's fast search) finds an occurrence,
``np.searchsorted`` over the documents' start offsets maps it to its slot, and the search
resumes at the next document. The Python work is proportional to the number of matching
documents, not to the size of the collection.

Regular expressions (``$regex`` / ``$not_regex``) are matched document by document with a
compiled pattern, because anchors (``^``, ``$``) and look-arounds must not see the
neighbouring documents. This is the one filter whose cost is a Python loop over the
documents that exist; it runs in a worker thread like every other filter.

Matching is case-sensitive, as Chroma's is. A record without a document never matches
``$contains`` / ``$regex`` and always matches their negations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from chroma_async.errors import InvalidArgumentError

__all__ = ["DocumentColumn"]

BoolMask = npt.NDArray[np.bool_]

# Separates documents in the joined text. A match that crosses it is rejected by offset,
# so documents may contain it too; it only keeps spurious cross-document hits rare.
_SEPARATOR = "\x00"


class _JoinedText:
    __slots__ = ("ends", "size", "starts", "text")

    def __init__(self, documents: Sequence[str | None], size: int) -> None:
        lengths = np.fromiter(
            (0 if d is None else len(d) for d in documents[:size]), dtype=np.int64, count=size
        )
        self.size = size
        self.starts = np.zeros(size, dtype=np.int64)
        if size:
            np.cumsum(lengths[:-1] + len(_SEPARATOR), out=self.starts[1:])
        self.ends = self.starts + lengths
        self.text = _SEPARATOR.join("" if d is None else d for d in documents[:size])


class DocumentColumn:
    """The document (or ``None``) of every slot. Writes are not thread-safe; reads are."""

    def __init__(self, capacity: int = 0) -> None:
        self._documents: list[str | None] = [None] * capacity
        self._joined: _JoinedText | None = None

    def grow(self, capacity: int) -> None:
        if capacity > len(self._documents):
            self._documents.extend([None] * (capacity - len(self._documents)))

    def get(self, slot: int) -> str | None:
        return self._documents[slot]

    def take(self, slots: Iterable[int]) -> list[str | None]:
        documents = self._documents
        return [documents[s] for s in slots]

    def set(self, slot: int, document: str | None) -> None:
        if self._documents[slot] != document:
            self._documents[slot] = document
            self._joined = None

    def set_many(self, slots: Sequence[int], documents: Sequence[str | None]) -> None:
        for slot, document in zip(slots, documents, strict=True):
            self.set(slot, document)

    def copy(self) -> DocumentColumn:
        clone = DocumentColumn(0)
        clone._documents = list(self._documents)
        return clone

    def present(self, size: int) -> BoolMask:
        return np.fromiter(
            (d is not None for d in self._documents[:size]), dtype=np.bool_, count=size
        )

    def _text(self, size: int) -> _JoinedText:
        joined = self._joined
        if joined is None or joined.size != size:
            # Readers may race to build it; each builds an equal value, the last one wins.
            joined = _JoinedText(self._documents, size)
            self._joined = joined
        return joined

    def contains(self, needle: str, size: int) -> BoolMask:
        """Slots ``< size`` whose document contains ``needle``."""
        mask = np.zeros(size, dtype=np.bool_)
        if not needle or size == 0:
            return mask
        joined = self._text(size)
        text, starts, ends = joined.text, joined.starts, joined.ends
        width = len(needle)
        position = text.find(needle)
        while position != -1:
            slot = int(np.searchsorted(starts, position, side="right")) - 1
            if position + width <= ends[slot]:
                mask[slot] = True
            if slot + 1 >= size:
                break
            position = text.find(needle, int(starts[slot + 1]))
        return mask

    def matches(self, pattern: str, size: int) -> BoolMask:
        """Slots ``< size`` whose document matches the regular expression ``pattern``."""
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise InvalidArgumentError(
                f"expected a valid regular expression in where_document, got {pattern!r}: {exc}"
            ) from exc
        search = compiled.search
        documents = self._documents
        return np.fromiter(
            (d is not None and search(d) is not None for d in documents[:size]),
            dtype=np.bool_,
            count=size,
        )
