#!/usr/bin/env python3
"""souk-gateway while the broker stops answering: nothing accepted is lost.

Destructive to the shared stack for a few seconds: pauses the Kafka broker of ops/stack
(kill -STOP of the pid in .stack/kafka/pid) and always resumes it (kill -CONT, in a
finally block). Meanwhile a client posts orders with Idempotency-Keys and retries each
with the same key every 200 ms until it gets 202, as a client of souk should; every
fourth order is malformed and must be refused without being published.

Checks: /readyz answers 503 while the broker is paused and 200 once it is back; some
answers were 503 or 504 meanwhile, and a 504 names the event_id to look for; every valid
order got 202 in the end; an order's answers that name an event_id all name the same
one; every 202'd event_id is on `orders` (at least once: a 504 may have been published
after all); no malformed order was published.
"""
import os
import signal
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_gateway import (RUN, SOURCE_DIR, end_offsets, messages_between, order,  # noqa: E402
                          start_gateways)

STACK_DIR = os.environ.get("SOUK_STACK_DIR", os.path.join(SOURCE_DIR, ".stack"))
PAUSE_S = 6
GIVE_UP_S = 40  # one order's retries; the whole test stays under a minute


def broker_pid():
    with open(os.path.join(STACK_DIR, "kafka", "pid")) as f:
        pid = int(f.read().strip())
    os.kill(pid, 0)  # alive, and ours to signal
    return pid


class BrokerDown(unittest.TestCase):
    def test_paused_broker_loses_nothing_accepted(self):
        pid = broker_pid()
        (gw,) = start_gateways(["gateway.deadline=2s", "gateway.retry_after=1"])
        before = end_offsets(["orders"])
        answers = {}  # order_id -> [(status, body)], in order
        malformed = set()
        stop = threading.Event()
        readyz_paused = set()

        def client():
            i = 0
            while not stop.is_set():
                i += 1
                body = order(f"bd-{i}", user=f"u-bd-{i}-{RUN}")
                if i % 4 == 0:
                    body["qty"] = 0
                    malformed.add(body["order_id"])
                seen = answers.setdefault(body["order_id"], [])
                give_up = time.monotonic() + GIVE_UP_S
                while time.monotonic() < give_up:
                    try:
                        r = gw.post("/v1/orders", body, key=f"bd-{RUN}-{i}", timeout=10)
                        seen.append((r.status, r.json()))
                    except OSError as e:
                        seen.append((None, {"error": str(e)}))
                    if seen[-1][0] is not None and seen[-1][0] < 500:
                        break  # 202, or refused for good
                    time.sleep(0.2)

        thread = threading.Thread(target=client)
        try:
            thread.start()
            time.sleep(1)
            os.kill(pid, signal.SIGSTOP)
            try:
                resume_at = time.monotonic() + PAUSE_S
                while time.monotonic() < resume_at:
                    readyz_paused.add(gw.request("GET", "/readyz", timeout=2).status)
                    time.sleep(0.2)
            finally:
                os.kill(pid, signal.SIGCONT)
            ready_by = time.monotonic() + 10
            while gw.request("GET", "/readyz", timeout=2).status != 200 and time.monotonic() < ready_by:
                time.sleep(0.2)
            readyz_resumed = gw.request("GET", "/readyz", timeout=2).status
            time.sleep(2)
            stop.set()
            thread.join(GIVE_UP_S + 10)
            self.assertFalse(thread.is_alive(), "the client is still retrying")
            rc = gw.stop()
            log = gw.log_text()
        finally:
            stop.set()
            gw.kill()

        self.assertIn(503, readyz_paused, "/readyz did not notice the paused broker")
        self.assertEqual(readyz_resumed, 200, "/readyz did not notice the broker back")
        statuses = [s for seen in answers.values() for s, _ in seen]
        self.assertTrue({503, 504} & set(statuses), f"no 503 or 504 while the broker was paused: {statuses}")
        self.assertEqual(set(statuses) - {202, 400, 503, 504}, set(), answers)
        accepted = {}
        for order_id, seen in answers.items():
            final_status, final = seen[-1]
            ids = {body["event_id"] for status, body in seen if "event_id" in body}
            for status, body in seen:
                if status == 504:
                    self.assertIn("event_id", body, f"{order_id}: a 504 without the event_id")
            if order_id in malformed:
                self.assertEqual({s for s, _ in seen}, {400}, seen)
                continue
            self.assertEqual(final_status, 202, f"{order_id}: {seen}")
            self.assertEqual(ids, {final["event_id"]}, f"{order_id}: a retry changed the event_id: {seen}")
            accepted[final["event_id"]] = order_id

        published = messages_between(before, end_offsets(["orders"]))
        on_topic = {m[4]["event_id"] for m in published}
        missing = {e: o for e, o in accepted.items() if e not in on_topic}
        self.assertEqual(missing, {}, "events answered 202 are not on orders")
        leaked = {m[4]["order_id"] for m in published} & malformed
        self.assertEqual(leaked, set(), "malformed orders were published")
        self.assertEqual(rc, 0, log)
        print(f"test_gateway_broker_down: {len(accepted)} orders accepted across a {PAUSE_S} s broker pause "
              f"({statuses.count(503)} answers 503, {statuses.count(504)} answers 504), all on orders "
              f"({len(published)} messages read back), {len(malformed)} malformed refused and unpublished")


if __name__ == "__main__":
    unittest.main(verbosity=2)
