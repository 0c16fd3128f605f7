"""A small progress bar for the terminal, with a plain fallback for logs and pipes.

On a terminal the bar redraws one line in place (``\\r``), at most every
``min_interval`` seconds. Anywhere else (a pipe, a CI log, a file) redrawing would
leave hundreds of lines, so it prints one line at each quarter instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Progress of ``total`` items, written to ``stream``; ``advance`` as items finish."""

    def __init__(
        self,
        total: int,
        label: str,
        stream: TextIO,
        *,
        interactive: bool | None = None,
        width: int = 30,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(0, total)
        self.done = 0
        self._label = label
        self._stream = stream
        self._interactive = _isatty(stream) if interactive is None else interactive
        self._width = width
        self._min_interval = min_interval
        self._clock = clock
        self._started = clock()
        self._last_draw = float("-inf")
        self._quarters_shown = 0
        self._closed = False

    def advance(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        if self._interactive:
            now = self._clock()
            if now - self._last_draw >= self._min_interval or self.done == self.total:
                self._last_draw = now
                self._stream.write("\r" + self.render(now))
                self._stream.flush()
        else:
            quarters = 4 * self.done // self.total if self.total else 4
            if quarters > self._quarters_shown:
                self._quarters_shown = quarters
                self._stream.write(self.render(self._clock()) + "\n")
                self._stream.flush()

    def close(self) -> None:
        """End the bar's line (on a terminal). Calling it twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._interactive and self._last_draw != float("-inf"):
            self._stream.write("\n")
            self._stream.flush()

    def render(self, now: float) -> str:
        """The bar's text at time ``now``, e.g. ``ingest [#####-----] 1,200/2,400 50% …``."""
        fraction = self.done / self.total if self.total else 1.0
        filled = round(self._width * fraction)
        bar = "#" * filled + "-" * (self._width - filled)
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        return (
            f"{self._label} [{bar}] {self.done:,}/{self.total:,} {fraction:4.0%} "
            f"{rate:,.0f}/s {elapsed:.1f}s"
        )


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
