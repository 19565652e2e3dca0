"""The command groups of `storeflows`, one module each, in the order --help lists them:
stores, workflows, senders, messages, contacts, coupons, products, reports. Each module's
register(groups, build) adds its group's parser, its commands and their handlers.

A handler imports the layer (storeflows.*) only when it runs: the CLI starts fast, and
--help loads nothing of it but what main() needs to map errors. The apply commands and
`contacts export` choose the target themselves, after what needs none (their files, their
command line) has been checked: they import storeflows_cli.cli.use_target when they run,
since storeflows_cli.cli imports these modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """--json and the target, accepted before or after the command."""
    parser = argparse.ArgumentParser(add_help=False)
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--json", action="store_true", help="machine-readable output", **default)
    target = parser.add_argument_group("target")
    target.add_argument("--stack", metavar="NAME", help="a deployed stack (default: $STOREFLOWS_STACK)", **default)
    target.add_argument("--local", action="store_true", help="the local stack of `make dev`", **default)
    return parser


class Build:
    """How every group makes its parsers: each command accepts the common options, and help
    texts are formatted with `formatter` (the top-level parser's)."""

    def __init__(self, formatter: type[argparse.HelpFormatter]):
        self.formatter = formatter
        self.common = [common_options(suppress=True)]

    def group(
        self, groups: argparse._SubParsersAction, name: str, help_: str, description: str = ""
    ) -> argparse._SubParsersAction:
        sub = groups.add_parser(name, help=help_, description=description or help_, formatter_class=self.formatter)
        return sub.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        self,
        commands: argparse._SubParsersAction,
        name: str,
        handler: Callable[[Any], int],
        help_: str,
        description: str = "",
        *,
        target: bool = True,
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_, description=description or help_, parents=self.common, formatter_class=self.formatter
        )
        sub.set_defaults(handler=handler, needs_target=target)
        return sub

    def apply_command(
        self, commands: argparse._SubParsersAction, handler: Callable[[Any], int], help_: str, description: str
    ) -> argparse.ArgumentParser:
        # Files are checked before the target is chosen: their mistakes show without a stack.
        sub = self.command(commands, "apply", handler, help_, description, target=False)
        sub.add_argument("files", nargs="+", metavar="FILE.yaml")
        sub.add_argument("--store", help="apply to this store instead of the one the file names")
        return sub
