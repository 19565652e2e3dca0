"""What a message template sees (context.message_context), as the README documents it:
`order.items` is the order's items (not the dict's method), `order["items"]` too."""

from __future__ import annotations

from pathlib import Path

import pytest

from storeflows.admin.files import load_message_yaml
from storeflows.errors import MessageRenderError
from storeflows.events.common import Order
from storeflows.events.subjects import SubjectView
from storeflows.messaging.context import message_context
from storeflows.messaging.rendering import render_message
from storeflows.records import Contact, MessageContent, Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "messages"
ORDER = Order.model_validate(
    {
        "id": "1001",
        "total": "129.90",
        "currency": "EUR",
        "items": [
            {"sku": "VENISE-DRESS", "name": "Venise dress", "category": "dresses", "quantity": 2, "price": "64.95"},
            {"sku": "SCARF", "quantity": 1},
        ],
    }
)
STORE = Store(store_id="demo", name="Demo Store", unsubscribe_key="k")
CONTACT = Contact(store_id="demo", email="ana@example.com", first_name="Ana", tags={"vip", "a"}, score=10)


def render(text: str) -> str:
    context = message_context(STORE, CONTACT, SubjectView.of_order(ORDER), None, {"code": "SPRING10"})
    return render_message(MessageContent(subject="s", html=text, text=text), context).text


@pytest.mark.parametrize("items", ["order.items", 'order["items"]'])
def test_order_items_and_every_field_of_an_item(items):
    assert (
        render(
            "{{ order.id }} {{ order.total|money(order.currency) }}:"
            f"{{% for item in {items} %}} {{{{ item.quantity }}}} x {{{{ item.name or item.sku }}}}"
            " ({{ item.sku }}, {{ item.category }}, {{ item.product_id }}, {{ item.price }}){% endfor %}"
        )
        == "1001 129.90 EUR: 2 x Venise dress (VENISE-DRESS, dresses, , 64.95) 1 x SCARF (SCARF, , , )"
    )
    assert render(f"{{{{ {items}|length }}}} {{{{ {items}[0].name }}}}") == "2 Venise dress"


def test_the_other_names_read_as_attributes_and_as_keys():
    assert render("{{ contact.first_name }} {{ contact.tags|join(',') }} {{ contact.score }}") == "Ana a,vip 10"
    assert render("{{ contact['email'] }} {{ store.name }} {{ coupon.code }}") == "ana@example.com Demo Store SPRING10"


def test_a_mapping_still_has_no_key_it_does_not_hold_and_the_sandbox_still_holds():
    with pytest.raises(MessageRenderError, match="customer"):
        render("{{ customer.first_name }}")
    with pytest.raises(MessageRenderError):
        render("{{ contact.nope }}")
    with pytest.raises(MessageRenderError):
        render("{{ order.items.__class__.__mro__ }}")


def test_the_example_messages_list_the_items_with_order_items():
    message = load_message_yaml(
        (EXAMPLES / "first-purchase-thanks.yaml").read_text("utf-8"), base_dir=EXAMPLES, store="demo"
    )
    assert "order.items" in message.variants["en"].html
    assert "2 × Venise dress" in render(message.variants["en"].html)
