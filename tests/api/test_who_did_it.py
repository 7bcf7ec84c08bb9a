"""Who did it, end to end (docs/AUDIT.md "Actors", docs/SECURITY.md "Four eyes"): an admin adds
two finance staff and a support person over HTTP; the two share one customer's money under the
four-eyes rule; the timeline, ``explain`` and the actions report (HTTP and CLI) name the right
person for each event; the support person reads all of it and changes no money."""

from __future__ import annotations

import contextlib
import csv
import io

import pytest

import cli
from adapters.sandbox_gateway import SandboxGateway
from domain.jalali import JalaliDate
from tests.api.server import bearer, served
from tests.api.shop import Shop
from tests.api.staffing import hire, problem_of
from tests.builders import T0


@pytest.fixture
def shop(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(
            f"sqlite:///{tmp_path}/who.sqlite",
            gateway,
            four_eyes=True,
            four_eyes_void_above=1_000_000,
        )
        shop.db = f"{tmp_path}/who.sqlite"
        yield shop
        shop.engine.close()


def billing(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_two_finance_staff_share_the_work_and_every_record_names_the_right_one(shop):
    with served(shop.api, shop.sock) as http:
        maryam = hire(http, shop.admin, "مریم کریمی", "finance")
        reza = hire(http, shop.admin, "Reza Tehrani", "finance")
        sara = hire(http, shop.admin, "Sara Support", "support")
        as_maryam, as_reza, as_sara = (bearer(p["token"]) for p in (maryam, reza, sara))

        # The company asks to pay offline; Maryam approves; the customer registers the receipt.
        asked = http.post(
            f"/invoices/{shop.invoice}/offline-requests",
            json={"reason": "treasury pays by transfer"},
            headers=shop.me,
        )
        assert asked.status_code == 201, asked.text
        approved = http.post(
            f"/offline-requests/{asked.json()['id']}/approve",
            json={"reason": "known customer"},
            headers=as_maryam,
        )
        assert approved.status_code == 200, approved.text
        balance = http.get(f"/invoices/{shop.invoice}", headers=shop.me).json()["balance"]
        receipt = shop.mellat_receipt(http, "99887766", balance)

        # Support reads everything and changes no money.
        for method, path, body in (
            ("POST", f"/receipts/{receipt['id']}/confirm", None),
            ("POST", f"/invoices/{shop.invoice}/void", {"reason": "try"}),
            (
                "POST",
                f"/subscriptions/{shop.subscription}/enforcement-hold",
                {"reason": "try", "until": "2026-06-01T00:00:00Z"},
            ),
        ):
            refused = http.request(method, path, json=body, headers=as_sara)
            assert problem_of(refused, 403)["code"] == "forbidden"
        assert http.get(f"/audit/{shop.subscription}/timeline", headers=as_sara).status_code == 200

        # Four eyes: Maryam approved the request, so she cannot confirm its receipt; Reza can.
        mine = http.post(f"/receipts/{receipt['id']}/confirm", headers=as_maryam)
        refusal = problem_of(mine, 409)
        assert refusal["code"] == "four_eyes_required"
        assert "approved its offline payment request" in refusal["detail"]
        assert "مریم کریمی" in refusal["detail"]
        confirmed = http.post(f"/receipts/{receipt['id']}/confirm", headers=as_reza)
        assert confirmed.status_code == 200, confirmed.text

        # The renewal invoice (2,500,000 rials and VAT) is above the four-eyes amount: Maryam's
        # void is a proposal, her second try is refused, Reza's carries it out.
        advanced = http.post("/admin/clock/advance", json={"days": 31}, headers=shop.admin)
        assert advanced.status_code == 200, advanced.text
        invoices = http.get(f"/subscriptions/{shop.subscription}/invoices", headers=shop.me)
        (renewal,) = [i["id"] for i in invoices.json()["items"] if i["id"] != str(shop.invoice)]
        proposed = http.post(
            f"/invoices/{renewal}/void", json={"reason": "agreed discount"}, headers=as_maryam
        )
        assert proposed.status_code == 202, proposed.text
        assert proposed.json()["void"] == "proposed" and proposed.json()["status"] != "void"
        again = http.post(
            f"/invoices/{renewal}/void", json={"reason": "agreed discount"}, headers=as_maryam
        )
        assert problem_of(again, 409)["code"] == "four_eyes_required"
        voided = http.post(
            f"/invoices/{renewal}/void", json={"reason": "agreed discount"}, headers=as_reza
        )
        assert voided.status_code == 200, voided.text
        assert voided.json()["status"] == "void"

        # The timeline names each person, in JSON and in words.
        items = http.get(f"/audit/{shop.subscription}/timeline", headers=as_sara).json()["items"]
        by_event = {(i["event"], i["aggregate_id"]): i for i in items}
        first, second = str(shop.invoice), renewal
        expected = {
            ("OfflinePaymentApproved", first): maryam,
            ("ReceiptConfirmed", first): reza,
            ("VoidProposed", second): maryam,
            ("InvoiceVoided", second): reza,
        }
        for key, person in expected.items():
            actor = by_event[key]["actor"]
            assert (actor["kind"], actor["id"], actor["name"], actor["role"]) == (
                "staff",
                person["id"],
                person["name"],
                "finance",
            ), key
            assert person["name"] in by_event[key]["by"]
        assert by_event[("OfflinePaymentRequested", first)]["actor"]["kind"] == "customer"
        renewed = next(i for i in items if i["event"] == "SubscriptionRenewed")
        assert renewed["actor"]["kind"] == "scheduler"  # time's doing, though an admin moved it

        # explain says who decided, with the Jalali day.
        said = http.get(f"/audit/{shop.invoice}/explain", headers=as_sara).json()["english"]
        day = JalaliDate.of(T0).isoformat()  # both decided on the test clock's first day
        assert f"by مریم کریمی, finance, {day}" in said, said
        assert "by Reza Tehrani, finance" in said, said
        record = http.get(f"/audit/{shop.subscription}/explain", headers=as_sara).json()["english"]
        assert "proposed (four eyes) by مریم کریمی, finance" in record

        # What each person did: Maryam's actions are hers alone, and Reza's his.
        mine = http.get("/audit/actions", params={"actor": maryam["id"]}, headers=as_sara).json()
        assert {i["actor"]["id"] for i in mine["items"]} == {maryam["id"]}
        assert {"OfflinePaymentApproved", "VoidProposed"} <= {i["event"] for i in mine["items"]}
        assert not {"ReceiptConfirmed", "InvoiceVoided"} & {i["event"] for i in mine["items"]}

    # The same report on the command line, as CSV, for Reza.
    code, out, err = billing(
        "audit", "actions", "--actor", reza["id"], "--format", "csv", "--db", shop.db
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {"ReceiptConfirmed", "InvoiceVoided"} <= {r["event"] for r in rows}
    assert all(r["actor_name"] == "Reza Tehrani" for r in rows)
