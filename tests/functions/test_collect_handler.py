"""CollectFunction (functions/collect/app.py): POST /collect/{store_id} from the store's pages,
its CORS preflight, and GET /sdk/storeflows.js, against moto.

A good batch is on the event queue as browser events under the page's own ids; every refusal
answers its 4xx and leaves the queue and the table as they were."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storeflows.intake.browser import MAX_BODY_BYTES, MAX_EVENTS_PER_REQUEST, VISITOR_EVENTS_PER_MINUTE

SHOP = "https://shop.example.com"
VISITOR = "v_8f3a2c91d4"
ANA = "ana@example.com"


@pytest.fixture
def browser_store(demo_store):
    from storeflows.admin.stores import set_browser

    store = set_browser(demo_store.store_id, allow_origins=(SHOP,))
    assert store.browser is not None
    return store


@pytest.fixture
def collect(load_handler, lambda_context, make_http_event, browser_store, read_json):
    app = load_handler("collect")

    def post(
        body: Any = None,
        *,
        raw: bytes | None = None,
        origin: str | None = SHOP,
        store_id: str = "demo",
        content_type: str = "text/plain;charset=UTF-8",
    ) -> tuple[int, dict[str, str], Any]:
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"content-type": content_type}
        if origin is not None:
            headers["origin"] = origin
        event = make_http_event(
            "POST",
            "/collect/{store_id}",
            f"/collect/{store_id}",
            headers=headers,
            body=data,
            path_parameters={"store_id": store_id},
        )
        response = app.lambda_handler(event, lambda_context)
        return response["statusCode"], response.get("headers") or {}, read_json(response)

    return post


def batch(*events: dict[str, Any], key: str | None = None, visitor: str = VISITOR, **extra: Any) -> dict[str, Any]:
    from storeflows.storage import stores

    store = stores.get_store("demo")
    assert store is not None and store.browser is not None
    return {
        "key": key or store.browser.public_key,
        "visitor_id": visitor,
        "consent": True,
        "events": list(events),
        **extra,
    }


def page(client_id: str = "e1", url: str = f"{SHOP}/") -> dict[str, Any]:
    return {"id": client_id, "type": "page_viewed", "occurred_at": "2026-11-20T09:00:00Z", "page": {"url": url}}


def everything(aws) -> list[dict[str, Any]]:
    return sorted(aws.table().scan()["Items"], key=lambda item: (item["pk"], item["sk"]))


def test_a_batch_is_queued_as_browser_events_under_the_pages_ids(collect, aws):
    product = {"id": "e2", "type": "product_viewed", "product": {"product_id": "p-1", "name": "Venise dress"}}
    claimed = {"id": "e3", "type": "identify", "customer": {"email": ANA}, "visitor_id": "v_someoneelse1"}
    status, headers, body = collect(batch(page(), product, claimed))
    assert status == 202, body
    assert headers["Access-Control-Allow-Origin"] == SHOP
    assert body["event_ids"] == [f"browser:{VISITOR}:e1", f"browser:{VISITOR}:e2", f"browser:{VISITOR}:e3"]
    queued = {message["event_id"]: message for message in aws.queued_bodies()}
    assert set(queued) == set(body["event_ids"])
    assert {message["source"] for message in queued.values()} == {"browser"}
    # The page speaks for its own browser only, and an address it names is only a claim.
    assert {message["event"]["visitor_id"] for message in queued.values()} == {VISITOR}
    assert queued[f"browser:{VISITOR}:e3"]["identity_proof"] == "claimed"
    assert queued[f"browser:{VISITOR}:e3"]["event"]["customer"]["email"] == ANA


def test_a_beacon_sent_again_queues_the_same_event_ids(collect, aws):
    first = collect(batch(page("e1")))[2]["event_ids"]
    again = collect(batch(page("e1"), page("e1")), content_type="application/json")[2]["event_ids"]
    assert first == again == [f"browser:{VISITOR}:e1"]
    assert [message["event_id"] for message in aws.queued_bodies()] == first * 2


def _refusals() -> list[tuple[str, dict[str, Any], int, str, str]]:
    """(case, how the request differs, status, error code, words of the detail)."""
    oversize = json.dumps({"padding": "x" * MAX_BODY_BYTES}).encode()
    return [
        ("wrong origin", {"origin": "https://evil.example"}, 403, "origin_not_allowed", "https://evil.example"),
        ("no origin", {"origin": None}, 403, "origin_not_allowed", "no Origin header"),
        ("unknown store", {"store_id": "nosuchshop"}, 404, "unknown_store", "no store nosuchshop"),
        ("wrong key", {"key": "pk_notthisstore"}, 403, "invalid_key", "public key"),
        ("purchase", {"events": [{"id": "e1", "type": "purchase"}]}, 400, "invalid_payload", '"purchase" is not'),
        ("consent", {"events": [{"id": "e1", "type": "consent"}]}, 400, "invalid_payload", '"consent" is not'),
        ("subscribed", {"events": [{"id": "e1", "type": "subscribed"}]}, 400, "invalid_payload", '"subscribed"'),
        ("erasure", {"events": [{"id": "e1", "type": "erasure_request"}]}, 400, "invalid_payload", "erasure_request"),
        ("oversize", {"raw": oversize}, 413, "payload_too_large", "limit is 16384"),
        ("malformed", {"raw": b'{"key": "pk_x", "events": [}'}, 400, "invalid_payload", "not valid JSON"),
        ("not an object", {"raw": b"[1, 2]"}, 400, "invalid_payload", "JSON object"),
        (
            "too many events",
            {"events": [page(f"e{n}") for n in range(MAX_EVENTS_PER_REQUEST + 1)]},
            400,
            "invalid_payload",
            "events",
        ),
        ("no events", {"events": []}, 400, "invalid_payload", "events"),
        (
            "html form",
            {"content_type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
            "text/plain",
        ),
        ("no consent", {"consent": None}, 403, "consent_required", "consent"),
        ("bad visitor", {"visitor": "x"}, 400, "invalid_payload", "visitor_id"),
        ("no client id", {"events": [{"type": "page_viewed"}]}, 400, "invalid_payload", "events[0].id"),
        (
            "bad field",
            {"events": [page(), {"id": "e2", "type": "product_viewed", "product": {"url": "javascript:alert(1)"}}]},
            400,
            "invalid_payload",
            "events[1]: product.url",
        ),
    ]


@pytest.mark.parametrize(("case", "change", "status", "error", "words"), _refusals(), ids=[r[0] for r in _refusals()])
def test_a_refused_request_names_why_and_writes_nothing(collect, aws, case, change, status, error, words):
    change = dict(change)
    request = {name: change.pop(name) for name in ("origin", "store_id", "raw", "content_type") if name in change}
    body = batch(page(), key=change.pop("key", None), visitor=change.pop("visitor", VISITOR))
    body.update(change)
    if body.get("consent") is None:
        body.pop("consent")
    before = everything(aws)
    got_status, headers, answer = collect(body, **request)
    assert (got_status, answer["error"]) == (status, error), answer
    assert words in answer["detail"]
    assert aws.queued_bodies() == []
    assert everything(aws) == before
    # Only a page of an allowed origin may read why.
    allowed = request.get("origin", SHOP) == SHOP and request.get("store_id", "demo") == "demo"
    assert headers.get("Access-Control-Allow-Origin") == (SHOP if allowed else None)


def test_a_store_without_browser_settings_takes_no_browser_events(collect, aws):
    from storeflows.admin.stores import create_store

    create_store("plain-shop", "api")
    status, _, answer = collect(batch(page()), store_id="plain-shop")
    assert (status, answer["error"]) == (404, "unknown_store")
    assert "takes no browser events" in answer["detail"]
    assert aws.queued_bodies() == []


def test_a_store_that_needs_no_consent_takes_events_without_it(collect, aws):
    from storeflows.admin.stores import set_browser

    set_browser("demo", consent_required=False)
    body = batch(page())
    body.pop("consent")
    assert collect(body)[0] == 202
    assert len(aws.queued_bodies()) == 1


def test_a_flood_from_one_visitor_is_refused_with_retry_after_and_queues_nothing_more(collect, aws):
    # The count is per clock minute: a flood that straddles a minute's end starts a new count
    # (on a busy machine the rounds take seconds), so it starts early in a minute.
    seconds_left = 60 - datetime.now(UTC).second
    if seconds_left < 20:
        time.sleep(seconds_left + 0.1)
    for round_number in range(VISITOR_EVENTS_PER_MINUTE // MAX_EVENTS_PER_REQUEST):
        events = [page(f"r{round_number}e{n}") for n in range(MAX_EVENTS_PER_REQUEST)]
        assert collect(batch(*events))[0] == 202
    queued = len(aws.queued_bodies())
    assert queued == VISITOR_EVENTS_PER_MINUTE
    before = everything(aws)
    status, headers, answer = collect(batch(page("one-more")))
    assert (status, answer["error"]) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert aws.queued_bodies() == []
    assert everything(aws) == before
    # Another visitor is not held back by this one.
    assert collect(batch(page("e1"), visitor="v_anothervisitor"))[0] == 202


@pytest.fixture
def preflight(load_handler, lambda_context, make_http_event, browser_store):
    app = load_handler("collect")

    def send(origin: str, store_id: str = "demo") -> dict[str, Any]:
        event = make_http_event(
            "OPTIONS",
            "/collect/{store_id}",
            f"/collect/{store_id}",
            headers={"origin": origin, "access-control-request-method": "POST"},
            path_parameters={"store_id": store_id},
        )
        return app.lambda_handler(event, lambda_context)

    return send


def test_the_preflight_answers_allowed_origins_only(preflight, aws):
    allowed = preflight(SHOP)
    assert allowed["statusCode"] == 204
    assert allowed["headers"]["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in allowed["headers"]["Access-Control-Allow-Methods"]
    assert allowed["headers"]["Access-Control-Allow-Headers"] == "content-type"
    refused = preflight("https://evil.example")
    assert refused["statusCode"] == 403
    assert "Access-Control-Allow-Origin" not in (refused.get("headers") or {})


# --- the contact token of an email's link ---------------------------------------------------


def _token_for(email: str, *, store_id: str = "demo", now: datetime | None = None) -> str:
    from storeflows.messaging import contact_links
    from storeflows.storage import browser, stores

    store = stores.get_store(store_id)
    assert store is not None
    browser.keep_contact_link(store_id, email, contact_links.contact_ref(store, email))
    return contact_links.make_token(store, email, now=now or datetime.now(UTC))


def test_an_email_links_token_identifies_the_visitor_as_its_contact(collect, aws):
    token = _token_for(ANA)
    # Whatever address the page adds, the token names whom it was made for.
    identify = {"id": "e2", "type": "identify", "token": token, "customer": {"email": "eve@example.com"}}
    status, _, body = collect(batch(page(), identify))
    assert status == 202 and body["dropped"] == []
    queued = {message["event_id"]: message for message in aws.queued_bodies()}
    identified = queued[f"browser:{VISITOR}:e2"]
    assert identified["identity_proof"] == "email_link"
    assert identified["event"]["customer"] == {"email": ANA}
    assert identified["event"]["visitor_id"] == VISITOR


def _tampered(token: str) -> str:
    ref, expires, mac = token.split(".")
    return f"{ref}.{int(expires) + 86400}.{mac}"


@pytest.mark.parametrize("kind", ["tampered", "expired", "another store's", "an erased contact's", "garbage"])
def test_an_identify_whose_token_does_not_hold_is_dropped_and_the_rest_accepted(collect, aws, kind):
    if kind == "tampered":
        token = _tampered(_token_for(ANA))
    elif kind == "expired":
        token = _token_for(ANA, now=datetime.now(UTC) - timedelta(days=31))
    elif kind == "another store's":
        from storeflows.admin.stores import create_store

        create_store("other-shop", "api")
        token = _token_for(ANA, store_id="other-shop")
    elif kind == "an erased contact's":
        from storeflows.privacy import erase_contact
        from storeflows.storage import contacts

        token = _token_for(ANA)
        contacts.start_profile("demo", ANA)
        erase_contact("demo", ANA, via="test")
    else:
        token = "not-a-token"
    status, _, body = collect(batch(page(), {"id": "e2", "type": "identify", "token": token}))
    assert status == 202
    assert body["dropped"] == [{"id": "e2", "reason": "invalid_token"}]
    assert [message["event"]["type"] for message in aws.queued_bodies()] == ["page_viewed"]


# --- the snippet ------------------------------------------------------------------------------


def test_the_snippet_is_served_as_cacheable_javascript(load_handler, lambda_context, make_http_event, aws):
    app = load_handler("collect")
    event = make_http_event("GET", "/sdk/storeflows.js", "/sdk/storeflows.js")
    response = app.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Content-Type"].startswith("application/javascript")
    assert "max-age=" in headers["Cache-Control"] and headers["Cache-Control"].startswith("public")
    assert "storeflows" in response["body"] and len(response["body"].encode()) < 8 * 1024
    again = make_http_event(
        "GET", "/sdk/storeflows.js", "/sdk/storeflows.js", headers={"If-None-Match": headers["ETag"]}
    )
    unchanged = app.lambda_handler(again, lambda_context)
    assert unchanged["statusCode"] == 304 and not unchanged.get("body")


def checkout(recovery_url: str, **customer: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "type": "checkout_started",
        "customer": {"email": ANA, **customer},
        "checkout": {
            "token": "c-7a1f",
            "items": [{"product_id": "p-1", "name": "Venise dress", "price": "129.90", "url": f"{SHOP}/products/v"}],
            "recovery_url": recovery_url,
        },
    }


@pytest.mark.parametrize(
    "event, field",
    [
        (checkout("https://evil.example/checkouts/c-7a1f"), "checkout.recovery_url"),
        (
            {"id": "p1", "type": "product_viewed", "product": {"product_id": "p-1", "url": "https://evil.example/p"}},
            "product.url",
        ),
        (page(url="http://shop.example.com/"), "page.url"),  # another scheme is another site
    ],
)
def test_a_page_may_only_link_to_the_stores_own_site(collect, aws, event, field):
    """A link a page names ends up in the store's emails (a cart's recovery link): one to
    another site would make the store's own email send its reader anywhere."""
    before = everything(aws)
    status, _, body = collect(batch(event))
    assert status == 400 and f"events[0].{field}" in body["detail"] and "store's own site" in body["detail"], body
    assert aws.queued_bodies() == [] and everything(aws) == before


