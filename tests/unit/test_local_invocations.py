"""The local stack runs each function as Lambda does: every execution environment handles one
invocation at a time (handlers keep the current event on module-level Powertools objects),
and another environment, with module-level objects of its own, is started when all are busy,
up to a limit."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from storeflows_local.engine import ExecutionEnvironments


def environments(limit: int):
    """Environments whose handler says which environment ran it, and records overlaps."""
    state = {"active": {}, "overlap": False, "peak": 0}
    guard = threading.Lock()

    def start(number: int):
        module_state = {"current_event": None}  # what Powertools keeps per module

        def handler(event, context):
            with guard:
                state["overlap"] |= state["active"].get(number, 0) > 0
                state["active"][number] = state["active"].get(number, 0) + 1
                state["peak"] = max(state["peak"], sum(state["active"].values()))
            module_state["current_event"] = event
            time.sleep(0.005)  # long enough for the other threads to arrive
            answer = (number, module_state["current_event"]["n"])
            with guard:
                state["active"][number] -= 1
            return answer

        return handler

    return ExecutionEnvironments(start, limit), state


def test_an_environment_runs_one_invocation_at_a_time_and_each_gets_its_own_answer():
    function, state = environments(limit=3)
    with ThreadPoolExecutor(max_workers=8) as threads:
        results = list(threads.map(lambda n: function({"n": n}, None), range(40)))

    assert [n for _, n in results] == list(range(40)), "no invocation read another's event"
    assert not state["overlap"]
    assert {number for number, _ in results} <= {1, 2, 3}
    assert function.started == 3 and state["peak"] <= 3, "never more environments than the limit"


def test_invocations_one_after_another_reuse_the_warm_environment():
    function, _ = environments(limit=3)
    assert [function({"n": n}, None)[0] for n in range(5)] == [1] * 5
    assert function.started == 1


def test_an_invocation_waits_for_a_free_environment_at_the_limit():
    """A waits for something only B does: with one environment B could never run beside A,
    so B must wait until A is done (and A times out)."""
    b_ran = threading.Event()
    function = ExecutionEnvironments(lambda number: lambda event, context: event["run"](), limit=1)

    with ThreadPoolExecutor(max_workers=2) as threads:
        waiting = threads.submit(function, {"run": lambda: b_ran.wait(timeout=0.3)}, None)
        time.sleep(0.05)
        second = threads.submit(function, {"run": b_ran.set}, None)
        assert waiting.result(timeout=5) is False
        second.result(timeout=5)


def test_functions_sharing_class_level_state_take_turns_across_all_their_environments():
    """Powertools' HTTP resolvers keep the request on a class, one per process: functions
    behind the HTTP API pass one lock, so no two of their invocations overlap anywhere."""
    shared = {"current_event": None}  # BaseRouter.current_event
    turns = threading.Lock()

    def start(number: int):
        def handler(event, context):
            shared["current_event"] = event
            time.sleep(0.005)
            return shared["current_event"]["n"]

        return handler

    ingest, unsubscribe = (ExecutionEnvironments(start, 3, turns=turns) for _ in range(2))
    with ThreadPoolExecutor(max_workers=8) as threads:
        answers = list(threads.map(lambda n: (ingest if n % 2 else unsubscribe)({"n": n}, None), range(24)))

    assert answers == list(range(24)), "no invocation read another's request"


def test_the_demo_ends_pointing_at_a_stack_that_still_runs(monkeypatch, capsys):
    """`make demo` stops its own stack (port 0, a random one) before anyone reads its last line."""
    import types

    from storeflows_local import demo

    monkeypatch.setattr(demo, "play", lambda *args: 0)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.setenv("STOREFLOWS_DEMO_TEMPLATE", "targeted_post_purchase")
    stack = types.SimpleNamespace(api_url="http://127.0.0.1:45678")
    assert demo.run_demo(stack, secrets=None) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert "45678" not in last
    assert last == (
        "The demo's stack has stopped, and its outbox with it. To watch emails arrive, run `make dev`: its outbox "
        "is at http://127.0.0.1:3000/_local/ until Ctrl-C (README: The local stack)."
    )


def test_every_template_has_a_demo_and_an_unknown_name_gets_the_list(monkeypatch, capsys):
    """`make demo TEMPLATE=<name>` plays any template of the registry; another name is refused
    with the names it takes."""
    import types

    from storeflows.workflows.templates import TEMPLATES
    from storeflows_local import demo

    assert set(demo.SCENARIOS) | set(demo.STORIES) == set(TEMPLATES)
    monkeypatch.setenv("STOREFLOWS_DEMO_TEMPLATE", "abandoned_basket")
    assert demo.run_demo(types.SimpleNamespace(api_url="http://127.0.0.1:45678"), secrets=None) == 2
    refused = capsys.readouterr().err.strip()
    assert refused.startswith("unknown TEMPLATE 'abandoned_basket'; choose one of: all, targeted_post_purchase, ")
    assert "checkout_abandonment" in refused and "wishlist_reminder" in refused
