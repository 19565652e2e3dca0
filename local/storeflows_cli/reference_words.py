"""The words of docs/reference.md that the code cannot hold: what each file field, purpose
and template context name means. reference.py checks them against the code (the loaders'
field lists, the enums, `message_context`), so a field without its words stops it."""

from __future__ import annotations

from storeflows.records import Purpose, WhenExhausted

WORKFLOW_FILE = {
    "store": "The store's id (`--store` on the command line overrides it).",
    "workflow": "The workflow's id: letters, digits, `-` and `_`.",
    "template": "One of the templates below.",
    "settings": "The template's settings (below); a setting left out takes its default.",
}
MESSAGE_FILE = {
    "store": "The store's id (`--store` on the command line overrides it).",
    "message": "The message's id, which workflow settings name: letters, digits, `-` and `_`.",
    "purpose": "`transactional` or `marketing` (below).",
    "sender": "A sender profile's id (`sender: shop-team`), or `{name, address, reply_to}` inline.",
    "fallback_language": "The variant for contacts whose language has none.",
    "variants": "One per language (`en`, `pl`, `it`, ...): each with the fields below.",
    "coupon": "A coupon the templates can show (below).",
}
VARIANT = {
    "subject": "The subject (a template): plain text on one line.",
    "html": "The HTML body (a template), autoescaped.",
    "html_file": "Or the HTML body from this file, relative to the YAML file.",
    "text": "The plain-text body (a template).",
    "text_file": "Or the plain-text body from this file, relative to the YAML file.",
}
PURPOSES = {
    Purpose.TRANSACTIONAL: "An order confirmation and the like: sent unless the address is suppressed "
    "(bounced, complained).",
    Purpose.MARKETING: "Sent only with marketing consent, not unsubscribed, not suppressed (checked right before "
    "each send); carries one-click unsubscribe.",
}
WHEN_EXHAUSTED = {
    WhenExhausted.SEND_WITHOUT_COUPON: "The email goes without a code: the `{% if coupon %}` block stays empty.",
    WhenExhausted.SKIP_MESSAGE: "Nothing is sent; the skip is recorded (`coupon_pool_exhausted`).",
}
SENDER_FILE = {
    "store": "The store's id (`--store` on the command line overrides it).",
    "sender": "The profile's id, which messages name (`sender: shop-team`).",
}
# name -> (what it is, its fields); "order.items" are the fields of each item.
CONTEXT: dict[str, tuple[str, dict[str, str]]] = {
    "contact": (
        "The contact the email goes to, as on record when it is sent.",
        {
            "email": "Their address.",
            "first_name": "First name (empty when unknown).",
            "last_name": "Last name (empty when unknown).",
            "language": "Their language as the store sent it, e.g. `pl-PL` (empty when unknown).",
            "country": "Two-letter country code, e.g. `PL` (empty when unknown).",
            "tags": "Their tags, sorted.",
            "score": "Their score.",
            "orders_count": "How many orders they placed.",
        },
    ),
    "order": (
        "The order the run is about: in runs about an order (the purchase templates).",
        {
            "id": "The store's order id.",
            "total": "The order's total, a decimal: `{{ order.total|money(order.currency) }}` shows `129.90 EUR`.",
            "currency": "Its currency, e.g. `EUR`.",
            "items": "Its line items (`{% for item in order.items %}`), each with the fields below.",
            "checkout_token": "The token of the checkout it came from, when the store says (Shopify does).",
            "cart_token": "The token of the cart it came from, when the store says (Shopify does).",
        },
    ),
    "order.items": (
        "Each line item of the order (any of them may be empty but `quantity`).",
        {
            "sku": "The product's SKU.",
            "name": "The product's name.",
            "category": "Its category.",
            "product_id": "The store's product id.",
            "quantity": "How many were bought.",
            "price": "The unit price, a decimal (`{{ item.price|money(order.currency) }}`).",
            "review_url": "In review requests: the product's review page, from the workflow's `review_url` "
            "pattern (empty when the item lacks the `{product_id}` or `{sku}` it needs).",
        },
    ),
    "checkout": (
        "The checkout the run is about, as it is when the message is sent: in checkout abandonment runs.",
        {
            "items": "What is in it (`{% for item in checkout.items %}`), each with the fields below.",
            "total": "Its total, a decimal (`{{ checkout.total|money(checkout.currency) }}`); may be empty.",
            "currency": "The currency of its prices.",
            "recovery_url": "Where the customer picks the checkout up again (Shopify's `abandoned_checkout_url`).",
        },
    ),
    "checkout.items": (
        "Each item of the checkout, as the store reported it.",
        {
            "name": "The product's name.",
            "quantity": "How many.",
            "price": "Its price, a decimal (`{{ item.price|money(checkout.currency) }}`); may be empty.",
            "image_url": "Its picture's address (empty for Shopify's checkouts and carts: Shopify sends none).",
            "url": "The product page's address (empty for Shopify's).",
            "sku": "The product's SKU.",
            "product_id": "The store's product id.",
        },
    ),
    "cart": (
        "The cart the run is about, as it is when the message is sent: in cart abandonment runs.",
        {
            "items": "What is in it (`{% for item in cart.items %}`), each with the fields below.",
            "total": "Its total, a decimal; may be empty.",
            "currency": "The currency of its prices.",
            "recovery_url": "A link back to the cart, when the store or the page gave one.",
        },
    ),
    "cart.items": (
        "Each item of the cart, as the store reported it.",
        {
            "name": "The product's name.",
            "quantity": "How many.",
            "price": "Its price, a decimal (`{{ item.price|money(cart.currency) }}`); may be empty.",
            "image_url": "Its picture's address (empty for Shopify's checkouts and carts: Shopify sends none).",
            "url": "The product page's address (empty for Shopify's).",
            "sku": "The product's SKU.",
            "product_id": "The store's product id.",
        },
    ),
    "session": (
        "The site session the run is about: in browse, search and site abandonment runs.",
        {
            "kind": "`browse`, `search` or `site`: what the session was.",
            "products": "The products viewed, latest first, each once (at most 6), each with the fields below.",
            "categories": "The categories viewed (at most 6), each with `category_id`, `name`, `url`.",
            "search": "The search left without a click, or none: `query`, and `results` (products as below).",
            "pages": "How many pages were seen.",
            "product_views": "How many different products were viewed.",
            "minutes": "How long the session lasted, in whole minutes.",
        },
    ),
    "session.products": (
        "Each viewed product (and each search result) as the storefront showed it (any field may be missing).",
        {
            "product_id": "The store's product id.",
            "name": "The product's name.",
            "price": "Its price, a decimal (`{{ product.price|money(product.currency) }}`).",
            "currency": "Its currency.",
            "url": "The product page's address.",
            "image_url": "Its picture's address.",
        },
    ),
    "anniversary": (
        "The anniversary of the first order an anniversary run is about.",
        {
            "date": "The day celebrated, yyyy-mm-dd.",
            "years": "How many years since the first order (1 on the first anniversary).",
        },
    ),
    "birthday": (
        "The birthday a birthday run is about.",
        {"date": "The day celebrated, yyyy-mm-dd (Feb 28 for a Feb 29 birthday in a year without one)."},
    ),
    "wishlist": (
        "The contact's wishlist, in wishlist reminders: what is on it now, less what was bought since it was "
        "put there (with nothing left, the reminder is not sent).",
        {"items": "The products (`{% for item in wishlist.items %}`), oldest first, each with the fields below."},
    ),
    "wishlist.items": (
        "Each product on the wishlist, as the store reported it when it was added (any may be empty).",
        {
            "product_id": "The store's product id.",
            "sku": "The product's SKU.",
            "name": "Its name.",
            "price": "Its price then, a decimal (`{{ item.price|money(item.currency) }}`).",
            "currency": "The price's currency.",
            "url": "The product's page.",
            "image_url": "Its picture.",
            "added_at": "When it was put on the wishlist (ISO 8601, UTC).",
        },
    ),
    "variant": (
        "The variant a catalogue alert is about (back in stock, price drop, low stock): its product as the "
        "catalogue holds it at the send, with the price this contact saw.",
        {
            "product_id": "The store's product id.",
            "sku": "The variant's SKU.",
            "name": "The product's name.",
            "url": "The product's page.",
            "image_url": "The variant's picture, else the product's.",
            "price": "Its price now, a decimal (`{{ variant.price|money(variant.currency or '') }}`).",
            "compare_at_price": "Its compare-at price now (the crossed-out one), or none.",
            "currency": "The price's currency (none when the source names none).",
            "available": "Whether it can be bought now.",
            "variant_id": "The variant's id.",
            "title": "The variant's title (`M`, `Blue / 38`), or none.",
            "price_seen": "The price this contact saw it at (their latest view, cart or checkout; a price drop's "
            "old price), or none.",
            "stock": "How many are in stock now (none when the store does not track it).",
        },
    ),
    "confirm_url": (
        "The signed link that confirms a sign-up, in the `subscription-confirmation` message only (double opt-in; "
        "the message is refused without it).",
        {},
    ),
    "confirm_days": ("How many days the confirmation link works (7), in `subscription-confirmation` only.", {}),
    "store": ("The store.", {"id": "Its id.", "name": "Its name (its id when it has none)."}),
    "unsubscribe_url": (
        "The signed one-click unsubscribe link in marketing messages (`<a ses:no-track href=...>`); empty in "
        "transactional ones.",
        {},
    ),
    "coupon": (
        "The message's coupon, or none (no coupon on the message, or its pool ran out): show it inside "
        "`{% if coupon %}...{% endif %}`.",
        {"code": "The code this email carries."},
    ),
    "bestsellers": (
        "`bestsellers(count=3, days=30)`: the store's best sellers by units sold over the last `days` days "
        "(at most 366), best first, at most `count` (at most 20), without what this customer just bought: "
        "`{% for product in bestsellers(3) %}`. Each has the fields below.",
        {
            "sku": "The product's SKU.",
            "name": "Its name (the catalogue's when it knows the SKU, else the one its orders gave).",
            "units": "Units sold over the window.",
            "url": "Its page, from the catalogue (none when the catalogue does not know the SKU).",
            "image_url": "Its picture, from the catalogue.",
            "price": "Its price, from the catalogue.",
            "compare_at_price": "The price it is compared with (struck through) when on sale, from the catalogue.",
            "currency": "The currency of its prices, from the catalogue.",
        },
    ),
    "product": (
        "`product(id_or_sku)`: a product of the store's catalogue by its product id or SKU (a SKU gives that "
        "variant's price and stock), or none when the catalogue does not know it: "
        '`{% set shirt = product("LS-M") %}{% if shirt %}...{% endif %}`. It has the fields below.',
        {
            "product_id": "Its id in the catalogue.",
            "sku": "The variant's SKU.",
            "name": "Its name.",
            "url": "Its page.",
            "image_url": "Its picture (the variant's own, else the product's).",
            "price": "The variant's price.",
            "compare_at_price": "The price it is compared with when on sale (none otherwise).",
            "currency": "The currency of its prices (none when the source names none: WooCommerce).",
            "available": "Whether it can be bought now.",
        },
    ),
    "recommendations": (
        "Complementary products, in thank-you & upsell runs: the catalogue's related products of what was bought, "
        "then those most often bought with them in the store's orders; never what was bought, only available "
        "products, at most `max_products` (`{% for product in recommendations %}`); empty when there is none. "
        "Each has the fields below.",
        {
            "product_id": "Its id in the catalogue.",
            "sku": "The SKU of its cheapest available variant.",
            "name": "Its name.",
            "url": "Its page.",
            "image_url": "Its picture (the variant's own, else the product's).",
            "price": "The price of its cheapest available variant.",
            "compare_at_price": "The price it is compared with when on sale (none otherwise).",
            "currency": "The currency of its prices (the order's when the catalogue names none).",
            "available": "Whether it can be bought now (always, here).",
        },
    ),
    "reorder": (
        "The SKU a replenishment reminder is about, as the catalogue has it at the send.",
        {
            "sku": "The SKU.",
            "name": "Its name (the catalogue's, else the order's).",
            "quantity": "How many were bought (the order's lines of the SKU together).",
            "url": "The reorder link: Shopify's cart permalink with the same quantity for a Shopify store and a "
            "variant the catalogue knows, else the product's page (none when neither is known).",
            "product_url": "The product's page.",
            "image_url": "Its picture.",
            "price": "Its price now (the order's when the catalogue does not know it).",
            "currency": "The price's currency.",
            "due_on": "The day it should run out (`2027-01-19`).",
        },
    ),
}
