"""How every command stops on a signal, as an operator expects of a terminal job.

The first SIGINT (Ctrl-C) or SIGTERM raises `Stopped` — a KeyboardInterrupt, so every
`finally` and context manager on the way out runs — or, while an event loop runs,
cancels its tasks (an exception raised from a signal handler can land in a finalizer,
where Python swallows it; a cancellation unwinds at an await). The command exits with
128 + the signal (130, 143), as shells expect. A second signal while it is stopping exits at
once, and so does a stop that takes longer than STOP_GRACE_S. Long-running commands
with their own event loop (worker, executor) install their own handlers with the same
contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_S = 9.0  # past this after the first signal, the command exits at once
_watchdogs: list[threading.Timer] = []
stopped_by: int | None = None  # the first stop signal, once one arrived


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; `code` is the exit status that says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def code(self) -> int:
        return 128 + self.signum


def exit_code(exc: BaseException) -> int:
    """128 + the signal that stopped the command (a bare KeyboardInterrupt: SIGINT)."""
    if isinstance(exc, Stopped):
        return exc.code
    return 128 + (stopped_by or signal.SIGINT)


def interrupted(exc: BaseException) -> bool:
    """Whether `exc` is how a stop signal unwinds: Ctrl-C, or the tasks it cancelled."""
    return isinstance(exc, KeyboardInterrupt) or (
        isinstance(exc, asyncio.CancelledError) and stopped_by is not None
    )


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Handle SIGINT and SIGTERM as the module docstring says, then as before (a
    command run in-process, by a test or a script, leaves the handlers as it found
    them). Off the main thread, where handlers cannot be set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    global stopped_by
    stopped_by = None
    before = [(signum, signal.getsignal(signum)) for signum in SIGNALS]
    for signum in SIGNALS:
        signal.signal(signum, _first)
    try:
        yield
    finally:
        for signum, handler in before:
            signal.signal(signum, handler)
        while _watchdogs:  # stopped in time: no late exit for whoever called us
            _watchdogs.pop().cancel()


def at_once(signum: int, what: str = "agentfold") -> None:
    """Exit now, skipping every clean-up: the answer to a second signal."""
    print(f"{what}: stopped at once", file=sys.stderr, flush=True)
    os._exit(128 + signum)


def _first(signum: int, frame: FrameType | None) -> None:
    global stopped_by
    stopped_by = signum
    for other in SIGNALS:
        signal.signal(other, _second)
    # The exception below can be swallowed: a signal handler runs between any two
    # bytecodes, also inside a finalizer or weakref callback, where Python only prints
    # "Exception ignored". And clean-up can hang on a peer that is gone. Either way the
    # command must still end: a watchdog does it.
    loop = asyncio.events._get_running_loop()
    watchdog = threading.Timer(STOP_GRACE_S, _late, (signum, loop))
    watchdog.daemon = True
    watchdog.start()
    _watchdogs.append(watchdog)
    if loop is not None:
        # An event loop runs: cancel its main task (what asyncio.run does on Ctrl-C), so
        # that it unwinds at an await and stops what it started; asyncio.run then raises
        # CancelledError, which `exit_code` maps to the signal. Cancelling every task at
        # once would cancel clean-ups again (a producer left unclosed).
        tasks = asyncio.all_tasks(loop)
        if tasks:
            min(tasks, key=_creation_order).cancel()
            return
    raise Stopped(signum)


def _creation_order(task: asyncio.Task[object]) -> int:
    """asyncio names tasks "Task-<n>" in creation order: asyncio.run's main task is
    the first of its loop's."""
    name = task.get_name()
    number = name.removeprefix("Task-")
    return int(number) if number.isdigit() else 1 << 62


def _late(signum: int, loop: asyncio.AbstractEventLoop | None = None) -> None:
    print(
        f"agentfold: did not stop within {STOP_GRACE_S:g} s ({_where_stuck(loop)})",
        file=sys.stderr,
        flush=True,
    )
    at_once(signum)


def _where_stuck(loop: asyncio.AbstractEventLoop | None) -> str:
    """Where the stop hangs, in one line a bug report can carry: agentfold's innermost
    frame and the innermost one overall, on the main thread — or, when that only waits
    for its event loop, in the await chain of the loop's main task."""
    frames: list[FrameType] = []
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:  # innermost first
        frames.append(frame)
        frame = frame.f_back
    if loop is not None and not any(_is_ours(f) for f in frames):
        with contextlib.suppress(RuntimeError):  # the loop's task set changed meanwhile
            tasks = asyncio.all_tasks(loop)
            if tasks:
                frames = _await_chain(min(tasks, key=_creation_order).get_coro())[::-1]
    if not frames:
        return "nothing is running"
    ours = next((f for f in frames if _is_ours(f)), None)
    places = dict.fromkeys(_place(f) for f in (ours, frames[0]) if f is not None)
    return "waiting in " + " → ".join(places)


def _await_chain(coro: object) -> list[FrameType]:
    """The frames of a coroutine and of what it awaits, outermost first."""
    chain = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        chain.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain


_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_OURS = tuple(os.path.join(_ROOT, package, "") for package in ("streams", "processors", "schemas"))


def _place(frame: FrameType) -> str:
    path = frame.f_code.co_filename
    if path.startswith(_OURS):
        path = os.path.relpath(path, _ROOT).replace(os.sep, "/")
    else:
        path = path.rpartition("site-packages" + os.sep)[2] or os.path.basename(path)
    return f"{frame.f_code.co_name} at {path}:{frame.f_lineno}"


def _is_ours(frame: FrameType) -> bool:
    return frame.f_code.co_filename.startswith(_OURS)


def _second(signum: int, frame: FrameType | None) -> None:
    at_once(signum)
