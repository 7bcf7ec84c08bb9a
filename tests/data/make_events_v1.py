"""Write ``events_v1.sqlite``: a small history recorded by the code of before the event classes
were declared (every event at class_version 1), and ``events_v1.json``: what that code decided
about it. ``tests/unit/test_stored_events_v1.py`` opens the file with today's code.

The file was made once, at commit 2aead4c, with::

    .venv/bin/python tests/data/make_events_v1.py

Run again with today's code it would record today's event versions, so it is not re-run: the
file is the record of what older code stored. (``*.sqlite`` is ignored by git: the file was
added with ``git add -f``.) The history:

- plans ``basic`` (default lifecycle: reminders 3 and 1 days before the deadline) and ``plus``
  (reminders 7, 3 and 1 days before);
- subscription A (Sara, basic): unpaid, its reminders sent, a plan change to ``plus`` pending
  from the next period, an enforcement hold;
- subscription B (Pars Co, basic): part of its first invoice paid, an offline payment request
  approved (the deadline moved), a bank receipt under review;
- subscription C (Reza, plus): unpaid, suspended, collection warnings started.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from domain import lifecycle  # noqa: E402
from domain.customer import BillingProfile  # noqa: E402
from domain.money import Money  # noqa: E402
from domain.plans import LifecyclePolicy, Plan  # noqa: E402
from service_layer.application import BillingApplication  # noqa: E402

HERE = Path(__file__).resolve().parent
DATABASE = HERE / "events_v1.sqlite"
DECISIONS = HERE / "events_v1.json"

T0 = datetime(2026, 4, 4, 5, 30, tzinfo=UTC)  # 1405/01/15 09:00 in Tehran
DAY = timedelta(days=1)
#: Fixed ids, so the test can name what it checks.
SUB_A = UUID("00000000-0000-4000-8000-00000000000a")
SUB_B = UUID("00000000-0000-4000-8000-00000000000b")
SUB_C = UUID("00000000-0000-4000-8000-00000000000c")
REQUEST = UUID("00000000-0000-4000-8000-0000000000a1")
RECEIPT = UUID("00000000-0000-4000-8000-0000000000a2")
#: The moment the history ends: every decision in events_v1.json is as of it.
END = T0 + 29 * DAY


def person(name: str, email: str, mobile: str) -> BillingProfile:
    return BillingProfile(name=name, kind="person", email=email, mobile=mobile)


def company() -> BillingProfile:
    return BillingProfile(
        name="Pars Co",
        kind="legal",
        email="finance@pars.example.ir",
        mobile="09351234567",
        economic_code="411111111111",
        national_id="10380284790",
        registration_number="12345",
        postal_code="1193653471",
        address="Tehran, Valiasr St., No. 1",
    )


def make() -> dict:
    DATABASE.unlink(missing_ok=True)
    app = BillingApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(DATABASE)}
    )
    basic = Plan(id="basic", name="Basic", monthly_price=Money(1_000_000))
    plus = Plan(
        id="plus",
        name="Plus",
        monthly_price=Money(2_000_000),
        policy=LifecyclePolicy(reminder_days=(7, 3, 1)),
    )
    app.define_plan(basic, T0)
    app.define_plan(plus, T0)

    sara = app.register_customer(person("Sara Ahmadi", "sara@example.ir", "09121234567"), T0)
    pars = app.register_customer(company(), T0)
    reza = app.register_customer(person("Reza Karimi", "reza@example.ir", "09131234567"), T0)
    app.start_subscription(sara, "basic", "monthly", T0, subscription_id=SUB_A)
    app.start_subscription(pars, "basic", "monthly", T0, subscription_id=SUB_B)
    app.start_subscription(reza, "plus", "monthly", T0 - 45 * DAY, subscription_id=SUB_C)

    # C runs unpaid from its order 45 days earlier: reminders, grace, suspension, warnings.
    app.advance(T0, on_time=True)

    # B pays part of its first invoice, asks to pay the rest offline, registers a receipt.
    invoice_b = app.get_subscription(SUB_B).invoice_ids[0]
    app.record_payment(
        "bank:legacy-1", 300_000, T0 + 2 * DAY, invoice_id=invoice_b, subscription_id=SUB_B
    )
    app.request_offline_payment(
        invoice_b, "Our treasury pays by transfer", T0 + 6 * DAY, request_id=REQUEST
    )
    app.decide_offline_payment(
        invoice_b, REQUEST, T0 + 7 * DAY, approve=True, reason="approved", extension_days=7
    )

    # A: a plan change from the next period, then an enforcement hold.
    app.change_plan(SUB_A, "plus", T0 + 5 * DAY)
    app.advance(T0 + 27 * DAY, on_time=True)
    app.place_hold(SUB_A, "the customer disputes the price", T0 + 45 * DAY, T0 + 27 * DAY)
    app.register_receipt(
        invoice_b,
        bank="012",
        tracking_number="778899",
        amount=500_000,
        paid_on="1405/02/10",
        now=T0 + 28 * DAY,
        receipt_id=RECEIPT,
    )
    app.advance(END, on_time=True)

    decisions = {}
    for sub_id in (SUB_A, SUB_B, SUB_C):
        life = app.lifecycle_of(sub_id, all_invoices=True)
        sub = life.subscription
        decisions[str(sub_id)] = {
            "status": sub.status.value,
            "version": sub.version,
            "invoices": {
                str(i): {
                    "version": inv.version,
                    "balance": inv.balance.rials,
                    "notices": [[n.kind.value, n.number] for n in inv.notices],
                }
                for i, inv in life.invoices.items()
            },
            "planned_steps": [
                [s.step.value, s.due_at.isoformat(), str(s.invoice_id or ""), s.number]
                for s in lifecycle.planned_steps(sub, life.invoices, sub.plan.policy)
            ],
        }
    return {"end": END.isoformat(), "made_at_commit": "2aead4c", "subscriptions": decisions}


if __name__ == "__main__":
    result = make()
    DECISIONS.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {DATABASE.name} ({DATABASE.stat().st_size} bytes) and {DECISIONS.name}")
