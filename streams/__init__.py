"""Everything with I/O: CLI, offline driver, (later) the Faust app, SDK, executor, replay."""
