"""Finance: reports from the read models (``reports aging|revenue``) and invoice documents
(``invoice pdf|official``)."""

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
    store_command(pdf, run_invoice_pdf)
    official = invoice_commands.add_parser(
        "official", help="issue the official invoice of a paid invoice (once) and print it"
    )
    official.add_argument("invoice_id", type=aggregate_id)
    acting_command(official, run_invoice_official, "issue official invoices", "finance", "admin")


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
    from projections.reports import REVENUE_COLUMNS, revenue

    rows = revenue(
        read_models_of(runtime_for(args.db)),
        first_month=args.first,
        last_month=args.last,
        as_of=args.as_of,
    )
    if args.format == "text":
        print(
            "revenue by Jalali month (rials)"
            + (f", as recorded at {iso(args.as_of)}" if args.as_of else "")
        )
    rows_out(rows, args.format, ["jalali_month", *REVENUE_COLUMNS])
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
