"""The history the back office's reports, staff actions and health tests read (HTTP and
browser): a served shop with staff, three customers (one with a hostile name), a part
payment, a void by the finance member, a webhook nobody listens on, and months on the clock;
and readers of the exports (CSV with its BOM, XLSX as SpreadsheetML)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from xml.etree import ElementTree

import httpx

from adapters.sandbox_gateway import SandboxGateway
from tests.api.office import PASSWORDS, SignedIn, add_staff
from tests.api.server import bearer
from tests.api.shop import Shop
from tests.builders import T0, a_company, a_person

HOSTILE = '=HYPERLINK("http://evil.example","x") <script>alert(\'x\')</script>'
VOID_REASON = "صادر شده به اشتباه <img src=x onerror=alert(1)>"
_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def sign_in_to(http: httpx.Client, role: str, landing: str = "/office/reports") -> SignedIn:
    """Sign in through the form, landing on ``landing`` (one of this file's pages)."""
    email, password = PASSWORDS[role]
    form = http.get("/office/sign-in")
    pre = re.search(r'name="pre" value="([^"]+)"', form.text)
    assert pre is not None
    answer = http.post(
        "/office/sign-in",
        data={"email": email, "password": password, "pre": pre.group(1), "next": landing},
    )
    assert answer.status_code == 303, answer.text
    page = http.get(landing)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None
    return SignedIn(http, found.group(1))


class World:
    """A served shop with staff and a little history: six customers (one with a hostile name),
    a part payment, a void and a whole payment by the finance member, 52 days on the clock."""

    def __init__(self, tmp_path) -> None:
        self.gateway = SandboxGateway().__enter__()
        self.shop = Shop(
            f"sqlite:///{tmp_path}/office-reports.sqlite",
            self.gateway,
            webhook_allowed_hosts="127.0.0.1",
        )
        self.staff = add_staff(self.shop)
        ctx = self.shop.api.state.context
        app = ctx.app
        self.hostile = app.register_customer(a_person(HOSTILE), T0)
        self.other = app.register_customer(a_company("شركت آرين"), T0)
        self.hostile_sub = app.start_subscription(self.hostile, "business", "monthly", T0)
        self.other_sub = app.start_subscription(self.other, "business", "monthly", T0)
        self.people = [
            app.register_customer(a_person(name), T0)
            for name in ("سارا احمدی", "رضا موسوی", "نگار کاظمی")
        ]
        self.people_subs = [
            app.start_subscription(person, "business", "quarterly", T0) for person in self.people
        ]
        self.hostile_invoice = app.get_subscription(self.hostile_sub).invoice_ids[0]
        self.other_invoice = app.get_subscription(self.other_sub).invoice_ids[0]
        self.finance_token = bearer(
            ctx.tokens.issue_for_staff(self.staff["finance"], T0, label="test").token
        )

    @contextmanager
    def client(self) -> Iterator[httpx.Client]:
        """A new client (its own cookies) of the shop served by the module's fixture."""
        with httpx.Client(base_url=self.shop.base, timeout=30) as http:
            yield http

    def history(self, http: httpx.Client) -> None:
        # A webhook endpoint nobody listens on: its deliveries fail and are retried.
        hooked = http.post(
            "/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/hooks", "events": ["invoice.voided"]},
            headers=self.shop.admin,
        )
        assert hooked.status_code == 201, hooked.text
        paid = http.post(
            f"/invoices/{self.other_invoice}/payments",
            json={"reference": "bank-1405-77", "amount": 1_000_000},
            headers=self.finance_token,
        )
        assert paid.status_code == 200, paid.text
        voided = http.post(
            f"/invoices/{self.shop.invoice}/void",
            json={"reason": VOID_REASON},
            headers=self.finance_token,
        )
        assert voided.status_code == 200, voided.text
        self.advance(http, 40)
        paid = http.post(
            f"/invoices/{self.hostile_invoice}/payments",
            json={"reference": "bank-1405-88", "amount": 2_750_000},
            headers=self.finance_token,
        )
        assert paid.status_code == 200, paid.text
        self.advance(http, 12)

    def advance(self, http: httpx.Client, days: int) -> None:
        moved = http.post("/admin/clock/advance", json={"days": days}, headers=self.shop.admin)
        assert moved.status_code == 200, moved.text
        self.shop.engine.tick()

    def close(self) -> None:
        self.shop.engine.close()
        self.gateway.__exit__(None, None, None)


def api_aging(world: World, http: httpx.Client) -> dict:
    answer = http.get("/reports/aging", headers=world.shop.finance)
    assert answer.status_code == 200, answer.text
    return answer.json()


def api_revenue(world: World, http: httpx.Client, **params: str) -> list[dict]:
    answer = http.get("/reports/revenue", params=params, headers=world.shop.finance)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def read_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, for Excel"
    return list(csv.reader(io.StringIO(response.content[3:].decode("utf-8"))))


def read_xlsx(content: bytes) -> list[list[list[int | str]]]:
    """Every sheet of a workbook, in order: rows of cells, numbers as int, text as str."""
    book = zipfile.ZipFile(io.BytesIO(content))
    assert book.testzip() is None
    names = book.namelist()
    assert "[Content_Types].xml" in names and "xl/workbook.xml" in names
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    sheets = workbook.findall("m:sheets/m:sheet", NS)
    out = []
    for number in range(1, len(sheets) + 1):
        sheet = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{number}.xml"))
        assert sheet.find("m:sheetViews/m:sheetView", NS).get("rightToLeft") == "1"
        rows = []
        for row in sheet.findall("m:sheetData/m:row", NS):
            cells: list[int | str] = []
            for cell in row.findall("m:c", NS):
                if cell.get("t") == "inlineStr":
                    cells.append("".join(t.text or "" for t in cell.iter(f"{{{NS['m']}}}t")))
                else:
                    assert cell.get("t") in (None, "n"), "a number is a numeric cell"
                    assert cell.find("m:f", NS) is None, "no formula"
                    cells.append(int(cell.find("m:v", NS).text))
            rows.append(cells)
        out.append(rows)
    return out
