"""The audit names who did it (docs/AUDIT.md, "Actors"): two finance staff members decide about
one subscription, and the timeline (JSON, text, CSV), ``explain`` and the actions report name
the right person for each event; time's steps read as the scheduler; the report's filters by
actor id, kind and moment work, and a filter it cannot read is refused with a stable code."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from api.schemas.audit import ActorKindName
from cli.common import print_timeline
from domain.actor import GATEWAY, SCHEDULER, UNKNOWN, Actor, ActorKind
from domain.errors import InvalidActorFilter, InvalidTime, InvalidTimeRange
from presentation.actors import decided_by, who
from service_layer.actions import ActionFilter, actions, actions_page
from service_layer.audit import explain
from service_layer.timeline import timeline
from tests.audit_history import (
    AFTER,
    ALI,
    APPROVED,
    CONFIRMED,
    MARYAM,
    REGISTERED,
    decided_history,
)
from tests.builders import DAY, T0, a_person, a_plan, in_memory_app, ordered

MARYAM_JSON = {"kind": "staff", "id": "staff-maryam", "name": "مریم کریمی", "role": "finance"}
ALI_JSON = {"kind": "staff", "id": "staff-ali", "name": "علی رضایی", "role": "finance"}


@pytest.fixture(scope="module")
def history():
    app = in_memory_app()
    return app, decided_history(app)


def _actor_of(entries, event: str, aggregate_id=None):
    found = [
        e
        for e in entries
        if e.event == event and (aggregate_id is None or e.aggregate_id == aggregate_id)
    ]
    assert found, event
    return [e.as_json()["actor"] for e in found]


def test_each_event_of_the_timeline_names_who_caused_it(history):
    app, h = history
    entries = timeline(app, h.subscription)
    customer = {"kind": "customer", "id": str(h.customer), "name": None, "role": "customer"}
    scheduler = {"kind": "scheduler", "id": None, "name": "scheduler"}
    assert _actor_of(entries, "OfflinePaymentRequested") == [customer]
    assert _actor_of(entries, "OfflinePaymentApproved") == [MARYAM_JSON]
    assert _actor_of(entries, "ReceiptRegistered") == [customer]
    for event in ("ReceiptConfirmed", "PaymentReceived", "PaymentRecorded", "InvoicesSettled"):
        assert _actor_of(entries, event) == [ALI_JSON], event
    assert _actor_of(entries, "SubscriptionRenewed") == [scheduler]
    assert _actor_of(entries, "InvoiceIssued", h.renewal) == [scheduler]
    assert _actor_of(entries, "InvoiceVoided") == [MARYAM_JSON]
    assert _actor_of(entries, "EnforcementHoldPlaced") == [ALI_JSON]
    # Each notice is the doing of whoever caused it: the approval's is Maryam's.
    notices = {e.data["kind"]: e.as_json()["actor"] for e in entries if e.event == "NoticeSent"}
    assert notices["offline_approved"] == MARYAM_JSON
    assert notices["payment_received"] == ALI_JSON
    assert notices["invoice_voided"] == MARYAM_JSON


def test_the_timeline_text_and_csv_name_the_person(history, capsys):
    app, h = history
    entries = timeline(app, h.subscription)
    print_timeline(entries, "text")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(entries)

    def line_of(event: str) -> str:
        return next(line for line in lines if f" {event} " in line)

    assert line_of("OfflinePaymentApproved").endswith("— by مریم کریمی (finance)")
    assert line_of("ReceiptConfirmed").endswith("— by علی رضایی (finance)")
    assert line_of("InvoiceVoided").endswith("— by مریم کریمی (finance)")
    assert line_of("EnforcementHoldPlaced").endswith("— by علی رضایی (finance)")
    assert line_of("SubscriptionRenewed").endswith("— by the scheduler")
    assert line_of("ReceiptRegistered").endswith("— by the customer")

    print_timeline(entries, "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(entries)
    approved = next(r for r in rows if r["event"] == "OfflinePaymentApproved")
    assert (approved["by"], approved["actor_kind"], approved["actor_id"]) == (
        "مریم کریمی (finance)",
        "staff",
        "staff-maryam",
    )
    assert (approved["actor_name"], approved["actor_role"]) == ("مریم کریمی", "finance")
    confirmed = next(r for r in rows if r["event"] == "ReceiptConfirmed")
    assert confirmed["actor_id"] == "staff-ali" and confirmed["by"] == "علی رضایی (finance)"
    renewed = next(r for r in rows if r["event"] == "SubscriptionRenewed")
    assert (renewed["actor_kind"], renewed["by"]) == ("scheduler", "the scheduler")

    print_timeline(entries, "jsonl")
    items = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert next(i for i in items if i["event"] == "InvoiceVoided")["actor"] == MARYAM_JSON


def test_explain_says_who_decided_each_thing(history):
    app, h = history
    sub = explain(app, h.subscription, AFTER)
    assert (
        "placed by علی رضایی, finance, 1405/02/17 (the customer disputes the plan)" in sub.english
    )
    decisions = sub.english.split("Decisions on record:\n")[1].splitlines()
    assert decisions == [
        f"- paying invoice {str(h.first_invoice)[:8]} offline approved by مریم کریمی, finance, "
        "1405/01/17 (deadline moved to 1405/02/21 09:00).",
        f"- bank receipt 555001 (1,100,000 rials) on invoice {str(h.first_invoice)[:8]} "
        "confirmed by علی رضایی, finance, 1405/01/19.",
        f"- invoice {str(h.renewal)[:8]} voided by مریم کریمی, finance, 1405/02/16: billed twice.",
        "- an enforcement hold until 1405/04/12 09:00 placed by علی رضایی, finance, 1405/02/17: "
        "the customer disputes the plan.",
    ]
    assert "توسط مریم کریمی (مالی) در ۱۴۰۵/۰۱/۱۷ پذیرفته شد" in sub.persian
    assert "توسط علی رضایی (مالی) در ۱۴۰۵/۰۲/۱۷ برقرار شد" in sub.persian

    first = explain(app, h.first_invoice, AFTER)
    assert "Paying offline was approved by مریم کریمی, finance, 1405/01/17," in first.english
    assert "(bank_receipt, receipt:012:555001) on 1405/01/19 09:00" in first.english
    assert "confirmed by علی رضایی, finance." in first.english
    assert "پرداخت آفلاین توسط مریم کریمی (مالی) در ۱۴۰۵/۰۱/۱۷ پذیرفته شد" in first.persian

    renewal = explain(app, h.renewal, AFTER)
    assert "voided on 1405/02/16 09:00" in renewal.english
    assert "by مریم کریمی, finance (billed twice); it is not owed." in renewal.english
    assert "توسط مریم کریمی (مالی) باطل شد" in renewal.persian

    # As of a moment before Ali's decisions, only Maryam's approval is on record.
    earlier = explain(app, h.subscription, REGISTERED)
    assert "مریم کریمی" in earlier.english and "علی رضایی" not in earlier.english


def test_explain_names_who_recorded_a_payment_and_who_cancelled():
    app = in_memory_app()
    sub = ordered(app)
    invoice = app.get_subscription(sub).invoice_ids[0]
    app.acting(ALI).record_payment(
        "BANK-77", 1_100_000, T0 + DAY, invoice_id=invoice, method="cash"
    )
    app.acting(MARYAM).cancel_subscription(sub, T0 + 2 * DAY, reason="moving to another host")
    at = T0 + 3 * DAY
    paid = explain(app, invoice, at).english
    assert (
        "(cash, BANK-77) on 1405/01/16 09:00" in paid and "recorded by علی رضایی, finance" in paid
    )
    said = explain(app, sub, at).english
    assert "It was cancelled on 1405/01/17 09:00" in said and "by مریم کریمی, finance:" in said
    assert (
        "- payment BANK-77 of 1,100,000 rials (cash) on invoice "
        f"{str(invoice)[:8]} recorded by علی رضایی, finance, 1405/01/16." in said
    )
    assert "- the subscription cancelled by مریم کریمی, finance, 1405/01/17" in said
    payment = next(e for e in timeline(app, sub) if e.event == "PaymentReceived")
    assert "recorded by علی رضایی, finance" in explain(app, payment.aggregate_id, at).english


def test_steps_caught_up_in_a_persons_command_are_the_schedulers():
    """Ali records a payment a day after the deadline passed with nobody ticking: the grace
    that began in the meantime is time's doing, recorded in his save, as the scheduler's."""
    app = in_memory_app()
    sub = ordered(app, plan=a_plan(), customer=app.register_customer(a_person(), T0))
    invoice = app.get_subscription(sub).invoice_ids[0]
    app.acting(ALI).record_payment("LATE-1", 1_100_000, T0 + 31 * DAY, invoice_id=invoice)
    entries = timeline(app, sub)
    assert _actor_of(entries, "GraceStarted") == [SCHEDULER.to_dict()]
    reminders = [e for e in entries if e.data.get("kind") == "payment_reminder"]
    assert reminders and {e.actor for e in reminders} == {SCHEDULER}
    assert _actor_of(entries, "PaymentRecorded") == [ALI_JSON]
    assert _actor_of(entries, "InvoicesSettled") == [ALI_JSON]


# --- the actions report ---------------------------------------------------------------------


def _events(rows) -> list[tuple[str, str]]:
    return [(r.entry.aggregate, r.entry.event) for r in rows]


def test_the_actions_report_by_actor_id(history):
    """Each save's events in the order the store recorded them (by aggregate within a save)."""
    app, h = history
    maryams = list(actions(app, ActionFilter.parse(actor="staff-maryam")))
    assert {r.entry.actor for r in maryams} == {MARYAM}
    assert _events(maryams) == [
        ("Invoice", "OfflinePaymentApproved"),
        ("Invoice", "NoticeSent"),
        ("Invoice", "InvoiceVoided"),
        ("Invoice", "NoticeSent"),
        ("Subscription", "InvoicesClosed"),
    ]
    positions = [r.position for r in maryams]
    assert positions == sorted(set(positions))
    alis = list(actions(app, ActionFilter.parse(actor="staff:staff-ali")))
    assert {r.entry.actor for r in alis} == {ALI}
    assert _events(alis) == [
        ("Invoice", "ReceiptConfirmed"),
        ("Invoice", "PaymentRecorded"),
        ("Subscription", "InvoicesSettled"),
        ("Subscription", "NoticeSent"),
        ("Payment", "PaymentReceived"),
        ("Subscription", "EnforcementHoldPlaced"),
        ("Subscription", "NoticeSent"),  # hold_placed: the customer is told
    ]
    # A customer's id, written in capitals, is the same id.
    customer = list(actions(app, ActionFilter.parse(actor=str(h.customer).upper())))
    assert _events(customer) == [
        ("Invoice", "OfflinePaymentRequested"),
        ("Invoice", "ReceiptRegistered"),
        ("BankTransfer", "BankTransferClaimed"),
    ]


