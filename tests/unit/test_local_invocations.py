"""The local stack runs each function as one Lambda execution environment would: one
invocation at a time (handlers keep the current event on module-level Powertools objects),
while different functions run side by side."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from storeflows_local.engine import one_invocation_at_a_time


def test_invocations_of_one_function_never_overlap():
    active, peak = 0, 0
    guard = threading.Lock()

    def handler(event, context):
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.005)  # long enough for the other threads to arrive
        with guard:
            active -= 1
        return event["n"]

    function = one_invocation_at_a_time(handler)
    with ThreadPoolExecutor(max_workers=8) as threads:
        results = list(threads.map(lambda n: function({"n": n}, None), range(24)))

    assert results == list(range(24)), "every invocation ran and returned its own answer"
    assert peak == 1


def test_two_functions_run_at_the_same_time():
    """A waits for something only B does: if they shared one lock, A would time out."""
    b_ran = threading.Event()
    first = one_invocation_at_a_time(lambda event, context: b_ran.wait(timeout=5))
    second = one_invocation_at_a_time(lambda event, context: b_ran.set())

    with ThreadPoolExecutor(max_workers=2) as threads:
        waiting = threads.submit(first, {}, None)
        threads.submit(second, {}, None).result(timeout=5)
        assert waiting.result(timeout=5) is True
