"""`qa eval`: evaluation commands. Each subcommand lives in its own module, listed in
SUBCOMMANDS; a module registers itself with `add_parser(subparsers)` and sets `func`, which takes
the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import importlib
import logging

SUBCOMMANDS = [
    "eval.squad",
    "eval.beir",
    "eval.dialog",
    "eval.stories",
    "eval.news",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa eval", description="Evaluate on gold data.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    for module in SUBCOMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str]) -> int:
    """Run `qa eval ARGV...`; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    args.argv = list(argv)
    return int(args.func(args) or 0)