def test_the_actions_report_by_kind(history):
    app, _ = history
    staff = list(actions(app, ActionFilter.parse(actor="staff")))
    assert {r.entry.actor for r in staff} == {MARYAM, ALI} and len(staff) == 12
    scheduled = list(actions(app, ActionFilter.parse(actor="Scheduler")))
    assert {r.entry.actor for r in scheduled} == {SCHEDULER}
    assert _events(scheduled) == [
        ("Subscription", "SubscriptionRenewed"),
        ("Invoice", "InvoiceIssued"),
        ("Invoice", "NoticeSent"),
    ]
    customers = {r.entry.actor.kind for r in actions(app, ActionFilter.parse(actor="customer"))}
    assert customers == {ActorKind.CUSTOMER}
    # The plan, the customer and the order were recorded with no actor said: unknown.
    unknown = list(actions(app, ActionFilter.parse(actor="unknown")))
    assert [r.entry.event for r in unknown][:3] == [
        "CatalogueOpened",
        "PlanDefined",
        "CustomerRegistered",
    ]
    assert list(actions(app, ActionFilter.parse(actor="gateway"))) == []


def test_the_actions_report_between_two_moments(history):
    app, _ = history
    wanted = ActionFilter.parse(since=APPROVED.isoformat(), until=CONFIRMED.isoformat())
    rows = list(actions(app, wanted))
    assert rows and all(APPROVED <= r.entry.recorded_at <= CONFIRMED for r in rows)
    assert [(r.entry.event, r.entry.actor.kind.value) for r in rows] == [
        ("OfflinePaymentApproved", "staff"),
        ("NoticeSent", "staff"),
        ("ReceiptRegistered", "customer"),
        ("BankTransferClaimed", "customer"),
        ("ReceiptConfirmed", "staff"),
        ("PaymentRecorded", "staff"),
        ("InvoicesSettled", "staff"),
        ("NoticeSent", "staff"),
        ("PaymentReceived", "staff"),
    ]
    only_ali = ActionFilter.parse(
        actor="staff-ali", since="2026-04-05T00:00:00Z", until="2026-04-30T00:00:00+03:30"
    )
    assert [r.entry.actor for r in actions(app, only_ali)] == [ALI] * 5  # the hold is later
    assert list(actions(app, ActionFilter.parse(since=(AFTER + DAY).isoformat()))) == []


