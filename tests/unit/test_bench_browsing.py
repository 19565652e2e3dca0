"""The bench's browsing part without the stack: the workload it posts (what the collect
endpoint accepts, as the snippet sends it), the check that no page view starts a run, and
the arithmetic from measured calls to the cost per 100,000 page views and per recovered
checkout, with the target shown met or missed as it is."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from storeflows_bench import browsing, costs, model, report
from storeflows_bench.calls import FUNCTION_PREFIX, Call, Invocation, Ledger
from storeflows_bench.dynamodb import capacity, item_size
from storeflows_bench.measure import BROWSING, ENGAGEMENT, BrowsingTally, Tally, browsing_tally, check_browsing
from storeflows_bench.replay import Browsing, Replay, Run

KEY = "pk_bench"


def test_the_plan_is_the_same_for_a_seed_and_a_mix_of_pages_carts_and_checkouts():
    planned = browsing.plan(200, seed=1)
    assert [s.visitor_id for s in planned] == [s.visitor_id for s in browsing.plan(200, seed=1)]
    mix = browsing.mix(planned)
    assert 4.5 <= mix["page_views"] / mix["sessions"] <= 5.5
    # One page_viewed per page, as init sends it; product pages add their product_viewed.
    assert mix["events_page_viewed"] == mix["page_views"]
    assert 0.25 < mix["events_product_viewed"] / mix["page_views"] < 0.45
    assert mix["events_identify"] == mix["identified_sessions"] == sum(1 for s in planned if s.email)
    checkouts = [s for s in planned if s.checkout_token]
    assert checkouts and all(s.email for s in checkouts), "a checkout of an identified visitor only"
    assert any(s.cart_token for s in checkouts) and any(not s.cart_token for s in checkouts)
    assert {s.buys_after_reminder for s in checkouts} == {True, False}
    assert not any(s.buys_after_reminder for s in planned if not s.checkout_token)


def test_every_page_is_one_request_the_collect_endpoint_accepts_whole():
    from storeflows.intake.browser import _events
    from storeflows.records import BrowserSettings, Store

    store = Store(
        store_id=browsing.BROWSING_STORE,
        unsubscribe_key="k",
        browser=BrowserSettings(public_key=KEY, allowed_origins=[browsing.ORIGIN]),
    )
    assert store.browser is not None and store.browser.consent_required
    now = datetime.now(UTC)
    for session in browsing.plan(60, seed=3):
        for page in session.pages:
            body = json.dumps(browsing.batch(KEY, session, page)).encode()
            visitor, events, dropped = _events(store, "text/plain", body, now)
            assert visitor == session.visitor_id and dropped == []
            assert [e.event.type for e in events] == [e["type"] for e in page.events]


def test_a_recovered_checkouts_purchase_names_its_checkout_and_cart():
    from storeflows.events.purchase import PurchaseEvent

    (session,) = [s for s in browsing.plan(200, seed=1) if s.checkout_token and s.cart_token][:1]
    order = PurchaseEvent.model_validate(browsing.purchase_body(session, "R-1")).order
    assert (order.checkout_token, order.cart_token) == (session.checkout_token, session.cart_token)
    assert str(order.total) == browsing._total(session.checkout_items)


def test_a_batch_write_costs_each_put_and_delete_as_on_its_own():
    small = {"pk": {"S": "A"}, "sk": {"S": "B"}, "v": {"S": "x" * 100}}
    large = {"pk": {"S": "A"}, "sk": {"S": "C"}, "v": {"S": "x" * 1500}}
    request = {
        "RequestItems": {
            "T": [
                {"PutRequest": {"Item": small}},
                {"PutRequest": {"Item": large}},
                {"DeleteRequest": {"Key": {"pk": {"S": "A"}, "sk": {"S": "D"}}}},
            ]
        }
    }
    assert item_size(large) > 1024
    assert capacity("BatchWriteItem", request, {}) == (0.0, 1 + 2 + 1)


def _dispatch(types: list[str], calls: list[tuple[str, str]]) -> Invocation:
    records = [
        {"body": json.dumps({"event": {"type": t, **({"session_id": "s1"} if t == "session_check" else {})}})}
        for t in types
    ]
    invocation = Invocation("DispatchFunction", {"Records": records}, seconds=0.01, failed=False, part="browsing")
    invocation.calls = [Call(FUNCTION_PREFIX + "DispatchFunction", s, o, part="browsing") for s, o in calls]
    return invocation


def _replay(invocations: list[Invocation], runs: list[Run], page_views: int) -> Replay:
    ledger = Ledger()
    ledger.invocations = invocations
    ledger.calls = [call for invocation in invocations for call in invocation.calls]
    return Replay(
        purchases=0,
        contacts=0,
        seed=1,
        mix={},
        seconds=0,
        ledger=Ledger(),
        runs=[],
        item_sizes={},
        custom_metrics=set(),
        memory_mb={"DispatchFunction": 256, "CollectFunction": 256},
        browsing=Browsing(
            mix={"page_views": page_views},
            seconds=1,
            ledger=ledger,
            runs=runs,
            recovered_runs=[],
            recoveries=Ledger(),
            sessions=[browsing.Session("v_known", "ana@bench.example", pages=[])],
        ),
    )


def test_a_run_started_by_a_batch_of_page_views_alone_fails_the_bench():
    start = ("stepfunctions", "StartExecution")
    run = Run("browse_abandonment", "SUCCEEDED", ["Send"], 0, name="r1")
    by_check = _replay([_dispatch(["page_viewed", "session_check"], [start])], [run], page_views=1)
    measured = browsing_tally(by_check)
    assert measured.starts_by_page_views == 0 and measured.watched_sessions == 1
    check_browsing(measured, [run])
    with pytest.raises(RuntimeError, match="more runs than sessions"):
        check_browsing(measured, [run, Run("site_abandonment", "SUCCEEDED", ["Send"], 0, name="r2")])

    by_views = browsing_tally(_replay([_dispatch(["page_viewed", "product_viewed"], [start])], [run], page_views=2))
    assert by_views.starts_by_page_views == 1
    with pytest.raises(RuntimeError, match="started by batches of page views alone"):
        check_browsing(by_views, [run])


def _measured(*, collect_requests: int, records: Counter[str], watched: int, page_views: int) -> BrowsingTally:
    page = Tally(units=0, calls=Counter({("sqs", "SendMessageBatch"): collect_requests}))
    return BrowsingTally(
        page_views=page_views,
        collect_requests=collect_requests,
        records=records,
        watched_sessions=watched,
        tallies={BROWSING: page, ENGAGEMENT: Tally()},
        subjects={"sessions": watched, "carts": 0, "checkouts": 0},
        recovered=Tally(),
        recoveries=Tally(),
        starts_by_page_views=0,
        dispatch_gb_seconds=0.0,
    )


def test_page_views_cost_their_requests_events_and_the_session_checks_aws_would_make():
    prices = costs.load_prices()
    # 10 page views, one request each, 15 events, one watched session checked once here.
    measured = _measured(
        collect_requests=10,
        records=Counter({"page_viewed": 10, "product_viewed": 5, "session_check": 1}),
        watched=1,
        page_views=10,
    )
    functions = ("CollectFunction", "DispatchFunction")
    figures = model.browsing_figures(
        measured, init_seconds=dict.fromkeys(functions, 0.0), memory_mb=dict.fromkeys(functions, 256)
    )
    bill = model.per_page_views(figures, prices, with_runs=False)
    lines = {line.term: line.quantity for line in bill.lines}
    extra = model.SESSION_CHECKS_IN_AWS - 1
    assert lines["api_gateway_http_request"] == pytest.approx(100_000)
    # Lambda: a collect request per page, and a dispatcher invocation per event and per check.
    assert lines["lambda_request"] == pytest.approx((10 + 16 + extra) * 10_000)
    # SQS: the batch sends, the poller's receive and delete per event, 3 per check hop added.
    assert lines["sqs_request"] == pytest.approx((10 + 2 * 16 + 3 * extra) * 10_000)
    assert lines["xray_trace_recorded"] == pytest.approx((16 + extra) * 10_000), "the collect function is untraced"


@pytest.mark.parametrize(("usd", "verdict"), [(0.42, "MET"), (2.48, "MISSED")])
def test_the_table_says_whether_the_page_view_target_is_met(usd, verdict):
    bill = {"infrastructure_usd": usd, "postage_usd": 0.6, "total_usd": usd + 0.6, "lines": []}
    bill["dominant"] = {"term": "xray_trace_recorded", "usd": usd / 2}
    doc = {
        "workload": {"sessions": 2, "page_views": 10, "identified_sessions": 1, "events": 15, "seconds": 3},
        "per_page_view": {
            "collect_requests": 1,
            "events_dispatched": 1.5,
            "session_checks": 0.1,
            "session_checks_added_for_aws": 0.2,
            "read_units": 1,
            "write_units": 2,
            "by_operation": {},
        },
        "runs": {
            "executions_started_by_page_views": 0,
            "by_template": {},
            "executions_per_100000_page_views": 0,
            "emails_per_100000_page_views": 0,
        },
        "per_100000_page_views": bill,
        "per_100000_page_views_browsing_alone": bill,
        "recovered_checkouts": 1,
        "per_recovered_checkout": {**bill, "emails": 2},
    }
    (line,) = [line for line in report._browsing_lines(doc) if "100,000 page views, all included" in line]
    assert f"${usd:.4f} ({verdict}: target $0.50; dominant: X-Ray traces" in line
