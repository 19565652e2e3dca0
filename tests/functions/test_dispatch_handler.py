"""DispatchFunction (functions/dispatch/app.py) with SQS batches, against moto.

One purchase is recorded on the contact once per order, and each published workflow whose
trigger matches gets exactly one Step Functions run per order, however often the event is
delivered and whichever Shopify topic (orders/create, orders/paid) delivers it. Shopify's
customers/redact erases the customer and stops their runs; customers/data_request is kept
for the operator to answer. A cancelled order stops its runs, leaves the contact's totals
and never starts a run again, whatever arrives after it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from storeflows.events import StoreEvent
from storeflows.events.cancellation import CancelledEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.intake.shopify import data_request_from_shopify, erasure_from_shopify, purchase_from_shopify
from storeflows.observability import logger
from storeflows.records import Store
from storeflows.storage import contacts, keys, sends, stores, workflows
from storeflows.storage import privacy as privacy_store
from storeflows.workflows import Workflow, WorkflowStatus, runs
from storeflows.workflows.runs import run_name
from storeflows.workflows.triggers import PurchaseTrigger
from storeflows_local.signing import purchase

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHOPIFY_ORDER_ID = "820982911946154508"
SHOPIFY_EMAIL = "jon@example.com"


def shopify_purchase() -> PurchaseEvent:
    """The Shopify sample order, parsed as the ingest parses it."""
    return purchase_from_shopify(
        json.loads((FIXTURES / "shopify_orders_create.json").read_text("utf-8"), parse_float=Decimal)
    )


def store_event(event_id: str, purchase_event: PurchaseEvent | CancelledEvent, *, store_id: str = "demo") -> str:
    """The queue message body the ingest would have sent."""
    source = "shopify" if event_id.startswith("shopify:") else "api"
    return StoreEvent(
        store_id=store_id,
        event_id=event_id,
        source=source,
        received_at=datetime.now(UTC),
        event=purchase_event,
    ).model_dump_json()


@pytest.fixture
def sqs_event(aws):
    """An SQS event as Lambda's event source mapping delivers it: (message id, body) pairs."""

    def build(*records: tuple[str, str]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": message_id,
                    "receiptHandle": f"handle-{message_id}",
                    "body": body,
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1740824100000",
                        "SenderId": "AIDAEXAMPLE",
                        "ApproximateFirstReceiveTimestamp": "1740824100001",
                    },
                    "messageAttributes": {},
                    "md5OfBody": "0" * 32,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": aws.queue_arn,
                    "awsRegion": "us-east-1",
                }
                for message_id, body in records
            ]
        }

    return build


@pytest.fixture
def dispatch(load_handler, demo_store, lambda_context):
    app = load_handler("dispatch")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        return app.lambda_handler(event, lambda_context)

    invoke.app = app
    return invoke


def demo_workflow(**changes: Any) -> Workflow:
    """The demo store's workflow with some settings or status changed."""
    (workflow,) = workflows.list_workflows("demo")
    settings = workflow.settings.model_copy(update=changes.pop("settings", {}))
    return workflow.model_copy(update={"settings": settings, **changes})


def test_purchase_starts_one_run_and_is_recorded_on_the_contact(dispatch, sqs_event, aws, demo_store):
    event_id = "shopify:98880550-7158-44d4-b7cd-2c97c8a091b5"

    response = dispatch(sqs_event(("m-1", store_event(event_id, shopify_purchase()))))

    assert response == {"batchItemFailures": []}
    (run,) = aws.executions()
    assert run["name"] == run_name("demo", SHOPIFY_ORDER_ID, demo_store.workflow_id)
    assert run["input"]["email"] == SHOPIFY_EMAIL
    assert run["input"]["event_id"] == event_id
    assert run["input"]["subject_key"] == SHOPIFY_ORDER_ID
    assert run["input"]["send"]["subject"] == {"type": "order", "order_id": SHOPIFY_ORDER_ID}
    assert (run["input"]["send"]["store_id"], run["input"]["send"]["email"]) == ("demo", SHOPIFY_EMAIL)
    assert run["input"]["settings"]["first_purchase_message"] == "first-purchase-thanks"
    assert run["input"]["contact_key"] == keys.as_attribute_values(keys.contact_key("demo", SHOPIFY_EMAIL))

    contact = contacts.get_contact("demo", SHOPIFY_EMAIL)
    assert contact is not None
    assert contact.orders_count == 1
    assert contact.total_spent == Decimal("404.95")
    assert (contact.first_name, contact.last_name) == ("John", "Smith")
    assert contact.consent is not None and contact.consent.marketing is True
    orders = [item for item in contacts.contact_history("demo", SHOPIFY_EMAIL) if item["sk"].startswith("ORDER#")]
    assert [(item["order_id"], item["total"]) for item in orders] == [(SHOPIFY_ORDER_ID, Decimal("404.95"))]


