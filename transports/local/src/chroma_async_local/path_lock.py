"""One owner per persistent database: an exclusive lock on its directory.

A persistent database keeps its records in memory and writes through to disk; two writers
would each believe their memory is the truth, so a second opener must be refused, loudly,
not made to wait and not allowed to corrupt. Two mechanisms, one per kind of second opener:

- another **process**: ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<directory>/chroma-async.lock``.
  The kernel releases the lock when its holder exits, however it exits (SIGKILL included),
  so a lock is never stale. The holder writes its pid and host name into the file, and the
  refusal names them;
- another **client in this process**: flock would refuse it too (each ``open`` is its own
  lock owner), but a process-wide registry of held directories gives a clearer message.

Sharing data between several processes (web workers, a job queue) is what a database
server is for: run a Chroma server (``chroma run --path DIR``) and connect every worker to
it with the http transport (``chroma_async.HttpClient(...)``).

Everything here does file I/O: call it from a worker thread, never on the event loop.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path
from types import ModuleType

from chroma_async.errors import InternalError, TransportError

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # not POSIX (Windows): refused with a clear message when opening
    fcntl = None

__all__ = ["LOCK_FILE", "DatabaseInUseError", "PathLock"]

LOCK_FILE = "chroma-async.lock"

_SHARING_HINT = (
    "one process owns a persistent database at a time; to share data between several "
    "processes, run a Chroma server ('chroma run --path DIR') and connect each of them "
    "with chroma_async.HttpClient(...)"
)

_held: dict[str, int] = {}  # real path of a locked directory → id of the PathLock holding it
_held_guard = threading.Lock()


class DatabaseInUseError(TransportError):
    """The persistent database is already open, in this process or in another one."""

    def __init__(self, message: str, *, path: str, holder: str) -> None:
        super().__init__(message)
        self.path = path
        self.holder = holder


class PathLock:
    """The exclusive lock of one database directory; ``acquire`` then ``release``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.lock_path = self.directory / LOCK_FILE
        self._key = os.path.realpath(self.directory)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DatabaseInUseError` naming the holder."""
        if self._fd is not None:
            return
        with _held_guard:
            if self._key in _held:
                holder = f"this process (pid {os.getpid()})"
                raise DatabaseInUseError(
                    f"the persistent database at {str(self.directory)!r} is already open in "
                    f"{holder} by another client; close that client first, or share it "
                    f"between tasks ({_SHARING_HINT})",
                    path=str(self.directory),
                    holder=holder,
                )
            if fcntl is None:
                raise InternalError(
                    f"cannot lock {str(self.directory)!r}: the persistent transport needs POSIX "
                    f"file locks (fcntl), which this platform does not have"
                )
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _describe_holder(fd)
                os.close(fd)
                raise DatabaseInUseError(
                    f"the persistent database at {str(self.directory)!r} is in use by "
                    f"{holder} (lock file {str(self.lock_path)!r}); {_SHARING_HINT}",
                    path=str(self.directory),
                    holder=holder,
                ) from None
            except BaseException:
                os.close(fd)
                raise
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
            except OSError:
                pass  # the pid is a courtesy for the error message; the lock is what counts
            self._fd = fd
            _held[self._key] = id(self)

    def release(self) -> None:
        """Give the lock back. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _held_guard:
            if _held.get(self._key) == id(self):
                del _held[self._key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the flock


def _describe_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    if text.startswith("pid "):
        return f"process {text[4:]}"
    return "another process (its pid is not recorded yet)"
