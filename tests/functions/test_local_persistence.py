"""What `make dev` brings back after a restart (storeflows_local.persistence), against moto's
table: every item, except the records of runs that did not survive the restart."""

from __future__ import annotations

from storeflows.storage import keys
from storeflows_local.persistence import LocalState


def test_a_restart_brings_back_every_item_but_the_runs_in_flight(aws, tmp_path):
    table = aws.table()
    contact = keys.contact_pk("shop-1", "ana@example.com")
    table.put_item(Item={"pk": "STORE#shop-1", "sk": "STORE", "name": "Shop One"})
    table.put_item(Item={"pk": contact, "sk": "PROFILE", "email": "ana@example.com"})
    table.put_item(Item={**keys.active_run_key("shop-1", "ana@example.com", "care", "1001"), "workflow_id": "care"})
    state = LocalState(tmp_path / "local-state.json", aws.table_name)
    assert state.save() == 3

    for item in table.scan()["Items"]:
        table.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
    assert state.restore() == 2
    kept = sorted((item["pk"], item["sk"]) for item in table.scan(ConsistentRead=True)["Items"])
    assert kept == [(contact, "PROFILE"), ("STORE#shop-1", "STORE")], "no run is in flight after a restart"
