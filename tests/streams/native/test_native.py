"""The compiled fold (streams/native.py) computes exactly what the pure one does, and a
build of other sources than processors/ is never used."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams.native import status
from streams.native.activate import STAMP, native_dir
from streams.testing import generate, hostile

ROOT = Path(__file__).resolve().parents[3]
FLEET = ROOT / "examples" / "fleet.jsonl"
NATIVE = status().startswith("native")
needs_native = pytest.mark.skipif(not NATIVE, reason=f"fold runs {status()}")

# Small windows and caps, so that a short log closes windows, plans healing, times out
# and evicts actions, forgets closed executions, overflows the de-duplication sets and
# sheds state over the budget.
TIGHT = {
    "AGENTFOLD_WINDOW_S": "60",
    "AGENTFOLD_GRACE_S": "5",
    "AGENTFOLD_ACTION_TTL_S": "120",
    "AGENTFOLD_MAX_OPEN_ACTIONS": "20",
    "AGENTFOLD_CLOSED_CAP": "50",
    "AGENTFOLD_SUMMARY_KEEP": "3",
    "AGENTFOLD_DEDUP_IDS_CAP": "8",
    "AGENTFOLD_RUN_INACTIVITY_S": "100",
    "AGENTFOLD_MIN_SAMPLES": "2",
    "AGENTFOLD_STATE_MAX_BYTES": "2000",  # the state budget sheds (processors/budget.py)
    "AGENTFOLD_PAYLOAD_MAX_BYTES": "400",
}


def fold(log: Path, native: bool, extra: dict[str, str] | None = None) -> bytes:
    env = {**os.environ, "AGENTFOLD_NATIVE": "1" if native else "0", **(extra or {})}
    status = subprocess.run(
        [sys.executable, "-m", "streams.native", "--status"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ("native (mypyc)" in status) == native, status
    out = subprocess.run(
        [sys.executable, "-m", "streams.cli", "fold", str(log), "--partitions", "3", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    assert out.count(b"\n") > 50
    return out


@needs_native
def test_compiled_fold_equals_pure_fold_on_the_fleet() -> None:
    assert fold(FLEET, native=True) == fold(FLEET, native=False)


@needs_native
def test_compiled_fold_equals_pure_fold_with_tight_caps(tmp_path: Path) -> None:
    log = tmp_path / "synthetic.jsonl"
    log.write_bytes(b"\n".join(generate(20_000, 200, seed=5)) + b"\n")
    native = fold(log, native=True, extra=TIGHT)
    assert native == fold(log, native=False, extra=TIGHT)
    for topic in (b'"agentfold.healing"', b'"agentfold.attribution"', b'"agentfold.stagnation"'):
        assert topic in native  # the paths that matter were exercised
    assert b'"reason":"state_bytes"' in native


@needs_native
def test_compiled_fold_equals_pure_fold_on_hostile_input(tmp_path: Path) -> None:
    """Malformed bytes and valid events at every edge (streams.testing.hostile), among
    a healthy fleet: the compiled decoder and fold refuse and accept exactly what the
    pure ones do, and fold it to the same bytes."""
    log = tmp_path / "hostile.jsonl"
    lines = [m.value.replace(b"\n", b" ") for m in hostile(3_000, seed=41)]
    log.write_bytes(b"\n".join([*generate(3_000, 30, seed=2), *lines]) + b"\n")
    native = fold(log, native=True)
    assert native == fold(log, native=False)
    for reason in (b"clock_skew", b"unknown_execution", b"schema_violation", b"invalid_json"):
        assert b'"reason":"' + reason + b'"' in native


# The tests that pin each hostile-input defect and guard (the exception net included);
# this session runs them with the compiled fold, the test below with the pure one.
HOSTILE_TESTS = [
    "tests/processors/test_hostile.py",
    "tests/processors/test_hostile_laws.py",
    "tests/processors/test_healing.py",
    "tests/schemas/test_extreme_json.py",
    "tests/streams/folding/test_net.py",
]


@needs_native
def test_the_hostile_input_tests_pass_with_the_pure_fold_too() -> None:
    env = {**os.environ, "AGENTFOLD_NATIVE": "0"}
    argv = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *HOSTILE_TESTS]
    run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    assert "agentfold fold: pure Python" in run.stdout, run.stdout[:2000]
    assert run.returncode == 0, run.stdout[-4000:]
    summary = run.stdout.rstrip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, summary


def status_with(native_dir: Path) -> str:
    code = (
        "from streams.native import activate; s = activate(); "
        "import processors.fold as f; print(s, '|', f.__file__)"
    )
    env = {**os.environ, "AGENTFOLD_NATIVE_DIR": str(native_dir)}
    env.pop("AGENTFOLD_NATIVE", None)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout


def test_no_build_means_pure_python(tmp_path: Path) -> None:
    out = status_with(tmp_path / "none")
    assert out.startswith("pure Python (no native build") and out.rstrip().endswith(".py")


@needs_native
def test_a_build_of_other_sources_is_never_used(tmp_path: Path) -> None:
    copy = tmp_path / "native"
    shutil.copytree(native_dir(), copy)
    assert status_with(copy).startswith("native (mypyc) |")  # the copy itself works
    stamp = json.loads((copy / STAMP).read_text())
    (copy / STAMP).write_text(json.dumps({**stamp, "digest": "0" * 64}))  # processors/ edited
    out = status_with(copy)
    assert "other sources" in out and out.rstrip().endswith("processors/fold.py")
