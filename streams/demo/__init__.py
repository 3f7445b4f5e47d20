"""`agentfold demo`: the whole loop, live, in about a minute."""

from streams.demo.run import DemoSettings, run_demo

__all__ = ["DemoSettings", "run_demo"]
