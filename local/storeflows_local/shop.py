"""A small demo storefront for `make dev` (/_local/shop): the `demo` store's site, with the
browser snippet installed as a store would install it, so a person can browse, search, add to
cart, sign up, log in and start a checkout, then watch the flows' emails arrive in the outbox.

The pages are the store's, not Storeflows': everything they tell Storeflows goes through the
snippet to POST /collect like any shop's pages. The cart lives in the page's localStorage (a
real shop keeps it on its server). Opening the shop gives the demo store its browser settings
for this stack's origin (`stores browser demo --allow-origin <stack>`), once."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

CURRENCY = "EUR"


@dataclass(frozen=True)
class ShopProduct:
    product_id: str
    name: str
    category: str
    price: str
    colour: str  # the picture's colour (the images are drawn, not downloaded)


PRODUCTS = (
    ShopProduct("venise-dress", "Venise linen dress", "dresses", "129.90", "#c76b5a"),
    ShopProduct("arles-dress", "Arles wrap dress", "dresses", "99.00", "#5a7fc7"),
    ShopProduct("nice-sandals", "Nice leather sandals", "shoes", "79.50", "#a4825c"),
    ShopProduct("lyon-sneakers", "Lyon canvas sneakers", "shoes", "64.00", "#e0e0e0"),
    ShopProduct("cassis-hat", "Cassis straw hat", "accessories", "39.00", "#e8cf8a"),
    ShopProduct("menton-scarf", "Menton silk scarf", "accessories", "45.00", "#7fb59a"),
)
CATEGORIES = {"dresses": "Dresses", "shoes": "Shoes", "accessories": "Accessories"}
_BY_ID = {product.product_id: product for product in PRODUCTS}


def product_image(product_id: str) -> str | None:
    """The product's picture: a drawn SVG, so the demo needs no network."""
    product = _BY_ID.get(product_id)
    if product is None:
        return None
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">'
        f'<rect width="320" height="240" fill="{product.colour}"/>'
        f'<text x="160" y="128" font-family="sans-serif" font-size="20" text-anchor="middle" fill="#222">'
        f"{html.escape(product.name)}</text></svg>"
    )


def shop_page(path: str, query: str, *, origin: str, store_id: str, public_key: str) -> str | None:
    """The page at /_local/shop/<path>, or None when there is none."""
    base = f"{origin}/_local/shop"
    if path in ("", "/"):
        return _page("Demo store", _product_grid(PRODUCTS, base), base, store_id, public_key, origin)
    kind, _, name = path.strip("/").partition("/")
    if kind == "category" and name in CATEGORIES:
        products = tuple(p for p in PRODUCTS if p.category == name)
        tracking: dict | None = {"type": "category_viewed", "fields": {"category": _category(name, base)}}
        return _page(CATEGORIES[name], _product_grid(products, base), base, store_id, public_key, origin, tracking)
    if kind == "product" and name in _BY_ID:
        product = _BY_ID[name]
        body = f"""<div class="product"><img src="{base}/img/{product.product_id}.svg" alt="">
<div><h2>{html.escape(product.name)}</h2><p class="price">€{product.price}</p>
<button id="add" data-product='{html.escape(json.dumps(_product(product, base)), quote=True)}'>Add to cart</button>
<button id="wish">Add to wishlist</button></div></div>"""
        tracking = {"type": "product_viewed", "fields": {"product": _product(product, base)}}
        return _page(product.name, body, base, store_id, public_key, origin, tracking)
    if kind == "search":
        words = query.strip()
        found = tuple(p for p in PRODUCTS if words and words.lower() in f"{p.name} {p.category}".lower())
        tracking = (
            {"type": "search", "fields": {"query": words[:500], "result_product_ids": [p.product_id for p in found]}}
            if words
            else None
        )
        body = f"<p>{len(found)} result(s) for “{html.escape(words)}”.</p>" + _product_grid(found, base, query=words)
        return _page("Search", body, base, store_id, public_key, origin, tracking)
    if kind == "cart":
        body = """<div id="cart-lines"></div><p><b>Total</b> €<span id="cart-total">0.00</span></p>
<form id="checkout"><label>Email for your order <input type="email" name="email" required></label>
<button>Start checkout</button></form><p id="checkout-said"></p>"""
        return _page("Your cart", body, base, store_id, public_key, origin)
    return None


def _category(name: str, base: str) -> dict[str, str]:
    return {"category_id": name, "name": CATEGORIES[name], "url": f"{base}/category/{name}"}


def _product(product: ShopProduct, base: str) -> dict[str, str]:
    return {
        "product_id": product.product_id,
        "name": product.name,
        "category": product.category,
        "price": product.price,
        "currency": CURRENCY,
        "url": f"{base}/product/{product.product_id}",
        "image_url": f"{base}/img/{product.product_id}.svg",
    }


def _product_grid(products: tuple[ShopProduct, ...], base: str, *, query: str = "") -> str:
    searched = f' data-search="{html.escape(query, quote=True)}"' if query else ""
    cards = "".join(
        f"""<a class="card"{searched} href="{base}/product/{p.product_id}">
<img src="{base}/img/{p.product_id}.svg" alt="">
<span>{html.escape(p.name)}</span><span class="price">€{p.price}</span></a>"""
        for p in products
    )
    return f'<div class="grid">{cards}</div>'