def test_redelivered_record_changes_nothing(dispatch, sqs_event, aws):
    body = store_event("shopify:evt-1", shopify_purchase())
    first = dispatch(sqs_event(("m-1", body)))
    table_after_first = aws.table().scan(ConsistentRead=True)["Items"]

    second = dispatch(sqs_event(("m-1-again", body)))

    assert first == second == {"batchItemFailures": []}
    assert len(aws.executions()) == 1
    assert contacts.get_contact("demo", SHOPIFY_EMAIL).orders_count == 1
    assert aws.table().scan(ConsistentRead=True)["Items"] == table_after_first, (
        "no counter, profile field or best-seller count may move on a redelivery"
    )


def emitted_metrics(out: str) -> set[str]:
    """The metric names in the EMF records printed since the last read."""
    return {
        metric["Name"]
        for line in out.splitlines()
        if line.startswith('{"_aws"')
        for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }


def test_orders_paid_after_orders_create_does_not_start_a_second_run(dispatch, sqs_event, aws, demo_store, capsys):
    dispatch(sqs_event(("m-create", store_event("shopify:create-event", shopify_purchase()))))
    first = emitted_metrics(capsys.readouterr().out)

    response = dispatch(sqs_event(("m-paid", store_event("shopify:paid-event", shopify_purchase()))))

    assert "WorkflowRunsStarted" in first and "WorkflowRunsDeduplicated" not in first, (
        "a metric published only when it happens (each is billed per month)"
    )
    assert "WorkflowRunsDeduplicated" in emitted_metrics(capsys.readouterr().out)
    assert response == {"batchItemFailures": []}
    assert [run["name"] for run in aws.executions()] == [run_name("demo", SHOPIFY_ORDER_ID, demo_store.workflow_id)]
    contact = contacts.get_contact("demo", SHOPIFY_EMAIL)
    assert contact.orders_count == 1
    assert contact.total_spent == Decimal("404.95")


def test_next_order_of_the_same_customer_gets_its_own_run(dispatch, sqs_event, aws, demo_store):
    second_order = PurchaseEvent.model_validate(purchase("A-2", SHOPIFY_EMAIL, total="129.90"))

    dispatch(sqs_event(("m-1", store_event("shopify:evt-1", shopify_purchase()))))
    dispatch(sqs_event(("m-2", store_event("api:msg-2", second_order))))

    assert sorted(run["name"] for run in aws.executions()) == sorted(
        [run_name("demo", SHOPIFY_ORDER_ID, demo_store.workflow_id), run_name("demo", "A-2", demo_store.workflow_id)]
    )
    contact = contacts.get_contact("demo", SHOPIFY_EMAIL)
    assert contact.orders_count == 2
    assert contact.total_spent == Decimal("534.85")


@pytest.mark.parametrize("status", [WorkflowStatus.DRAFT, WorkflowStatus.PAUSED])
def test_unpublished_workflow_starts_no_run_but_the_purchase_is_recorded(dispatch, sqs_event, aws, status):
    workflows.put_workflow(demo_workflow(status=status))

    response = dispatch(sqs_event(("m-1", store_event("shopify:evt-1", shopify_purchase()))))

    assert response == {"batchItemFailures": []}
    assert aws.executions() == []
    assert contacts.get_contact("demo", SHOPIFY_EMAIL).orders_count == 1


