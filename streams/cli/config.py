"""`agentfold config`: the effective fold configuration, or every setting with its source."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from streams.cli.common import add_config_flags

if TYPE_CHECKING:
    from streams.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "config",
        help="print the effective fold configuration as JSON (--show: every setting)",
        description="Print the fold settings in effect (defaults < --config file < "
        "AGENTFOLD_* variables < --set) as JSON; with --show, every fold and worker "
        "setting as a table: its value and where that value came from.",
    )
    p.add_argument("--show", action="store_true", help="every setting, its value and its source")
    p.add_argument(
        "--reference",
        action="store_true",
        help="the settings reference (Markdown) that docs/operations.md carries",
    )
    add_config_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from streams.config import load_all, parse_assignments, reference_markdown

    if args.reference:
        print(reference_markdown(), end="")
        return 0

    loaded = load_all(args.config, os.environ, parse_assignments(args.assignments))
    if not args.show:
        print(
            orjson.dumps(loaded.fold.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode()
        )
        return 0
    rows = [(name, orjson.dumps(value).decode(), src) for name, value, src in loaded.rows()]
    width = max(len(name) for name, _, _ in rows)
    for name, value, src in rows:
        print(f"{name:<{width}}  {value}  ({src})")
    return 0
