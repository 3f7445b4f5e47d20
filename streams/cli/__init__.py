"""The `agentfold` command line: one module per command, each adding its subparser."""

from streams.cli.main import main

__all__ = ["main"]
