"""Canonical purchase model and the API / Shopify / WooCommerce adapters."""

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from storeflows.errors import InvalidPayload
from storeflows.events.common import Customer, LineItem, Order, describe_validation_error
from storeflows.events.purchase import PurchaseEvent
from storeflows.intake.api import event_from_api
from storeflows.intake.shopify import purchase_from_shopify
from storeflows.intake.woocommerce import purchase_from_woocommerce

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _fixture(name: str) -> Any:
    """Parse like the ingest does: JSON numbers with a fraction become Decimal, ints stay exact."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"), parse_float=Decimal)


def _api_body() -> dict[str, Any]:
    return {
        "type": "purchase",
        "occurred_at": "2025-03-01T10:15:00+01:00",
        "order": {
            "id": "A-1001",
            "total": "129.90",
            "currency": "PLN",
            "items": [
                {
                    "sku": "TEA-01",
                    "name": "Green tea",
                    "category": "tea",
                    "quantity": 2,
                    "price": "39.95",
                },
                {"sku": "MUG-02", "name": "Mug", "quantity": 1, "price": "50.00"},
            ],
        },
        "customer": {
            "email": "ana@example.com",
            "first_name": "Ana",
            "last_name": "Nowak",
            "language": "pl-PL",
            "country": "pl",
            "accepts_marketing": True,
        },
    }


def _minimal_body() -> dict[str, Any]:
    return {
        "type": "purchase",
        "order": {"id": "A-1", "total": "10", "currency": "EUR"},
        "customer": {"email": "a@example.com"},
    }


def _invalid_detail(body: Any) -> str:
    with pytest.raises(InvalidPayload) as excinfo:
        event_from_api(body)
    return excinfo.value.detail


# --- Generic API body ------------------------------------------------------------------


def test_full_api_body() -> None:
    event = event_from_api(_api_body())
    assert event.type == "purchase"
    assert event.occurred_at == datetime(2025, 3, 1, 9, 15, tzinfo=UTC)
    assert event.order.id == "A-1001"
    assert event.order.total == Decimal("129.90")
    assert str(event.order.total) == "129.90"
    assert event.order.currency == "PLN"
    assert event.order.items[0] == LineItem(
        sku="TEA-01", name="Green tea", category="tea", quantity=2, price=Decimal("39.95")
    )
    assert sum(item.price * item.quantity for item in event.order.items) == event.order.total
    assert event.customer.email == "ana@example.com"
    assert (event.customer.first_name, event.customer.last_name) == ("Ana", "Nowak")
    assert event.customer.language == "pl-PL"
    assert event.customer.primary_language == "pl"
    assert event.customer.country == "PL"
    assert event.customer.accepts_marketing is True


def test_only_required_fields() -> None:
    event = event_from_api(_minimal_body())
    assert event.occurred_at is None
    assert event.order.items == []
    assert event.order.total == Decimal("10")
    customer = event.customer
    assert (customer.first_name, customer.last_name, customer.language) == (None, None, None)
    assert (customer.country, customer.accepts_marketing) == (None, None)
    assert customer.primary_language is None


@pytest.mark.parametrize(
    ("section", "field"),
    [
        (None, "type"),
        (None, "order"),
        (None, "customer"),
        ("order", "id"),
        ("order", "total"),
        ("order", "currency"),
        ("customer", "email"),
    ],
)
def test_missing_required_field_is_named(section: str | None, field: str) -> None:
    body = _minimal_body()
    del (body if section is None else body[section])[field]
    path = field if section is None else f"{section}.{field}"
    assert _invalid_detail(body) == f"{path}: Field required"


def test_several_failures_are_all_listed() -> None:
    body = _minimal_body()
    del body["customer"]["email"]
    body["order"]["total"] = "abc"
    assert _invalid_detail(body) == ("order.total: Input should be a valid decimal; customer.email: Field required")


def test_unknown_fields_are_ignored() -> None:
    body = _minimal_body()
    body["source"] = "pos"
    body["order"]["coupon"] = "X"
    body["order"]["items"] = [{"sku": "A", "colour": "red"}]
    body["customer"]["phone"] = "+48 600 000 000"
    event = event_from_api(body)
    assert event.order.items == [LineItem(sku="A")]
    assert "phone" not in event.customer.model_dump()


def test_unsupported_event_type() -> None:
    body = _minimal_body()
    body["type"] = "refund"
    assert (
        _invalid_detail(body)
        == 'unsupported event type "refund"; supported: purchase, consent, delivered, cancelled, checkout_started, '
        "cart_updated, product_viewed, category_viewed, page_viewed, search, wishlist_added, wishlist_removed, "
        "subscribed, subscription_requested, identify, product, product_deleted, back_in_stock_requested"
    )


def test_consent_and_delivered_events_parse_by_type() -> None:
    from storeflows.events.consent import ConsentEvent
    from storeflows.events.delivery import DeliveredEvent

    consent = event_from_api(
        {
            "type": "consent",
            "occurred_at": "2026-11-20T10:00:00+01:00",
            "marketing": False,
            "source": "preference centre",
            "customer": {"email": " Ana@Example.com "},
        }
    )
    assert isinstance(consent, ConsentEvent)
    assert (consent.customer.email, consent.marketing, consent.occurred_at.utcoffset().total_seconds()) == (
        "ana@example.com",
        False,
        3600,
    )
    delivered = event_from_api(
        {"type": "delivered", "order": {"id": 820982911946154508}, "customer": {"email": "ana@example.com"}}
    )
    assert isinstance(delivered, DeliveredEvent) and delivered.order.id == "820982911946154508"
    with pytest.raises(InvalidPayload, match="marketing: Field required"):
        event_from_api({"type": "consent", "customer": {"email": "ana@example.com"}})


def test_a_store_cancels_an_order_through_the_event_api() -> None:
    from storeflows.events.cancellation import CancelledEvent

    cancelled = event_from_api(
        {"type": "cancelled", "order": {"id": 1001}, "customer": {"email": "ana@example.com"}, "reason": "customer"}
    )
    assert isinstance(cancelled, CancelledEvent)
    assert (cancelled.order.id, cancelled.reason, cancelled.run_subject("api:x")) == ("1001", "customer", None)
    with pytest.raises(InvalidPayload, match="order: Field required"):
        event_from_api({"type": "cancelled", "customer": {"email": "ana@example.com"}})


@pytest.mark.parametrize("payload", [None, [], "purchase", 3])
def test_non_object_body(payload: Any) -> None:
    assert _invalid_detail(payload) == "body must be a JSON object"


# --- Money and ids ------------------------------------------------------------------------


@pytest.mark.parametrize("total", [129.9, 0.1])
def test_float_money_rejected(total: float) -> None:
    body = _minimal_body()
    body["order"]["total"] = total
    assert _invalid_detail(body) == ("order.total: Value error, must be a decimal string or number, not a float")


def test_float_item_price_rejected() -> None:
    body = _minimal_body()
    body["order"]["items"] = [{"price": 1.5}]
    assert _invalid_detail(body) == (
        "order.items.0.price: Value error, must be a decimal string or number, not a float"
    )


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("129.90", Decimal("129.90")),
        (Decimal("0.10"), Decimal("0.10")),
        (7, Decimal(7)),
        (" 5.5 ", Decimal("5.5")),
    ],
)
def test_money_accepts_decimal_int_and_numeric_string(total: Any, expected: Decimal) -> None:
    body = _minimal_body()
    body["order"]["total"] = total
    assert event_from_api(body).order.total == expected


@pytest.mark.parametrize("total", ["-1", "NaN", "Infinity", "", "12,50", True])
def test_bad_money_rejected(total: Any) -> None:
    body = _minimal_body()
    body["order"]["total"] = total
    assert _invalid_detail(body).startswith("order.total: ")


def test_int_ids_become_exact_strings() -> None:
    body = _minimal_body()
    body["order"]["id"] = 2**63 - 1
    body["order"]["items"] = [{"product_id": 9007199254740993}]
    event = event_from_api(body)
    assert event.order.id == "9223372036854775807"
    assert event.order.items[0].product_id == "9007199254740993"


@pytest.mark.parametrize("order_id", ["", "   ", True, 1.0])
def test_bad_order_id_rejected(order_id: Any) -> None:
    body = _minimal_body()
    body["order"]["id"] = order_id
    assert _invalid_detail(body).startswith("order.id: ")


@pytest.mark.parametrize(("currency", "expected"), [("usd", "USD"), (" Eur ", "EUR")])
def test_currency_normalised(currency: str, expected: str) -> None:
    body = _minimal_body()
    body["order"]["currency"] = currency
    assert event_from_api(body).order.currency == expected


@pytest.mark.parametrize("currency", ["US", "USDX", "U$D", "ßD", ""])
def test_bad_currency_rejected(currency: str) -> None:
    body = _minimal_body()
    body["order"]["currency"] = currency
    assert _invalid_detail(body).startswith("order.currency: ")


@pytest.mark.parametrize("quantity", [0, -1, "two"])
def test_bad_quantity_rejected(quantity: Any) -> None:
    body = _minimal_body()
    body["order"]["items"] = [{"quantity": quantity}]
    assert _invalid_detail(body).startswith("order.items.0.quantity: ")


# --- Customer ---------------------------------------------------------------------------


def _customer(**fields: Any) -> Customer:
    return Customer.model_validate({"email": "a@example.com", **fields})


def test_email_normalised() -> None:
    assert _customer(email="  Ana@Example.COM ").email == "ana@example.com"


@pytest.mark.parametrize(
    "email",
    [
        "a@b",
        "no-at",
        "x@y.com\r\nBcc: z@w.com",
        "x@y.com\nBcc: z@w.com",
        "a@@b.com",
        "a@b@c.com",
        "@example.com",
        "a b@example.com",
        "a@example.",
        "a@.com",
        "a\x00@example.com",
        "a" * 245 + "@example.com",
        "",
    ],
)
def test_invalid_email_rejected(email: str) -> None:
    body = _minimal_body()
    body["customer"]["email"] = email
    assert _invalid_detail(body).startswith("customer.email: ")


@pytest.mark.parametrize("field", ["first_name", "last_name"])
@pytest.mark.parametrize("value", ["Ana\r\nBcc: x@y.com", "An\na", "An\ta", "An\x00a", "Ana\u2028x"])
def test_control_characters_in_names_rejected(field: str, value: str) -> None:
    body = _minimal_body()
    body["customer"][field] = value
    assert _invalid_detail(body) == (
        f"customer.{field}: Value error, must not contain control characters or line breaks"
    )


def test_names_are_stripped_and_blank_is_absent() -> None:
    customer = _customer(first_name="  Zoë ", last_name="   ")
    assert (customer.first_name, customer.last_name) == ("Zoë", None)


@pytest.mark.parametrize(
    ("language", "expected", "primary"),
    [
        ("pl-PL", "pl-PL", "pl"),
        ("en", "en", "en"),
        ("pt_BR", "pt-BR", "pt"),
        ("EN-gb", "EN-gb", "en"),
        ("zh-Hant-TW", "zh-Hant-TW", "zh"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_language(language: str | None, expected: str | None, primary: str | None) -> None:
    customer = _customer(language=language)
    assert (customer.language, customer.primary_language) == (expected, primary)


@pytest.mark.parametrize("language", ["e", "english!", "pl-", "pl PL", "p1", "pl\nPL", "<script>"])
def test_garbage_language_rejected(language: str) -> None:
    with pytest.raises(ValidationError):
        _customer(language=language)


@pytest.mark.parametrize(("country", "expected"), [("pl", "PL"), (" US ", "US"), ("", None), (None, None)])
def test_country(country: str | None, expected: str | None) -> None:
    assert _customer(country=country).country == expected


@pytest.mark.parametrize("country", ["POL", "P", "ß", "1A"])
def test_bad_country_rejected(country: str) -> None:
    with pytest.raises(ValidationError):
        _customer(country=country)


def test_naive_occurred_at_is_utc() -> None:
    body = _minimal_body()
    body["occurred_at"] = "2025-03-01T10:15:00"
    assert event_from_api(body).occurred_at == datetime(2025, 3, 1, 10, 15, tzinfo=UTC)


def test_models_are_frozen() -> None:
    order = Order(id="1", total=Decimal(1), currency="EUR")
    with pytest.raises(ValidationError):
        order.total = Decimal(2)  # type: ignore[misc]


def test_describe_validation_error_caps_long_lists() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Order.model_validate({"id": "1", "total": "1", "currency": "EUR", "items": [{"quantity": 0}] * 12})
    detail = describe_validation_error(excinfo.value)
    assert detail.startswith("items.0.quantity: Input should be greater than or equal to 1; ")
    assert detail.count("Input should be greater than or equal to 1") == 10
    assert detail.endswith("; and 2 more")


# --- Shopify ----------------------------------------------------------------------------


SHOPIFY = _fixture("shopify_orders_create.json")


def _shopify() -> dict[str, Any]:
    return copy.deepcopy(SHOPIFY)


def test_shopify_sample() -> None:
    event = purchase_from_shopify(_shopify())
    assert event.type == "purchase"
    assert event.order.id == "820982911946154508"
    assert event.order.total == Decimal("404.95")
    assert event.order.currency == "USD"
    assert len(event.order.items) == 5
    assert sum(item.price * item.quantity for item in event.order.items) == Decimal("414.95")
    first = event.order.items[0]
    assert first == LineItem(
        sku="SKU2006-001",
        name="Aviator sunglasses",
        product_id="788032119674292922",
        quantity=1,
        price=Decimal("89.99"),
    )
    assert event.order.items[1].product_id is None
    # The order's own email wins over the customer record's (john@example.com).
    assert event.customer.email == "jon@example.com"
    assert (event.customer.first_name, event.customer.last_name) == ("John", "Smith")
    assert event.customer.language == "en"
    # billing US, not the customer's default address in CA.
    assert event.customer.country == "US"
    assert event.customer.accepts_marketing is True
    assert event.occurred_at == datetime(2021, 12, 31, 19, tzinfo=timezone(timedelta(hours=-5)))


@pytest.mark.parametrize(
    ("state", "expected"),
    [("subscribed", True), ("not_subscribed", False), ("unsubscribed", False), ("pending", False)],
)
def test_shopify_email_marketing_consent_overrides_buyer_flag(state: str, expected: bool) -> None:
    order = _shopify()
    order["buyer_accepts_marketing"] = not expected
    order["customer"]["email_marketing_consent"] = {
        "state": state,
        "opt_in_level": "single_opt_in",
        "consent_updated_at": None,
    }
    assert purchase_from_shopify(order).customer.accepts_marketing is expected


def test_shopify_consent_unknown_without_either_field() -> None:
    order = _shopify()
    del order["buyer_accepts_marketing"]
    assert purchase_from_shopify(order).customer.accepts_marketing is None


def test_shopify_email_fallbacks() -> None:
    order = _shopify()
    order["email"] = ""
    order["contact_email"] = "contact@example.com"
    assert purchase_from_shopify(order).customer.email == "contact@example.com"
    del order["contact_email"]
    assert purchase_from_shopify(order).customer.email == "john@example.com"


def test_shopify_missing_email() -> None:
    order = _shopify()
    order["email"] = None
    order["contact_email"] = None
    order["customer"] = None
    with pytest.raises(InvalidPayload) as excinfo:
        purchase_from_shopify(order)
    assert excinfo.value.detail == "customer.email: Field required"


def test_shopify_guest_checkout_uses_billing_names_and_address_fallbacks() -> None:
    order = _shopify()
    del order["customer"]
    event = purchase_from_shopify(order)
    assert (event.customer.first_name, event.customer.last_name) == ("Steve", "Shipper")
    assert event.customer.accepts_marketing is True

    order = _shopify()
    order["billing_address"] = None
    order["shipping_address"]["country_code"] = "DE"
    assert purchase_from_shopify(order).customer.country == "DE"
    order["shipping_address"] = None
    assert purchase_from_shopify(order).customer.country == "CA"


def test_shopify_item_mapping_details() -> None:
    order = _shopify()
    item = order["line_items"][0]
    item["sku"] = ""
    item["product_type"] = "Sunglasses"
    del item["title"]
    mapped = purchase_from_shopify(order).order.items[0]
    assert (mapped.sku, mapped.category, mapped.name) == (None, "Sunglasses", "Aviator sunglasses")


def test_shopify_created_at_when_not_processed() -> None:
    order = _shopify()
    order["processed_at"] = None
    order["created_at"] = "2024-05-01T12:00:00+02:00"
    assert purchase_from_shopify(order).occurred_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_shopify_errors_name_the_field() -> None:
    order = _shopify()
    del order["total_price"]
    order["line_items"][2]["price"] = "free"
    with pytest.raises(InvalidPayload) as excinfo:
        purchase_from_shopify(order)
    assert excinfo.value.detail == ("order.total: Field required; order.items.2.price: Input should be a valid decimal")


def test_shopify_non_object() -> None:
    with pytest.raises(InvalidPayload, match="body must be a JSON object"):
        purchase_from_shopify([SHOPIFY])


# --- WooCommerce --------------------------------------------------------------------------


WOOCOMMERCE = _fixture("woocommerce_order_created.json")


def _woocommerce() -> dict[str, Any]:
    return copy.deepcopy(WOOCOMMERCE)


def test_woocommerce_sample() -> None:
    event = purchase_from_woocommerce(_woocommerce())
    assert event.order.id == "727"
    assert event.order.total == Decimal("29.35")
    assert event.order.currency == "USD"
    assert event.customer == Customer(email="john.doe@example.com", first_name="John", last_name="Doe", country="US")
    assert event.customer.language is None
    assert event.customer.accepts_marketing is None
    assert event.order.items == [
        LineItem(sku=None, name="Woo Single #1", product_id="93", quantity=2, price=Decimal(3)),
        # The REST API HTML-escapes product names; the canonical name is plain text.
        LineItem(
            sku="Bar3",
            name="Ship Your Idea \u2013 Color: Black, Size: M Test",
            product_id="22",
            quantity=1,
            price=Decimal(12),
        ),
    ]
    # date_created_gmt is naive but UTC; date_created (16:28) is shop-local time.
    assert event.occurred_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (Decimal("21.99"), Decimal("21.99")),
        (21.99, Decimal("21.99")),
        ("21.99", Decimal("21.99")),
        (3, Decimal(3)),
    ],
)
def test_woocommerce_price_has_no_float_artefacts(price: Any, expected: Decimal) -> None:
    order = _woocommerce()
    order["line_items"][0]["price"] = price
    assert purchase_from_woocommerce(order).order.items[0].price == expected


def test_woocommerce_country_falls_back_to_shipping() -> None:
    order = _woocommerce()
    order["billing"]["country"] = ""
    order["shipping"]["country"] = "pl"
    assert purchase_from_woocommerce(order).customer.country == "PL"


def test_woocommerce_fallback_date_and_missing_email() -> None:
    order = _woocommerce()
    del order["date_created_gmt"]
    local_as_utc = datetime(2017, 3, 22, 16, 28, 2, tzinfo=UTC)
    assert purchase_from_woocommerce(order).occurred_at == local_as_utc
    order["billing"]["email"] = ""
    with pytest.raises(InvalidPayload) as excinfo:
        purchase_from_woocommerce(order)
    assert excinfo.value.detail == "customer.email: Field required"


def test_woocommerce_ping_body_is_not_an_order() -> None:
    ping = (FIXTURES / "woocommerce_ping.body.txt").read_text(encoding="utf-8")
    with pytest.raises(InvalidPayload, match="body must be a JSON object"):
        purchase_from_woocommerce(ping)


def test_purchase_event_round_trips_through_json() -> None:
    event = purchase_from_shopify(_shopify())
    assert PurchaseEvent.model_validate_json(event.model_dump_json()) == event
