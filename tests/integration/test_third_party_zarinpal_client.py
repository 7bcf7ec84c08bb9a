"""The sandbox gateway answers like Zarinpal does, as a third-party Zarinpal v4 client reads it.

`zarinpal` (PyPI) is an independent client of Zarinpal's v4 REST API that validates every
answer against pydantic models of the documented shapes. It pins old versions of pydantic and
requests, so `make test` gives it a virtual environment of its own (`.venv/zarinpal-client`)
and it runs there, against the sandbox (`clients/zarinpal_v4.py`). On top of what its models
check, the sandbox must give what Zarinpal gives: a real date in unVerified (the client's
users parse it), and a card hash that is the same for the same card on every payment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from adapters.sandbox_gateway import SandboxGateway

pytestmark = pytest.mark.slow  # a subprocess in a virtual environment of its own
MERCHANT = "00000000-0000-0000-0000-000000000000"
CLIENT = Path(sys.prefix) / "zarinpal-client" / "bin" / "python"
SCRIPT = Path(__file__).parent / "clients" / "zarinpal_v4.py"


@pytest.fixture(scope="module")
def read_by_the_client() -> dict:
    if not CLIENT.exists():
        pytest.fail(f"{CLIENT} is missing: run `make test` (it sets up the third-party client)")
    with SandboxGateway(MERCHANT) as sandbox:
        done = subprocess.run(
            [str(CLIENT), str(SCRIPT), sandbox.url, MERCHANT],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_request_and_verify_read_as_zarinpal_answers(read_by_the_client):
    assert len(read_by_the_client["payments"]) == 2  # the client script pays twice
    for payment in read_by_the_client["payments"]:
        assert payment["request_code"] == 100 and payment["verify_code"] == 100
        assert payment["ref_id"] > 0
        assert payment["card_pan"].startswith("502229") and "*" in payment["card_pan"]


def test_the_card_hash_is_stable_for_a_card(read_by_the_client):
    (card_hash,) = {p["card_hash"] for p in read_by_the_client["payments"]}
    assert len(card_hash) == 64 and card_hash == card_hash.upper()


def test_unverified_lists_a_paid_payment_with_a_real_date(read_by_the_client):
    payment = read_by_the_client["payments"][0]
    (listed,) = payment["listed"]
    assert (listed["authority"], listed["amount"]) == (payment["authority"], 25_000)
    when = datetime.strptime(listed["date"], "%Y-%m-%d %H:%M:%S")  # Zarinpal's format
    assert when.year >= 2026
