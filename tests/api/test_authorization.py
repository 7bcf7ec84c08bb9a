"""Who may do what: every route × every role (and tokens narrowed by scopes) × own or another
party's resource, with the exact status. Nothing but the health check answers without a token;
another party's resource is "not found" (404), never "forbidden", so ids cannot be probed; a
token's scopes refuse (403) what they leave out before anything is looked up."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import timedelta

import pytest

from app import create_app
from bootstrap import build_engine
from domain.representative import RepresentativeDetails
from tests.api.server import bearer, served
from tests.builders import T0, a_pdf_slip

ROLES = ("none", "customer", "representative", "finance", "support", "admin")
ANYONE = {"customer", "representative", "finance", "support", "admin"}
FINANCE = {"finance", "admin"}
#: Who reads every party's records, the audit trail, the reports and the metrics.
READERS = {"finance", "support", "admin"}
OWNERS = {"customer", "representative", "admin"}
STAFF_AND_REPRESENTATIVES = {"representative", "finance", "support", "admin"}
#: Tokens narrowed by scopes: (name in the matrix) → (role, scopes).
SCOPED = {
    "admin+read": ("admin", ["read"]),
    "finance+payments": ("finance", ["payments"]),
    "customer+payments": ("customer", ["payments"]),
}


class World:
    """Two customers, each with a representative, a subscription and an invoice."""

    def __init__(self, tmp_path) -> None:
        from adapters.sandbox_gateway import SandboxGateway

        self.gateway = SandboxGateway().start()
        engine = build_engine(
            database_url=f"sqlite:///{tmp_path}/authz.sqlite",
            test_mode=True,
            test_clock_start=T0,
            gateway_url=self.gateway.url,
            webhook_allowed_hosts="127.0.0.1",
        )
        self.api = create_app(engine)
        ctx = self.api.state.context
        app = ctx.app
        from tests.builders import SELLER, a_company, a_plan

        app.seller = SELLER
        app.define_plan(a_plan("basic"), T0)
        self.rep = {
            side: app.add_representative(RepresentativeDetails(f"Rep {side}"), T0)
            for side in ("own", "other")
        }
        #: Where the assignment route moves customers to (a customer of its own each time).
        self.spare_rep = app.add_representative(RepresentativeDetails("Rep spare"), T0)
        self.customer = {
            side: app.register_customer(
                a_company(f"Customer {side}"), T0, representative_id=self.rep[side]
            )
            for side in ("own", "other")
        }
        self.subscription = {
            side: app.start_subscription(self.customer[side], "basic", "monthly", T0)
            for side in ("own", "other")
        }
        self.invoice = {
            side: app.get_subscription(self.subscription[side]).invoice_ids[0]
            for side in ("own", "other")
        }
        tokens = ctx.tokens
        subjects = {"customer": self.customer["own"], "representative": self.rep["own"]}
        self.tokens = {
            "customer": tokens.create("customer", T0, subject=self.customer["own"]),
            "representative": tokens.create("representative", T0, subject=self.rep["own"]),
            "finance": tokens.create("finance", T0),
            "support": tokens.create("support", T0),
            "admin": tokens.create("admin", T0),
        }
        for name, (role, scopes) in SCOPED.items():
            self.tokens[name] = tokens.create(role, T0, subject=subjects.get(role), scopes=scopes)
        self.engine = engine
        self.counter = itertools.count()
        #: Receives every event recorded after it (nothing listens there: nothing is sent).
        self.endpoint = engine.webhooks.create("http://127.0.0.1:9/hook", ["*"], "", T0)["id"]


def routes(world: World, side: str):
    """(method, path, body, roles allowed, whether the resource is owned by a customer)."""
    from tests.builders import a_company

    c, s, i = world.customer[side], world.subscription[side], world.invoice[side]
    n = next(world.counter)
    # What a route changes gets a subscription of its own, so the rows do not depend on order.
    app = world.api.state.context.app
    changed = app.start_subscription(c, "basic", "monthly", T0)
    cancelled = app.start_subscription(c, "basic", "monthly", T0)

    def fresh_invoice():
        return app.get_subscription(app.start_subscription(c, "basic", "monthly", T0)).invoice_ids[
            0
        ]

    def paid_invoice():
        invoice = fresh_invoice()
        app.record_payment(f"paid-{invoice}", 1_100_000, T0, invoice_id=invoice)
        return invoice

    def overpaid_invoice() -> tuple:
        """A customer of its own (no other route orders for it) who paid 2,000 rials more than
        their invoice asks and holds them as credit, for the two refund routes."""
        refunder = app.register_customer(a_company(f"Refunder {n}"), T0, representative_id=rep)
        sub = app.start_subscription(refunder, "basic", "monthly", T0)
        invoice = app.get_subscription(sub).invoice_ids[0]
        app.record_payment(f"over-{invoice}", 1_102_000, T0, invoice_id=invoice)
        return refunder, invoice, f"over-{invoice}"

    def voided_official_invoice() -> tuple:
        """A company's paid invoice, voided: its cancelling official document's number. What
        the void moved to credit is refunded, so no later invoice is paid from it."""
        invoice = paid_invoice()
        app.void_invoice(invoice, "mistake", T0)
        app.refund_credit(c, 1_100_000, "void", f"BT-void-{invoice}", T0, notice_invoice_id=invoice)
        return invoice, app.get_invoice(invoice).corrections[0].number_text

    def credit_noted_invoice():
        """A paid invoice of the customer's with no official document (paid while the seller
        was not configured), partly returned: its credit note 1. The returned money is
        refunded, so no later invoice is paid from it."""
        seller, app.seller = app.seller, None
        try:
            invoice = paid_invoice()
        finally:
            app.seller = seller
        app.return_sale(invoice, 1000, "not delivered", T0)
        app.refund_credit(c, 1000, "returned", f"BT-ret-{invoice}", T0, notice_invoice_id=invoice)
        return invoice

    def returnable_invoice():
        """A customer of its own, whose paid invoice finance may take part of back."""
        returner = app.register_customer(a_company(f"Returner {n}"), T0, representative_id=rep)
        sub = app.start_subscription(returner, "basic", "monthly", T0)
        invoice = app.get_subscription(sub).invoice_ids[0]
        app.record_payment(f"ret-{invoice}", 1_100_000, T0, invoice_id=invoice)
        return invoice

    def offline_request(approved: bool = False):
        invoice = fresh_invoice()
        request = app.request_offline_payment(invoice, "transfer", T0)
        if approved:
            app.decide_offline_payment(invoice, request, T0, approve=True)
        return invoice, request

    def receipt():
        invoice, _ = offline_request(approved=True)
        scan = world.api.state.context.runtime.scans.put(a_pdf_slip())
        return app.register_receipt(
            invoice,
            bank="017",
            tracking_number=f"9{n}{next(world.counter)}00",
            amount=1000,
            paid_on="1405/01/20",
            now=T0,
            scan_hash=scan,
        )

    rep = world.rep[side]
    moved = app.register_customer(a_company(f"Moved {n}"), T0, representative_id=rep)
    held = app.start_subscription(c, "basic", "monthly", T0)
    app.place_hold(held, "dispute", T0 + timedelta(days=60), T0)
    authority = world.api.state.context.runtime.payments.create_link(fresh_invoice()).authority
    leaving, staying = (app.add_staff(f"Member {n}{m}", "support", T0) for m in "ab")
    token_id = world.api.state.context.tokens.issue("finance", T0, label=f"spare {n}").id
    hooks = world.engine.webhooks
    world.engine.read_models.catch_up()
    delivery = hooks.deliveries(world.endpoint, limit=1)[0]["delivery_id"]

    def endpoint() -> str:
        return hooks.create(f"http://127.0.0.1:9/{n}", ["invoice.paid"], "", T0)["id"]

    return [
        ("GET", "/plans", None, ANYONE, False),
        ("GET", "/plans/basic", None, ANYONE, False),
        (
            "POST",
            "/plans",
            {"id": f"plan-{n}", "name": "P", "monthly_price": 1000},
            {"admin"},
            False,
        ),
        (
            "POST",
            "/customers",
            {"name": "New", "kind": "person", "email": "n@x.ir", "mobile": "09120000000"},
            {"representative", "admin"},
            False,
        ),
        ("GET", "/customers", None, ANYONE, False),
        ("GET", f"/customers/{c}", None, ANYONE, True),
        ("GET", f"/customers/{c}/inbox", None, OWNERS, True),
        (
            "POST",
            f"/customers/{c}/invoices",
            {
                "lines": [{"description": "SEO", "unit_price": 1000, "quantity": 2}],
                "due_days": 10,
                "subscription_id": str(s),
            },
            {"representative", "finance", "admin"},
            True,
        ),
        ("GET", f"/customers/{c}/invoices", None, ANYONE, True),
        ("PUT", f"/customers/{c}/profile", a_company(f"Customer {side}").to_dict(), ANYONE, True),
        (
            "PUT",
            f"/customers/{moved}/representative",
            {"representative_id": str(world.spare_rep), "reason": "test"},
            {"admin"},
            True,
        ),
        ("POST", "/representatives", {"name": f"Rep {n}"}, {"admin"}, False),
        ("GET", "/representatives", None, STAFF_AND_REPRESENTATIVES, False),
        ("GET", f"/representatives/{rep}", None, STAFF_AND_REPRESENTATIVES, True),
        ("PUT", f"/representatives/{rep}", {"name": f"Rep {side}"}, {"admin"}, False),
        (
            "POST",
            "/subscriptions",
            {"customer_id": str(c), "plan_id": "basic", "period": "monthly"},
            OWNERS,
            True,
        ),
        ("GET", "/subscriptions", None, ANYONE, False),
        ("GET", f"/subscriptions/{s}", None, ANYONE, True),
        (
            "POST",
            f"/subscriptions/{changed}/change-plan",
            {"plan_id": "basic"},
            OWNERS | {"finance"},
            True,
        ),
        ("POST", f"/subscriptions/{cancelled}/cancel", {"reason": "test"}, OWNERS, True),
        ("GET", f"/subscriptions/{s}/invoices", None, ANYONE, True),
        ("GET", f"/invoices/{i}", None, ANYONE, True),
        ("GET", f"/invoices/{i}/invoice.pdf", None, ANYONE, True),
        ("GET", f"/invoices/{paid_invoice()}/official.pdf", None, ANYONE, True),
        (
            "GET",
            "/invoices/{}/official/corrections/{}.pdf".format(*voided_official_invoice()),
            None,
            ANYONE,
            True,
        ),
        ("GET", f"/invoices/{credit_noted_invoice()}/credit-notes/1.pdf", None, ANYONE, True),
        ("POST", f"/invoices/{paid_invoice()}/official", None, ANYONE - {"support"}, True),
        (
            "POST",
            f"/invoices/{i}/payments",
            {"reference": f"ref-{n}", "amount": 1000},
            FINANCE,
            True,
        ),
        ("POST", f"/invoices/{i}/payment-link", None, OWNERS, True),
        (
            "GET",
            f"/payments/callback?Authority={authority}&Status=NOK",
            None,
            ANYONE | {"none"},
            False,
        ),
        (
            "POST",
            f"/invoices/{fresh_invoice()}/offline-requests",
            {"reason": "transfer"},
            OWNERS,
            True,
        ),
        ("POST", f"/offline-requests/{offline_request()[1]}/approve", None, FINANCE, False),
        (
            "POST",
            f"/offline-requests/{offline_request()[1]}/reject",
            {"reason": "no"},
            FINANCE,
            False,
        ),
        (
            "POST",
            f"/invoices/{offline_request(approved=True)[0]}/receipts",
            {
                "bank": "017",
                "tracking_number": f"7{n}{next(world.counter)}00",
                "amount": 1000,
                "paid_on": "1405/01/20",
            },
            OWNERS,
            True,
        ),
        ("POST", f"/receipts/{receipt()}/confirm", None, FINANCE, False),
        ("POST", f"/receipts/{receipt()}/reject", {"reason": "no"}, FINANCE, False),
        ("GET", f"/receipts/{receipt()}/scan", None, ANYONE, True),
        ("GET", "/offline-payments", None, ANYONE, False),
        ("GET", "/banks", None, ANYONE, False),
        (
            "POST",
            f"/subscriptions/{s}/enforcement-hold",
            {"reason": "r", "until": "2026-06-01T00:00:00Z"},
            FINANCE,
            False,
        ),
        (
            "POST",
            f"/subscriptions/{held}/enforcement-hold/lift",
            {"reason": "done"},
            FINANCE,
            False,
        ),
        ("POST", f"/invoices/{fresh_invoice()}/void", {"reason": "mistake"}, FINANCE, False),
        (
            "POST",
            f"/customers/{(refunded := overpaid_invoice())[0]}/refunds",
            {"amount": 1000, "reason": "asked back", "bank_reference": f"BT-{n}"},
            FINANCE,
            False,
        ),
        (
            "POST",
            f"/invoices/{returnable_invoice()}/returns",
            {"amount": 1000, "reason": "not delivered"},
            FINANCE,
            False,
        ),
        (
            "POST",
            f"/invoices/{refunded[1]}/refunds",
            {
                "payment_reference": refunded[2],
                "amount": 1000,
                "reason": "asked back",
                "via": "transfer",
                "bank_reference": f"BT-pay-{n}",
            },
            FINANCE,
            False,
        ),
        ("GET", f"/audit/{s}/timeline", None, READERS, False),
        ("GET", f"/audit/{s}/as-of?at=2026-04-05T00:00:00Z", None, READERS, False),
        ("GET", f"/audit/{s}/explain", None, READERS, False),
        ("GET", "/audit/actions?actor=staff", None, READERS, False),
        ("GET", "/reports/aging", None, READERS, False),
        ("GET", "/reports/revenue", None, READERS, False),
        ("GET", "/metrics", None, READERS, False),
        ("GET", "/events?types=invoice.issued&limit=5", None, READERS, False),
        (
            "POST",
            "/webhook-endpoints",
            {"url": "http://127.0.0.1:9/new", "events": ["*"]},
            {"admin"},
            False,
        ),
        ("GET", "/webhook-endpoints", None, {"admin"}, False),
        ("POST", f"/webhook-endpoints/{endpoint()}/disable", None, {"admin"}, False),
        ("POST", f"/webhook-endpoints/{endpoint()}/rotate-secret", None, {"admin"}, False),
        ("GET", f"/webhook-endpoints/{world.endpoint}/deliveries", None, {"admin"}, False),
        (
            "POST",
            f"/webhook-endpoints/{world.endpoint}/deliveries/{delivery}/resend",
            None,
            {"admin"},
            False,
        ),
        ("POST", "/admin/tokens", {"role": "finance"}, {"admin"}, False),
        ("GET", "/admin/tokens", None, {"admin"}, False),
        ("DELETE", f"/admin/tokens/{token_id}", None, {"admin"}, False),
        ("POST", "/staff", {"name": f"Staff {n}", "role": "finance"}, {"admin"}, False),
        ("GET", "/staff", None, {"admin"}, False),
        ("POST", f"/staff/{leaving}/disable", {"reason": "left"}, {"admin"}, False),
        ("POST", f"/staff/{staying}/tokens", {}, {"admin"}, False),
        ("POST", "/admin/clock/advance", {"days": 0.001}, {"admin"}, False),
        ("POST", "/admin/tick", None, {"admin"}, False),
        ("GET", "/healthz", None, ANYONE | {"none"}, False),
        ("GET", "/readyz", None, ANYONE | {"none"}, False),
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = World(tmp_path_factory.mktemp("authz"))
    yield world
    world.engine.close()
    world.gateway.stop()


def _shape(path: str) -> str:
    path = re.sub(r"\{[a-z_]+\}", "{id}", path.split("?")[0])
    path = re.sub(r"we_[0-9a-f]{32}(\.evt_[0-9a-f]{32}_\d+)?", "{id}", path)
    path = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "{id}", path)
    path = re.sub(r"tok_[0-9a-f]{12}", "{id}", path)
    path = re.sub(r"/corrections/\d{4}-\d{6}\.pdf", "/corrections/{id}.pdf", path)
    path = re.sub(r"/credit-notes/\d+\.pdf", "/credit-notes/{id}.pdf", path)
    return path.replace("/plans/basic", "/plans/{id}")


def test_the_matrix_covers_every_route(world):
    declared = {(m, _shape(p)) for m, p, *_ in routes(world, "own")}
    documented = {
        (method.upper(), _shape(path))
        for path, operations in world.api.openapi()["paths"].items()
        for method in operations
    }
    assert documented == declared, (
        f"not in the matrix: {documented - declared}; not served: {declared - documented}"
    )


def expected(role: str, side: str, method: str, path: str, roles: set[str], owned: bool) -> int:
    """The exact status a route answers a caller (``role`` may name a scoped token)."""
    from api.scopes import PAYMENT_ROUTES

    base, scopes = SCOPED.get(role, (role, []))
    if role == "none" and "none" not in roles:
        return 401
    if scopes and method != "GET" and "none" not in roles:
        payment_route = (method, _template(path)) in PAYMENT_ROUTES
        if "payments" not in scopes or not payment_route:
            return 403  # refused by the scope before anything is looked up
    if base not in roles and role != "none":
        return 403
    if owned and side == "other" and base in ("customer", "representative"):
        return 404
    if method == "DELETE":
        return 204
    created = path in (
        "/plans",
        "/customers",
        "/subscriptions",
        "/admin/tokens",
        "/staff",
        "/representatives",
        "/webhook-endpoints",
    )
    if method == "POST" and (
        created
        or path.endswith(
            ("/offline-requests", "/receipts", "/tokens", "/invoices", "/refunds", "/returns")
        )
    ):
        return 201
    return 200


def _template(path: str) -> str:
    """A served path as its route's template (the names of the payment routes' parameters)."""
    names = {"invoices": "invoice_id", "offline-requests": "request_id", "receipts": "receipt_id"}
    parts = path.split("?")[0].split("/")
    for i, part in enumerate(parts):
        if i and re.fullmatch(r"[0-9a-f-]{36}", part):
            parts[i] = "{" + names.get(parts[i - 1], "id") + "}"
    return "/".join(parts)


@pytest.mark.slow  # every route for each of the sixteen: about a minute
@pytest.mark.parametrize("role", ROLES + tuple(SCOPED))
@pytest.mark.parametrize("side", ["own", "other"])
def test_every_route_answers_each_role_with_the_exact_status(world, role, side):
    headers = bearer(world.tokens[role]) if role != "none" else {}
    with served(world.api) as http:
        for method, path, body, roles, owned in routes(world, side):
            answer = http.request(method, path, json=body, headers=headers)
            want = expected(role, side, method, path, roles, owned)
            assert answer.status_code == want, (
                f"{role} {side}: {method} {path} -> {answer.status_code} {answer.text[:200]}"
            )
            if want >= 400:
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["code"]
            if want == 403 and role in SCOPED and (role, method) != ("admin+read", "GET"):
                assert answer.json()["code"] in (
                    "read_only_token",
                    "outside_token_scope",
                    "forbidden",
                )


def test_every_payment_route_of_the_payments_scope_is_served(world):
    from api.scopes import PAYMENT_ROUTES

    served_routes = {
        (method.upper(), path)
        for path, operations in world.api.openapi()["paths"].items()
        for method in operations
    }
    assert served_routes >= PAYMENT_ROUTES, PAYMENT_ROUTES - served_routes
    for method, path in PAYMENT_ROUTES:
        concrete = re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), path)
        assert (method, _template(concrete)) in PAYMENT_ROUTES


def test_the_offline_queue_lists_for_each_party_only_its_own(world):
    routes(world, "own")  # each call files offline requests and receipts for that side
    routes(world, "other")
    own, other = str(world.customer["own"]), str(world.customer["other"])
    with served(world.api) as http:

        def customers_listed(role: str) -> set[str]:
            got = http.get("/offline-payments?limit=200", headers=bearer(world.tokens[role]))
            assert got.status_code == 200, got.text
            return {item["customer_id"] for item in got.json()["items"]}

        assert customers_listed("finance") == {own, other}
        assert customers_listed("admin") == {own, other}
        assert customers_listed("customer") == {own}
        assert customers_listed("representative") == {own}


def test_a_revoked_or_unknown_token_is_refused(world):
    with served(world.api) as http:
        assert http.get("/plans", headers=bearer("bt_nonsense")).status_code == 401
        token = world.api.state.context.tokens.create("admin", T0)
        world.api.state.context.tokens.revoke(token, T0)
        assert http.get("/plans", headers=bearer(token)).json()["code"] == "unauthorized"
        assert http.get("/plans", headers={"Authorization": "Basic abc"}).status_code == 401


def test_the_clock_routes_do_not_exist_outside_test_mode(tmp_path):
    engine = build_engine(database_url=f"sqlite:///{tmp_path}/live.sqlite")
    api = create_app(engine)
    admin = bearer(api.state.context.tokens.create("admin", T0))
    with served(api) as http:
        assert http.get("/healthz").json()["test_mode"] is False
        assert http.post("/admin/clock/advance", json={"days": 1}, headers=admin).status_code == 404
        assert http.post("/admin/tick", headers=admin).status_code == 404
    engine.close()
