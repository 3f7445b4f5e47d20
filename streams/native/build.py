"""Compile `processors/` with mypyc into the virtualenv (see streams/native/activate.py).

python -m streams.native [--if-stale]   # what `make native` runs
python -m streams.native --status       # is the fold compiled right now?
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from streams.native.activate import (
    ROOT,
    STAMP,
    activate,
    compiled_modules,
    module_path,
    native_dir,
    source_digest,
    stamp_digest,
)


def build(target: Path | None = None, if_stale: bool = False) -> int:
    """Compile processors/ with mypyc into `native_dir`; the exit status for the CLI."""
    target = target or native_dir()
    digest = source_digest()
    if if_stale and stamp_digest(target) == digest:
        print(f"native fold: up to date ({target})")
        return 0
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
    except ImportError as exc:
        print(f"native fold: not built, pure Python is used ({exc}; needs mypy and setuptools)")
        return 1
    modules = compiled_modules()
    started = time.monotonic()
    print(f"native fold: compiling {len(modules)} modules with mypyc …", flush=True)
    with tempfile.TemporaryDirectory(prefix="agentfold-native-") as tmp:
        cwd = os.getcwd()
        os.chdir(ROOT)  # mypy resolves `processors.*` and `schemas.*` from here
        try:
            extensions = mypycify(
                [str(module_path(m).relative_to(ROOT)) for m in modules],
                opt_level="3",
                target_dir=f"{tmp}/c",
            )
            # A bare Distribution: setuptools must not read this project's pyproject.toml.
            dist = Distribution({"name": "agentfold-native", "ext_modules": extensions})
            cmd = dist.get_command_obj("build_ext")
            cmd.build_lib = f"{tmp}/lib"
            cmd.build_temp = f"{tmp}/obj"
            cmd.ensure_finalized()
            cmd.run()
        except (Exception, SystemExit) as exc:
            print(f"native fold: build failed, pure Python is used ({exc})")
            return 1
        finally:
            os.chdir(cwd)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(f"{tmp}/lib", target)
    (target / STAMP).write_text(json.dumps({"digest": digest, "modules": modules}))
    print(f"native fold: built in {time.monotonic() - started:.0f} s → {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.native", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--if-stale", action="store_true", help="only if processors/ changed")
    parser.add_argument("--status", action="store_true", help="print how the fold runs; no build")
    args = parser.parse_args(argv)
    if args.status:
        print(f"fold: {activate()}")
        return 0
    return build(if_stale=args.if_stale)


if __name__ == "__main__":
    sys.exit(main())
