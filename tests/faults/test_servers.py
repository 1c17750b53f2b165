#!/usr/bin/env python3
"""The stack's servers fail under load, then souk-verify.

Each scenario runs a flash sale and a city's ride requests through `souk-worker
inventory` and `souk-worker matching` (groups of the run's own) while souk-produce
sends them at a bounded rate, injects its fault mid-load, waits until every order and
request is decided, stops the workers with SIGTERM (they must drain and exit 0) and
runs souk-verify over the window, which prints the scenario's line:

    events N faults F lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0

    broker    the Kafka broker SIGKILLed, restarted 3 s later (ops/stack up)
    pg        PostgreSQL stopped with pg_ctl -m immediate (a crash: recovery at start),
              restarted 3 s later
    redis     Redis killed and restarted empty mid-sale (it keeps no data on disk): the
              inventory gate is rebuilt from PostgreSQL
    sigstop   one of two inventory workers SIGSTOPped past its session timeout while
              the other takes its partitions over, then SIGCONT: the woken zombie's
              batches are fenced and apply nothing

    test_servers.py [SCENARIO...]     the bounded form (all four when none is named)
    test_servers.py --long            make faults: each fault 3 times, 4x the traffic

The scenarios stop the shared servers: ctest runs this test alone (RUN_SERIAL).
"""
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request

from faultlib import (BIN, Traffic, Worker, kafka_pid, pg_stop_immediate, redis_pid,
                      sigkill, stack, stamp, verify, wait_for)

LONG = "--long" in sys.argv
REPEAT = 3 if LONG else 1
SCALE = 4 if LONG else 1
RATE = 400 * SCALE


def metric(worker_log, name):
    """Sum of a counter's series on the worker whose log names its status port."""
    with open(worker_log) as f:
        port = [line.split("http_port=")[1].split()[0] for line in f if "http_port=" in line][-1]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name))


def broker():
    sigkill(kafka_pid())
    time.sleep(3)
    stack("up")


def pg():
    pg_stop_immediate()
    time.sleep(3)
    stack("up")


def redis():
    sigkill(redis_pid())
    stack("up")


FAULTS = {"broker": broker, "pg": pg, "redis": redis}


def scenario(name):
    start = stamp()
    t0 = time.time()
    traffic = Traffic(scale=SCALE)
    workers = [Worker("inventory", ["orders"]),
               Worker("matching", ["ride-requests", "ride-events"], "-X",
                      "matching.offer_ttl=10m")]
    zombie = None
    if name == "sigstop":
        # a second member of the inventory group, the one stopped; info logs name its
        # status port, where its fenced batches are counted
        zombie = Worker("inventory", [], "-X", "log.level=info", member=2)
        workers.append(zombie)
    for w in workers:
        w.start()
    traffic.produce_locations()
    sender = traffic.send(RATE)
    faults = 0
    if zombie is not None:
        wait_for("the second inventory member holding partitions",
                 lambda: "partition_claimed" in open(zombie.log.name).read(), timeout=60)
    for _ in range(REPEAT):
        # Redis early, while the gate still sells (250 units go in about the first
        # 500 orders); the others anywhere in the sale
        time.sleep(random.uniform(0.3, 0.8) if name == "redis" else random.uniform(1.0, 2.0))
        if zombie is not None:
            zombie.signal(signal.SIGSTOP)
            # past the session timeout (6 s): the group moves its partitions on
            time.sleep(9)
            zombie.signal(signal.SIGCONT)
        else:
            FAULTS[name]()
        faults += 1
    assert sender.wait(timeout=300) == 0, f"souk-produce failed: {sender.stderr.read()}"
    until = stamp(precise=True)
    traffic.wait_decided()
    fenced = metric(zombie.log.name, 'souk_worker_batches_total{result="fenced"') \
        if zombie is not None else None
    codes = [w.stop() for w in workers]
    assert codes == [0] * len(workers), \
        f"{name}: workers exited {codes} on SIGTERM (logs in {workers[0].log.name})"
    time.sleep(1)  # the last answers relayed
    summary = verify(start, until, faults)
    traffic.assert_sold_out()
    if name == "redis":
        # after reconciliation (it exits 1 when it had to fix a SKU: those the gate
        # never needed again after the restart, sold out by the local flag, had no
        # key) Redis agrees with PostgreSQL: nothing left
        subprocess.run([os.path.join(BIN, "souk-inventory"), "reconcile", *traffic.skus],
                       capture_output=True, timeout=60)
        left = [subprocess.run(["redis-cli", "-p", "16379", "GET", f"souk:stock:{s}"],
                               capture_output=True, text=True).stdout.strip()
                for s in traffic.skus]
        assert left == ["0"] * len(left), f"redis stock after reconcile: {left}"
    traffic.cleanup()
    for w in workers:
        w.forget()
    extra = f", the zombie's fenced batches {fenced:.0f}" if fenced is not None else ""
    print(f"{name}: {summary} ({time.time() - t0:.0f} s{extra})", flush=True)


def main():
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or \
        ["broker", "pg", "redis", "sigstop"]
    for name in names:
        assert name in FAULTS or name == "sigstop", f"unknown scenario {name}"
    try:
        for name in names:
            scenario(name)
    finally:
        stack("up")  # whatever a failed scenario left stopped
    return 0


if __name__ == "__main__":
    sys.exit(main())
