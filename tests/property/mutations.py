"""Does the quick profile notice a broken rule? Break one rule at a time and see.

    .venv/bin/python -m tests.property.mutations            # every mutation
    .venv/bin/python -m tests.property.mutations M1 M4      # some of them

Each mutation copies the working tree (without .venv, var and .git) to a scratch folder,
changes one line of the engine there, and runs ``pytest tests/property -x`` on the quick
profile's examples without shrinking (the ``mutation`` profile: shrinking a failing history
can take many minutes, and a failure found is a failure whether shrunk or not). A mutation
is *caught* when pytest fails. The last line printed is a JSON list of the results;
docs/TESTING.md records a run. Not part of ``make test``: each mutation takes from seconds
(caught at once) to the whole quick profile (not caught).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutation:
    name: str
    rule: str  # the rule it breaks, in plain words
    path: str
    old: str
    new: str


MUTATIONS = (
    Mutation(
        "M1",
        "suspend one hour early",
        "domain/lifecycle.py",
        "        inv.deadline + policy.grace,\n        last_reminder + MIN_LEAD,",
        "        inv.deadline + policy.grace - timedelta(hours=1),\n"
        "        last_reminder + MIN_LEAD - timedelta(hours=1),",
    ),
    Mutation(
        "M2",
        "skip the last payment reminder",
        "domain/lifecycle.py",
        "        for number, days in enumerate(reminder_days_of(inv, sub), start=1):\n"
        "            if not inv.has_notice(NoticeKind.PAYMENT_REMINDER, number):",
        "        for number, days in enumerate(reminder_days_of(inv, sub)[:-1], start=1):\n"
        "            if not inv.has_notice(NoticeKind.PAYMENT_REMINDER, number):",
    ),
    Mutation(
        "M3",
        "a replayed gateway callback counts the payment again (as credit)",
        "service_layer/payment_links.py",
        "            if attempt.status is GatewayStatus.VERIFIED:\n"
        "                return attempt, None",
        "            if attempt.status is GatewayStatus.VERIFIED:\n"
        "                customer = uow.customer(uow.subscription(attempt.subscription_id).customer_id)\n"
        "                customer.add_credit(attempt.amount, attempt.reference, now)\n"
        "                return attempt, None",
    ),
    Mutation(
        "M4",
        "an overpayment credits the whole amount, not what is left",
        "domain/lifecycle.py",
        "        customer.add_credit(remaining, reference, now)",
        "        customer.add_credit(amount, reference, now)",
    ),
    Mutation(
        "M5",
        "collect without 24 h after the last collection warning",
        "domain/lifecycle.py",
        "        planned, max(n.recorded_at for n in sent) + MIN_LEAD, *pauses, _after_hold(sub)",
        "        planned, max(n.recorded_at for n in sent), *pauses, _after_hold(sub)",
    ),
    Mutation(
        "M6",
        "a payment that settles everything leaves the site suspended until the next tick",
        "domain/lifecycle.py",
        "    restored = sub.site_state is SiteState.SUSPENDED and not still",
        "    restored = False",
    ),
    Mutation(
        "M7",
        "a payment on a collected subscription is accepted (collected is not final)",
        "service_layer/money_received.py",
        "        if unpayable is Unpayable.REFUSE:\n            if named is not None:",
        "        if False:\n            if named is not None:",
    ),
    Mutation(
        "M8",
        "a void by finance drops what was paid on the invoice",
        "service_layer/finance_actions.py",
        "            credited = invoice.credited_by_void\n",
        "            credited = invoice.credited_by_void - invoice.credited_by_void\n",
    ),
    Mutation(
        "M9",
        "the simulated clock records every step at the end of a jump (LIFECYCLE.md, Time)",
        "service_layer/catch_up.py",
        "        at = max(step.due_at, life.latest_change) if on_time else",
        "        at = max(until, life.latest_change) if on_time else",
    ),
    Mutation(
        "M10",
        "the invoices read model forgets voids in the balance",
        "projections/views.py",
        '            "balance": inv.balance.rials,',
        '            "balance": inv.total.rials - inv.paid.rials,',
    ),
    Mutation(
        "M11",
        "a late catch-up suspends in the same step as the reminders it sends",
        "domain/lifecycle.py",
        "        last_reminder + MIN_LEAD,",
        "        last_reminder,",
    ),
    Mutation(
        "M12",
        "an approved extension keeps the invoice in grace",
        "domain/subscription.py",
        "        if invoice_id in self.grace_started and deadline > now and not self.is_closed:",
        "        if False:",
    ),
    Mutation(
        "M13",
        "a read model keeps an aggregate loaded ahead of the events it folded (bug 2 again)",
        "projections/model.py",
        "        if held is not None and held.version > version and self.loader is not None:",
        "        if False:",
    ),
    Mutation(
        "M14",
        "an approved extension never restores a suspended site (bug 4 again)",
        "service_layer/offline_payments.py",
        "            if approve:  # the new deadline may leave nothing keeping a suspended site",
        "            if False:  # the new deadline may leave nothing keeping a suspended site",
    ),
    Mutation(
        "M15",
        "a receipt confirmed after collection pays the collected subscription (bug 5 again)",
        "service_layer/money_received.py",
        "    if sub.site_state is SiteState.COLLECTED or (named is not None and named.is_void):",
        "    if named is not None and named.is_void:",
    ),
    Mutation(
        "M16",
        "aging groups an invoice's ledger rows by the deadline each carried (the aging bug of 2026-12-03)",
        "projections/reports.py",
        '"JOIN {rm_invoice_ledger} d ON d.invoice_id = t.invoice_id AND d.version = t.last "',
        '"JOIN {rm_invoice_ledger} d ON d.invoice_id = t.invoice_id AND d.version = 1 "',
    ),
    Mutation(
        "M17",
        "revenue counts credit used as money paid",
        "projections/money_views.py",
        '            row["credit_used"] = event.amount',
        '            row["paid"] = event.amount',
    ),
    Mutation(
        "M18",
        "a reminder under an enforcement hold announces the suspension the hold prevents",
        "domain/lifecycle.py",
        "                **announced_suspension(sub, inv.deadline + policy.grace),",
        "                suspension_at=inv.deadline + policy.grace,\n"
        "                hold_until=None,",
    ),
    Mutation(
        "M19",
        "a hold is placed without telling the customer",
        "domain/lifecycle.py",
        "    if sub.place_hold(reason, until, now):",
        "    if sub.place_hold(reason, until, now) and False:",
    ),
    Mutation(
        "M20",
        "the proration charge is rounded down, not half up",
        "domain/proration.py",
        "        return Money((2 * numerator + denominator) // (2 * denominator))",
        "        return Money(numerator // denominator)",
    ),
    Mutation(
        "M21",
        "an upgrade at once is charged for the whole period, not the days left",
        "domain/proration.py",
        "            new_value.rials * self.days_left * d_old - old_value.rials * self.old_days_left * d_new",
        "            new_value.rials * d_new * d_old - old_value.rials * d_old * d_new",
    ),
    Mutation(
        "M22",
        "a side-service invoice's overdue notice is never sent",
        "domain/service_invoices.py",
        "    if not inv.has_notice(NoticeKind.SERVICE_OVERDUE):",
        "    if False:",
    ),
    Mutation(
        "M23",
        "a side-service invoice's reminders go out a day early",
        "domain/service_invoices.py",
        "            max(inv.deadline - timedelta(days=days), inv.issued_at),",
        "            max(inv.deadline - timedelta(days=days + 1), inv.issued_at),",
    ),
    Mutation(
        "M24",
        "the revenue report files side services under hosting",
        "projections/money_views.py",
        '                "line": "services" if inv.is_service else "hosting",',
        '                "line": "hosting",',
    ),
    Mutation(
        "M25",
        "a refund may exceed the customer's credit",
        "domain/customer.py",
        "        if amount > limit:",
        "        if amount > limit + limit + Money(1_000_000):",
    ),
    Mutation(
        "M26",
        "a void of an officially invoiced invoice issues no cancelling document",
        "service_layer/official_invoices.py",
        "            if not invoice.needs_cancelling_document or not invoice.pending_events:",
        "            if True:",
    ),
)


def _copy_tree(into: Path) -> None:
    shutil.copytree(
        ROOT,
        into,
        ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", ".hypothesis"),
        symlinks=True,
    )


def run(mutation: Mutation, python: str) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"mutation-{mutation.name}-") as folder:
        tree = Path(folder) / "tree"
        _copy_tree(tree)
        target = tree / mutation.path
        text = target.read_text()
        if text.count(mutation.old) != 1:
            raise SystemExit(f"{mutation.name}: the line to change is not in {mutation.path}")
        target.write_text(text.replace(mutation.old, mutation.new))
        started = time.monotonic()
        done = subprocess.run(
            [python, "-m", "pytest", "tests/property", "-x", "-q", "-p", "no:cacheprovider"],
            cwd=tree,
            capture_output=True,
            text=True,
            env={**os.environ, "HYPOTHESIS_PROFILE": "mutation", "PYTHONDONTWRITEBYTECODE": "1"},
        )
        seconds = round(time.monotonic() - started, 1)
    lines = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "E  "))]
    return {
        "mutation": mutation.name,
        "rule": mutation.rule,
        "caught": done.returncode != 0,
        "seconds": seconds,
        "by": lines[0][:160] if lines else "",
        # The error and its first detail line (the machine's messages put the difference there).
        "first_error": " / ".join(" ".join(ln[1:].split()) for ln in lines if ln.startswith("E  "))[
            :240
        ],
    }


def main(names: list[str]) -> None:
    chosen = [m for m in MUTATIONS if not names or m.name in names]
    results = []
    for mutation in chosen:
        result = run(mutation, sys.executable)
        results.append(result)
        verdict = "caught" if result["caught"] else "NOT CAUGHT"
        print(f"{mutation.name:4} {verdict:10} {result['seconds']:7.1f} s  {mutation.rule}")
        print(f"     {result['first_error'] or result['by']}", flush=True)
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
