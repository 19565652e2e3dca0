"""Part 4 of the bench: the catalogue alerts' fan-out, on the same stack once it is quiet.

A store of its own has the three catalogue alert workflows published (their examples'
settings, transactional and marketing messages), and RECIPIENTS contacts who agreed to hear
from it: each asked to be told when the dress's M is back, viewed the shirt at its price,
carted the scarf. Then three product events, as a store sends them: the dress restocked, the
shirt 20 % cheaper, the scarf down to 3. Each starts one run that tells its whole audience.
The contacts and their interest are written straight to the table beforehand (setup, not
measured: the storefront's cost of recording a view is part 2's)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from storeflows_bench.calls import Ledger

ALERTS_STORE = "bench-alerts"
TEMPLATES = ("back_in_stock", "price_drop", "low_stock")
# (product, variant id, price before, stock before, price after, stock after)
CHANGES = {
    "back_in_stock": ("dress", "dress-m", "129.90", 0, "129.90", 10_000),
    "price_drop": ("shirt", "shirt-m", "59.00", 40, "47.20", 40),
    "low_stock": ("scarf", "scarf-one", "35.50", 40, "35.50", 3),
}
KIND = {"back_in_stock": "requested", "price_drop": "viewed", "low_stock": "carted"}


@dataclass
class AlertsPart:
    recipients: int  # per run: each run's audience
    seconds: float  # from the first product event until every run ended
    ledger: Ledger  # the product events' intake and the runs' calls
    runs: list[Any]  # replay.Run, of TEMPLATES


def set_up_store(recipients: int) -> str:
    """The store, its workflows and messages, the products as they were, and the contacts'
    consent and interest; the webhook secret."""
    from storeflows.intake.signatures import generate_standard_webhooks_secret
    from storeflows.records import Message, MessageContent, Purpose, Sender, Store
    from storeflows.storage import contacts, interest, messages, products, stores, workflows
    from storeflows.workflows import Workflow, WorkflowStatus

    secret = generate_standard_webhooks_secret()
    stores.put_store(Store(store_id=ALERTS_STORE, webhook_secret=secret, unsubscribe_key="bench-alerts-key"))
    text = "{{ variant.name }} {{ variant.price|money(variant.currency or '') }}"
    settings = {
        "back_in_stock": {"template": "back_in_stock", "requested_message": "back"},
        "price_drop": {"template": "price_drop", "alert_message": "cheaper"},
        "low_stock": {"template": "low_stock", "alert_message": "few-left"},
    }
    for template, message_id in (("back_in_stock", "back"), ("price_drop", "cheaper"), ("low_stock", "few-left")):
        messages.put_message(
            Message(
                store_id=ALERTS_STORE,
                message_id=message_id,
                purpose=Purpose.TRANSACTIONAL if template == "back_in_stock" else Purpose.MARKETING,
                sender=Sender(name="Bench Shop", address="shop@storeflows.test"),
                variants={"en": MessageContent(subject=message_id, html=f"<p>{text}</p>", text=text)},
            )
        )
        workflows.put_workflow(
            Workflow(
                store_id=ALERTS_STORE,
                workflow_id=template.replace("_", "-"),
                status=WorkflowStatus.PUBLISHED,
                settings=settings[template],
            )
        )
        products.put_product(ALERTS_STORE, catalogue(template, before=True), at=datetime.now(UTC))
    first = datetime.now(UTC) - timedelta(days=1)

    def contact(number: int) -> None:
        email = f"alert-{number:05d}@example.com"
        contacts.record_consent(ALERTS_STORE, email, marketing=True, source="bench", at=first)
        at = first + timedelta(milliseconds=number)
        for template, (product_id, variant_id, price, *_) in CHANGES.items():
            if KIND[template] == "requested":
                interest.record_request(ALERTS_STORE, email, product_id=product_id, variant_id=variant_id, at=at)
            else:
                interest.record_interest(
                    ALERTS_STORE,
                    email,
                    product_id=product_id,
                    variant_id=variant_id,
                    kind=KIND[template],  # type: ignore[arg-type]
                    at=at,
                    price=Decimal(price),
                    currency="EUR",
                )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(contact, range(recipients)))
    return secret


def catalogue(template: str, *, before: bool) -> Any:
    from storeflows.catalogue import CatalogueProduct

    product_id, variant_id, price_before, stock_before, price_after, stock_after = CHANGES[template]
    return CatalogueProduct.model_validate(
        {
            "product_id": product_id,
            "name": product_id.title(),
            "currency": "EUR",
            "variants": [
                {
                    "variant_id": variant_id,
                    "price": price_before if before else price_after,
                    "inventory_quantity": stock_before if before else stock_after,
                }
            ],
        }
    )


def change_catalogue(api_url: str, secret: str) -> None:
    """The three product events, through the event API."""
    from storeflows_local.signing import post_event

    for template in TEMPLATES:
        body = {"type": "product", "product": catalogue(template, before=False).model_dump(mode="json")}
        answer = post_event(api_url, ALERTS_STORE, secret, body)
        if answer.status_code != 202:
            raise RuntimeError(f"product event: {answer.status_code} {answer.text}")


def play(
    api_url: str,
    ledger: Ledger,
    wait_until_quiet: Callable[[], None],
    runs_of: Callable[[], list[Any]],
    recipients: int,
    progress=None,
) -> AlertsPart:
    ledger.begin("alerts-setup")
    secret = set_up_store(recipients)
    wait_until_quiet()
    if progress is not None:
        progress(f"catalogue alerts: a restock, a price cut and low stock, {recipients} contacts each")
    ledger.begin("alerts")
    started = time.perf_counter()
    change_catalogue(api_url, secret)
    wait_until_quiet()
    seconds = time.perf_counter() - started
    ledger.begin("after-alerts")
    runs = [run for run in runs_of() if run.name.startswith(ALERTS_STORE)]
    if sorted(run.template for run in runs) != sorted(TEMPLATES) or any(r.status != "SUCCEEDED" for r in runs):
        raise RuntimeError(f"the catalogue alerts' runs: {[(run.template, run.status) for run in runs]}")
    if progress is not None:
        progress(f"  alerts done in {seconds:.0f} s")
    return AlertsPart(recipients=recipients, seconds=seconds, ledger=ledger.of_part("alerts"), runs=runs)
