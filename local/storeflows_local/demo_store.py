"""The `demo` store every local stack starts with: secrets, a sender profile, three messages
from it, and a published "targeted post-purchase follow-up" workflow, written through the
same storage code the product uses."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from storeflows.intake.signatures import generate_standard_webhooks_secret
from storeflows.messaging.unsubscribe_links import generate_unsubscribe_key
from storeflows.records import Message, MessageContent, Purpose, Sender, SenderProfile, Store
from storeflows.storage import messages, stores, workflows
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.templates.targeted_post_purchase import TargetedPostPurchaseSettings

DEMO_STORE_ID = "demo"
DEMO_WORKFLOW_ID = "targeted-post-purchase"
DEMO_SENDER = Sender(name="Demo Store", address="shop@storeflows.test", reply_to="care@storeflows.test")
DEMO_SENDER_ID = "shop-team"


def demo_sender_profile(store_id: str) -> SenderProfile:
    """The sender profile the demo messages name (as examples/senders/shop-team.yaml)."""
    return SenderProfile(store_id=store_id, sender_id=DEMO_SENDER_ID, **DEMO_SENDER.model_dump())


_ITEMS = (
    """<ul>{% for item in order.items %}<li>{{ item.quantity }} × {{ item.name or item.sku }}</li>"""
    """{% endfor %}</ul>"""
)
_FOOTER = """<p style="font-size:small"><a ses:no-track href="{{ unsubscribe_url }}">Unsubscribe</a></p>"""

DEMO_MESSAGES = {
    "first-purchase-thanks": (
        Purpose.TRANSACTIONAL,
        MessageContent(
            subject="Thank you for your first order, {{ contact.first_name or 'friend' }}!",
            html="<h1>Welcome, {{ contact.first_name }}!</h1><p>Thank you for your first order "
            "#{{ order.id }} ({{ order.total|money(order.currency) }}).</p>" + _ITEMS,
            text="Welcome, {{ contact.first_name }}! Thank you for your first order #{{ order.id }} "
            "({{ order.total|money(order.currency) }}).",
        ),
    ),
    "second-purchase-thanks": (
        Purpose.MARKETING,
        MessageContent(
            subject="You came back! Thanks for your second order, {{ contact.first_name or 'friend' }}",
            html="<h1>Great to see you again, {{ contact.first_name }}!</h1><p>Thanks for your second "
            "order #{{ order.id }}.</p>" + _ITEMS + _FOOTER,
            text="Great to see you again, {{ contact.first_name }}! Thanks for your second order "
            "#{{ order.id }}.\n\nUnsubscribe: {{ unsubscribe_url }}",
        ),
    ),
    "repeat-purchase-thanks": (
        Purpose.MARKETING,
        MessageContent(
            subject="Thanks for shopping with us again, {{ contact.first_name or 'friend' }}",
            html="<h1>You are one of our regulars, {{ contact.first_name }}!</h1><p>Order "
            "#{{ order.id }} is on its way to being packed.</p>" + _ITEMS + _FOOTER,
            text="You are one of our regulars, {{ contact.first_name }}! Order #{{ order.id }} is on "
            "its way to being packed.\n\nUnsubscribe: {{ unsubscribe_url }}",
        ),
    ),
}


@dataclass(frozen=True)
class DemoSecrets:
    shopify_secret: str
    webhook_secret: str
    woocommerce_secret: str
    generated: bool


def demo_secrets() -> DemoSecrets:
    shopify = os.environ.get("STOREFLOWS_DEMO_SHOPIFY_SECRET")
    webhook = os.environ.get("STOREFLOWS_DEMO_WEBHOOK_SECRET")
    woocommerce = os.environ.get("STOREFLOWS_DEMO_WOOCOMMERCE_SECRET")
    return DemoSecrets(
        shopify_secret=shopify or secrets.token_urlsafe(24),
        webhook_secret=webhook or generate_standard_webhooks_secret(),
        woocommerce_secret=woocommerce or secrets.token_urlsafe(24),
        generated=not (shopify and webhook and woocommerce),
    )


def create_demo_store(secrets_: DemoSecrets) -> None:
    stores.put_store(
        Store(
            store_id=DEMO_STORE_ID,
            name="Demo Store",
            shopify_secret=secrets_.shopify_secret,
            webhook_secret=secrets_.webhook_secret,
            woocommerce_secret=secrets_.woocommerce_secret,
            unsubscribe_key=generate_unsubscribe_key(),
        )
    )
    messages.put_sender(demo_sender_profile(DEMO_STORE_ID))
    for message_id, (purpose, content) in DEMO_MESSAGES.items():
        messages.put_message(
            Message(
                store_id=DEMO_STORE_ID,
                message_id=message_id,
                purpose=purpose,
                sender=DEMO_SENDER_ID,
                default_language="en",
                variants={"en": content},
            )
        )
    workflows.put_workflow(
        Workflow(
            store_id=DEMO_STORE_ID,
            workflow_id=DEMO_WORKFLOW_ID,
            status=WorkflowStatus.PUBLISHED,
            settings=TargetedPostPurchaseSettings(
                first_purchase_tag="first_purchase_customer",
                repeat_customer_tag="repeat_customer",
                first_purchase_message="first-purchase-thanks",
                second_purchase_message="second-purchase-thanks",
                repeat_purchase_message="repeat-purchase-thanks",
                score_points=10,
            ),
        )
    )


# The flows the demo shop shows, published from their examples (examples/workflows/<template>.yaml).
SHOP_TEMPLATES = (
    "checkout_abandonment",
    "cart_abandonment",
    "browse_abandonment",
    "site_abandonment",
    "search_abandonment",
    "welcome_series",
    "wishlist_reminder",
)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def open_demo_shop(origin: str) -> str:
    """Lets the demo shop's pages (/_local/shop on `origin`) send to POST /collect for the
    demo store, as `storeflows stores browser demo --allow-origin <origin>` does, and
    publishes the example workflows of the before-purchase flows with their messages (and
    the sign-up confirmation), as `messages apply` and `workflows apply/publish` would;
    returns the store's public key. Changes nothing once done (a workflow the developer has
    already set up is left as it is)."""
    from storeflows.admin.stores import set_browser

    store = stores.get_store(DEMO_STORE_ID)
    if store is not None and store.browser is not None and origin in store.browser.allowed_origins:
        return store.browser.public_key
    _publish_shop_flows()
    browser = set_browser(DEMO_STORE_ID, allow_origins=(origin,)).browser
    assert browser is not None
    return browser.public_key


def _publish_shop_flows() -> None:
    from storeflows.admin.files import load_message_yaml, load_workflow_yaml
    from storeflows.admin.messages import apply_message
    from storeflows.admin.workflows import apply_workflow, publish_workflow
    from storeflows.workflows.publishing import message_references

    wanted = {"subscription-confirmation"}
    flows = []
    for template in SHOP_TEMPLATES:
        path = EXAMPLES / "workflows" / f"{template}.yaml"
        workflow = load_workflow_yaml(path.read_text("utf-8"), source=str(path), store=DEMO_STORE_ID)
        if workflows.get_workflow(DEMO_STORE_ID, workflow.workflow_id) is None:
            flows.append(workflow)
            wanted |= {message_id for _, message_id in message_references(workflow.settings)}
    have = {message.message_id for message in messages.list_messages(DEMO_STORE_ID)}
    for message_id in sorted(wanted - have):
        path = EXAMPLES / "messages" / f"{message_id}.yaml"
        apply_message(
            load_message_yaml(path.read_text("utf-8"), base_dir=path.parent, source=str(path), store=DEMO_STORE_ID)
        )
    for workflow in flows:
        apply_workflow(workflow)
        publish_workflow(DEMO_STORE_ID, workflow.workflow_id)
