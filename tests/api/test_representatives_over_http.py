"""Representatives over real HTTP: added, listed with their customers, changed; a customer
assigned and moved, after which the new representative sees the customer and everything of
theirs and the old one gets 404 exactly as for an id that does not exist; a representative
id that was never registered refused; ids of before listed and added under themselves. On
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app import create_app
from bootstrap import build_engine
from domain.customer import Customer
from tests.api.server import bearer, served
from tests.builders import T0, a_company, a_person, a_plan
from tests.stores import postgres_schema

PERSON = {"name": "Sara Ahmadi", "kind": "person", "email": "sara@example.ir",
          "mobile": "09121234567"}  # fmt: skip


@contextmanager
def sqlite_store(tmp_path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path}/reps.sqlite"


@contextmanager
def postgres_store(tmp_path) -> Iterator[str]:
    with postgres_schema() as url:
        yield url


STORES = [sqlite_store, pytest.param(postgres_store, marks=pytest.mark.postgres)]


class Office:
    """A served engine with a plan, and admin, finance and a customer's tokens."""

    def __init__(self, url: str) -> None:
        self.engine = build_engine(database_url=url, test_mode=True, test_clock_start=T0)
        self.api = create_app(self.engine)
        self.app = self.api.state.context.app
        self.tokens = self.api.state.context.tokens
        self.app.define_plan(a_plan("basic"), T0)
        self.admin = bearer(self.tokens.create("admin", T0))
        self.finance = bearer(self.tokens.create("finance", T0))

    def representative(self, representative_id: str) -> dict[str, str]:
        return bearer(
            self.tokens.create("representative", T0, subject=uuid.UUID(representative_id))
        )


@pytest.fixture(params=STORES)
def office(request, tmp_path):
    with request.param(tmp_path) as url:
        office = Office(url)
        yield office
        office.engine.close()


