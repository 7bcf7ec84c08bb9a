"""The back office's reports, staff actions and health pages over HTTP (docs/BACKOFFICE.md):
their figures are the API's (the exports read back, CSV and XLSX, equal ``GET /reports/…``),
the filters mean what they say, every reader may see them and nobody else, and hostile text
is escaped on screen and neutralised in a CSV."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import timedelta

import pytest

from api.backoffice.export import Table, csv_bytes, neutralised, xlsx_bytes
from domain.jalali import JalaliDate
from projections.reports import REVENUE_COLUMNS
from tests.api.reports_history import (
    HOSTILE,
    World,
    api_aging,
    api_revenue,
    read_csv,
    read_xlsx,
    sign_in_to,
)
from tests.api.server import served


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = World(tmp_path_factory.mktemp("office-reports"))
    with served(world.shop.api, world.shop.sock) as http:
        world.history(http)
        yield world
    world.close()


@pytest.fixture(scope="module")
def finance(world):
    """One finance member signed in for the module's tests (none of them changes anything)."""
    with world.client() as http:
        yield sign_in_to(http, "finance")


def data_values(html: str, table_id: str) -> list[list[str]]:
    """The data-value figures of each body row of a table, in order."""
    table = re.search(rf'<table id="{table_id}".*?</table>', html, re.S)
    assert table is not None, f"no table #{table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.S)
    assert body is not None
    return [
        re.findall(r'data-value="(-?\d+)"', row)
        for row in re.findall(r"<tr.*?</tr>", body.group(1), re.S)
    ]


# --- reports -------------------------------------------------------------------------------------


def test_the_page_shows_the_apis_aging_and_revenue(world, finance):
    aging = api_aging(world, finance.http)
    assert aging["total"] > 0 and {i["bucket"] for i in aging["invoices"]} >= {"1-30"}
    revenue = api_revenue(world, finance.http)
    assert len(revenue) >= 1 and any(row["voided"] for row in revenue)
    page = finance.get("/office/reports")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="fa" dir="rtl">' in html
    buckets = ["current", "1-30", "31-60", "61-90", "90+"]
    assert data_values(html, "aging") == [[str(aging["buckets"][b])] for b in buckets]
    assert re.search(rf'id="aging-total" data-value="{aging["total"]}"', html)
    columns = list(REVENUE_COLUMNS)
    assert data_values(html, "revenue") == [[str(row[c]) for c in columns] for row in revenue]
    # The chart draws the table: a canvas, and the table says which canvas it feeds.
    assert '<canvas id="revenue-chart"' in html and 'data-chart="revenue-chart"' in html
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    assert "/static/office-chart.js" in html
    assert "<script>" not in html, "no inline script (the CSP forbids it)"
    # Amounts in Persian digits with the Persian thousands separator, isolated left to right.
    assert '<bdi dir="ltr" class="num">' in html and "٬" in html