def test_an_action_row_says_when_who_what_in_both_languages(history):
    app, h = history
    row = next(iter(actions(app, ActionFilter.parse(actor="staff-maryam")))).as_json()
    assert row["recorded_at"] == "2026-04-06T05:30:00Z"
    assert row["recorded_at_jalali"] == "1405/01/17 09:00"
    assert row["actor"] == MARYAM_JSON
    assert (row["by"], row["by_fa"]) == ("مریم کریمی (finance)", "مریم کریمی (مالی)")
    assert (row["aggregate"], row["aggregate_id"]) == ("Invoice", str(h.first_invoice))
    assert row["event"] == "OfflinePaymentApproved" and row["version"] > 1
    assert "approved paying offline" in row["what"] and "آفلاین" in row["what_fa"]
    assert isinstance(row["position"], int)


def test_pages_of_the_report_read_a_bounded_number_of_events_and_join_up(history):
    app, _ = history
    wanted = ActionFilter.parse(actor="staff")
    everything = [r.position for r in actions(app, wanted)]
    pages, after = [], 0
    while True:
        page = actions_page(app, wanted, after=after, limit=4, scan_limit=7)
        assert len(page.items) <= 4
        pages.append([r.position for r in page.items])
        if page.after is None:
            break
        assert page.after > after
        after = page.after
    assert [p for page in pages for p in page] == everything
    assert any(len(page) < 4 for page in pages[:-1])  # a page stopped by the scan limit
    last = actions_page(app, wanted, after=0, limit=1000)
    assert last.after is None and [r.position for r in last.items] == everything


