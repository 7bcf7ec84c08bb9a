"""Official invoices: who gets one, when, with which number, and what it records."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.customer import BillingProfile
from domain.errors import InvalidProfile, OfficialInvoiceRefused
from domain.identifiers import tax_id_valid
from domain.official import PaymentTerms, Seller, first_free_number
from tests.builders import DAY, SELLER, T0, a_company, a_person, a_plan, app_with_seller, ordered


def company_invoice(app, profile=None):
    app.define_plan(a_plan(), T0)
    customer = app.register_customer(profile or a_company(), T0)
    sub_id = ordered(app, customer=customer)
    return customer, app.get_subscription(sub_id).invoice_ids[0]


def test_paying_in_full_issues_the_official_invoice_in_the_same_command():
    app = app_with_seller()
    _, invoice_id = company_invoice(app)
    app.record_payment("ref-1", 600_000, T0 + DAY, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).official is None  # partly paid: not yet
    app.record_payment("ref-2", 500_000, T0 + 2 * DAY, invoice_id=invoice_id)
    official = app.get_invoice(invoice_id).official
    assert official is not None
    assert (official.fiscal_year, official.number, official.number_text) == (1405, 1, "1405-000001")
    assert official.issued_at == T0 + 2 * DAY
    assert official.references == ("ref-1", "ref-2")
    assert official.terms is PaymentTerms.CASH
    assert official.buyer.economic_code == a_company().economic_code
    assert official.seller == SELLER.party
    assert len(official.tax_id) == 22 and tax_id_valid(official.tax_id)
    assert official.tax_id.startswith("DEF5GH")


def test_numbers_are_consecutive_per_fiscal_year_and_restart_with_the_year():
    app = app_with_seller()
    app.define_plan(a_plan(), T0)
    numbers = []
    for i in range(3):
        customer = app.register_customer(a_company(f"Co {i}"), T0)
        invoice_id = app.get_subscription(ordered(app, customer=customer)).invoice_ids[0]
        app.record_payment(f"r{i}", 1_100_000, T0 + DAY, invoice_id=invoice_id)
        numbers.append(app.get_invoice(invoice_id).official.number_text)
    assert numbers == ["1405-000001", "1405-000002", "1405-000003"]
    # 1406 starts on 2027-03-21 in Tehran: the first document of that year is number 1 again.
    late = T0.replace(year=2027, month=3, day=25)
    customer = app.register_customer(a_company("Late Co"), late)
    invoice_id = app.get_subscription(ordered(app, customer=customer, at=late)).invoice_ids[0]
    app.record_payment("r-late", 1_100_000, late + DAY, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).official.number_text == "1406-000001"


def test_a_payment_after_the_deadline_is_on_credit_terms():
    app = app_with_seller()
    _, invoice_id = company_invoice(app)
    app.record_payment("late", 1_100_000, T0 + 31 * DAY, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).official.terms is PaymentTerms.CREDIT


def test_a_person_gets_no_official_invoice_and_a_clear_refusal():
    app = app_with_seller()
    _, invoice_id = company_invoice(app, a_person())
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).official is None
    with pytest.raises(OfficialInvoiceRefused, match="only to legal entities") as refusal:
        app.issue_official_invoice(invoice_id, T0 + 2 * DAY)
    assert refusal.value.details["reason"] == "not_a_legal_entity"


def test_a_company_without_an_economic_code_is_told_what_is_missing_then_completes_it():
    app = app_with_seller()
    incomplete = BillingProfile(**{**a_company().to_dict(), "economic_code": None})
    customer, invoice_id = company_invoice(app, incomplete)
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).official is None
    with pytest.raises(OfficialInvoiceRefused, match="lacks economic_code") as refusal:
        app.issue_official_invoice(invoice_id, T0 + 2 * DAY)
    assert refusal.value.details["missing"] == ["economic_code"]

    app.change_profile(customer, a_company(), T0 + 3 * DAY)
    official = app.issue_official_invoice(invoice_id, T0 + 4 * DAY)
    assert official.number == 1 and official.issued_at == T0 + 4 * DAY
    # Asking again returns the same document; no second number is taken.
    assert app.issue_official_invoice(invoice_id, T0 + 5 * DAY) == official


def test_a_later_profile_change_never_alters_an_issued_document():
    app = app_with_seller()
    customer, invoice_id = company_invoice(app)
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    moved = BillingProfile(**{**a_company().to_dict(), "address": "Shiraz, Zand St."})
    app.change_profile(customer, moved, T0 + 2 * DAY)
    assert app.get_invoice(invoice_id).official.buyer.address == a_company().address


def test_an_unpaid_invoice_is_refused_and_nothing_is_recorded():
    app = app_with_seller()
    _, invoice_id = company_invoice(app)
    version = app.get_invoice(invoice_id).version
    with pytest.raises(OfficialInvoiceRefused, match="fully paid") as refusal:
        app.issue_official_invoice(invoice_id, T0 + DAY)
    assert refusal.value.details["reason"] == "not_paid"
    assert app.get_invoice(invoice_id).version == version


def test_without_a_configured_seller_no_official_invoice_is_issued():
    app = app_with_seller(None)
    _, invoice_id = company_invoice(app)
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    assert app.get_invoice(invoice_id).official is None
    with pytest.raises(OfficialInvoiceRefused, match="BILLING_SELLER_NAME"):
        app.issue_official_invoice(invoice_id, T0 + 2 * DAY)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("national_id", "10380284791", "national_id: national ID 10380284791 fails its check"),
        ("national_id", "1038028479", "must be 11 digits"),
        ("economic_code", "4111", "economic_code"),
        ("postal_code", "0423437584", "postal_code"),
        ("national_code", "0499370898", "national_code: national code 0499370898 fails"),
    ],
)
def test_each_identifier_of_a_profile_is_checked_and_named(field, value, message):
    with pytest.raises(InvalidProfile, match=message) as refusal:
        BillingProfile(**{**a_company().to_dict(), field: value})
    assert refusal.value.details["field"] == field


def test_persian_digits_in_a_profile_are_stored_as_latin_digits():
    profile = BillingProfile(**{**a_company().to_dict(), "postal_code": "۱۱۹۳۶۵۳۴۷۱"})
    assert profile.postal_code == "1193653471"


def test_a_recorded_profile_is_read_back_as_recorded_even_if_rules_tightened():
    recorded = {**a_company().to_dict(), "postal_code": "0000000000"}
    assert BillingProfile.from_dict(recorded).postal_code == "0000000000"


def test_a_seller_with_a_bad_memory_id_is_refused_at_configuration():
    with pytest.raises(InvalidProfile, match="tax_memory_id"):
        Seller(SELLER.party, memory_id="ABC")


@given(taken=st.integers(0, 5_000), data=st.data())
def test_the_first_free_number_is_found_from_any_hint(taken, data):
    hint = data.draw(st.integers(1, taken + 1))
    asked = []

    def is_taken(n):
        asked.append(n)
        return n <= taken

    assert first_free_number(is_taken, hint) == taken + 1
    assert len(asked) <= 2 * max(1, (taken + 1 - hint)).bit_length() + 2


def test_one_payment_settling_two_invoices_issues_two_consecutive_numbers():
    app = app_with_seller()
    customer, first = company_invoice(app)
    sub_id = app.get_invoice(first).subscription_id
    app.advance(T0 + 31 * DAY, on_time=True)  # the second period's invoice is issued
    second = app.get_subscription(sub_id).invoice_ids[1]
    assert app.get_invoice(first).is_open and app.get_invoice(second).is_open
    app.record_payment("both", 2_200_000, T0 + 31 * DAY, subscription_id=sub_id)
    numbers = {app.get_invoice(i).official.number for i in (first, second)}
    assert numbers == {1, 2}


def test_the_audit_timeline_shows_the_official_invoice_with_its_number_and_tax_id():
    from service_layer.timeline import describe, timeline

    app = app_with_seller()
    _, invoice_id = company_invoice(app)
    app.record_payment("p", 1_100_000, T0 + DAY, invoice_id=invoice_id)
    entries = timeline(app, app.get_invoice(invoice_id).subscription_id)
    names = [e.event for e in entries]
    assert names.index("PaymentRecorded") < names.index("OfficialInvoiceIssued")
    (issued,) = [e for e in entries if e.event == "OfficialInvoiceIssued"]
    line = describe(issued)
    assert "official invoice 1405-000001" in line
    assert app.get_invoice(invoice_id).official.tax_id in line
