"""Staff members and tokens over real HTTP: adding, listing, disabling; tokens that expire, are
revoked or belong to a disabled member answer 401 at once (also from a second server process
on the same PostgreSQL); scopes refuse 403; the support role reads but changes no money; and
every event a staff member causes names them as its actor."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from adapters.sandbox_gateway import SandboxGateway
from domain.staff import StaffMember
from service_layer.timeline import iso
from tests.api.server import bearer, served, server_process
from tests.api.shop import Shop
from tests.api.staffing import actors, hire, problem_of
from tests.builders import DAY, T0, a_company, a_pdf_slip
from tests.stores import postgres_schema


@pytest.fixture
def shop(tmp_path):
    with SandboxGateway() as gateway:
        shop = Shop(f"sqlite:///{tmp_path}/staff.sqlite", gateway)
        yield shop
        shop.engine.close()


def staff_admin(shop: Shop, http) -> tuple[dict, dict[str, str]]:
    """A staff member with the admin role, added by the shop's admin token, and their token."""
    member = hire(http, shop.admin, "Admin Ahmadi", "admin")
    return member, bearer(member["token"])


def log_size(shop: Shop) -> int:
    return shop.api.state.context.app.recorder.max_notification_id() or 0


# --- adding, listing ----------------------------------------------------------------------------


def test_an_admin_adds_a_member_whose_token_is_shown_once_and_acts_in_their_role(shop):
    with served(shop.api, shop.sock) as http:
        boss, as_boss = staff_admin(shop, http)
        added = http.post(
            "/staff",
            json={"name": "مریم کریمی", "role": "finance", "email": "Maryam@Example.ir"},
            headers=as_boss,
        )
        assert added.status_code == 201, added.text
        assert added.headers["cache-control"] == "no-store"
        maryam = added.json()
        assert maryam["token"].startswith("bt_") and maryam["token_id"].startswith("tok_")
        assert (maryam["name"], maryam["role"], maryam["email"], maryam["state"]) == (
            "مریم کریمی",
            "finance",
            "maryam@example.ir",
            "active",
        )
        listed = http.get("/staff", headers=as_boss).json()["items"]
        assert {m["name"] for m in listed} == {"Admin Ahmadi", "مریم کریمی"}
        assert all(m["token"] is None for m in listed)
        paged = http.get("/staff?limit=1", headers=as_boss).json()
        rest = http.get(f"/staff?limit=1&cursor={paged['next_cursor']}", headers=as_boss).json()
        assert [m["id"] for m in paged["items"] + rest["items"]] == [m["id"] for m in listed]
        assert rest["next_cursor"] is None

        paid = http.post(
            f"/invoices/{shop.invoice}/payments",
            json={"reference": "BANK-1", "amount": 2_750_000},
            headers=bearer(maryam["token"]),
        )
        assert paid.status_code == 200, paid.text
        timeline = http.get(f"/audit/{shop.subscription}/timeline", headers=as_boss).json()
    app = shop.api.state.context.app
    by_admin = actors(app, UUID(maryam["id"]))["StaffMemberAdded"]
    assert by_admin == {"kind": "staff", "id": boss["id"], "name": "Admin Ahmadi", "role": "admin"}
    (settled,) = [e for e in timeline["items"] if e["event"] == "InvoicesSettled"]
    assert settled["actor"] == {
        "kind": "staff",
        "id": maryam["id"],
        "name": "مریم کریمی",
        "role": "finance",
    }


def test_a_member_that_cannot_be_added_is_refused_saying_why_and_nothing_is_recorded(shop):
    with served(shop.api, shop.sock) as http:
        hire(http, shop.admin, "Ali", "support", email="ali@example.ir")
        before = log_size(shop)
        cases = [
            ({"name": "Sara", "role": "owner"}, 422, "invalid_request"),
            ({"name": "Sa\x00ra", "role": "finance"}, 422, "invalid_request"),
            ({"name": "Sara", "role": "finance", "email": "no-at-sign"}, 422, "invalid_input"),
            ({"name": "Sara", "role": "finance", "email": "ALI@example.ir"}, 409, "staff_conflict"),
        ]
        for body, status, code in cases:
            refused = problem_of(http.post("/staff", json=body, headers=shop.admin), status)
            assert refused["code"] == code, (body, refused)
            assert refused["detail"]
        nobody = problem_of(
            http.post(
                "/staff/00000000-0000-4000-8000-000000000000/disable",
                json={"reason": "left"},
                headers=shop.admin,
            ),
            404,
        )
        assert nobody["code"] == "staff_not_found"
        assert len(http.get("/staff", headers=shop.admin).json()["items"]) == 1
    assert log_size(shop) == before


