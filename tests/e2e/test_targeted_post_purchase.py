"""Template 3 end to end: signed purchases in, the right emails out, tags and score kept.

Everything runs for real on the local stack: the ingest and dispatch functions, the SQS
queue, the state machine from statemachines/ executed by moto, and SES."""

from __future__ import annotations

import pytest

from storeflows.workflows.runs import run_name
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import wait_for, wait_for_run, wait_until_quiet

WORKFLOW = "targeted-post-purchase"
FIRST = "Thank you for your first order"
SECOND = "You came back! Thanks for your second order"
REPEAT = "Thanks for shopping with us again"

pytestmark = pytest.mark.e2e


def buy(stack, email: str, order_id: str, **details) -> dict:
    response = post_event(stack.api_url, "demo", stack.webhook_secret, purchase(order_id, email, **details))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "accepted"
    return wait_for_run(stack.state_machine_arn, run_name("demo", order_id, WORKFLOW))


def subjects(stack, email: str) -> list[str]:
    return [message["subject"] for message in stack.outbox(email)]


def test_first_second_and_later_purchases_take_the_three_paths(stack, email):
    execution = buy(stack, email, f"{email}-1", first_name="Ana")
    assert execution["status"] == "SUCCEEDED"
    assert subjects(stack, email) == [f"{FIRST}, Ana!"]
    contact = stack.contact(email)
    assert contact["tags"] == ["first_purchase_customer"]
    assert contact["score"] == 0

    buy(stack, email, f"{email}-2", first_name="Ana")
    assert subjects(stack, email)[1] == f"{SECOND}, Ana"
    contact = stack.contact(email)
    assert contact["tags"] == ["repeat_customer"]
    assert contact["score"] == 0

    buy(stack, email, f"{email}-3", first_name="Ana")
    buy(stack, email, f"{email}-4", first_name="Ana")
    assert subjects(stack, email)[2:] == [f"{REPEAT}, Ana", f"{REPEAT}, Ana"]
    contact = stack.contact(email)
    assert contact["tags"] == ["repeat_customer"]
    assert contact["score"] == 20, "+10 for each purchase of a repeat customer"
    assert contact["orders_count"] == 4
    assert [send["status"] for send in contact["sends"]] == ["sent"] * 4


