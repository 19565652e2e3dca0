"""Map each source's order body onto the canonical PurchaseEvent.

Each adapter only picks and renames fields; all checking and normalising happens in the
models, so every source gets the same rules and the same error text. Absent values are
left out rather than passed as None, so a missing required field reads "Field required"."""

import html
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from storeflows.errors import InvalidPayload
from storeflows.models import (
    ConsentEvent,
    Customer,
    DataRequest,
    DeliveredEvent,
    ErasureRequest,
    PurchaseEvent,
    describe_validation_error,
)

SUPPORTED_EVENT_TYPES = ("purchase", "consent", "delivered")
_MAX_ECHOED_TYPE_LENGTH = 64


def _validate(payload: Any) -> PurchaseEvent:
    try:
        return PurchaseEvent.model_validate(payload)
    except ValidationError as err:
        raise InvalidPayload(describe_validation_error(err)) from None


def _require_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidPayload("body must be a JSON object")
    return payload


def _object(container: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object, or {} when it is absent or null (guest checkouts, no address)."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def _present(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _items(line_items: Any, map_item: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """Map each line item; anything malformed is passed through for the model to report."""
    if line_items is None:
        return []
    if not isinstance(line_items, list):
        return line_items
    return [map_item(item) if isinstance(item, dict) else item for item in line_items]


def purchase_from_api(payload: Any) -> PurchaseEvent:
    """Storeflows' own purchase event body, already in canonical shape."""
    event = event_from_api(payload)
    if not isinstance(event, PurchaseEvent):
        raise InvalidPayload(f'expected a purchase event, got "{event.type}"')
    return event


_API_EVENTS = {"purchase": PurchaseEvent, "consent": ConsentEvent, "delivered": DeliveredEvent}


def event_from_api(payload: Any) -> PurchaseEvent | ConsentEvent | DeliveredEvent:
    """Any event of Storeflows' own API (purchase, consent, delivered), by its "type"."""
    body = _require_object(payload)
    event_type = body.get("type")
    if isinstance(event_type, str) and event_type not in SUPPORTED_EVENT_TYPES:
        shown = event_type[:_MAX_ECHOED_TYPE_LENGTH]
        raise InvalidPayload(
            f'unsupported event type "{shown}"; supported: {", ".join(SUPPORTED_EVENT_TYPES)}'
        )
    try:
        # Validated by the model of its type (not the union), so errors name plain field paths.
        return _API_EVENTS.get(event_type, PurchaseEvent).model_validate(body)
    except ValidationError as err:
        raise InvalidPayload(describe_validation_error(err)) from None


def _shopify_accepts_marketing(order: dict[str, Any], customer: dict[str, Any]) -> bool | None:
    """The customer's current email_marketing_consent (newer API versions) beats the
    order-level buyer_accepts_marketing checkbox; only "subscribed" counts as consent."""
    state = _object(customer, "email_marketing_consent").get("state")
    if isinstance(state, str):
        return state == "subscribed"
    accepts = order.get("buyer_accepts_marketing")
    return accepts if isinstance(accepts, bool) else None


def _shopify_item(item: dict[str, Any]) -> dict[str, Any]:
    return _present(
        sku=item.get("sku") or None,
        name=item.get("title") or item.get("name"),
        category=item.get("product_type"),
        product_id=item.get("product_id"),
        quantity=item.get("quantity"),
        price=item.get("price"),
    )


def purchase_from_shopify(order: Any) -> PurchaseEvent:
    """A Shopify order webhook body (orders/create, orders/paid)."""
    body = _require_object(order)
    customer = _object(body, "customer")
    billing = _object(body, "billing_address")
    shipping = _object(body, "shipping_address")
    default_address = _object(customer, "default_address")
    return _validate(
        {
            "type": "purchase",
            "occurred_at": body.get("processed_at") or body.get("created_at"),
            "order": _present(
                id=body.get("id"),
                total=body.get("total_price"),
                currency=body.get("currency"),
                items=_items(body.get("line_items"), _shopify_item),
            ),
            "customer": _present(
                email=body.get("email") or body.get("contact_email") or customer.get("email"),
                first_name=customer.get("first_name") or billing.get("first_name"),
                last_name=customer.get("last_name") or billing.get("last_name"),
                language=body.get("customer_locale"),
                country=billing.get("country_code")
                or shipping.get("country_code")
                or default_address.get("country_code"),
                accepts_marketing=_shopify_accepts_marketing(body, customer),
            ),
        }
    )


def _shopify_privacy_customer(body: dict[str, Any]) -> Customer | None:
    """The customer a compliance webhook names, by email; None without a usable address
    (Storeflows keys everything by email, so it holds nothing about such a customer)."""
    try:
        return Customer.model_validate({"email": _object(body, "customer").get("email")})
    except ValidationError:
        return None


def erasure_from_shopify(payload: Any) -> ErasureRequest | None:
    """customers/redact: {shop_id, shop_domain, customer: {id, email, phone}, orders_to_redact}.
    The whole contact is erased, not only the orders named (they are all the contact's)."""
    customer = _shopify_privacy_customer(_require_object(payload))
    return ErasureRequest(type="erasure", customer=customer) if customer else None


def data_request_from_shopify(payload: Any) -> DataRequest | None:
    """customers/data_request: {shop_id, shop_domain, orders_requested, customer: {id, email,
    phone}, data_request: {id}}."""
    body = _require_object(payload)
    customer = _shopify_privacy_customer(body)
    if customer is None:
        return None
    request_id = _object(body, "data_request").get("id")
    if request_id is None:
        raise InvalidPayload("data_request.id: Field required")
    try:
        return DataRequest.model_validate(_present(
            type="data_request",
            request_id=request_id,
            customer=customer,
            platform_customer_id=_object(body, "customer").get("id"),
            orders_requested=body.get("orders_requested"),
        ))
    except ValidationError as err:
        raise InvalidPayload(describe_validation_error(err)) from None


def _woocommerce_price(value: Any) -> Any:
    """WooCommerce sends line-item price as a JSON number; should one arrive as a float,
    its shortest repr ("21.99") is the amount that was meant, not its binary expansion."""
    return Decimal(repr(value)) if isinstance(value, float) else value


def _woocommerce_item(item: dict[str, Any]) -> dict[str, Any]:
    name = item.get("name")
    return _present(
        sku=item.get("sku") or None,
        # The REST API returns product names HTML-escaped ("Idea &ndash; Color: Black").
        name=html.unescape(name) if isinstance(name, str) else name,
        product_id=item.get("product_id") or None,  # 0 when the product was deleted
        quantity=item.get("quantity"),
        price=_woocommerce_price(item.get("price")),
    )


def purchase_from_woocommerce(order: Any) -> PurchaseEvent:
    """A WooCommerce webhook body for an order topic (the REST v3 order representation)."""
    body = _require_object(order)
    billing = _object(body, "billing")
    shipping = _object(body, "shipping")
    return _validate(
        {
            "type": "purchase",
            # date_created is shop-local time without an offset; the GMT one is preferred.
            "occurred_at": body.get("date_created_gmt") or body.get("date_created"),
            "order": _present(
                id=body.get("id"),
                total=body.get("total"),
                currency=body.get("currency"),
                items=_items(body.get("line_items"), _woocommerce_item),
            ),
            "customer": _present(
                email=billing.get("email") or None,
                first_name=billing.get("first_name"),
                last_name=billing.get("last_name"),
                country=billing.get("country") or shipping.get("country"),
            ),
        }
    )
