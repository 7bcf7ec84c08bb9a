"""Finance: reports from the read models (``reports aging|revenue``), invoice documents
(``invoice pdf|official``) and side-service invoices (``invoice create``)."""

from __future__ import annotations

import argparse

from cli.common import (
    EXIT_OK,
    acting_command,
    acting_runtime,
    add_format,
    aggregate_id,
    moment,
    read_models_of,
    rows_out,
    runtime_for,
    store_command,
)
from domain.jalali import format_moment
from projections.visibility import OPERATOR, visible_invoice
from service_layer.timeline import iso


def add_reports_parser(commands) -> None:
    reports = commands.add_parser("reports", help="finance reports from the read models")
    report_commands = reports.add_subparsers(dest="report", required=True, metavar="REPORT")
    aging = report_commands.add_parser("aging", help="open balances by days past their deadline")
    aging.add_argument("--as-of", type=moment, help="as recorded at this moment (default: now)")
    aging.add_argument("--detail", action="store_true", help="one line per open invoice")
    add_format(aging, "text", "csv", "jsonl")
    store_command(aging, run_aging)
    income = report_commands.add_parser(
        "revenue", help="invoiced, VAT, paid, credit used and voided per Jalali month"
    )
    income.add_argument(
        "--from", dest="first", metavar="YYYY/MM", help="first Jalali month, e.g. 1405/01"
    )
    income.add_argument("--to", dest="last", metavar="YYYY/MM", help="last Jalali month")
    income.add_argument(
        "--as-of", type=moment, help="as recorded at this moment (default: everything)"
    )
    income.add_argument(
        "--by-line",
        action="store_true",
        help="each month's hosting and side services on lines of their own",
    )
    income.add_argument(
        "--group-by",
        choices=["representative"],
        help="one group per representative the invoices were credited to at issue "
        "(with --by-line's lines)",
    )
    add_format(income, "text", "csv", "jsonl")
    store_command(income, run_revenue)


def add_invoice_parser(commands) -> None:
    invoice = commands.add_parser("invoice", help="invoice documents")
    invoice_commands = invoice.add_subparsers(dest="invoice_command", required=True, metavar="CMD")
    pdf = invoice_commands.add_parser(
        "pdf", help="write an invoice's official invoice (default) or plain invoice as PDF"
    )
    pdf.add_argument("invoice_id", type=aggregate_id)
    pdf.add_argument("--out", required=True, metavar="FILE", help="where to write the PDF")
    pdf.add_argument(
        "--plain",
        action="store_true",
        help="the plain invoice (a proforma while unpaid) instead of the official one",
    )
    pdf.add_argument(
        "--correction",
        metavar="NUMBER",
        help="a correcting official document of it (e.g. 1405-000002, the cancelling one)",
    )
    pdf.add_argument(
        "--credit-note",
        type=int,
        metavar="N",
        help="credit note N of an invoice with no official document (a void or a return)",
    )
    store_command(pdf, run_invoice_pdf)
    sale_return = invoice_commands.add_parser(
        "return",
        help="return from sale: take back part of a paid invoice into the customer's credit",
    )
    sale_return.add_argument("invoice_id", type=aggregate_id)
    sale_return.add_argument("amount", type=int, help="rials")
    sale_return.add_argument("--reason", required=True)
    acting_command(sale_return, run_invoice_return, "record returns", "finance", "admin")
    official = invoice_commands.add_parser(
        "official", help="issue the official invoice of a paid invoice (once) and print it"
    )
    official.add_argument("invoice_id", type=aggregate_id)
    acting_command(official, run_invoice_official, "issue official invoices", "finance", "admin")
    create = invoice_commands.add_parser(
        "create", help="bill a customer for side services (domain, design, SEO, ...)"
    )
    create.add_argument("customer_id", type=aggregate_id)
    create.add_argument(
        "--line",
        dest="lines",
        action="append",
        nargs=3,
        required=True,
        metavar=("DESCRIPTION", "UNIT_PRICE", "QUANTITY"),
        help="one side service: its description, rials per item before VAT, and how many "
        "(repeat for each line)",
    )
    create.add_argument("--due-days", type=int, required=True, help="days until the deadline")
    create.add_argument(
        "--subscription",
        type=aggregate_id,
        metavar="SUBSCRIPTION_ID",
        help="the subscription that carries it (default: the customer's one running subscription)",
    )
    acting_command(create, run_invoice_create, "bill side services", "finance", "admin")


# --- reports -------------------------------------------------------------------------------------


def run_aging(args: argparse.Namespace) -> int:
    from projections.reports import AGING_BUCKETS, aging

    runtime = runtime_for(args.db)
    as_of = args.as_of or runtime.clock.now()
    report = aging(read_models_of(runtime), as_of)
    if args.detail:
        rows_out(
            report.invoices,
            args.format,
            ["invoice_id", "subscription_id", "deadline", "bucket", "balance"],
        )
        return EXIT_OK
    rows = [{"bucket": b, "balance": report.totals[b]} for b in AGING_BUCKETS]
    rows.append({"bucket": "total", "balance": report.total})
    if args.format == "text":
        print(
            f"aging of open balances (rials) as recorded at {iso(as_of)} ({format_moment(as_of)})"
        )
    rows_out(rows, args.format, ["bucket", "balance"])
    return EXIT_OK