def test_an_edit_of_the_published_workflow_leaves_it_running_with_its_own_settings(dispatch, sqs_event, aws):
    from storeflows.admin.workflows import apply_workflow

    published = demo_workflow()
    # A draft with a typo: the message does not exist, and it is not published.
    draft, live = apply_workflow(demo_workflow(settings={"first_purchase_message": "frist-purchase-thanks"}))
    assert (draft.status, draft.version, live.version) == (
        WorkflowStatus.DRAFT,
        published.version + 1,
        published.version,
    )

    dispatch(sqs_event(("m-1", store_event("shopify:evt-1", shopify_purchase()))))

    (run,) = aws.executions()
    assert run["input"]["workflow_version"] == published.version
    assert run["input"]["settings"]["first_purchase_message"] == "first-purchase-thanks"
    assert workflows.list_workflows("demo") == [published], "the dispatcher's query sees the live version only"


@pytest.mark.parametrize(
    "trigger, runs",
    [
        pytest.param(PurchaseTrigger(skus=["NOT-IN-THIS-ORDER"]), 0, id="sku-not-in-order"),
        pytest.param(PurchaseTrigger(categories=["dresses"]), 0, id="category-not-in-order"),
        pytest.param(PurchaseTrigger(skus=["NOT-IN-THIS-ORDER", "SKU2006-020"]), 1, id="one-sku-in-order"),
    ],
)
def test_product_filter_decides_whether_the_workflow_runs(dispatch, sqs_event, aws, trigger, runs):
    workflows.put_workflow(demo_workflow(settings={"trigger": trigger}))

    dispatch(sqs_event(("m-1", store_event("shopify:evt-1", shopify_purchase()))))

    assert len(aws.executions()) == runs
    assert contacts.get_contact("demo", SHOPIFY_EMAIL).orders_count == 1


def test_every_matching_published_workflow_gets_a_run(dispatch, sqs_event, aws):
    second = demo_workflow(workflow_id="second-workflow")
    workflows.put_workflow(second)

    dispatch(sqs_event(("m-1", store_event("shopify:evt-1", shopify_purchase()))))

    assert sorted(run["name"] for run in aws.executions()) == sorted(
        run_name("demo", SHOPIFY_ORDER_ID, workflow_id) for workflow_id in ("targeted-post-purchase", "second-workflow")
    )


@pytest.mark.parametrize(
    "bad_body",
    [
        pytest.param("not json at all", id="not-json"),
        pytest.param(json.dumps({"store_id": "demo", "event_id": "x"}), id="missing-fields"),
        pytest.param(
            json.dumps(
                {
                    **json.loads(store_event("api:x", PurchaseEvent.model_validate(purchase("B-1", "b@example.com")))),
                    "source": "carrier-pigeon",
                }
            ),
            id="unknown-source",
        ),
    ],
)
def test_malformed_record_fails_alone(dispatch, sqs_event, aws, bad_body, monkeypatch):
    good_body = store_event("shopify:evt-1", shopify_purchase())
    logged = []
    monkeypatch.setattr(logger, "error", lambda message, extra=None: logged.append((message, extra)))

    response = dispatch(sqs_event(("bad-1", bad_body), ("good-1", good_body)))

    assert response == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    assert len(aws.executions()) == 1
    assert contacts.get_contact("demo", SHOPIFY_EMAIL).orders_count == 1
    ((message, failure),) = logged
    assert (message, failure["sqs_message_id"]) == ("event failed, left on the queue", "bad-1")
    assert failure["error_type"] == "ValidationError" and failure["invalid_fields"], "the operator needs the cause"
    assert all(data not in json.dumps(failure) for data in ("not json at all", "b@example.com", "carrier-pigeon")), (
        "never the data it failed on"
    )


def test_record_for_a_store_without_workflows_only_records_the_purchase(dispatch, sqs_event, aws):
    stores.put_store(Store(store_id="quiet-store", unsubscribe_key="k" * 43))
    body = store_event(
        f"api:{uuid.uuid4().hex}",
        PurchaseEvent.model_validate(purchase("Q-1", "q@example.com")),
        store_id="quiet-store",
    )

    assert dispatch(sqs_event(("m-1", body))) == {"batchItemFailures": []}
    assert aws.executions() == []
    assert contacts.get_contact("quiet-store", "q@example.com").orders_count == 1


# --- Shopify compliance topics -------------------------------------------------------------------


