"""One writer at a time: an exclusive lock on a file beside what is being written."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from assistant.errors import HcpcsError


@contextlib.contextmanager
def exclusive(lock_file: Path, what: str) -> Iterator[None]:
    """Hold an flock on ``lock_file`` for the block; HcpcsError at once if another holds it.

    The kernel releases an flock when its holder dies, so a killed process never leaves the
    lock behind, and the next holder may clear what the killed one left half-written.
    """
    with lock_file.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HcpcsError(
                f"another {what} is running in {lock_file.parent}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