def run_revenue(args: argparse.Namespace) -> int:
    from projections.reports import (
        LINE_COLUMNS,
        REVENUE_COLUMNS,
        REVENUE_LINES,
        revenue,
        revenue_by_line,
    )

    read_models = read_models_of(runtime_for(args.db))
    months = {"first_month": args.first, "last_month": args.last, "as_of": args.as_of}
    if args.format == "text":
        print(
            "revenue by Jalali month (rials)"
            + (f", as recorded at {iso(args.as_of)}" if args.as_of else "")
        )
    if not (args.by_line or args.group_by):
        rows_out(revenue(read_models, **months), args.format, ["jalali_month", *REVENUE_COLUMNS])
        return EXIT_OK
    keys = ["jalali_month"] + (["representative_id"] if args.group_by else [])
    flat = [
        {
            **{k: item[k] for k in keys},
            "line": line,
            **{c: (item if line == "all" else item[line])[c] for c in LINE_COLUMNS},
        }
        for item in revenue_by_line(read_models, group_by=args.group_by, **months)
        for line in ("all", *REVENUE_LINES)
    ]
    rows_out(flat, args.format, [*keys, "line", *LINE_COLUMNS])
    return EXIT_OK


# --- invoice documents ---------------------------------------------------------------------------


def run_invoice_pdf(args: argparse.Namespace) -> int:
    runtime = runtime_for(args.db)
    app = runtime.app
    invoice = visible_invoice(app, OPERATOR, args.invoice_id)  # the console sees every invoice
    documents = runtime.documents
    if args.plain:
        seller = app.seller.party.name if app.seller else runtime.settings.portal_name
        content = documents.plain_pdf(
            invoice, app.get_customer(invoice.customer_id).profile, seller
        )
        what = "proforma" if invoice.is_open else "invoice"
    elif args.credit_note is not None:
        notes = [n for n in invoice.credit_notes if n.number == args.credit_note]
        if not notes:
            from domain.errors import CreditNoteNotFound

            raise CreditNoteNotFound(
                f"Invoice {invoice.id} has no credit note {args.credit_note} "
                f"(it has {len(invoice.credit_notes)})."
            )
        seller = app.seller.party.name if app.seller else runtime.settings.portal_name
        content = documents.credit_note_pdf(
            invoice, notes[0], app.get_customer(invoice.customer_id).profile, seller
        )
        what = f"credit note {args.credit_note}"
    elif args.correction:
        found = [c for c in invoice.corrections if c.number_text == args.correction]
        if not found:
            from domain.errors import OfficialInvoiceRefused

            raise OfficialInvoiceRefused(
                f"Invoice {invoice.id} has no correcting official document {args.correction} "
                f"(it has: {', '.join(c.number_text for c in invoice.corrections) or 'none'}).",
                reason="no_such_correction",
            )
        content = documents.correction_pdf(invoice, found[0])
        what = f"{found[0].subject.value} official document {args.correction}"
    else:
        if invoice.official is None:
            raise app.why_no_official(invoice.id)
        content = documents.official_pdf(invoice)
        what = f"official invoice {invoice.official.number_text}"
    with open(args.out, "wb") as out:
        out.write(content)
    print(f"{what} of invoice {invoice.id} written to {args.out} ({len(content):,} bytes)")
    return EXIT_OK


def run_invoice_return(args: argparse.Namespace) -> int:
    """Recorded at the runtime's clock, with the acting staff member as its actor."""
    runtime = acting_runtime(args)
    outcome = runtime.app.return_sale(
        args.invoice_id, args.amount, args.reason, runtime.clock.now()
    )
    document = (
        f"return-from-sale official document {outcome.document}"
        if outcome.document
        else f"credit note {outcome.credit_note}"
    )
    print(
        f"return {outcome.number} of {outcome.amount:,} rials (VAT {outcome.vat:,}) of invoice "
        f"{outcome.invoice_id} recorded with {document}; credit now {outcome.credit:,} rials, "
        f"{outcome.returnable:,} left to return"
    )
    return EXIT_OK


def run_invoice_official(args: argparse.Namespace) -> int:
    """Issued at the runtime's clock: the stored test clock in test mode, else the system's."""
    runtime = acting_runtime(args)
    app = runtime.app
    record = app.issue_official_invoice(args.invoice_id, runtime.clock.now())
    print(
        f"official invoice {record.number_text} of invoice {args.invoice_id}: issued "
        f"{record.issued_at.isoformat()}, tax ID {record.tax_id}, terms {record.terms.value}"
    )
    return EXIT_OK


def _whole(text: str, field: str) -> int:
    from domain.errors import InvalidInput

    try:
        return int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise InvalidInput(f"{field} must be a whole number; got {text!r}.", field=field) from None


def run_invoice_create(args: argparse.Namespace) -> int:
    """Issued at the runtime's clock, as the API does, acting for ``--as`` or the operator."""
    from service_layer.service_invoices import running_subscription

    runtime = acting_runtime(args)
    app = runtime.app
    lines = [
        {
            "description": description,
            "unit_price": _whole(price, f"lines[{at}].unit_price"),
            "quantity": _whole(quantity, f"lines[{at}].quantity"),
        }
        for at, (description, price, quantity) in enumerate(args.lines)
    ]
    app.get_customer(args.customer_id)  # an unknown customer is "not found" before anything
    subscription_id = args.subscription or running_subscription(
        read_models_of(runtime), args.customer_id
    )
    invoice_id = app.issue_service_invoice(
        args.customer_id, subscription_id, lines, args.due_days, runtime.clock.now()
    )
    invoice = app.get_invoice(invoice_id)
    print(
        f"side-service invoice {invoice.id} for customer {invoice.customer_id} on subscription "
        f"{invoice.subscription_id}: {invoice.total.rials:,} rials (VAT {invoice.vat.rials:,}), "
        f"due {iso(invoice.deadline)} ({format_moment(invoice.deadline)})"
    )
    return EXIT_OK