def _page(
    title: str,
    body: str,
    base: str,
    store_id: str,
    public_key: str,
    origin: str,
    tracking: dict | None = None,
) -> str:
    nav = " · ".join(f'<a href="{base}/category/{key}">{label}</a>' for key, label in CATEGORIES.items())
    settings = json.dumps({"store": store_id, "key": public_key, "endpoint": origin, "consent_required": True})
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:auto;padding:0 1rem}}header,footer{{padding:1rem 0}}
.grid{{display:grid;grid-template-columns:repeat(3,1fr);gap:1rem}}.card{{display:flex;flex-direction:column;color:inherit}}
img{{max-width:100%}}.product{{display:flex;gap:2rem}}.price{{font-weight:bold}}
#consent{{position:fixed;bottom:0;left:0;right:0;background:#222;color:#fff;padding:1rem}}</style>
<script>window.storeflows=window.storeflows||function(){{(storeflows.q=storeflows.q||[]).push(arguments)}};
storeflows('init', {settings});</script>
<script async src="{origin}/sdk/storeflows.js"></script></head>
<body><header><a href="{base}/"><b>Demo store</b></a> · {nav} ·
<a href="{base}/cart">Cart (<span id="cart-count">0</span>)</a>
<form action="{base}/search" style="display:inline"><input name="q" placeholder="Search" aria-label="Search">
<button>Search</button></form></header>
<main><h1>{html.escape(title)}</h1>{body}</main>
<footer><form id="signup"><label>News and offers by email <input type="email" name="email" required></label>
<button>Sign up</button>
<small id="signup-text">Yes, send me news and offers by email. Unsubscribe at any time.</small></form>
<form id="login"><label>Log in as <input type="email" name="email" required></label><button>Log in</button></form>
<p id="said" role="status"></p>
<p><small>Reminders (a cart or checkout left, products viewed, the wishlist) and the welcome series are
marketing emails: they go to contacts who signed up and confirmed, as a real store's do.
Sent emails: <a href="/_local/">the outbox</a>.</small></p></footer>
<div id="consent" hidden>This shop would like to remember your visit to send you reminders.
<button id="accept">Accept</button> <button id="decline">Decline</button></div>
<script>{_SHOP_SCRIPT % {"base": json.dumps(base), "tracking": json.dumps(tracking), "currency": json.dumps(CURRENCY)}}
</script>
</body></html>"""


# The page's own code: the consent banner, the cart, the forms. Each tells Storeflows what
# happened through the snippet's calls, as a store's theme would.
_SHOP_SCRIPT = """
(function () {
  var base = %(base)s, tracking = %(tracking)s, currency = %(currency)s;
  var say = function (text) { document.getElementById("said").textContent = text; };
  var choice = localStorage.getItem("shop_consent");
  var banner = document.getElementById("consent");
  if (choice === null) banner.hidden = false; else storeflows("consent", choice === "yes");
  document.getElementById("accept").onclick = function () {
    localStorage.setItem("shop_consent", "yes"); banner.hidden = true; storeflows("consent", true);
  };
  document.getElementById("decline").onclick = function () {
    localStorage.setItem("shop_consent", "no"); banner.hidden = true; storeflows("consent", false);
  };
  if (tracking) storeflows("track", tracking.type, tracking.fields);

  function cart() {
    var kept = JSON.parse(localStorage.getItem("shop_cart") || "null");
    return kept || {token: "k" + Math.random().toString(36).slice(2, 12), items: []};
  }
  function total(items) {
    return items.reduce(function (sum, item) { return sum + Number(item.price) * item.quantity; }, 0).toFixed(2);
  }
  function cartFields(kept) {
    return {token: kept.token, items: kept.items, total: total(kept.items), currency: currency,
            recovery_url: base + "/cart"};
  }
  function show(kept) {
    document.getElementById("cart-count").textContent = kept.items.length;
    var lines = document.getElementById("cart-lines");
    if (!lines) return;
    lines.innerHTML = "";
    kept.items.forEach(function (item) {
      var line = document.createElement("p");
      line.textContent = item.quantity + " × " + item.name + " (€" + item.price + ")";
      lines.appendChild(line);
    });
    document.getElementById("cart-total").textContent = total(kept.items);
  }
  show(cart());

  var add = document.getElementById("add");
  if (add) add.onclick = function () {
    var kept = cart(), product = JSON.parse(add.dataset.product);
    var line = kept.items.filter(function (item) { return item.product_id === product.product_id; })[0];
    if (line) line.quantity += 1; else { product.quantity = 1; kept.items.push(product); }
    localStorage.setItem("shop_cart", JSON.stringify(kept));
    storeflows("track", "cart_updated", {cart: cartFields(kept)});
    show(kept); say("Added to your cart.");
  };
  var wish = document.getElementById("wish");
  if (wish) wish.onclick = function () {
    storeflows("track", "wishlist_added", {product: JSON.parse(add.dataset.product)});
    say("On your wishlist.");
  };
  var checkout = document.getElementById("checkout");
  if (checkout) checkout.onsubmit = function (event) {
    event.preventDefault();
    var kept = cart(), email = checkout.email.value;
    storeflows("identify", {email: email});
    storeflows("track", "checkout_started", {customer: {email: email}, checkout: cartFields(kept)});
    document.getElementById("checkout-said").textContent =
      "Checkout started for " + email + ". Leave now, and the reminder arrives in the outbox.";
  };
  document.querySelectorAll("a[data-search]").forEach(function (link) {
    link.addEventListener("click", function () {
      storeflows("track", "search", {query: link.dataset.search, result_clicked: true});
    });
  });
  var signup = document.getElementById("signup");
  signup.onsubmit = function (event) {
    event.preventDefault();
    storeflows("subscribe", {email: signup.email.value, source: "demo shop footer",
                             consent_text: document.getElementById("signup-text").textContent});
    say("Almost done: confirm with the link in the email we sent to " + signup.email.value + ".");
  };
  var login = document.getElementById("login");
  login.onsubmit = function (event) {
    event.preventDefault();
    storeflows("identify", {email: login.email.value});
    say("Logged in as " + login.email.value + ".");
  };
})();
"""