def _problem(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == code, body
    return body


def test_representatives_are_added_listed_and_changed(office):
    with served(office.api) as http:
        added = http.post(
            "/representatives",
            json={"name": " Ali  Rezaei ", "mobile": "۰۹۱۲ ۱۲۳ ۴۵۶۷", "email": "ali@example.ir"},
            headers=office.admin,
        )
        assert added.status_code == 201, added.text
        ali = added.json()
        assert ali["name"] == "Ali Rezaei" and ali["mobile"] == "09121234567"
        assert ali["registered"] is True and ali["customers"] == 0
        assert ali["added_at"] == "2026-04-04T05:30:00Z" and ali["added_at_jalali"]

        # A retry with the same Idempotency-Key adds nobody twice.
        key = {"Idempotency-Key": "add-reza-1"}
        first = http.post("/representatives", json={"name": "Reza"}, headers=office.admin | key)
        again = http.post("/representatives", json={"name": "Reza"}, headers=office.admin | key)
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert again.headers.get("Idempotent-Replayed") == "true"
        reza = first.json()["id"]

        listed = http.get("/representatives", headers=office.finance).json()
        assert sorted(r["id"] for r in listed["items"]) == sorted([ali["id"], reza])
        page = http.get("/representatives?limit=1", headers=office.admin).json()
        rest = http.get(
            f"/representatives?cursor={page['next_cursor']}", headers=office.admin
        ).json()
        assert [r["id"] for r in page["items"] + rest["items"]] == sorted([ali["id"], reza])

        changed = http.put(
            f"/representatives/{reza}",
            json={"name": "Reza Karimi", "email": "reza@example.ir"},
            headers=office.admin,
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["name"], changed.json()["email"]) == (
            "Reza Karimi",
            "reza@example.ir",
        )

        # Refusals: a clear problem, and nothing recorded.
        before = office.app.recorder.max_notification_id()
        bad = _problem(
            http.post(
                "/representatives", json={"name": "Ali", "mobile": "12345"}, headers=office.admin
            ),
            422,
            "invalid_representative",
        )
        assert bad["field"] == "mobile" and "Iranian mobile number" in bad["detail"]
        _problem(http.post("/representatives", json={"name": ""}, headers=office.admin), 422,
                 "invalid_request")  # fmt: skip
        _problem(http.post("/representatives", json={"name": "X"}, headers=office.finance), 403,
                 "forbidden")  # fmt: skip
        taken = _problem(
            http.post("/representatives", json={"id": reza, "name": "Other"}, headers=office.admin),
            409,
            "representative_id_taken",
        )
        assert "already added" in taken["detail"]
        _problem(
            http.put(f"/representatives/{uuid.uuid4()}", json={"name": "X"}, headers=office.admin),
            404,
            "representative_not_found",
        )
        assert office.app.recorder.max_notification_id() == before

        # Who sees which: a representative only themselves, a customer none.
        me = office.representative(reza)
        assert [r["id"] for r in http.get("/representatives", headers=me).json()["items"]] == [reza]
        assert http.get(f"/representatives/{reza}", headers=me).status_code == 200
        _problem(http.get(f"/representatives/{ali['id']}", headers=me), 404,
                 "representative_not_found")  # fmt: skip
        customer = bearer(
            office.tokens.create(
                "customer", T0, subject=office.app.register_customer(a_person(), T0)
            )
        )
        _problem(http.get("/representatives", headers=customer), 403, "forbidden")


def test_a_customer_moved_to_another_representative_takes_everything_with_them(office):
    app = office.app
    with served(office.api) as http:
        ali = http.post("/representatives", json={"name": "Ali"}, headers=office.admin).json()["id"]
        reza = http.post("/representatives", json={"name": "Reza"}, headers=office.admin).json()[
            "id"
        ]
        as_ali, as_reza = office.representative(ali), office.representative(reza)

        # Ali registers a company of theirs, which orders a site and asks to pay offline.
        registered = http.post("/customers", json=a_company().to_dict(), headers=as_ali)
        assert registered.status_code == 201, registered.text
        customer = registered.json()["id"]
        assert registered.json()["representative_id"] == ali
        ordered = http.post(
            "/subscriptions",
            json={"customer_id": customer, "plan_id": "basic", "period": "monthly"},
            headers=as_ali,
        )
        assert ordered.status_code == 201, ordered.text
        subscription = ordered.json()["id"]
        invoice = http.get(f"/subscriptions/{subscription}/invoices", headers=as_ali).json()[
            "items"
        ][0]["id"]
        offline = http.post(
            f"/invoices/{invoice}/offline-requests", json={"reason": "transfer"}, headers=as_ali
        )
        assert offline.status_code == 201, offline.text

        theirs = [
            f"/customers/{customer}",
            f"/subscriptions/{subscription}",
            f"/subscriptions/{subscription}/invoices",
            f"/invoices/{invoice}",
            f"/invoices/{invoice}/invoice.pdf",
        ]

        def sees(token) -> bool:
            answers = [http.get(path, headers=token) for path in theirs]
            if all(a.status_code == 200 for a in answers):
                listed = {
                    "/customers": customer,
                    "/subscriptions": subscription,
                    "/offline-payments": offline.json()["id"],
                }
                for path, wanted in listed.items():
                    items = http.get(path, headers=token).json()["items"]
                    assert wanted in {i["id"] for i in items}, (path, items)
                return True
            for answer in answers:  # not theirs: exactly as if it were not there
                assert answer.status_code == 404, answer.text
                assert answer.json()["code"].endswith("_not_found")
            for path in ("/customers", "/subscriptions", "/offline-payments"):
                assert http.get(path, headers=token).json()["items"] == []
            return False

        assert sees(as_ali) and not sees(as_reza)

        moved = http.put(
            f"/customers/{customer}/representative",
            json={"representative_id": reza, "reason": "Ali moved to Shiraz"},
            headers=office.admin,
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["representative_id"] == reza and moved.json()["id"] == customer

        assert sees(as_reza) and not sees(as_ali)
        answer = http.get(f"/subscriptions/{subscription}", headers=as_reza).json()
        assert answer["representative_id"] == reza  # its customer's representative now
        counts = {r["id"]: r["customers"] for r in http.get(
            "/representatives", headers=office.finance).json()["items"]}  # fmt: skip
        assert counts == {ali: 0, reza: 1}

        # The move is in the audit trail with who made it and why.
        timeline = http.get(f"/audit/{customer}/timeline", headers=office.finance).json()["items"]
        last = timeline[-1]
        assert last["event"] == "RepresentativeAssigned"
        assert last["data"] == {
            "previous_representative_id": ali,
            "representative_id": reza,
            "reason": "Ali moved to Shiraz",
        }
        actor = last["actor"]
        assert (actor["kind"], actor["name"], actor["role"]) == ("client", "admin token", "admin")
        assert actor["id"].startswith("tok_")
        assert last["what"].startswith(f"moved from representative {ali[:8]} to {reza[:8]}")

        # Refusals name what to do, and record nothing.
        before = app.recorder.max_notification_id()
        path = f"/customers/{customer}/representative"
        same = _problem(
            http.put(
                path, json={"representative_id": reza, "reason": "again"}, headers=office.admin
            ),
            409,
            "representative_unchanged",
        )
        assert "already represented by" in same["detail"]
        unknown = _problem(
            http.put(
                path,
                json={"representative_id": str(uuid.uuid4()), "reason": "typo"},
                headers=office.admin,
            ),
            404,
            "representative_not_found",
        )
        assert "POST /representatives" in unknown["detail"]
        _problem(http.put(path, json={"representative_id": ali, "reason": " "},
                          headers=office.admin), 422, "invalid_request")  # fmt: skip
        for token in (office.finance, as_reza):
            _problem(
                http.put(path, json={"representative_id": ali, "reason": "r"}, headers=token),
                403,
                "forbidden",
            )
        _problem(
            http.put(
                f"/customers/{uuid.uuid4()}/representative",
                json={"representative_id": ali, "reason": "r"},
                headers=office.admin,
            ),
            404,
            "customer_not_found",
        )
        assert app.recorder.max_notification_id() == before


def test_only_a_registered_representative_is_named_and_ids_of_before_keep_working(office):
    app = office.app
    # A customer recorded by the code of before names a representative never registered.
    legacy = uuid.uuid4()
    old = Customer.register(a_company("Old Co"), legacy, T0)
    app.save(old)
    as_legacy = office.representative(str(legacy))
    with served(office.api) as http:
        before = app.recorder.max_notification_id()
        refused = _problem(
            http.post(
                "/customers",
                json=PERSON | {"representative_id": str(uuid.uuid4())},
                headers=office.admin,
            ),
            404,
            "representative_not_found",
        )
        assert "Add the representative first" in refused["detail"]
        _problem(http.post("/customers", json=PERSON, headers=as_legacy), 404,
                 "representative_not_found")  # fmt: skip
        assert app.recorder.max_notification_id() == before

        # Listed without a name, with its customer; its token still sees that customer.
        (row,) = http.get("/representatives", headers=office.admin).json()["items"]
        assert row == {
            "id": str(legacy),
            "name": None,
            "mobile": None,
            "email": None,
            "registered": False,
            "added_at": None,
            "added_at_jalali": None,
            "customers": 1,
        }
        assert http.get(f"/customers/{old.id}", headers=as_legacy).status_code == 200
        assert http.get(f"/representatives/{legacy}", headers=as_legacy).json()["customers"] == 1

        # Added under its own id: registered, keeps its customer, and may register new ones.
        adopted = http.post(
            "/representatives", json={"id": str(legacy), "name": "Sina"}, headers=office.admin
        )
        assert adopted.status_code == 201, adopted.text
        assert (adopted.json()["registered"], adopted.json()["customers"]) == (True, 1)
        assert http.post("/customers", json=PERSON, headers=as_legacy).status_code == 201
        assert http.get(f"/representatives/{legacy}", headers=as_legacy).json()["customers"] == 2
        # An id of something else is not a representative's.
        _problem(
            http.post("/representatives", json={"id": str(old.id), "name": "X"},
                      headers=office.admin),
            409,
            "representative_id_taken",
        )  # fmt: skip
