"""Property-based fuzzing of every documented operation against the live OpenAPI document.

Schemathesis reads ``/openapi.json`` from a real server process (SQLite and PostgreSQL) and
sends valid and invalid requests to every operation: path, query string, headers and body, as
documented (the signature headers on every signed operation, Idempotency-Key on every POST, each
query parameter). Consumers' routes go with a consumer's bearer token, merchants' routes with a
merchant's session token, except when the case carries signature headers of its own: then they
go without it, so that the server parses them. Every answer must be something other than a 5xx,
carry a documented status and content type, and match the documented schema; data the schema
forbids must be refused. The books must balance afterwards (the ``server`` fixture checks the
ledger and every authorisation when the module ends).

Valid cases are nudged towards the deep paths half of the time: real ids of the caller's orders,
payments and wallets in the path, the platform's currency, an amount the wallet could pay and
the right PIN, so the fuzzer gets past "no such order" into the code that moves money.

``SAOMA_FUZZ_EXAMPLES`` (default 25 per operation) and ``SAOMA_FUZZ_SEED`` tune a run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support import PASSWORD, PIN, Server, fresh_key, new_consumer, new_merchant

MAX_EXAMPLES = int(os.environ.get("SAOMA_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("SAOMA_FUZZ_SEED", "20261124"))
SAFE_URL = "http://127.0.0.1:9/hooks"  # nothing listens there: a URL that is kept, never reached

# Consumers' routes (bearer token "st_…"); everything else that needs a caller is a merchant's.
CONSUMER_PATH = re.compile(
    r"^/v1/(me($|/)|sessions|consumers$|codes/|transfers$|red-packets|people/)"
    r"|/pay$|/consent$|/coupons$"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass
class Callers:
    consumer_token: str
    consumer_login: str
    merchant_token: str
    ids: dict[str, str]  # path parameter name -> a real id the caller may use
    # Routes that end sessions or change a password get accounts of their own, so the shared
    # sessions above live on (and wrong passwords count against those accounts only).
    spare_logins: dict[str, str]  # "consumer" and "merchant": accounts signed in afresh
    spare_tokens: dict[str, str]  # "consumer" and "merchant": sessions kept for password tries


@pytest.fixture(scope="module")
def callers(server: Server) -> Callers:
    payer = new_consumer(server, balance=50_000)
    shop = new_merchant(server)
    paid = shop.client.create_order("FUZZ-paid", 1_000)
    payment = payer.client.pay_order(paid["id"], PIN)
    open_order = shop.client.create_order("FUZZ-open", 700)
    top_up = payer.client.top_up(1_500)
    ids = {
        "order_id": open_order["id"],
        "payment_id": payment["id"],
        "merchant_id": shop.id,
        "consumer_id": payer.id,
        "transfer_id": top_up["id"],
    }
    spare_payer, spare_shop = new_consumer(server, pin=None), new_merchant(server)
    tried_payer, tried_shop = new_consumer(server, pin=None), new_merchant(server)
    return Callers(
        payer.client.token,
        payer.login,
        shop.token,
        ids,
        {"consumer": spare_payer.login, "merchant": spare_shop.login},
        {"consumer": str(tried_payer.client.token), "merchant": tried_shop.token},
    )


def _load_schema(server: Server) -> Any:
    loaded = schemathesis.openapi.from_url(server.url + "/openapi.json")
    # Live event streams never end: they are exercised by the API tests, not fuzzed.
    return loaded.exclude(path_regex=r"/events$")


def _fresh_session(server: Server, login: str, path: str = "/v1/sessions") -> str:
    response = httpx.post(
        server.url + path, json={"login": login, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def _keep_urls_local(body: Any) -> None:
    """A generated webhook URL must never make the server call out of this machine."""
    if isinstance(body, dict):
        for name in ("webhook_url", "notify_url", "url"):
            if isinstance(body.get(name), str) and body[name].strip():
                body[name] = SAFE_URL


def _plausible(case: Any, ids: dict[str, str]) -> Any:
    """Steer a valid case past the first refusals, into the code behind them."""
    for name in list(case.path_parameters or {}):
        if name in ids:
            case.path_parameters[name] = ids[name]
    body = case.body
    if isinstance(body, dict):
        if "currency" in body:
            body["currency"] = "CNY"
        if isinstance(body.get("amount"), int):
            body["amount"] = abs(body["amount"]) % 3_000 + 1
        if "pin" in body:
            body["pin"] = PIN
    return case


def _fuzz(operation: Any, server: Server, callers: Callers) -> None:
    path = operation.path
    consumer = bool(CONSUMER_PATH.search(path))
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    steered = st.tuples(positive, st.booleans()).map(
        lambda drawn: _plausible(drawn[0], callers.ids) if drawn[1] else drawn[0]
    )
    strategy = st.one_of(steered, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        print_blob=False,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        token = _token(operation.method.upper(), path, server, callers, consumer)
        _keep_urls_local(case.body)
        signs = any(name.lower().startswith("saoma-") for name in case.headers or {})
        headers = {} if signs else {"Authorization": f"Bearer {token}"}
        own_key = any(name.lower() == "idempotency-key" for name in case.headers or {})
        if operation.method.upper() == "POST" and not own_key:  # past the key check
            headers |= fresh_key()
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=15)

    run()


def _token(method: str, path: str, server: Server, callers: Callers, consumer: bool) -> str:
    """The session a case is sent with: the shared one, or one that may be ended."""
    if path == "/v1/sessions/current":  # signing out must not end the shared session
        return _fresh_session(server, callers.consumer_login)
    if (method, path) == ("DELETE", "/v1/sessions"):  # every session of the account ends
        return _fresh_session(server, callers.spare_logins["consumer"])
    if method == "DELETE" and path.startswith("/v1/merchant-sessions"):
        return _fresh_session(server, callers.spare_logins["merchant"], "/v1/merchant-sessions")
    if path == "/v1/me/password":
        return callers.spare_tokens["consumer"]
    if path == "/v1/merchant/password":
        return callers.spare_tokens["merchant"]
    return callers.consumer_token if consumer else callers.merchant_token


def test_every_operation_answers_as_documented(server: Server, callers: Callers) -> None:
    schema = _load_schema(server)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40, "the OpenAPI document lost its operations"
    failures: list[str] = []
    for operation in operations:
        try:
            _fuzz(operation, server, callers)
        except (Exception, BaseExceptionGroup) as exc:  # the report names every failing one
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
