// Storeflows custom pixel for Shopify (Settings -> Customer events -> Add custom pixel).
// Paste this whole file, set the three values below, save, then Connect.
//
// It subscribes to Shopify's standard customer events and posts them to Storeflows'
// POST /collect/<store> in the snippet's format, a few at a time. Shopify runs custom pixels
// in a sandbox and gives them only the events and what the customer's privacy choices
// allow: in a region that needs consent, nothing is sent until the customer allows
// analytics (customerPrivacy), and the visitor id is Shopify's own anonymous clientId, so
// this pixel stores nothing in the browser itself.
const STOREFLOWS = {
  endpoint: "https://<ApiUrl>", // the stack's ApiUrl output
  store: "my-shop", // the Storeflows store id
  key: "pk_...", // storeflows stores browser my-shop
};

// Custom pixels get the privacy API as a global or on `api`, depending on the sandbox version.
const privacyApi =
  typeof customerPrivacy !== "undefined" ? customerPrivacy : typeof api !== "undefined" ? api.customerPrivacy : null;
let privacy = init.customerPrivacy || {};
if (privacyApi) {
  privacyApi.subscribe("visitorConsentCollected", (event) => {
    privacy = event.customerPrivacy;
    flush();
  });
}

// Shopify asks for consent where the law does; a store whose Storeflows setting needs no
// consent still waits for it there (Storeflows refuses a batch without it).
function allowed() {
  return privacy.analyticsProcessingAllowed === true;
}

let pending = [];
let visitor = null;
let timer = null;

function money(amount) {
  return amount === undefined || amount === null ? undefined : String(amount);
}

function product(variant) {
  if (!variant) return {};
  const item = variant.product || {};
  return {
    product_id: item.id ? String(item.id) : undefined,
    variant_id: variant.id ? String(variant.id) : undefined,
    sku: variant.sku || undefined,
    name: item.title || variant.title || undefined,
    category: item.type || undefined,
    price: money(variant.price && variant.price.amount),
    currency: (variant.price && variant.price.currencyCode) || undefined,
    url: item.url ? new URL(item.url, init.context.document.location.href).href : undefined,
    image_url: (variant.image && variant.image.src) || undefined,
  };
}

function lines(items) {
  return (items || []).slice(0, 250).map((line) => ({
    ...product(line.variant || line.merchandise),
    quantity: line.quantity || 1,
  }));
}

function add(event, fields) {
  // Shopify's event id is unique per event: a batch sent again counts once.
  visitor = event.clientId;
  const id = String(event.id).replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
  pending.push({ id, occurred_at: event.timestamp, ...fields });
  clearTimeout(timer);
  timer = setTimeout(flush, 1500);
  if (pending.length >= 20) flush();
}

function flush() {
  if (!allowed() || !pending.length || !visitor) return;
  const events = pending.splice(0, 20);
  fetch(`${STOREFLOWS.endpoint}/collect/${encodeURIComponent(STOREFLOWS.store)}`, {
    method: "POST",
    // text/plain: no CORS preflight (one request, not two)
    headers: { "content-type": "text/plain" },
    body: JSON.stringify({ key: STOREFLOWS.key, visitor_id: visitor, consent: true, events }),
    keepalive: true,
  });
  if (pending.length) flush();
}

const customer = init.data && init.data.customer;

analytics.subscribe("page_viewed", (event) => {
  const location = event.context.document.location;
  add(event, { type: "page_viewed", page: { url: location.href, title: event.context.document.title || undefined } });
  // A logged-in customer: the store knows who this browser is.
  if (customer && customer.email) {
    add({ ...event, id: `${event.id}-identify` }, { type: "identify", customer: { email: customer.email } });
  }
});

analytics.subscribe("product_viewed", (event) => {
  add(event, { type: "product_viewed", product: product(event.data.productVariant) });
});

analytics.subscribe("collection_viewed", (event) => {
  const collection = event.data.collection || {};
  add(event, {
    type: "category_viewed",
    category: { category_id: collection.id ? String(collection.id) : undefined, name: collection.title || undefined,
                url: event.context.document.location.href },
  });
});

analytics.subscribe("search_submitted", (event) => {
  const result = event.data.searchResult || {};
  add(event, {
    type: "search",
    query: String(result.query || "").slice(0, 500) || "(empty)",
    result_product_ids: (result.productVariants || [])
      .map((variant) => variant.product && variant.product.id && String(variant.product.id))
      .filter(Boolean)
      .slice(0, 50),
  });
});

// The cart as the page was rendered, plus what is added while the pixel runs: a
// cart_updated names the whole cart, not only the line just added.
const cart = (init.data && init.data.cart) || {};
const cartLines = (cart.lines || []).map((line) => ({ variant: line.merchandise, quantity: line.quantity }));

analytics.subscribe("product_added_to_cart", (event) => {
  const line = event.data.cartLine || {};
  cartLines.push({ variant: line.merchandise, quantity: line.quantity });
  add(event, {
    type: "cart_updated",
    cart: {
      // Shopify's cart id; without one, this browser's cart.
      token: String(cart.id || `pixel-${event.clientId}`).slice(0, 200),
      items: lines(cartLines),
      currency: (line.cost && line.cost.totalAmount && line.cost.totalAmount.currencyCode) || undefined,
    },
  });
});

analytics.subscribe("checkout_started", (event) => {
  const checkout = event.data.checkout || {};
  add(event, {
    type: "checkout_started",
    customer: checkout.email ? { email: checkout.email } : undefined,
    checkout: {
      token: checkout.token,
      items: lines(checkout.lineItems),
      total: money(checkout.totalPrice && checkout.totalPrice.amount),
      currency: checkout.currencyCode || undefined,
    },
  });
});
