"""Runs in its own virtual environment (`make install` makes `.venv/zarinpal-client`), with the
third-party `zarinpal` client from PyPI and the dependencies it pins, against a gateway URL.

Prints one JSON object: what the client read from each answer, or the error it raised.
Usage: python zarinpal_v4.py GATEWAY_URL MERCHANT_ID
"""

import json
import sys

import requests
import zarinpal.main
from zarinpal import ZarinPal
from zarinpal.models import RequestInput, VerifyInput

gateway, merchant = sys.argv[1:3]
real_post = requests.post


def to_the_gateway(url, **kwargs):
    # The client only knows Zarinpal's own host; its requests go to the gateway under test.
    return real_post(url.replace("https://api.zarinpal.com", gateway), **kwargs)


zarinpal.main.requests.post = to_the_gateway
client = ZarinPal(merchant)
found = {"payments": []}
for amount in (25_000, 30_000):
    started = client.request(
        RequestInput(amount=amount, description="invoice", callback_url="http://127.0.0.1/cb")
    )
    authority = started.data.authority
    # The customer presses Pay on the gateway's page.
    real_post(f"{gateway}/pg/StartPay/{authority}/pay", allow_redirects=False, timeout=5)
    listed = client.un_verified().data.authorities
    first = client.verify(VerifyInput(authority=authority, amount=amount)).data
    found["payments"].append(
        {
            "request_code": started.data.code,
            "authority": authority,
            "listed": [
                {"authority": a.authority, "amount": a.amount, "date": a.date} for a in listed
            ],
            "verify_code": first.code,
            "ref_id": first.ref_id,
            "card_pan": first.card_pan,
            "card_hash": first.card_hash,
        }
    )
print(json.dumps(found))
