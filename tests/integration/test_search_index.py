"""The back office's search index (projections/search_index.py): how text is normalised, which
keys each customer and invoice holds, that a changed profile replaces its keys (none left
behind), that a rebuild equals the live index, and that a search is one indexed lookup on
SQLite and PostgreSQL."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap import build_application, build_read_models
from domain.customer import BillingProfile
from projections.search_index import (
    _MATCHED,
    _fold,
    _fold_fully,
    id_keys,
    mobile_keys,
    name_keys,
    normalise,
    search,
    terms,
)
from tests.builders import SELLER, T0, a_company, a_plan
from tests.stores import postgres_schema


def test_arabic_letters_digits_joiners_separators_and_case_are_normalised():
    assert normalise("علي") == normalise("علی") == "علی"
    assert normalise("كريم") == "کریم"
    assert normalise("۰۱۲۳٤٥٦٧٨٩") == "0123456789"
    assert normalise("کریمی\u200cنژاد") == "کریمینژاد"
    assert normalise("\u200fABC\u200e-def") == "abcdef"  # marks dropped, case folded
    assert normalise("مُحَمَّد") == "محمد"  # diacritics
    assert terms("  كريمي   علي  كريمي ") == ["کریمی", "علی"]
    assert terms("۰۹۱۲ ۳۴۵ ۶۷۸۹") == ["09123456789"]  # digits in groups: one number
    assert terms("\u200c") == []


@given(st.text() | st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_ascii_shortcut_folds_as_every_step_would(text):
    # The rebuild folds millions of ids, codes and addresses: ASCII skips the steps that
    # change no ASCII character; it must give what they give.
    assert _fold(text) == _fold_fully(text)


@given(st.uuids())
def test_an_ids_keys_are_its_text_normalised(an_id):
    assert id_keys(an_id) == id_keys(str(an_id)) == [normalise(str(an_id)), an_id.hex[:8]]
    assert id_keys(UUID(an_id.hex)) == [an_id.hex, an_id.hex[:8]]


def test_a_name_is_found_by_words_prefixes_and_the_parts_of_a_joined_word():
    keys = name_keys("علی کریمی‌نژاد")
    assert keys["علی"] and keys["کریمینژاد"] and keys["کریمی"] and keys["نژاد"]
    assert keys["کر"] is False and "ک" not in keys  # prefixes from two characters
    assert mobile_keys("09123456789") == ["09123456789", "9123456789", "989123456789"]


def person(name: str, national_code: str | None = None) -> BillingProfile:
    return BillingProfile(
        name=name,
        kind="person",
        email="p@example.ir",
        mobile="09123456789",
        national_code=national_code,
    )


def names(read_models, query: str) -> list[str]:
    return [r["name"] for r in search(read_models, query)[0]]


def check_index(url: str) -> None:
    app = build_application(database_url=url)
    app.seller = SELLER
    read_models = build_read_models(app, database_url=url)
    app.define_plan(a_plan("business", 1_000_000), T0)
    ali = app.register_customer(person("علی کریمی", "0013542419"), T0)
    app.register_customer(person("علیرضا رضایی"), T0)
    pars = app.register_customer(a_company("شرکت پارس"), T0)
    sub = app.start_subscription(pars, "business", "monthly", T0)
    invoice = app.get_subscription(sub).invoice_ids[0]
    app.record_payment("BANK-1", app.get_invoice(invoice).total, T0, invoice_id=invoice)
    read_models.catch_up()

    assert names(read_models, "علي") == ["علی کریمی", "علیرضا رضایی"]  # the whole word first
    assert names(read_models, "عليرضا") == ["علیرضا رضایی"]
    assert names(read_models, "۰۰۱۳۵۴۲۴۱۹") == ["علی کریمی"]
    assert names(read_models, str(invoice)) == ["شرکت پارس"]
    assert names(read_models, "1405-000001") == ["شرکت پارس"]
    found, more = search(read_models, "عل", limit=1)
    assert len(found) == 1 and more

    app.change_profile(ali, person("زهرا کریمی"), T0)
    read_models.catch_up()
    assert names(read_models, "علی") == ["علیرضا رضایی"]  # the old name's keys are gone
    assert names(read_models, "0013542419") == []
    assert names(read_models, "زهرا") == ["زهرا کریمی"]

    position, drifts = read_models.verify()
    assert position and drifts == []
    live = read_models.query("SELECT COUNT(*) AS n FROM {rm_search_keys}")[0]["n"]
    read_models.rebuild(["search_keys"])
    assert read_models.query("SELECT COUNT(*) AS n FROM {rm_search_keys}")[0]["n"] == live
    assert names(read_models, "زهرا") == ["زهرا کریمی"]


def test_the_index_follows_profile_changes_and_equals_a_rebuild_on_sqlite(tmp_path):
    check_index(f"sqlite:///{tmp_path}/search.sqlite")


@pytest.mark.postgres
def test_the_index_follows_profile_changes_and_equals_a_rebuild_on_postgres():
    with postgres_schema() as url:
        check_index(url)


def test_a_search_reads_only_the_index_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/plan.sqlite"
    app = build_application(database_url=url)
    read_models = build_read_models(app, database_url=url)
    plan = read_models.query(
        "EXPLAIN QUERY PLAN " + _MATCHED.format(marks="?, ?", limit=51), ["علی", "کریمی", 2]
    )
    details = [str(row["detail"]) for row in plan]
    assert any("rm_search_keys USING COVERING INDEX" in d for d in details), details
    assert not any(d.startswith("SCAN rm_") for d in details), details