def test_the_email_carries_the_order_and_marketing_mail_carries_one_click_unsubscribe(stack, email):
    buy(
        stack,
        email,
        f"{email}-1",
        first_name="Zoë",
        total="129.90",
        items=[{"sku": "VENISE-DRESS", "name": "Venise dress", "quantity": 1, "price": "129.90"}],
    )
    first = stack.outbox(email)[0]
    assert first["to"] == email
    assert first["from"] == "Demo Store <shop@storeflows.test>"
    assert first["reply_to"] == "care@storeflows.test"
    assert "129.90 EUR" in first["html"] and "Venise dress" in first["html"]
    assert "List-Unsubscribe" not in first["headers"], "the first-purchase thanks is transactional"

    buy(stack, email, f"{email}-2", first_name="Zoë")
    second = stack.outbox(email)[1]
    assert second["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert second["headers"]["List-Unsubscribe"].startswith(f"<{stack.api_url}/unsubscribe?token=")


def test_unsubscribing_stops_later_marketing_email_but_not_the_scoring(stack, email):
    buy(stack, email, f"{email}-1")
    buy(stack, email, f"{email}-2")
    link = stack.outbox(email)[1]["headers"]["List-Unsubscribe"].strip("<>")

    import requests

    answer = requests.post(
        link,
        data="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert stack.contact(email)["unsubscribed_at"] is not None

    buy(stack, email, f"{email}-3")
    assert len(stack.outbox(email)) == 2, "no repeat-purchase email after the unsubscribe"
    contact = stack.contact(email)
    skipped = [send for send in contact["sends"] if send["status"] == "skipped"]
    assert [(send["message_id"], send["reason"]) for send in skipped] == [("repeat-purchase-thanks", "unsubscribed")]
    assert contact["score"] == 10


def test_a_customer_without_marketing_consent_gets_only_the_transactional_thanks(stack, email):
    buy(stack, email, f"{email}-1", accepts_marketing=False)
    buy(stack, email, f"{email}-2", accepts_marketing=False)
    assert subjects(stack, email) == [f"{FIRST}, Ana!"]
    contact = stack.contact(email)
    assert contact["tags"] == ["repeat_customer"], "the workflow still moves the customer on"
    reasons = {send["message_id"]: send.get("reason") for send in contact["sends"]}
    assert reasons == {"first-purchase-thanks": None, "second-purchase-thanks": "no_marketing_consent"}


def test_a_draft_workflow_does_not_run(stack, email, storage):
    from storeflows.records import Store
    from storeflows.workflows import Workflow, WorkflowStatus
    from storeflows.workflows.templates.targeted_post_purchase import TargetedPostPurchaseSettings

    storage.stores.put_store(
        Store(store_id="draft-shop", webhook_secret=stack.webhook_secret, unsubscribe_key="k" * 43)
    )
    storage.workflows.put_workflow(
        Workflow(
            store_id="draft-shop",
            workflow_id=WORKFLOW,
            status=WorkflowStatus.DRAFT,
            settings=TargetedPostPurchaseSettings(
                first_purchase_message="m1", second_purchase_message="m2", repeat_purchase_message="m3"
            ),
        )
    )
    response = post_event(stack.api_url, "draft-shop", stack.webhook_secret, purchase("D-1", email))
    assert response.status_code == 202
    wait_for(lambda: stack.contact(email, store_id="draft-shop"), what="the purchase to be recorded")
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    import boto3

    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    assert run_name("draft-shop", "D-1", WORKFLOW) not in {execution["name"] for execution in executions}
    assert stack.outbox(email) == []
    assert stack.contact(email, store_id="draft-shop")["orders_count"] == 1, "the purchase itself is still recorded"


def test_a_product_filter_limits_the_workflow_to_matching_purchases(stack, email, storage):
    from storeflows.records import Store
    from storeflows.workflows import Workflow, WorkflowStatus
    from storeflows.workflows.templates.targeted_post_purchase import TargetedPostPurchaseSettings
    from storeflows.workflows.triggers import PurchaseTrigger

    storage.stores.put_store(
        Store(store_id="dress-shop", webhook_secret=stack.webhook_secret, unsubscribe_key="k" * 43)
    )
    storage.workflows.put_workflow(
        Workflow(
            store_id="dress-shop",
            workflow_id=WORKFLOW,
            status=WorkflowStatus.PUBLISHED,
            settings=TargetedPostPurchaseSettings(
                trigger=PurchaseTrigger(categories=["dresses"]),
                first_purchase_message="m1",
                second_purchase_message="m2",
                repeat_purchase_message="m3",
            ),
        )
    )
    shoes = [{"sku": "SHOE-1", "name": "Shoe", "category": "shoes", "quantity": 1, "price": "10.00"}]
    assert (
        post_event(stack.api_url, "dress-shop", stack.webhook_secret, purchase("S-1", email, items=shoes)).status_code
        == 202
    )
    wait_for(lambda: stack.contact(email, store_id="dress-shop"), what="the purchase to be recorded")
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    import boto3

    names = {
        e["name"]
        for e in boto3.client("stepfunctions").list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    }
    assert run_name("dress-shop", "S-1", WORKFLOW) not in names


def test_a_run_replayed_for_the_same_order_neither_scores_nor_sends_twice(stack, email):
    import json

    import boto3

    for n in (1, 2, 3):
        execution = buy(stack, email, f"{email}-{n}")
    assert stack.contact(email)["score"] == 10
    sfn = boto3.client("stepfunctions")
    replay = sfn.start_execution(
        stateMachineArn=stack.state_machine_arn,
        name=f"replay-{email.split('@')[0]}",
        input=sfn.describe_execution(executionArn=execution["executionArn"])["input"],
    )
    wait_for(
        lambda: sfn.describe_execution(executionArn=replay["executionArn"])["status"] == "SUCCEEDED",
        what="the replayed run",
    )
    history = sfn.get_execution_history(executionArn=replay["executionArn"], maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered[-2:] == ["AddPurchaseScore", "RepeatPurchaseHandled"]
    assert stack.contact(email)["score"] == 10, "the score ledger refused a second +10 for the same order"
    assert len(stack.outbox(email)) == 3, "the send step is idempotent per order and step"
    assert json.loads(sfn.describe_execution(executionArn=replay["executionArn"])["output"])["sent"]["status"] == "sent"
