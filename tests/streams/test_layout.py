"""The tree is the architecture: every module of `streams/` sits in a role subpackage,
each subpackage says what it exports, and importing does no work — the SDK loads
neither Faust nor the fold, and no import activates the compiled fold."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STREAMS = ROOT / "streams"
TOP_LEVEL_ALLOWED = {"__init__", "clock", "config", "testing", "recorder"}  # recorder: alias
ROLES = (
    "sdk",
    "healing",
    "worker",
    "folding",
    "replay",
    "kafka",
    "views",
    "demo",
    "cli",
    "native",
    "ops",
    "otel",
)


def test_every_module_sits_in_a_role_subpackage() -> None:
    loose = sorted(p.stem for p in STREAMS.glob("*.py") if p.stem not in TOP_LEVEL_ALLOWED)
    assert loose == []
    packages = sorted(p.name for p in STREAMS.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_declares_its_public_names(role: str) -> None:
    module = importlib.import_module(f"streams.{role}")
    names = getattr(module, "__all__", None)
    assert names, f"streams.{role} has no __all__"
    for name in names:
        assert hasattr(module, name), f"streams.{role}.__all__ names {name}, which is missing"


def loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_importing_the_sdk_loads_neither_faust_nor_the_fold() -> None:
    loaded = loaded_after("from streams.sdk import Recorder")
    assert not {m for m in loaded if m == "faust" or m.startswith("faust.")}
    assert not {m for m in loaded if m.startswith("processors.") and m != "processors.config"}
    assert "schemas.records" not in loaded


def test_the_worker_loads_nothing_of_opentelemetry() -> None:
    """The `otel` extra is optional: the worker (and its metrics) must run without it."""
    loaded = loaded_after("import streams.worker.app, streams.ops, streams.cli.main")
    assert not {m for m in loaded if m.startswith(("opentelemetry", "google.protobuf"))}


def test_the_cli_loads_nothing_of_the_fold_before_it_activates_it() -> None:
    """`main` builds the parser and checks the environment before `activate()`: the
    records and the fold must not be imported by then (they would be the pure ones)."""
    loaded = loaded_after(
        "from streams.cli.main import build_parser\nbuild_parser()\n"
        "from streams.cli.common import unknown_env\nunknown_env({})"
    )
    assert "schemas.records" not in loaded
    assert not {m for m in loaded if m.startswith("processors.") and m != "processors.config"}


def test_the_old_sdk_import_still_works() -> None:
    from streams.recorder import Recorder
    from streams.sdk import Recorder as Current

    assert Recorder is Current


@pytest.mark.parametrize("module", ["streams", "streams.sdk", "streams.cli", "streams.worker"])
def test_no_import_activates_the_compiled_fold(module: str) -> None:
    """Only entry points activate it: after a bare import, the fold (when imported) is
    the pure one and the status says activate() was not called."""
    code = (
        f"import {module}\nfrom streams import native\n"
        "import processors.fold as f\nprint(f.__file__)\nprint(native.status())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0].endswith("processors/fold.py")
    assert "activate()" in out[1]
