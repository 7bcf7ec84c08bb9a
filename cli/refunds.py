"""Refunds from the console: ``refund credit`` and ``refund payment`` (docs/PAYMENTS.md,
"Refunds"), finance's and admins' (``--as STAFF_ID``), each printed as recorded."""

from __future__ import annotations

import argparse

from cli.common import EXIT_OK, acting_command, acting_runtime, aggregate_id, read_models_of


def add_refund_parser(commands) -> None:
    refund = commands.add_parser("refund", help="record money given back to a customer")
    refund_commands = refund.add_subparsers(dest="refund_command", required=True, metavar="CMD")
    credit = refund_commands.add_parser(
        "credit", help="finance transferred part of a customer's credit back"
    )
    credit.add_argument("customer_id", type=aggregate_id)
    credit.add_argument("amount", type=int, help="rials")
    credit.add_argument("--reason", required=True)
    credit.add_argument("--bank-reference", required=True, help="the transfer's reference")
    acting_command(credit, run_refund_credit, "record refunds", "finance", "admin")
    payment = refund_commands.add_parser(
        "payment", help="refund a payment of an invoice, by transfer or the gateway's reversal"
    )
    payment.add_argument("invoice_id", type=aggregate_id)
    payment.add_argument("payment_reference")
    payment.add_argument("--via", choices=("transfer", "gateway"), required=True)
    payment.add_argument("--amount", type=int, help="rials (default: all that is left of it)")
    payment.add_argument("--reason", required=True)
    payment.add_argument("--bank-reference", help="the transfer's reference (via transfer)")
    acting_command(payment, run_refund_payment, "record refunds", "finance", "admin")


def _print(outcome) -> None:
    done = "recorded" if outcome.recorded else "already recorded (nothing new)"
    print(
        f"refund of {outcome.amount:,} rials to customer {outcome.customer_id} via "
        f"{outcome.via} ({outcome.bank_reference}) {done}; credit now {outcome.credit:,} rials"
    )


def run_refund_credit(args: argparse.Namespace) -> int:
    from domain.errors import RefundRefused
    from projections.reports import latest_invoice_of

    runtime = acting_runtime(args)
    invoice_id = latest_invoice_of(read_models_of(runtime), args.customer_id)
    if invoice_id is None:
        raise RefundRefused(
            f"Customer {args.customer_id} has no invoice and no credit; nothing to refund.",
            reason="over_refundable",
            refundable=0,
        )
    outcome = runtime.app.refund_credit(
        args.customer_id,
        args.amount,
        args.reason,
        args.bank_reference,
        runtime.clock.now(),
        notice_invoice_id=invoice_id,
    )
    _print(outcome)
    return EXIT_OK


def run_refund_payment(args: argparse.Namespace) -> int:
    from domain.customer import RefundVia
    from domain.errors import InvalidInput

    runtime = acting_runtime(args)
    if args.via == "gateway":
        if args.amount is not None or args.bank_reference is not None:
            raise InvalidInput(
                "A gateway reversal gives back the whole payment: leave out --amount and "
                "--bank-reference.",
                field="amount",
            )
        outcome = runtime.payments.reverse(
            args.invoice_id, args.payment_reference, args.reason, by=runtime.actor
        )
    else:
        outcome = runtime.app.refund_payment(
            args.invoice_id,
            args.payment_reference,
            args.amount,
            args.reason,
            RefundVia.TRANSFER,
            runtime.clock.now(),
            bank_reference=args.bank_reference,
        )
    _print(outcome)
    return EXIT_OK
