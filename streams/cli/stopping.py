"""How every command stops on a signal, as an operator expects of a terminal job.

The first SIGINT (Ctrl-C) or SIGTERM raises `Stopped` — a KeyboardInterrupt, so every
`finally` and context manager on the way out runs — and the command exits with 128 +
the signal (130, 143), as shells expect. A second signal while it is stopping exits at
once. Long-running commands with their own event loop (worker, executor) install their
own handlers with the same contract.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; `code` is the exit status that says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def code(self) -> int:
        return 128 + self.signum


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal that stopped the command (a bare KeyboardInterrupt: SIGINT)."""
    return exc.code if isinstance(exc, Stopped) else 128 + signal.SIGINT


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Handle SIGINT and SIGTERM as the module docstring says, then as before (a
    command run in-process, by a test or a script, leaves the handlers as it found
    them). Off the main thread, where handlers cannot be set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = [(signum, signal.getsignal(signum)) for signum in SIGNALS]
    for signum in SIGNALS:
        signal.signal(signum, _first)
    try:
        yield
    finally:
        for signum, handler in before:
            signal.signal(signum, handler)


def at_once(signum: int, what: str = "agentfold") -> None:
    """Exit now, skipping every clean-up: the answer to a second signal."""
    print(f"{what}: stopped at once", file=sys.stderr, flush=True)
    os._exit(128 + signum)


def _first(signum: int, frame: FrameType | None) -> None:
    for other in SIGNALS:
        signal.signal(other, _second)
    raise Stopped(signum)


def _second(signum: int, frame: FrameType | None) -> None:
    at_once(signum)