def test_a_retried_add_with_the_same_key_adds_nobody_twice_and_keeps_no_token(shop):
    key = {"Idempotency-Key": "hire-sara-1"}
    with served(shop.api, shop.sock) as http:
        first = hire(http, shop.admin | key, "Sara", "finance")
        again = http.post(
            "/staff", json={"name": "Sara", "role": "finance"}, headers=shop.admin | key
        )
        assert again.status_code == 201 and "idempotent-replayed" not in again.headers
        assert again.json()["id"] == first["id"] and again.json()["token"] != first["token"]
        assert len(http.get("/staff", headers=shop.admin).json()["items"]) == 1
    stored = shop.api.state.context.idempotency
    with stored.view.datastore.transaction(commit=False) as cursor:
        sql = stored.view.sql(cursor)
        bodies = sql.execute(f"SELECT body FROM {sql.table(stored.TABLE)}").rows()
    assert not any(first["token"] in (row["body"] or "") for row in bodies)


# --- tokens that stop working -------------------------------------------------------------------


def test_a_revoked_token_is_refused_at_once_and_the_list_never_shows_a_token(shop):
    with served(shop.api, shop.sock) as http:
        made = http.post(
            "/admin/tokens",
            json={"role": "finance", "owner": "client", "name": "portal", "label": "portal prod"},
            headers=shop.admin,
        )
        assert made.status_code == 201, made.text
        portal = made.json()
        assert portal["owner"] == {
            "kind": "client",
            "id": portal["id"],
            "name": "portal",
            "role": "finance",
        }
        assert http.get("/plans", headers=bearer(portal["token"])).status_code == 200
        listed = http.get("/admin/tokens", headers=shop.admin)
        assert portal["token"] not in listed.text
        (item,) = [t for t in listed.json()["items"] if t["id"] == portal["id"]]
        assert item["state"] == "active" and item["last_used_at"] == iso(T0)
        assert item["label"] == "portal prod" and item["revoked_at"] is None

        assert http.delete(f"/admin/tokens/{portal['id']}", headers=shop.admin).status_code == 204
        refused = problem_of(http.get("/plans", headers=bearer(portal["token"])), 401)
        assert refused["code"] == "unauthorized" and refused["reason"] == "revoked"
        assert "revoked" in refused["detail"]
        assert http.delete(f"/admin/tokens/{portal['id']}", headers=shop.admin).status_code == 204
        unknown = problem_of(http.delete("/admin/tokens/tok_0123456789ab", headers=shop.admin), 404)
        assert unknown["code"] == "token_not_found"
        (item,) = [
            t
            for t in http.get("/admin/tokens", headers=shop.admin).json()["items"]
            if t["id"] == portal["id"]
        ]
        assert item["state"] == "revoked" and item["revoked_at"] == iso(T0)


def test_a_stored_answer_is_not_replayed_to_a_token_revoked_since(shop):
    key = {"Idempotency-Key": "pay-once"}
    with served(shop.api, shop.sock) as http:
        made = http.post("/admin/tokens", json={"role": "finance"}, headers=shop.admin).json()
        http_token = bearer(made["token"]) | key
        body = {"reference": "BANK-9", "amount": 1_000}
        first = http.post(f"/invoices/{shop.invoice}/payments", json=body, headers=http_token)
        assert first.status_code == 200
        again = http.post(f"/invoices/{shop.invoice}/payments", json=body, headers=http_token)
        assert again.headers["idempotent-replayed"] == "true"
        http.delete(f"/admin/tokens/{made['id']}", headers=shop.admin)
        refused = http.post(f"/invoices/{shop.invoice}/payments", json=body, headers=http_token)
        assert problem_of(refused, 401)["reason"] == "revoked"