def compliance_event(event_id: str, fixture: str, email: str = SHOPIFY_EMAIL) -> str:
    """The queue message body the ingest makes of a Shopify compliance webhook, for the customer
    of the sample order (Shopify's samples name two spellings of John)."""
    payload = json.loads((FIXTURES / fixture).read_text("utf-8"))
    payload["customer"]["email"] = email
    body = (erasure_from_shopify if fixture == "shopify_customers_redact.json" else data_request_from_shopify)(payload)
    return StoreEvent(
        store_id="demo", event_id=event_id, source="shopify", received_at=datetime.now(UTC), event=body
    ).model_dump_json()


def test_a_redact_stops_the_customers_run_and_erases_them(dispatch, sqs_event, aws, demo_store, monkeypatch):
    dispatch(sqs_event(("m-1", store_event("shopify:evt-1", shopify_purchase()))))
    (run,) = aws.executions()
    logged = []
    monkeypatch.setattr(logger, "info", lambda message, extra=None: logged.append((message, extra)))

    response = dispatch(sqs_event(("m-2", compliance_event("shopify:redact-1", "shopify_customers_redact.json"))))

    assert response == {"batchItemFailures": []}
    arn = runs.execution_arn(aws.state_machine_arn, run["name"])
    assert boto3.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert aws.items(keys.contact_pk("demo", SHOPIFY_EMAIL)) == []
    assert privacy_store.get_suppression("demo", SHOPIFY_EMAIL).erased_via == "shopify:redact-1"
    assert logged == [
        (
            "contact erased",
            {
                "store_id": "demo",
                "event_id": "shopify:redact-1",
                "items_erased": 2,
                "runs_stopped": 1,
                "data_requests_erased": 0,
            },
        )
    ]
    assert SHOPIFY_EMAIL not in json.dumps(aws.table().scan()["Items"], default=str)


def test_a_redact_for_a_customer_never_seen_is_a_harmless_no_op(dispatch, sqs_event, aws):
    response = dispatch(sqs_event(("m-1", compliance_event("shopify:redact-1", "shopify_customers_redact.json"))))

    assert response == {"batchItemFailures": []}
    assert privacy_store.get_suppression("demo", SHOPIFY_EMAIL) is None
    assert aws.items(keys.contact_pk("demo", SHOPIFY_EMAIL)) == []


def test_a_data_request_is_kept_once_for_the_operator(dispatch, sqs_event, aws):
    body = compliance_event("shopify:request-1", "shopify_customers_data_request.json")
    dispatch(sqs_event(("m-1", body)))
    dispatch(sqs_event(("m-2", compliance_event("shopify:request-1-resent", "shopify_customers_data_request.json"))))

    (request,) = privacy_store.list_data_requests("demo")
    assert (request.request_id, request.email, request.source) == ("9999", SHOPIFY_EMAIL, "shopify:request-1")
    assert request.answered_at is None


# --- cancelled orders ----------------------------------------------------------------------------


def cancelled(order_id: str = SHOPIFY_ORDER_ID, email: str = SHOPIFY_EMAIL) -> CancelledEvent:
    return CancelledEvent.model_validate(
        {
            "type": "cancelled",
            "occurred_at": "2026-11-21T09:00:00Z",
            "order": {"id": order_id},
            "customer": {"email": email},
            "reason": "customer",
        }
    )


@pytest.fixture
def stopped(aws):
    """What each StopExecution the functions make asks for: {executionArn, error, cause}
    (moto keeps neither the error nor the cause)."""
    from storeflows.aws import client

    calls: list[dict[str, Any]] = []
    client("stepfunctions").meta.events.register(
        "provide-client-params.states.StopExecution", lambda params, **_: calls.append(dict(params))
    )
    return calls


def status_of(aws, name: str) -> str:
    arn = runs.execution_arn(aws.state_machine_arn, name)
    return boto3.client("stepfunctions").describe_execution(executionArn=arn)["status"]