def test_a_bucket_drills_down_to_its_invoices_with_links_to_their_customers(world, finance):
    aging = api_aging(world, finance.http)
    wanted = [i for i in aging["invoices"] if i["bucket"] == "1-30"]
    assert wanted
    page = finance.get("/office/reports", params={"bucket": "1-30"})
    assert page.status_code == 200
    listed = re.findall(r'<tr data-invoice="([0-9a-f-]{36})">', page.text)
    assert listed == [i["invoice_id"] for i in wanted]
    for invoice in wanted:
        assert f'href="/office/customers/{invoice["customer_id"]}"' in page.text
        assert f'href="/office/subscriptions/{invoice["subscription_id"]}"' in page.text
    assert data_values(page.text, "drill-invoices") == [[str(i["balance"])] for i in wanted]
    # htmx asks for the fragment alone: no page around it, the focus target in it.
    fragment = finance.get(
        "/office/reports/aging-invoices", params={"bucket": "1-30"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "data-focus" in fragment.text
    assert re.findall(r'<tr data-invoice="([0-9a-f-]{36})">', fragment.text) == listed
    # The other buckets hold none of them.
    current = finance.get("/office/reports", params={"bucket": "current"}).text
    assert not set(re.findall(r'<tr data-invoice="([0-9a-f-]{36})">', current)) & set(listed)
    # A bucket that does not exist is said, not a server error.
    assert "بازهٔ خواسته‌شده" in finance.get("/office/reports", params={"bucket": "2-3"}).text


def test_hostile_names_are_escaped_on_screen(world, finance):
    page = finance.get("/office/reports", params={"bucket": "1-30"}).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_the_aging_csv_equals_the_apis_report_and_neutralises_formulas(world, finance):
    aging = api_aging(world, finance.http)
    rows = read_csv(finance.get("/office/reports/aging.csv"))
    header, body = rows[0], rows[1:]
    assert header[0] == "شناسه صورت‌حساب" and header[-1] == "مانده (ریال)"
    assert [(r[0], r[1], r[3], r[5], r[6], int(r[7])) for r in body] == [
        (
            i["invoice_id"],
            i["customer_id"],
            i["subscription_id"],
            i["deadline"],
            i["bucket"],
            i["balance"],
        )
        for i in aging["invoices"]
    ]
    by_bucket: dict[str, int] = {}
    for r in body:
        by_bucket[r[6]] = by_bucket.get(r[6], 0) + int(r[7])
    assert {b: by_bucket.get(b, 0) for b in aging["buckets"]} == aging["buckets"]
    names = {r[1]: r[2] for r in body}
    assert names[str(world.hostile)] == "'" + HOSTILE, "a formula is made inert"
    assert names[str(world.other)] == "شركت آرين"
    # One bucket's export holds that bucket's invoices only.
    only = read_csv(finance.get("/office/reports/aging.csv", params={"bucket": "1-30"}))[1:]
    assert [r[0] for r in only] == [
        i["invoice_id"] for i in aging["invoices"] if i["bucket"] == "1-30"
    ]


def test_the_aging_xlsx_equals_the_apis_report(world, finance):
    aging = api_aging(world, finance.http)
    answer = finance.get("/office/reports/aging.xlsx")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    buckets, invoices = read_xlsx(answer.content)
    assert {row[0]: row[3] for row in buckets[1:]} == aging["buckets"]
    assert sum(row[2] for row in buckets[1:]) == len(aging["invoices"])
    assert [(r[0], r[6], r[7]) for r in invoices[1:]] == [
        (i["invoice_id"], i["bucket"], i["balance"]) for i in aging["invoices"]
    ]
    names = {r[1]: r[2] for r in invoices[1:]}
    assert names[str(world.hostile)] == HOSTILE, "an inline string is never a formula"


def test_the_revenue_exports_equal_the_apis_report(world, finance):
    columns = list(REVENUE_COLUMNS)
    revenue = api_revenue(world, finance.http)
    expected = [[row["jalali_month"], *(row[c] for c in columns)] for row in revenue]
    rows = read_csv(finance.get("/office/reports/revenue.csv"))
    assert rows[0][0] == "ماه" and len(rows[0]) == 1 + len(REVENUE_COLUMNS)
    assert [[r[0], *map(int, r[1:])] for r in rows[1:]] == expected
    (sheet,) = read_xlsx(finance.get("/office/reports/revenue.xlsx").content)
    assert sheet[1:] == expected
    # A month range, typed in Persian digits, is the API's range.
    month = revenue[0]["jalali_month"]
    persian = month.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    ranged = read_csv(
        finance.get("/office/reports/revenue.csv", params={"first": persian, "last": persian})
    )
    assert [r[0] for r in ranged[1:]] == [
        r["jalali_month"] for r in api_revenue(world, finance.http, first=month, last=month)
    ]
    later = finance.get("/office/reports", params={"first": "1499/01"}).text
    assert 'id="revenue-empty"' in later and "<canvas" not in later
    wrong = finance.get("/office/reports", params={"first": "next month"}).text
    assert "ماه را به شکل سال/ماه بنویسید" in wrong


def test_as_of_a_past_day_the_page_and_the_exports_are_the_apis_report_then(world, finance):
    """``as_of`` 1405/02/10 is the end of that day in Tehran: what was recorded by then."""
    moment = "2026-04-30T20:29:59.999999Z"  # 1405/02/10 23:59:59.999999 in Tehran
    then = finance.http.get(
        "/reports/aging", params={"as_of": moment}, headers=world.shop.finance
    ).json()
    now = api_aging(world, finance.http)
    assert then["buckets"] != now["buckets"], "the day differs from today"
    rows = read_csv(finance.get("/office/reports/aging.csv", params={"as_of": "۱۴۰۵/۰۲/۱۰"}))
    assert [(r[0], r[6], int(r[7])) for r in rows[1:]] == [
        (i["invoice_id"], i["bucket"], i["balance"]) for i in then["invoices"]
    ]
    columns = list(REVENUE_COLUMNS)
    revenue_then = api_revenue(world, finance.http, as_of=moment)
    (sheet,) = read_xlsx(
        finance.get("/office/reports/revenue.xlsx", params={"as_of": "1405/02/10"}).content
    )
    assert sheet[1:] == [[r["jalali_month"], *(r[c] for c in columns)] for r in revenue_then]
    page = finance.get("/office/reports", params={"as_of": "1405/02/10"}).text
    buckets = ["current", "1-30", "31-60", "61-90", "90+"]
    assert data_values(page, "aging") == [[str(then["buckets"][b])] for b in buckets]
    assert "۱۴۰۵/۰۲/۱۰ ۲۳:۵۹" in page
    assert "as_of=1405%2F02%2F10" in page, "the exports and buckets keep the moment"
    # A minute of a day, too; and a moment that cannot be read is said.
    minute = finance.get("/office/reports/aging.csv", params={"as_of": "1405/01/15 09:00"})
    at_t0 = finance.http.get(
        "/reports/aging", params={"as_of": "2026-04-04T05:30:00Z"}, headers=world.shop.finance
    ).json()
    assert [r[0] for r in read_csv(minute)[1:]] == [i["invoice_id"] for i in at_t0["invoices"]]
    wrong = finance.get("/office/reports", params={"as_of": "1405/02/10 25:00"})
    assert wrong.status_code == 200 and "لحظه را به شکل" in wrong.text


def test_csv_and_xlsx_writers():
    assert [neutralised(v) for v in ("=1+1", "+9", "-2", "@x", "\tx", "a=b", 5, -5)] == [
        "'=1+1",
        "'+9",
        "'-2",
        "'@x",
        "'\tx",
        "a=b",
        5,
        -5,
    ]
    table = Table("a:b/c", ("name", "amount"), [["x\x00y", 12_345_678_901], ["-1", -3]])
    rows = list(csv.reader(io.StringIO(csv_bytes(table)[3:].decode())))
    assert rows == [["name", "amount"], ["x\x00y", "12345678901"], ["'-1", "-3"]]
    (sheet,) = read_xlsx(xlsx_bytes([table]))
    assert sheet == [["name", "amount"], ["xy", 12_345_678_901], ["-1", -3]]
    wide = Table("w", [f"c{i}" for i in range(30)], [list(range(30))])
    (sheet,) = read_xlsx(xlsx_bytes([wide]))
    assert sheet[1] == list(range(30))
    xml = zipfile.ZipFile(io.BytesIO(xlsx_bytes([wide]))).read("xl/worksheets/sheet1.xml")
    assert b'r="AD2"' in xml, "the 30th column is AD"


# --- staff actions -------------------------------------------------------------------------------


def action_rows(html: str) -> list[tuple[int, str]]:
    return [
        (int(position), actor)
        for position, actor in re.findall(r'<tr data-position="(\d+)" data-actor="([^"]*)">', html)
    ]


def test_staff_actions_filtered_by_person_name_the_finance_members_void(world, finance):
    finance_id = world.staff["finance"]
    page = finance.get("/office/actions", params={"person": f"staff:{finance_id}"})
    assert page.status_code == 200
    rows = action_rows(page.text)
    assert rows and {actor for _, actor in rows} == {f"staff:{finance_id}"}
    assert "مریم کریمی" in page.text  # who, by name
    assert "باطل" in page.text  # the void, in Persian words
    # Its reason, written by a person, is escaped.
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    # The select offers every staff member, and the chosen one is selected.
    for role, member in world.staff.items():
        assert f'value="staff:{member}"' in page.text, role
    assert f'<option value="staff:{finance_id}" selected>' in page.text
    # The same rows as the API's report for that actor.
    api = finance.get(
        "/audit/actions", params={"actor": f"staff:{finance_id}"}, headers=world.shop.finance
    ).json()
    assert [p for p, _ in rows] == [item["position"] for item in api["items"]]


def test_staff_actions_by_jalali_dates_and_pages(world, finance):
    everything = finance.get("/office/actions")
    rows = action_rows(everything.text)
    assert len(rows) == 50, "a page holds 50 rows"
    assert [p for p, _ in rows] == sorted(p for p, _ in rows)
    following = re.search(r'id="next-page" hx-get="([^"]+)"', everything.text)
    assert following is not None
    second = finance.get(following.group(1).replace("&amp;", "&"))
    assert min(p for p, _ in action_rows(second.text)) > max(p for p, _ in rows)
    assert 'id="first-page"' in second.text
    # T0 is 1405/01/15 in Tehran: nothing is recorded before it, the void is on it.
    assert action_rows(finance.get("/office/actions", params={"until": "1405/01/14"}).text) == []
    on_the_day = finance.get(
        "/office/actions",
        params={"person": "staff", "since": "۱۴۰۵/۰۱/۱۵", "until": "1405/01/15"},
    )
    assert {a for _, a in action_rows(on_the_day.text)} >= {f"staff:{world.staff['finance']}"}
    # From the day of the last recorded event: that day's events; from the day after: none.
    items: list[dict] = []
    cursor = None
    while True:
        page = finance.get(
            "/audit/actions",
            params={"limit": 100, **({"cursor": cursor} if cursor else {})},
            headers=world.shop.finance,
        ).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    last = items[-1]
    day = last["recorded_at_jalali"].split(" ")[0]
    from_then = action_rows(finance.get("/office/actions", params={"since": day}).text)
    assert from_then and from_then[-1][0] == last["position"]
    after = JalaliDate.parse(day).add_months(0).to_gregorian() + timedelta(days=1)
    following_day = JalaliDate.from_gregorian(after).isoformat()
    assert action_rows(finance.get("/office/actions", params={"since": following_day}).text) == []
    swapped = finance.get("/office/actions", params={"since": "1405/02/01", "until": "1405/01/01"})
    assert "پس از «تا تاریخ»" in swapped.text and action_rows(swapped.text) == []
    wrong = finance.get("/office/actions", params={"since": "yesterday"})
    assert "سال/ماه/روز" in wrong.text and wrong.status_code == 200
    # htmx asks for the rows alone.
    fragment = finance.get("/office/actions", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'id="actions"' in fragment.text


# --- health --------------------------------------------------------------------------------------


def test_health_shows_the_last_tick_the_outbox_and_the_read_model_lag(world, finance):
    ready = finance.get("/readyz").json()
    page = finance.get("/office/health")
    assert page.status_code == 200
    html = page.text
    lag = re.search(r'<dd id="lag"><span class="[^"]+">([^<]+) رویداد', html)
    assert lag is not None and lag.group(1) == str(ready["read_model_lag"]).translate(
        str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    )
    tick = re.search(r'<dd id="last-tick">(.*?)</dd>', html, re.S)
    assert tick is not None and "<time" in tick.group(1), "the last tick's moment"
    store = world.shop.engine.outbox
    counts = store.counts()
    assert counts and ("webhook", "pending") in counts
    for (channel, status), n in counts.items():
        cell = re.search(
            rf'<tr data-channel="{channel}">.*?data-status="{status}">([^<]+)</td>', html, re.S
        )
        assert cell is not None
        assert cell.group(1) == str(n).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    # The webhook nobody listens on: its failure, with the error, the newest first.
    failures = store.latest_failures(20)
    assert failures and all(f["channel"] == "webhook" for f in failures)
    listed = re.findall(r'<tr data-delivery="([^"]+)">', html)
    assert listed == [f["delivery_id"] for f in failures]
    assert "وب‌هوک" in html and "تلاش دوباره" in html
    assert re.search(r'id="outbox-failed" class="state-bad">[۱-۹]', html)


# --- who may see them ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["support", "admin"])
def test_every_reader_opens_the_three_pages(world, role):
    with world.client() as http:
        signed = sign_in_to(http, role)
        for path in (
            "/office/reports",
            "/office/reports/aging.csv",
            "/office/reports/revenue.xlsx",
            "/office/actions",
            "/office/health",
        ):
            assert signed.get(path).status_code == 200, path


def test_nobody_else_opens_them(world):
    paths = (
        "/office/reports",
        "/office/reports/aging.csv",
        "/office/reports/aging.xlsx",
        "/office/reports/revenue.csv",
        "/office/reports/revenue.xlsx",
        "/office/reports/aging-invoices?bucket=1-30",
        "/office/actions",
        "/office/health",
    )
    with world.client() as http:
        for path in paths:
            answer = http.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/office/sign-in"), path
        token = world.shop.me["Authorization"].split()[1]
        http.cookies.set("billing_office", token, path="/office")
        for path in paths:
            answer = http.get(path)
            assert answer.status_code == 403, path
            assert "مریم" not in answer.text and "data-value" not in answer.text, path


def test_the_scheduler_state_of_a_process_without_one_reads_the_due_steps_from_the_store(
    tmp_path,
):
    """An API served with ``--no-scheduler`` builds no scheduler: the page says so and does not
    build one to ask; the steps due and not taken are read from the store all the same."""
    from api.backoffice.health import scheduler_state
    from api.context import Context
    from bootstrap import open_runtime
    from tests.builders import DAY, T0, a_company, a_plan

    runtime = open_runtime(database_url=f"sqlite:///{tmp_path}/apart.sqlite")
    try:
        app = runtime.app
        app.define_plan(a_plan(), T0)
        customer = app.register_customer(a_company(), T0)
        app.start_subscription(customer, "basic", "monthly", T0)
        runtime.read_models.catch_up()
        ctx = Context(runtime)
        state = scheduler_state(ctx, T0 + DAY)
        assert state["here"] is False and state["running"] is False
        assert state["due_now"] == 0 and state["oldest_due"] is None
        later = scheduler_state(ctx, T0 + 40 * DAY)
        assert later["due_now"] == 1
        assert T0 < later["oldest_due"] <= T0 + 40 * DAY
        assert not runtime.built("scheduler"), "asking built no scheduler"
    finally:
        runtime.close()
