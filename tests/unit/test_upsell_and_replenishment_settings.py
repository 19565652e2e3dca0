"""The thank-you upsell and replenishment templates' settings, and their example messages
checked as `messages apply` checks them (with each template's sample subject)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from storeflows.admin.files import load_message_yaml
from storeflows.events.subjects import EventSubject, OrderSubject
from storeflows.messaging.checks import check_rendering
from storeflows.records import Store
from storeflows.workflows.templates.order_value import OrderValueSettings
from storeflows.workflows.templates.replenishment import ReplenishmentSettings
from storeflows.workflows.templates.thank_you_upsell import ThankYouUpsellSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "messages"


def example(name: str):
    path = EXAMPLES / f"{name}.yaml"
    return load_message_yaml(path.read_text("utf-8"), base_dir=path.parent)


@pytest.mark.parametrize(
    ("message", "template"),
    [
        ("thanks-and-recommendations", ThankYouUpsellSettings),
        ("time-to-reorder", ReplenishmentSettings),
        ("time-to-reorder-last-call", ReplenishmentSettings),
    ],
)
def test_the_example_messages_render_for_their_template_and_not_for_a_plain_order(message, template):
    store = Store(store_id="demo", unsubscribe_key="k")
    assert check_rendering(store, example(message), template.sample_subjects()).problems == ()
    plain = check_rendering(store, example(message), OrderValueSettings.sample_subjects()).problems
    assert plain and all("is undefined" in problem for problem in plain), "they use the template's own context"


def test_defaults_and_bounds():
    upsell = ThankYouUpsellSettings(message="thanks")
    assert (upsell.delay, upsell.max_products, upsell.when_nothing_to_recommend) == (0, 4, "send")
    with pytest.raises(ValidationError, match="max_products"):
        ThankYouUpsellSettings(message="thanks", max_products=13)
    with pytest.raises(ValidationError, match="delay"):
        ThankYouUpsellSettings(message="thanks", delay="8d")
    reminders = ReplenishmentSettings(reminder_message="reorder")
    assert (reminders.remind_before, reminders.second_reminder_message, reminders.learn_min_repeats) == (0, None, 10)
    with pytest.raises(ValidationError, match="second_reminder_after must be more than 0s"):
        ReplenishmentSettings(reminder_message="reorder", second_reminder_message="again", second_reminder_after="0s")


def test_the_upsell_runs_once_per_order_keyed_by_the_order():
    settings = ThankYouUpsellSettings(message="thanks", max_products=2, when_nothing_to_recommend="skip")
    [subject] = settings.run_subjects(None, "ana@example.com", OrderSubject(order_id="1001"))  # type: ignore[arg-type]
    assert (subject.key, subject.max_products, subject.skip_when_none) == ("1001", 2, True)
    assert settings.run_subjects(None, "ana@example.com", EventSubject(event_type="consent", event_id="e1")) == []  # type: ignore[arg-type]


def test_the_template_registry_does_not_start_observability_before_the_environment_is_set():
    """Powertools reads its metrics namespace when storeflows.observability is imported: the
    local stack and the bench import the registry before they set the functions' environment,
    so importing it (and with it these templates' domain modules) must not import that."""
    import os
    import subprocess
    import sys

    probe = "import sys, storeflows.workflows.templates; print('storeflows.observability' in sys.modules)"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=environment)
    assert answer.stdout.strip() == "False"
