"""Everything with I/O: CLI, offline driver, Faust app, SDK, executor, replay.

Importing `streams` first puts the compiled fold in place when a current build exists
(streams/native.py); whatever imports the fold through `streams` runs the same code.
"""

from streams.native import activate as _activate_native

NATIVE_STATUS = _activate_native()
