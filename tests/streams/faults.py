"""A fault injected into the fold, for the exception net's tests: the decision handler
raises — after it changed the execution's state and emitted nothing yet — for every
decision whose id starts with MARK. The same source runs in-process (`injected`) and in
a worker subprocess (`worker_argv`), after the compiled fold (if any) was activated."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

MARK = "poison-"

INSTALL = f"""
from processors import fold as _fold
from schemas.records import Decision as _Decision
_original = _fold._HANDLERS[_Decision]
def _faulty(f, ex, ev, acc, out):
    _original(f, ex, ev, acc, out)
    if ev.id.startswith({MARK!r}):
        raise RuntimeError("injected fault in the decision handler at " + ev.id)
_fold._HANDLERS[_Decision] = _faulty
"""


@contextlib.contextmanager
def injected() -> Iterator[None]:
    from processors import fold
    from schemas.records import Decision

    original = fold._HANDLERS[Decision]
    exec(INSTALL, {})
    try:
        yield
    finally:
        fold._HANDLERS[Decision] = original


def worker_argv(argv: list[str]) -> list[str]:
    """`argv` (a `python -m streams.cli …` command line) with the fault installed."""
    assert argv[1:3] == ["-m", "streams.cli"], argv
    boot = (
        "import sys\n"
        "from streams.native import activate\n"
        "activate()\n" + INSTALL + "from streams.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return [sys.executable, "-c", boot, *argv[3:]]
