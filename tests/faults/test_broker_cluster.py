#!/usr/bin/env python3
"""A broker of a three-node Kafka cluster SIGKILLed under load, then souk-verify.

The scenario runs on servers of its own (faultlib.isolated): a network namespace with
`ops/stack up --brokers 3` (every topic replicated 3 times, min.insync.replicas 2),
PostgreSQL and Redis in a temporary folder, so the stack the other tests use is not
touched. A flash sale and a city's ride requests go through `souk-worker inventory`
and `souk-worker matching` while souk-produce sends them (acks=all); mid-load the
broker leading `orders` partition 0 is SIGKILLed. The test waits until another broker
leads that partition and the pools have decided more orders with the broker down, then
brings it back (`ops/stack up`, which returns once its replicas are in sync again).
souk-produce must have had every event acknowledged, every order and request must be
decided, the workers must drain on SIGTERM, and souk-verify prints the line:

    events N faults F lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0

    test_broker_cluster.py            the bounded form (one kill)
    test_broker_cluster.py --long     make faults: 3 kills, 4x the traffic

Needs root (ip netns). ctest runs it alone (RUN_SERIAL): three brokers take the cores.
"""
import sys
import time

import faultlib
from faultlib import Traffic, Worker, kafka_pid, leaders, sigkill, stack, stamp, wait_for

LONG = "--long" in sys.argv
KILLS = 3 if LONG else 1
SCALE = 4 if LONG else 1
# a kill, the failover and the restart take 15-25 s here: the long form's traffic
# (10,000 events) lasts about 80 s so that its third kill still lands in the load
RATE = 120 if LONG else 300


def kill_leader(traffic, load_t0):
    """SIGKILLs the leader of orders partition 0; returns it once another broker leads
    that partition and the pools decided more orders, then brings it back."""
    victim = leaders("orders")[0][0]
    assert victim > 0, "orders partition 0 has no leader"
    before = traffic.decided()[0]
    assert before < len(traffic.orders), "the load was over before the kill"
    t0 = time.time()
    at = t0 - load_t0
    sigkill(kafka_pid(victim))

    def moved():
        try:
            return leaders("orders")[0][0] not in (victim, -1)
        except Exception:  # no broker answered within kcat's timeout
            return False
    wait_for(f"a new leader of orders [0] after broker {victim}", moved, timeout=60,
             every=0.5)
    failover = time.time() - t0
    wait_for("orders decided with a broker down",
             lambda: traffic.decided()[0] > before, timeout=60, every=0.5)
    after = traffic.decided()[0]
    down = time.time() - t0
    t1 = time.time()
    stack("up")  # restarts the broker; returns once every partition's ISR is full
    print(f"broker {victim} SIGKILLed {at:.1f} s into the load: orders [0] led by {leaders('orders')[0][0]} after "
          f"{failover:.1f} s, orders decided {before} -> {after} in the {down:.1f} s it "
          f"was down, back with its replicas in sync in {time.time() - t1:.1f} s",
          flush=True)


def scenario():
    start = stamp()
    t0 = time.time()
    traffic = Traffic(scale=SCALE)
    # info logs: partitions claimed and lost, kept when the scenario fails
    workers = [Worker("inventory", ["orders"], "-X", "log.level=info"),
               Worker("matching", ["ride-requests", "ride-events"], "-X",
                      "matching.offer_ttl=10m", "-X", "log.level=info")]
    for w in workers:
        w.start()
    traffic.produce_locations()
    sender = traffic.send(RATE)
    load_t0 = time.time()
    faults = 0
    for _ in range(KILLS):
        time.sleep(1.5)
        kill_leader(traffic, load_t0)
        faults += 1
    assert sender.wait(timeout=300) == 0, f"souk-produce failed: {sender.stderr.read()}"
    until = stamp(precise=True)
    traffic.wait_decided()
    codes = [w.stop() for w in workers]
    assert codes == [0] * len(workers), \
        f"workers exited {codes} on SIGTERM (logs in {workers[0].log.name})"
    faultlib.conclude("broker_cluster", traffic, workers, start, until, faults, t0)


def main():
    return faultlib.isolated_main("broker_cluster", scenario, brokers=3)


if __name__ == "__main__":
    sys.exit(main())
