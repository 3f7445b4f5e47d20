"""Put the compiled fold in front of the pure one — only when asked, and only when the
build matches the sources.

`processors/` is plain, strictly typed Python; mypyc compiles it (all modules but
`__init__` and the pydantic `config`), together with the records it folds and their
fast decoder (`schemas/records.py`, `schemas/fastdecode.py`), into extension modules.
They are built into the virtualenv (`<venv>/agentfold-native/`), never next to the
sources, with a stamp of the sources they were built from (streams/native/build.py).

Nothing happens at import. The entry points — the CLI's `main`, a replay job process,
the benchmarks, the test session — call `activate()` before anything imports the fold;
it puts the compiled modules in front of the pure ones only if the stamp matches the
sources on disk, so an edited source is never shadowed by an old build: it runs as pure
Python until `make native` rebuilds. No compiler, a failed build or
`AGENTFOLD_NATIVE=0`: pure Python, identical outputs (tests/streams/native/test_native.py
checks byte for byte).

`sys.path` is never touched: mypyc's shared library (a top-level module every compiled
module imports) is loaded from its file by name, and the compiled modules reach the
import system through their packages' `__path__` only. A build directory on `sys.path`
holds `processors/` and `schemas/` folders without `__init__`; a process that inherits
that path (multiprocessing's spawn copies it) and imports `processors` afresh then gets
a namespace package of the build instead of the sources.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "processors"
SCHEMA_MODULES = ("schemas.fastdecode", "schemas.records")
PACKAGES = ("processors", "schemas")
STAMP = "stamp.json"
PURE_ONLY = {"__init__", "config"}  # config is a pydantic model: mypyc cannot compile it
ENV_SWITCH = "AGENTFOLD_NATIVE"
ENV_DIR = "AGENTFOLD_NATIVE_DIR"

_status: str | None = None  # what the last activate() decided, for status()


def native_dir() -> Path:
    """Where the build lives: $AGENTFOLD_NATIVE_DIR, else `<sys.prefix>/agentfold-native`."""
    return Path(os.environ.get(ENV_DIR) or Path(sys.prefix) / "agentfold-native")


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


def stamp_digest(build: Path) -> str | None:
    try:
        return str(json.loads((build / STAMP).read_text())["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def switched_off() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off")


def status() -> str:
    """How the fold runs in this process: native, or pure Python and why."""
    if _status is not None:
        return _status
    loaded = [n for n in compiled_modules() if n in sys.modules]
    if loaded and not all(_is_compiled(sys.modules[n]) for n in loaded):
        return "pure Python (activate() was not called before the fold was imported)"
    return "pure Python (activate() not called)" if not loaded else "native (mypyc)"


def is_native() -> bool:
    return status().startswith("native")


def _is_compiled(module: ModuleType) -> bool:
    return not str(getattr(module, "__file__", "")).endswith(".py")


def activate(build: Path | None = None) -> str:
    """Use the compiled fold if a build matching the sources exists; says which runs.
    Idempotent; call it before anything imports `processors` or `schemas.records`."""
    global _status
    if _status is None or _status.startswith("pure Python (activate() was not called"):
        _status = _activate(build or native_dir())
    return _status


def _activate(build: Path) -> str:
    if switched_off():
        return f"pure Python ({ENV_SWITCH}=0)"
    names = compiled_modules()
    loaded = [sys.modules[n] for n in names if n in sys.modules]
    if loaded:
        if all(_is_compiled(m) for m in loaded):
            return "native (mypyc)"
        return "pure Python (activate() was not called before the fold was imported)"
    digest = stamp_digest(build)
    if digest is None:
        return "pure Python (no native build; `make native` compiles the fold)"
    if digest != source_digest():
        return "pure Python (the native build is of other sources than processors/; `make native`)"
    packages = [importlib.import_module(name) for name in PACKAGES]
    added: list[tuple[ModuleType, str]] = []
    shared: list[str] = []
    try:
        # mypyc's shared library first, by name: every compiled module imports it.
        for lib in sorted(build.glob("*__mypyc*")):
            name = lib.name.split(".", 1)[0]
            if name not in sys.modules:
                sys.modules[name] = _load_extension(name, lib)
                shared.append(name)
        # The compiled modules go in front of the pure ones in their packages' search
        # path. All or none: compiled code calls the modules it was built with directly.
        for package in packages:
            entry = str(build / package.__name__)
            package.__path__ = [entry, *(p for p in package.__path__ if p != entry)]
            added.append((package, entry))
        # One module loads now (the others when first imported: `agentfold --help`
        # stays quick); a build for another platform or a broken file fails here.
        importlib.import_module("processors.state")
    except Exception as exc:
        for name in [*names, *shared]:
            sys.modules.pop(name, None)
        for package, entry in added:
            package.__path__ = [p for p in package.__path__ if p != entry]
        return f"pure Python (the native build failed to load: {exc})"
    return "native (mypyc)"


def _load_extension(name: str, path: Path) -> ModuleType:
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
