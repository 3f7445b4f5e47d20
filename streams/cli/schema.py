"""`agentfold schema`: write one JSON Schema per event and output type."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.errors import InputError

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser("schema", help="write one JSON Schema per event and output type")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from schemas.canonical import canonical_json
    from schemas.jsonschema import json_schemas

    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
        docs = json_schemas()
        for name, doc in docs.items():
            (out / name).write_bytes(canonical_json(doc) + b"\n")
    except OSError as exc:
        raise InputError(f"cannot write schemas to {out}: {exc.strerror}") from None
    print(f"wrote {len(docs)} JSON Schemas to {out}/", file=sys.stderr)
    return 0
