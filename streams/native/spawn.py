"""Run a function in a spawned process with the same fold as its parent.

A spawned process starts a fresh interpreter: nothing its parent activated carries
over, and whatever it imports before activating runs pure. `spawned` is the target to
give `multiprocessing` instead: it activates the compiled fold (when the parent runs
it) *before* importing the real target, named as "module:function". Its arguments must
unpickle without importing the fold — plain data, or pydantic config models. It ignores
SIGINT: its parent stops it.
"""

from __future__ import annotations

import importlib
import signal
from typing import Any

from streams.native.activate import activate


def spawned(native: bool, target: str, *args: Any) -> Any:
    # A terminal's Ctrl-C reaches the whole process group: the parent decides, and
    # stops its children itself (no traceback from each of them).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the parent
    if native:
        activate()
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)(*args)
