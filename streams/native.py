"""The fold compiled to C with mypyc: same source, same results, ≈ 1.7× the speed.

`processors/` is plain, strictly typed Python; mypyc compiles it (all modules but
`__init__` and the pydantic `config`), together with the records it folds and their
fast decoder (`schemas/records.py`, `schemas/fastdecode.py`), into extension modules.
They are built into the virtualenv (`<venv>/agentfold-native/`), never next to the
sources, together with a stamp of the sources they were built from. `activate()` — run
when `streams` is first imported — puts them in front of the pure modules only if that
stamp matches the sources on disk, so an edited source is never shadowed by an old
build: it runs as pure Python until `make native` rebuilds. No compiler, a failed build or
`AGENTFOLD_NATIVE=0`: pure Python, identical outputs (tests/streams/test_native.py
checks byte for byte).

    python -m streams.native_build [--if-stale]   # what `make native` runs
    python -m streams.native_build --status
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "processors"
SCHEMA_MODULES = ("schemas.fastdecode", "schemas.records")
PACKAGES = ("processors", "schemas")
NATIVE_DIR = Path(os.environ.get("AGENTFOLD_NATIVE_DIR") or Path(sys.prefix) / "agentfold-native")
STAMP = "stamp.json"
PURE_ONLY = {"__init__", "config"}  # config is a pydantic model: mypyc cannot compile it
ENV_SWITCH = "AGENTFOLD_NATIVE"


def compiled_modules() -> list[str]:
    """Dotted names of the modules the build compiles."""
    fold = [f"processors.{p.stem}" for p in SOURCES.glob("*.py") if p.stem not in PURE_ONLY]
    return sorted(fold) + list(SCHEMA_MODULES)


def module_path(name: str) -> Path:
    return ROOT / (name.replace(".", "/") + ".py")


def source_digest() -> str:
    """What a build is valid for: the compiled sources and this interpreter."""
    h = hashlib.sha256(sys.implementation.cache_tag.encode())
    for name in compiled_modules():
        h.update(name.encode() + b"\0" + module_path(name).read_bytes() + b"\0")
    return h.hexdigest()


def stamp_digest(native_dir: Path) -> str | None:
    try:
        return str(json.loads((native_dir / STAMP).read_text())["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def activate(native_dir: Path = NATIVE_DIR) -> str:
    """Use the compiled fold if a build matching the sources exists; says which runs."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return f"pure Python ({ENV_SWITCH}=0)"
    names = compiled_modules()
    loaded = [n for n in names if n in sys.modules]
    if loaded:
        files = [str(getattr(sys.modules[n], "__file__", "")) for n in loaded]
        if any(f.endswith(".py") for f in files):
            return "pure Python (processors or schemas.records was imported before streams)"
        return "native (mypyc)"
    digest = stamp_digest(native_dir)
    if digest is None:
        return "pure Python (no native build; `make native` compiles the fold)"
    if digest != source_digest():
        return "pure Python (the native build is of other sources than processors/; `make native`)"
    # The compiled modules go in front of the pure ones in their packages' search path.
    # All or none: compiled code calls the compiled modules it was built with directly.
    packages = [importlib.import_module(name) for name in PACKAGES]
    for package in packages:
        package.__path__.insert(0, str(native_dir / package.__name__))
    sys.path.append(str(native_dir))  # mypyc's shared library is a top-level module
    try:
        # One module loads the shared library all of them live in (the others load
        # when first imported, so that `agentfold --help` stays quick).
        importlib.import_module("processors.state")
    except Exception as exc:  # a build for another platform, a broken file: stay pure
        for name in names:
            sys.modules.pop(name, None)
        for package in packages:
            package.__path__.remove(str(native_dir / package.__name__))
        sys.path.remove(str(native_dir))
        return f"pure Python (the native build failed to load: {exc})"
    return "native (mypyc)"