def test_a_cancelled_order_stops_its_runs_in_every_workflow_and_leaves_the_totals(
    dispatch, sqs_event, aws, demo_store, stopped
):
    workflows.put_workflow(demo_workflow(workflow_id="second-workflow"))
    dispatch(sqs_event(("m-1", store_event("shopify:create", shopify_purchase()))))
    other = PurchaseEvent.model_validate(purchase("A-2", SHOPIFY_EMAIL, total="129.90"))
    dispatch(sqs_event(("m-2", store_event("api:other-order", other))))
    # The care series marks the contact inside it; a stopped run never reaches its own exit.
    aws.table().put_item(
        Item={
            **keys.active_run_key("demo", SHOPIFY_EMAIL, "second-workflow", SHOPIFY_ORDER_ID),
            "workflow_id": "second-workflow",
            "subject": SHOPIFY_ORDER_ID,
        }
    )

    response = dispatch(sqs_event(("m-3", store_event("shopify:cancel", cancelled()))))

    assert response == {"batchItemFailures": []}
    for workflow_id in ("targeted-post-purchase", "second-workflow"):
        assert status_of(aws, run_name("demo", SHOPIFY_ORDER_ID, workflow_id)) == "ABORTED"
        assert status_of(aws, run_name("demo", "A-2", workflow_id)) == "RUNNING", "the other order's runs go on"
    assert {(call["error"], call["cause"]) for call in stopped} == {
        ("Storeflows.OrderCancelled", "The store cancelled the order; the run's later messages are not sent.")
    }
    assert len(stopped) == 2
    order = aws.table().get_item(Key=keys.order_key("demo", SHOPIFY_EMAIL, SHOPIFY_ORDER_ID))["Item"]
    assert (order["cancelled_at"][:19], order["cancel_reason"]) == ("2026-11-21T09:00:00", "customer")
    contact = contacts.get_contact("demo", SHOPIFY_EMAIL)
    assert (contact.orders_count, contact.total_spent) == (1, Decimal("129.90")), "only the order not cancelled"
    assert sends.active_runs("demo", SHOPIFY_EMAIL) == []


def test_a_redelivered_cancellation_changes_nothing_more(dispatch, sqs_event, aws):
    dispatch(sqs_event(("m-1", store_event("shopify:create", shopify_purchase()))))
    dispatch(sqs_event(("m-2", store_event("shopify:cancel", cancelled()))))
    table_after_first = aws.table().scan(ConsistentRead=True)["Items"]

    assert dispatch(sqs_event(("m-2-again", store_event("shopify:cancel", cancelled())))) == {"batchItemFailures": []}

    assert aws.table().scan(ConsistentRead=True)["Items"] == table_after_first
    assert contacts.get_contact("demo", SHOPIFY_EMAIL).orders_count == 0


@pytest.mark.parametrize("later", ["shopify:paid", "shopify:create"])
def test_a_purchase_of_an_order_cancelled_before_it_was_recorded_starts_nothing(dispatch, sqs_event, aws, later):
    """Shopify delivers in any order: the cancellation of a pending order (no purchase yet),
    then its orders/paid; or the cancellation before the orders/create it follows."""
    dispatch(sqs_event(("m-1", store_event("shopify:cancel", cancelled()))))

    assert dispatch(sqs_event(("m-2", store_event(later, shopify_purchase())))) == {"batchItemFailures": []}

    assert aws.executions() == []
    assert contacts.get_contact("demo", SHOPIFY_EMAIL) is None, "no purchase, no profile, no consent"
    (order,) = aws.items(keys.contact_pk("demo", SHOPIFY_EMAIL))
    assert set(order) == {"pk", "sk", "order_id", "cancelled_at", "cancel_reason", "cancel_event_id"}


def test_a_cancelled_orders_later_purchase_events_start_no_run(dispatch, sqs_event, aws, demo_store):
    workflow = demo_store.workflow_id
    dispatch(sqs_event(("m-1", store_event("shopify:create", shopify_purchase()))))
    dispatch(sqs_event(("m-2", store_event("shopify:cancel", cancelled()))))
    # A workflow published since would start a run for the order were it a purchase.
    workflows.put_workflow(demo_workflow(workflow_id="published-since"))

    dispatch(sqs_event(("m-3", store_event("shopify:paid", shopify_purchase()))))

    assert [run["name"] for run in aws.executions()] == [run_name("demo", SHOPIFY_ORDER_ID, workflow)]
    assert contacts.get_contact("demo", SHOPIFY_EMAIL).orders_count == 0
