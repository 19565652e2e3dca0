"""The `storeflows` command: argparse in front of storeflows.admin.

Every command prints what it did for a person, or JSON with --json. Expected errors end
the command with a non-zero exit status and one line on stderr, `storeflows: error:
<reason>`; problems found in a file or before publishing are listed on stdout first.

The command groups are storeflows_cli.commands; what they share, storeflows_cli.output."""

from __future__ import annotations

import argparse
import os
import sys

from storeflows_cli.commands import (
    Build,
    common_options,
    contacts,
    coupons,
    messages,
    products,
    reports,
    senders,
    stores,
    workflows,
)
from storeflows_cli.output import CliError, Problems, UsageError

PROG = "storeflows"

DESCRIPTION = """\
Configure Storeflows: stores and their webhook secrets, workflows (a template + a store +
settings), the messages they send and who sends them, and the contacts they reach.

A workflow is saved as a draft (`workflows apply`), checked (`workflows validate`) and
published (`workflows publish`); only published workflows start runs, paused ones start
none. An edit applied to a published workflow is a draft next to it: the published
version goes on starting runs until the draft is published. Runs in flight keep the
settings they started with: the dispatcher snapshots the settings into each run's input,
so applying, publishing or pausing never changes a run that has started. Messages are
read when a run sends, so `messages apply` changes every later send, also of runs in
flight; so does `senders apply` for the messages naming a sender profile.

Target: --stack NAME (or STOREFLOWS_STACK) reads a deployed stack's CloudFormation
outputs with your AWS credentials (AWS_PROFILE, AWS_REGION as usual); --local uses the
local stack of `make dev`. Without either, the local stack is used if it is running."""

EPILOG = """\
examples:
  storeflows stores create my-shop --platform shopify
  storeflows workflows templates
  storeflows senders apply examples/senders/*.yaml --store my-shop
  storeflows messages apply examples/messages/*.yaml --store my-shop
  storeflows workflows apply examples/workflows/targeted_post_purchase.yaml --store my-shop
  storeflows workflows validate my-shop targeted-post-purchase
  storeflows workflows publish my-shop targeted-post-purchase
  storeflows workflows status my-shop
  storeflows messages preview my-shop first-purchase-thanks --email ana@example.com --out preview.html
  storeflows contacts export my-shop --out contacts.csv --consent-only --not-in-workflow care-series
  storeflows contacts export my-shop ana@example.com --out ana.json
  storeflows contacts delete my-shop ana@example.com
  storeflows products import catalogue.csv --store my-shop
  storeflows --stack storeflows-prod workflows status my-shop"""

# In the order --help lists them.
GROUPS = (stores, workflows, senders, messages, contacts, coupons, products, reports)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the usage and exit 2
        raise UsageError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
        parents=[common_options(suppress=False)],
    )
    groups = parser.add_subparsers(
        dest="group", metavar="{stores,workflows,senders,messages,contacts,coupons,products,reports}", required=True
    )
    build = Build(formatter)
    for group in GROUPS:
        group.register(groups, build)
    return parser


def use_target(args: argparse.Namespace) -> None:
    from storeflows import aws, config
    from storeflows_cli.target import choose

    choose(args.stack, args.local)
    # The layer caches settings and clients per process; the target has just set them.
    config.settings.cache_clear()
    aws.client.cache_clear()
    aws.dynamodb_table.cache_clear()


def _fail(reason: object, status: int = 1) -> int:
    print(f"{PROG}: error: {' '.join(str(reason).split())}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    from storeflows.config import MissingSetting
    from storeflows.errors import StoreflowsError
    from storeflows_cli.target import TargetError

    try:
        args = build_parser().parse_args(argv)
        if args.needs_target:
            use_target(args)
        return args.handler(args)
    except UsageError as err:
        return _fail(err, 2)
    except (CliError, Problems, TargetError, MissingSetting) as err:
        return _fail(err)
    except StoreflowsError as err:
        return _fail(err.detail or err)
    except ClientError as err:
        error = err.response.get("Error", {})
        return _fail(f"AWS {err.operation_name}: {error.get('Code')}: {error.get('Message')}")
    except EndpointConnectionError as err:
        return _fail(f"cannot reach {err.kwargs.get('endpoint_url')}: is the stack running?")
    except BotoCoreError as err:
        return _fail(err)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:  # `storeflows ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