@pytest.mark.parametrize(
    ("actor", "since", "until", "error", "says"),
    [
        ("", None, None, InvalidActorFilter, "actor"),
        ("   ", None, None, InvalidActorFilter, "actor"),
        ("staff\x00", None, None, InvalidActorFilter, "control character"),
        ("x" * 201, None, None, InvalidActorFilter, "200"),
        ("robot:7", None, None, InvalidActorFilter, "'robot' is not an actor kind"),
        ("scheduler:1", None, None, InvalidActorFilter, "scheduler actors have no id"),
        ("staff:", None, None, InvalidActorFilter, "names a kind but no id"),
        (None, "yesterday", None, InvalidTime, "not an ISO 8601 moment"),
        (None, "2026-05-01T00:00:00", None, InvalidTime, "has no time zone"),
        (None, None, "", InvalidTime, "to is empty"),
        (None, "2026-06-01T00:00:00Z", "2026-05-01T00:00:00Z", InvalidTimeRange, "swap them"),
    ],
)
def test_a_filter_the_report_cannot_read_is_refused_clearly(actor, since, until, error, says):
    with pytest.raises(error) as refused:
        ActionFilter.parse(actor, since, until)
    assert says in refused.value.message
    assert refused.value.code in ("invalid_actor_filter", "invalid_time", "invalid_time_range")
    assert refused.value.details["field"] in ("actor", "from", "to")


# --- the words ------------------------------------------------------------------------------


def test_every_kind_of_actor_has_words_in_both_languages():
    named = Actor(ActorKind.STAFF, id="7", name="مریم کریمی", role="finance")
    examples = [
        named,
        Actor(ActorKind.STAFF, id="8"),
        Actor(ActorKind.CLIENT, name="finance token", role="finance"),
        Actor(ActorKind.CUSTOMER, id="c", role="customer"),
        Actor(ActorKind.REPRESENTATIVE, id="r", role="representative"),
        SCHEDULER,
        GATEWAY,
        Actor(ActorKind.OPERATOR, id="ops@host", name="ops@host"),
        UNKNOWN,
    ]
    assert {a.kind for a in examples} == set(ActorKind)
    for actor in examples:
        words = who(actor)
        assert words.english and words.persian and words.english != words.persian, actor
    assert who(named).english == "مریم کریمی (finance)" == named.english()
    assert who(named).persian == "مریم کریمی (مالی)"
    assert who(SCHEDULER).english == "the scheduler"
    assert who(Actor(ActorKind.OPERATOR, id="ops@host", name="ops@host")).english == (
        "ops@host at the console"
    )
    moment = T0 + 25 * DAY + timedelta(hours=20)  # 1405/02/10 05:00 in Tehran
    assert decided_by(named, moment).english == "by مریم کریمی, finance, 1405/02/10"
    assert decided_by(named, moment).persian == "توسط مریم کریمی (مالی) در ۱۴۰۵/۰۲/۱۰"
    assert decided_by(UNKNOWN).english == (
        "by an unknown person (recorded before actors were kept)"
    )


def test_the_api_names_every_actor_kind():
    assert set(ActorKindName.__args__) == {kind.value for kind in ActorKind}  # type: ignore[attr-defined]


def test_explain_says_who_restored_a_suspended_site():
    app = in_memory_app()
    sub = ordered(app)
    invoice = app.get_subscription(sub).invoice_ids[0]
    app.advance(T0 + 34 * DAY, on_time=True)  # past the deadline and grace: suspended
    assert app.get_subscription(sub).suspension is not None
    app.acting(ALI).record_payment("BANK-9", 1_100_000, T0 + 35 * DAY, invoice_id=invoice)
    said = explain(app, sub, T0 + 35 * DAY + timedelta(hours=1)).english
    assert (
        "The site was last restored on 1405/02/19 09:00 (2026-05-09T05:30:00Z), when payment "
        "BANK-9 was recorded (by علی رضایی, finance)" in said
    )
    suspended = next(e for e in timeline(app, sub) if e.event == "SiteSuspended")
    assert suspended.actor == SCHEDULER