def test_an_expired_token_is_refused_once_the_test_clock_passes_its_expiry(shop):
    with served(shop.api, shop.sock) as http:
        sara = hire(http, shop.admin, "Sara", "finance")
        made = http.post(
            f"/staff/{sara['id']}/tokens",
            json={"expires_at": iso(T0 + DAY), "label": "laptop"},
            headers=shop.admin,
        )
        assert made.status_code == 201, made.text
        assert made.json()["expires_at"] == iso(T0 + DAY)
        laptop = bearer(made.json()["token"])
        assert http.get("/plans", headers=laptop).status_code == 200
        moved = http.post("/admin/clock/advance", json={"days": 2}, headers=shop.admin)
        assert moved.status_code == 200, moved.text
        refused = problem_of(http.get("/plans", headers=laptop), 401)
        assert refused["reason"] == "expired" and "expired" in refused["detail"]
        assert http.get("/plans", headers=bearer(sara["token"])).status_code == 200
        past = http.post(
            f"/staff/{sara['id']}/tokens", json={"expires_at": iso(T0)}, headers=shop.admin
        )
        assert problem_of(past, 422)["code"] == "invalid_time"


def test_a_disabled_members_tokens_are_refused_at_once_and_they_get_no_new_one(shop):
    with served(shop.api, shop.sock) as http:
        _, as_boss = staff_admin(shop, http)
        sara = hire(http, as_boss, "Sara", "finance")
        spare = http.post(f"/staff/{sara['id']}/tokens", json={}, headers=as_boss).json()
        disabled = http.post(
            f"/staff/{sara['id']}/disable", json={"reason": "left the company"}, headers=as_boss
        )
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["state"] == "disabled"
        for token in (sara["token"], spare["token"]):
            refused = problem_of(http.get("/plans", headers=bearer(token)), 401)
            assert refused["reason"] == "owner_disabled"
        again = http.post(f"/staff/{sara['id']}/tokens", json={}, headers=as_boss)
        assert problem_of(again, 409)["code"] == "staff_disabled"
        states = {
            t["id"]: t["state"] for t in http.get("/admin/tokens", headers=as_boss).json()["items"]
        }
        assert states[spare["id"]] == "owner_disabled"
        twice = http.post(f"/staff/{sara['id']}/disable", json={"reason": "x"}, headers=as_boss)
        assert twice.status_code == 200
    app = shop.api.state.context.app
    disabled_by = actors(app, UUID(sara["id"]))["StaffMemberDisabled"]
    assert disabled_by["kind"] == "staff" and disabled_by["name"] == "Admin Ahmadi"
    events = [type(e) for e in app.events.get(UUID(sara["id"]))]
    assert events.count(StaffMember.StaffMemberDisabled) == 1


# --- scopes and the support role ----------------------------------------------------------------


def test_a_read_token_only_reads_and_a_payments_token_only_pays(shop):
    with served(shop.api, shop.sock) as http:

        def token(**body) -> dict[str, str]:
            made = http.post("/admin/tokens", json=body, headers=shop.admin)
            assert made.status_code == 201, made.text
            assert made.json()["scopes"] == sorted(body["scopes"])
            return bearer(made.json()["token"])

        reader = token(role="admin", scopes=["read"])
        assert http.get(f"/invoices/{shop.invoice}", headers=reader).status_code == 200
        refused = http.post("/admin/tokens", json={"role": "finance"}, headers=reader)
        assert problem_of(refused, 403)["code"] == "read_only_token"
        assert "only read" in refused.json()["detail"]

        cashier = token(role="finance", owner="client", name="cashier", scopes=["payments"])
        paid = http.post(
            f"/invoices/{shop.invoice}/payments",
            json={"reference": "BANK-2", "amount": 1_000},
            headers=cashier,
        )
        assert paid.status_code == 200, paid.text
        voided = http.post(f"/invoices/{shop.invoice}/void", json={"reason": "x"}, headers=cashier)
        assert problem_of(voided, 403)["code"] == "outside_token_scope"
        assert "POST /invoices/{invoice_id}/void" in voided.json()["detail"]

        portal = token(role="customer", subject=str(shop.customer), scopes=["payments"])
        asked = http.post(
            f"/invoices/{shop.invoice}/offline-requests",
            json={"reason": "transfer"},
            headers=portal,
        )
        assert asked.status_code == 201, asked.text
        cancel = http.post(f"/subscriptions/{shop.subscription}/cancel", json={}, headers=portal)
        assert problem_of(cancel, 403)["code"] == "outside_token_scope"
        unknown = http.post(
            "/admin/tokens", json={"role": "admin", "scopes": ["all"]}, headers=shop.admin
        )
        assert problem_of(unknown, 422)["code"] == "invalid_request"


