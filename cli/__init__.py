"""The ``billing`` console script: thin commands over the composition root's runtime.

One module per area: ``demo``, ``serve`` (the API, the scheduler, the sandbox gateway),
``admin`` (tokens, the outbox), ``staff`` (staff members), ``audit`` (the audit trail, the
read models), ``finance`` (reports, invoice documents), ``refunds`` (refunds),
``representatives`` (representatives, and assigning customers to them), ``subscriptions``
(changing a plan); ``common`` holds what they share.
A command that records events takes ``--as STAFF_ID`` to act as a staff member
(``common.acting_command``); without it, it acts as the operator at the console.

Exit codes, decided here and nowhere else: 0 done; 1 a billing rule refused the command, or
``audit verify`` found drift or tampering; 2 bad input or usage; 3 a configuration problem
(database URL, server down); 4 not found.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eventsourcing.persistence import MapperDeserialisationError

from adapters.persistence import ConfigurationError
from cli import admin, audit, demo, finance, refunds, representatives, serve, staff, subscriptions
from cli.common import EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from domain.errors import BillingError, InvalidInput, NotFound

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Every command; each leaf parser names the function that runs it (``run``)."""
    parser = argparse.ArgumentParser(
        prog="billing", description="The billing lifecycle engine of a hosted-website portal."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.add_parser(commands)
    serve.add_serve_parser(commands)
    serve.add_sandbox_parser(commands)
    admin.add_tokens_parser(commands)
    staff.add_staff_parser(commands)
    serve.add_scheduler_parser(commands)
    audit.add_audit_parser(commands)
    audit.add_projections_parser(commands)
    admin.add_outbox_parser(commands)
    finance.add_reports_parser(commands)
    finance.add_invoice_parser(commands)
    refunds.add_refund_parser(commands)
    representatives.add_representatives_parser(commands)
    subscriptions.add_subscription_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BillingError as error:
        print(f"billing: {error.message} [{error.code}]", file=sys.stderr)
        if isinstance(error, NotFound):
            return EXIT_NOT_FOUND
        return EXIT_USAGE if isinstance(error, InvalidInput) else EXIT_REFUSED
    except ConfigurationError as error:
        print(f"billing: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except MapperDeserialisationError as error:  # a stored event's bytes no longer decode
        print(
            f"billing: a stored event cannot be read, so this answer cannot be given: {error}. "
            "The store may have been altered; `billing audit verify` names every changed or "
            "removed event.",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    except BrokenPipeError:  # e.g. `billing demo | head`
        return EXIT_OK
