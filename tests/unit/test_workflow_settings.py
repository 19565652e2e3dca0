"""Workflow settings as a marketer writes them, and the segments templates 1 and 2 use."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from storeflows.events.purchase import PurchaseEvent
from storeflows.records import Consent, Contact
from storeflows.segments import HasMarketingConsent, InEU
from storeflows.workflows import Workflow
from storeflows.workflows.templates import WorkflowSettings
from storeflows.workflows.templates.purchase_follow_up import PurchaseFollowUpSettings

SETTINGS = TypeAdapter(WorkflowSettings)


def purchase(*items: dict) -> PurchaseEvent:
    return PurchaseEvent.model_validate(
        {
            "type": "purchase",
            "order": {"id": "1", "total": "10", "currency": "EUR", "items": list(items)},
            "customer": {"email": "ana@example.com"},
        }
    )


@pytest.mark.parametrize(
    ("written", "seconds"), [("10d", 864000), ("12h", 43200), ("30m", 1800), ("45s", 45), (90, 90)]
)
def test_durations_are_written_like_a_marketer_and_stored_in_seconds(written, seconds):
    settings = PurchaseFollowUpSettings(thank_you_message="a", follow_up_message="b", follow_up_after=written)
    assert settings.follow_up_after == seconds


@pytest.mark.parametrize("written", ["ten days", "10 weeks", "-1d", "400d"])
def test_nonsense_durations_are_refused(written):
    with pytest.raises(ValidationError):
        PurchaseFollowUpSettings(thank_you_message="a", follow_up_message="b", follow_up_after=written)


def test_the_follow_up_waits_ten_days_unless_told_otherwise():
    assert PurchaseFollowUpSettings(thank_you_message="a", follow_up_message="b").follow_up_after == 10 * 86400


def test_purchase_tags_come_from_categories_and_the_sku_map():
    settings = PurchaseFollowUpSettings(thank_you_message="a", follow_up_message="b", sku_tags={"X-1": "x_owner"})
    tags = settings.purchase_tags(
        purchase({"sku": "X-1", "category": "Summer Dresses"}, {"sku": "Y", "category": "shoes"})
    )
    assert tags == ["bought:shoes", "bought:summer-dresses", "x_owner"]
    assert (
        PurchaseFollowUpSettings(thank_you_message="a", follow_up_message="b", category_tag_prefix="").purchase_tags(
            purchase({"sku": "Y", "category": "shoes"})
        )
        == []
    )


def test_settings_pick_their_template_by_name_and_refuse_unknown_fields():
    parsed = SETTINGS.validate_python(
        {
            "template": "consent_confirmation",
            "eu_consented_message": "a",
            "eu_without_consent_message": "b",
            "outside_eu_message": "c",
        }
    )
    assert parsed.template == "consent_confirmation" and parsed.include_eea is False
    with pytest.raises(ValidationError, match="template"):
        SETTINGS.validate_python({"template": "no_such_template"})
    with pytest.raises(ValidationError, match="typo"):
        SETTINGS.validate_python(
            {"template": "purchase_follow_up", "thank_you_message": "a", "follow_up_message": "b", "typo": 1}
        )


def test_a_workflow_runs_only_when_published_and_triggered():
    settings = {
        "template": "purchase_follow_up",
        "thank_you_message": "a",
        "follow_up_message": "b",
        "trigger": {"categories": ["dresses"]},
    }
    published = Workflow(store_id="s", workflow_id="w", status="published", settings=settings)
    assert published.runs_for(purchase({"category": "dresses"}))
    assert not published.runs_for(purchase({"category": "shoes"}))
    assert not Workflow(store_id="s", workflow_id="w", status="paused", settings=settings).runs_for(
        purchase({"category": "dresses"})
    )


def contact(country: str | None, marketing: bool | None = None) -> Contact:
    consent = (
        None if marketing is None else Consent(marketing=marketing, source="test", updated_at="2026-01-01T00:00:00Z")
    )
    return Contact(store_id="s", email="a@b.cd", country=country, consent=consent, total_spent=Decimal(0))


@pytest.mark.parametrize(
    ("country", "eu", "eea"),
    [("PL", True, True), ("de", True, True), ("NO", False, True), ("US", False, False), (None, False, False)],
)
def test_eu_membership_comes_from_the_country(country, eu, eea):
    assert InEU(type="in_eu").contains(contact(country)) is eu
    assert InEU(type="in_eu", include_eea=True).contains(contact(country)) is eea


def test_marketing_consent_segment():
    segment = HasMarketingConsent(type="has_marketing_consent")
    assert segment.contains(contact("PL", True))
    assert not segment.contains(contact("PL", False))
    assert not segment.contains(contact("PL", None))
    assert not segment.contains(None)


@pytest.mark.parametrize(
    "withdrawn",
    [{"unsubscribed_at": "2026-02-01T00:00:00Z"}, {"suppressed_reason": "bounce"}, {"suppressed_reason": "complaint"}],
)
def test_consent_withdrawn_by_an_unsubscribe_or_a_suppression_is_no_marketing_consent(withdrawn):
    """The consent on record still says yes (an order's ticked box never lifts an unsubscribe):
    the consent confirmation must still take the branch without consent, whose message goes."""
    consented = Contact.model_validate({**contact("PL", True).model_dump(), **withdrawn})
    assert consented.consent is not None and consented.consent.marketing
    assert not HasMarketingConsent(type="has_marketing_consent").contains(consented)


def test_a_care_series_needs_a_product_condition_and_counts_its_delivery_checks():
    from storeflows.workflows.templates.care_series import CareSeriesSettings

    messages = {
        "thank_you_message": "a",
        "delivery_check_message": "b",
        "care_tips_message": "c",
        "cross_sell_message": "d",
    }
    with pytest.raises(ValidationError, match="product condition"):
        CareSeriesSettings(trigger={}, **messages)
    series = CareSeriesSettings(
        trigger={"categories": ["dresses"]},
        delivery={"mode": "event", "check_every": "12h", "timeout": "14d"},
        **messages,
    )
    assert series.delivery.checks == 28
    assert series.cross_sell_after == 5 * 86400, "the seed's 5 days"
    assert (
        CareSeriesSettings(
            trigger={"skus": ["X"]}, delivery={"mode": "event", "check_every": "5d", "timeout": "12d"}, **messages
        ).delivery.checks
        == 3
    ), "rounds up: never gives up early"


def value_settings(*tiers):
    from storeflows.workflows.templates.order_value import OrderValueSettings

    return OrderValueSettings(
        tiers=[{"min_total": lo, "max_total": hi, "message": f"m{i}"} for i, (lo, hi) in enumerate(tiers)]
    )


def test_contiguous_value_tiers_have_no_problems_and_pick_by_total():
    settings = value_settings(("0", "200"), ("200", "500"), ("500", None))
    assert settings.problems() == []
    assert [settings.tier_for(Decimal(t)).message for t in ("0", "199.99", "200", "499.99", "500", "99999")] == [
        "m0",
        "m0",
        "m1",
        "m1",
        "m2",
        "m2",
    ]


@pytest.mark.parametrize(
    ("tiers", "problem"),
    [
        ((("0", "200"), ("150", None)), "overlaps"),
        ((("0", "200"), ("250", None)), "from 200 to 250 get no message (gap)"),
        ((("50", None),), "orders below 50 get no message"),
        ((("0", "200"), ("200", "500")), "500 and more get no message"),
        ((("0", None), ("200", None)), "overlaps"),
    ],
)
def test_threshold_mistakes_are_reported_in_plain_words(tiers, problem):
    assert any(problem in found for found in value_settings(*tiers).problems())


def test_a_win_back_waits_90_days_by_default_or_the_median_and_has_one_to_three_steps():
    from storeflows.workflows.templates.win_back import WinBackSettings

    assert SETTINGS.validate_python({"template": "win_back", "steps": [{"message": "a"}]}).after == 90 * 86400
    assert WinBackSettings(after="median", steps=[{"message": "a"}]).after == "median"
    assert WinBackSettings(after="30d", steps=[{"message": "a"}]).after_seconds("any-store") == 30 * 86400
    with pytest.raises(ValidationError, match="steps"):
        WinBackSettings(steps=[])
    with pytest.raises(ValidationError, match="at most 3"):
        WinBackSettings(steps=[{"message": "a"}] * 4)
    with pytest.raises(ValidationError, match="after"):
        WinBackSettings(after="average", steps=[{"message": "a"}])


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("https://shop.example/p/{product_id}/reviews?order={order_id}", None),
        ("https://shop.example/review?sku={sku}", None),
        ("shop.example/p/{product_id}", "not an absolute http or https URL"),
        ("https://shop.example/p/{handle}", "unknown placeholder {handle}"),
        ("https://shop.example/reviews?order={order_id}", "needs {product_id} or {sku}"),
        ("https://shop.example/p/{product_id}}", "a { or } that is not a placeholder"),
        ("https://shop.example/p/{product_id} x", "must not contain spaces"),
    ],
)
def test_a_review_url_pattern_is_refused_when_the_workflow_is_saved(pattern, problem):
    from storeflows.workflows.templates.review_request import ReviewRequestSettings

    if problem is None:
        assert ReviewRequestSettings(message="review", review_url=pattern).review_url == pattern
        return
    with pytest.raises(ValidationError, match="review_url") as refused:
        ReviewRequestSettings(message="review", review_url=pattern)
    assert problem in str(refused.value)


def test_a_vip_needs_a_threshold_and_crosses_it_on_the_order_that_reaches_it():
    from storeflows.workflows.templates.vip import VipSettings

    with pytest.raises(ValidationError, match="min_total_spent or min_orders"):
        VipSettings(message="vip")
    vip = VipSettings(min_total_spent="300", min_orders=3, message="vip")
    assert vip.tag == "vip"
    assert vip.crosses(2, Decimal("100"), Decimal("10")), "the third order"
    assert vip.crosses(0, Decimal("250"), Decimal("50")), "spend reaches 300 exactly"
    assert not vip.crosses(1, Decimal("100"), Decimal("10")), "below both"
    assert not vip.crosses(3, Decimal("400"), Decimal("10")), "over both before: a VIP already"
    assert VipSettings(min_orders=1, message="vip").crosses(0, Decimal("0"), Decimal("1")), "the first order"


def test_usage_tips_need_a_product_condition_and_take_up_to_five_tips():
    from storeflows.workflows.templates.usage_tips import UsageTipsSettings

    with pytest.raises(ValidationError, match="product condition"):
        UsageTipsSettings(trigger={}, steps=[{"message": "a"}])
    with pytest.raises(ValidationError, match="at most 5"):
        UsageTipsSettings(trigger={"skus": ["X"]}, steps=[{"message": "a"}] * 6)
    tips = UsageTipsSettings(trigger={"skus": ["X"]}, steps=[{"message": "a", "wait": "2d"}])
    assert tips.delivery is None, "the first tip's wait counts from the purchase by default"