def test_support_reads_everything_and_corrects_a_profile_but_changes_no_money(shop):
    app = shop.api.state.context.app
    request = app.request_offline_payment(shop.invoice, "transfer", T0)
    app.decide_offline_payment(shop.invoice, request, T0, approve=True)
    scan = shop.api.state.context.runtime.scans.put(a_pdf_slip())
    receipt = app.register_receipt(
        shop.invoice,
        bank="017",
        tracking_number="77001100",
        amount=1_000,
        paid_on="1405/01/20",
        now=T0,
        scan_hash=scan,
    )
    with served(shop.api, shop.sock) as http:
        support = hire(http, shop.admin, "Reza Support", "support")
        me = bearer(support["token"])
        money = [
            (f"/invoices/{shop.invoice}/payments", {"reference": "BANK-3", "amount": 1_000}),
            (f"/invoices/{shop.invoice}/void", {"reason": "mistake"}),
            (
                f"/subscriptions/{shop.subscription}/enforcement-hold",
                {"reason": "dispute", "until": iso(T0 + 30 * DAY)},
            ),
            (f"/receipts/{receipt}/confirm", None),
            (f"/receipts/{receipt}/reject", {"reason": "no"}),
            (f"/offline-requests/{request}/approve", None),
            (f"/invoices/{shop.invoice}/official", None),
            (f"/subscriptions/{shop.subscription}/cancel", {}),
            (f"/invoices/{shop.invoice}/payment-link", None),
        ]
        before = log_size(shop)
        for path, body in money:
            refused = problem_of(http.post(path, json=body, headers=me), 403)
            assert refused["code"] == "forbidden", path
        assert log_size(shop) == before
        for path in (
            "/customers",
            f"/customers/{shop.customer}",
            f"/invoices/{shop.invoice}",
            f"/audit/{shop.subscription}/timeline",
            f"/audit/{shop.subscription}/explain",
            "/reports/aging",
            "/offline-payments",
            f"/receipts/{receipt}/scan",
        ):
            assert http.get(path, headers=me).status_code == 200, path
        assert shop.customer in {
            UUID(c["id"]) for c in http.get("/customers", headers=me).json()["items"]
        }
        profile = a_company().to_dict() | {"name": "شرکت پارس نو"}
        corrected = http.put(f"/customers/{shop.customer}/profile", json=profile, headers=me)
        assert corrected.status_code == 200, corrected.text
    changed_by = actors(app, shop.customer)["BillingProfileChanged"]
    assert changed_by == {
        "kind": "staff",
        "id": support["id"],
        "name": "Reza Support",
        "role": "support",
    }


# --- a second server process on the same PostgreSQL ---------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow  # two server processes
def test_a_revoked_expired_or_disabled_members_token_is_refused_at_once_by_another_process(
    tmp_path,
):
    from bootstrap import open_runtime

    settings = {"test_mode": "1", "test_clock_start": iso(T0)}
    with postgres_schema() as url:
        runtime = open_runtime(database_url=url, test_mode=True, test_clock_start=T0)
        admin = bearer(runtime.tokens.create("admin", T0, label="test"))
        runtime.close()
        with (
            server_process(url, tmp_path / "first.log", **settings) as first,
            server_process(url, tmp_path / "second.log", **settings) as second,
        ):
            sara = hire(first, admin, "Sara", "finance")
            portal = first.post(
                "/admin/tokens",
                json={"role": "finance", "owner": "client", "name": "portal"},
                headers=admin,
            ).json()
            expiring = first.post(
                "/admin/tokens",
                json={"role": "support", "expires_at": iso(T0 + DAY)},
                headers=admin,
            ).json()
            for token in (sara["token"], portal["token"], expiring["token"]):
                assert second.get("/plans", headers=bearer(token)).status_code == 200

            first.post(f"/staff/{sara['id']}/disable", json={"reason": "left"}, headers=admin)
            refused = problem_of(second.get("/plans", headers=bearer(sara["token"])), 401)
            assert refused["reason"] == "owner_disabled"

            assert first.delete(f"/admin/tokens/{portal['id']}", headers=admin).status_code == 204
            refused = problem_of(second.get("/plans", headers=bearer(portal["token"])), 401)
            assert refused["reason"] == "revoked"

            moved = first.post(
                "/admin/clock/advance",
                json={"to": iso(T0 + DAY + timedelta(minutes=1))},
                headers=admin,
            )
            assert moved.status_code == 200, moved.text
            refused = problem_of(second.get("/plans", headers=bearer(expiring["token"])), 401)
            assert refused["reason"] == "expired"
            assert second.get("/plans", headers=admin).status_code == 200
