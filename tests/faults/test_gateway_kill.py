#!/usr/bin/env python3
"""souk-gateway SIGKILLed with requests in flight, clients retrying, then souk-verify.

Clients (threads) POST a flash sale's orders and a city's ride requests to
souk-gateway, each with its Idempotency-Key; the gateway is SIGKILLed at random
instants and started again on the same port. A client retries a request with the same
key until it gets a 202 (a connection cut, 503 or 504 says nothing about the outcome),
so a request the gateway published before it died is published again under the same
event_id, and the pools decide it once by its business key. Every event_id that got a
202 must be on its topic (souk-verify --acked), every order and request decided once:

    events N faults F lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0

    test_gateway_kill.py            the bounded form (3 kills)
    test_gateway_kill.py --long     make faults: 10 kills, 4x the traffic
"""
import http.client
import json
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time

from faultlib import (BIN, TAG, Traffic, Worker, free_port, run, stamp, verify,
                      wait_for)

LONG = "--long" in sys.argv
KILLS = 10 if LONG else 3
SCALE = 4 if LONG else 1
CLIENTS = 8
ENVELOPE = {"event_id", "type", "version", "ts", "client_id", "idempotency_key"}
PATHS = {"order": "/v1/orders", "ride_request": "/v1/ride-requests"}


class Gateway:
    def __init__(self):
        self.port = free_port()
        self.log = open(f"/tmp/souk-faults-gateway-{TAG}.log", "a")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "souk-gateway"), "-X", f"http.listen=127.0.0.1:{self.port}",
             "-X", "log.level=warn"], stderr=self.log)

        def ready():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                return conn.getresponse().status == 200
            except OSError:
                return False
        wait_for("souk-gateway ready", ready, timeout=60, every=0.05)

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def client(port, work, acked, failures, retried):
    """Takes (path, body, key) off work until it is empty; retries each until a 202."""
    while True:
        try:
            path, body, key = work.get_nowait()
        except queue.Empty:
            return
        for attempt in range(600):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", path, body=body,
                             headers={"Content-Type": "application/json",
                                      "Idempotency-Key": key})
                resp = conn.getresponse()
                answer = resp.read()
                conn.close()
            except OSError:  # refused or cut: the gateway is down or died mid-request
                retried.append(key)
                time.sleep(0.05)
                continue
            if resp.status == 202:
                acked.append(json.loads(answer)["event_id"])
                break
            if resp.status in (503, 504):  # not published, or not known: same key again
                retried.append(key)
                time.sleep(0.05)
                continue
            failures.append(f"{path} {key}: {resp.status} {answer[:200]!r}")
            break
        else:
            failures.append(f"{path} {key}: no 202 after 600 attempts")


def main():
    start = stamp()
    traffic = Traffic(scale=SCALE)
    workers = [Worker("inventory", ["orders"]),
               Worker("matching", ["ride-requests", "ride-events"], "-X",
                      "matching.offer_ttl=10m")]
    for w in workers:
        w.start()
    # stock and drivers first, straight to Kafka; the orders and requests through HTTP
    run("souk-produce", "-X", "log.level=warn",
        input="\n".join(x for x in traffic.sale if '"type":"stock_set"' in x) + "\n")
    traffic.produce_locations()
    work = queue.Queue()
    for line in traffic.events:
        ev = json.loads(line)
        if ev["type"] in PATHS:
            key = ev.get("idempotency_key") or ev.get("order_id") or ev["request_id"]
            body = json.dumps({k: v for k, v in ev.items() if k not in ENVELOPE})
            work.put((PATHS[ev["type"]], body, key))
    requests = work.qsize()

    gateway = Gateway()
    gateway.start()
    acked, failures, retried = [], [], []
    threads = [threading.Thread(target=client, args=(gateway.port, work, acked, failures, retried))
               for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    faults = 0
    for _ in range(KILLS):
        time.sleep(random.uniform(0.3, 1.0))
        gateway.kill()
        faults += 1
        time.sleep(random.uniform(0.1, 0.5))
        gateway.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures, f"{len(failures)} requests failed: {failures[:5]}"
    assert len(acked) == requests, f"{len(acked)} of {requests} acknowledged"
    gateway.proc.terminate()
    assert gateway.proc.wait(timeout=60) == 0, "souk-gateway did not drain on SIGTERM"
    until = stamp(precise=True)

    traffic.wait_decided()
    codes = [w.stop() for w in workers]
    assert codes == [0, 0], f"workers exited {codes} on SIGTERM (logs in {workers[0].log.name})"
    time.sleep(1)  # the last answers relayed
    with tempfile.NamedTemporaryFile("w", prefix="souk-acked-", suffix=".txt") as f:
        f.write("\n".join(acked) + "\n")
        f.flush()
        summary = verify(start, until, faults, "--acked", f.name)
    traffic.assert_sold_out()
    traffic.cleanup()
    for w in workers:
        w.forget()
    gateway.log.close()
    os.unlink(gateway.log.name)
    print(f"gateway kill: {summary}; {requests} requests acknowledged, "
          f"{len(retried)} attempts retried ({len(set(retried))} requests)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