def test_a_page_claims_an_address_and_nothing_about_it(collect, aws):
    """A consent checkbox, a name or a language from the page would change a contact nobody
    proved it is: only the address goes on, as a claim."""
    status, _, body = collect(batch(checkout(f"{SHOP}/cart", accepts_marketing=True, first_name="Mallory")))
    assert status == 202, body
    (queued,) = aws.queued_bodies()
    assert queued["event"]["customer"] == {"email": ANA} | {
        name: None for name in queued["event"]["customer"] if name != "email"
    }
    assert queued["identity_proof"] == "claimed"


def notify_me(client_id: str = "n1", **product: Any) -> dict[str, Any]:
    """What the snippet's storeflows('notifyMe', {email, product}) sends."""
    return {
        "id": client_id,
        "type": "back_in_stock_requested",
        "customer": {"email": ANA, "accepts_marketing": True, "first_name": "Mallory"},
        "product": {"product_id": "p-1", "variant_id": "v-2", "name": "Venise dress", **product},
    }


def test_notify_me_queues_a_request_for_the_typed_address_as_a_claim(collect, aws):
    from storeflows import dispatch
    from storeflows.events import StoreEvent
    from storeflows.storage import interest, visitors

    status, _, body = collect(batch(notify_me()))
    assert status == 202, body
    (queued,) = aws.queued_bodies()
    assert queued["identity_proof"] == "claimed"
    # The address only: nothing the page says about the person is kept.
    assert queued["event"]["customer"] == {"email": ANA}
    assert dispatch.dispatch_event(StoreEvent.model_validate(queued))["back_in_stock_request"] == "recorded"
    (asked,) = interest.open_requests("demo", ANA)
    assert (asked.product_id, asked.variant_id, asked.proof) == ("p-1", "v-2", "claimed")
    assert visitors.known_email("demo", VISITOR) is None, "a typed address identifies no visitor"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"customer": None}, "customer"),
        ({"customer": {"email": "not an address"}}, "customer.email"),
        ({"product": {"sku": "DRESS-S"}}, "product_id"),
        ({"product": {"product_id": "p-1", "url": "https://elsewhere.example.net/p"}}, "not on the store's own site"),
    ],
    ids=["no address", "bad address", "no product id", "foreign link"],
)
def test_a_notify_me_without_address_or_product_or_with_a_foreign_link_is_refused(collect, aws, change, words):
    event = {**notify_me(), **change}
    if event["customer"] is None:
        del event["customer"]
    before = everything(aws)
    status, _, body = collect(batch(event))
    assert status == 400 and body["error"] == "invalid_payload" and words in body["detail"], body
    assert aws.queued_bodies() == [] and everything(aws) == before
