"""A merchant generates typed models from ``/openapi.json`` and its program type-checks.

``datamodel-code-generator`` turns the document into pydantic models; ``mypy --strict`` checks
a small merchant program written against them (create an order, read its state, list the
payments) and must catch the type errors of a second one, so the check can fail. The same
program then runs against a real server on both databases: the generated models read the
answers the API really gives.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from saoma.bootstrap import Platform
from saoma.server import create_app
from support import PIN, Server, new_consumer, new_merchant

PROGRAM = '''"""A merchant's server, typed by the models generated from Saoma's OpenAPI document."""

from __future__ import annotations

import httpx

from saoma_api import CreateOrder, MerchantPaymentOut, MerchantPaymentPage, OrderOut


def create_order(http: httpx.Client, number: str, amount: int) -> OrderOut:
    body = CreateOrder(merchant_order_no=number, amount=amount, description="Beef noodles")
    answer = http.post(
        "/v1/orders",
        content=body.model_dump_json(exclude_unset=True),
        headers={"content-type": "application/json"},
    )
    answer.raise_for_status()
    return OrderOut.model_validate_json(answer.content)


def order_state(http: httpx.Client, order_id: str) -> str:
    order = OrderOut.model_validate_json(http.get(f"/v1/orders/{order_id}").content)
    return order.state.value


def payments(http: httpx.Client) -> list[MerchantPaymentOut]:
    page = MerchantPaymentPage.model_validate_json(http.get("/v1/merchant/payments").content)
    return page.data


def takings(http: httpx.Client) -> int:
    net: int = sum(payment.net for payment in payments(http))
    return net
'''
WRONG = '''"""The same kind of program with the mistakes a typed client must catch."""

from __future__ import annotations

from saoma_api import OrderOut


def amount_as_text(order: OrderOut) -> str:
    return order.amount


def payment_of(order: OrderOut) -> str:
    return order.payment_id
'''
EXPECTED_ERRORS = [
    'wrong_program.py:9: error: Incompatible return value type (got "int", expected "str")',
    'wrong_program.py:13: error: Incompatible return value type (got "str | None", expected "str")',
]


@pytest.fixture(scope="module")
def generated(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the generated models (``saoma_api.py``) and the two programs."""
    folder = tmp_path_factory.mktemp("client")
    shutil.copy(sqlite_template, folder / "saoma.db")
    platform = Platform.open(f"sqlite:///{folder / 'saoma.db'}", migrate_first=False)
    try:
        document = create_app(platform, start=False).openapi()
    finally:
        platform.close()
    (folder / "openapi.json").write_text(json.dumps(document))
    subprocess.run(
        [
            *(sys.executable, "-m", "datamodel_code_generator"),
            *("--input", "openapi.json", "--input-file-type", "openapi"),
            *("--output", "saoma_api.py", "--output-model-type", "pydantic_v2.BaseModel"),
            *("--target-python-version", "3.11", "--use-annotated", "--use-union-operator"),
            *("--use-standard-collections", "--disable-timestamp"),
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    (folder / "merchant_program.py").write_text(PROGRAM)
    (folder / "wrong_program.py").write_text(WRONG)
    (folder / "mypy.ini").write_text("[mypy]\n")
    return folder


def test_a_program_on_the_generated_models_type_checks_and_mistakes_are_caught(
    generated: Path,
) -> None:
    checked = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--config-file", "mypy.ini"),
            *("--cache-dir", ".mypy_cache", "--no-error-summary", "--hide-error-context"),
            *("saoma_api.py", "merchant_program.py", "wrong_program.py"),
        ],
        cwd=generated,
        capture_output=True,
        text=True,
    )
    errors = [line for line in checked.stdout.splitlines() if line.strip()]
    assert [e.split("  [")[0] for e in errors] == EXPECTED_ERRORS, checked.stdout + checked.stderr


def _load(folder: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_generated_models_read_the_real_answers(generated: Path, server: Server) -> None:
    _load(generated, "saoma_api")
    program = _load(generated, "merchant_program")
    shop = new_merchant(server)
    payer = new_consumer(server, balance=10_000)
    with httpx.Client(
        base_url=server.url, headers={"authorization": f"Bearer {shop.token}"}
    ) as http:
        order = program.create_order(http, "GEN-1", 2_500)
        assert program.order_state(http, order.id) == "created"
        payer.client.pay_order(order.id, PIN)
        assert program.order_state(http, order.id) == "paid"
        (payment,) = program.payments(http)
        assert (payment.order_id, payment.amount) == (order.id, 2_500)
        assert program.takings(http) == payment.net == payment.amount - payment.fee
