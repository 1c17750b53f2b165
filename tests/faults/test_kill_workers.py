#!/usr/bin/env python3
"""Workers SIGKILLed under load, then souk-verify.

A flash sale (souk-loadgen: 5 SKUs x 50 items, retries of accepted orders, users over
the limit) and a city (2,000 drivers, 500 ride requests) are produced to Kafka at a
bounded rate while `souk-worker inventory` and `souk-worker matching` (each in a group
of this run's own, moved to the end of its topics first) are SIGKILLed at random
instants and started again. Once every order and request is decided, souk-verify
checks the window: nothing lost, nothing applied twice, no SKU oversold, no driver in
two rides, one result id per decision. It prints the scenario's line

    events N faults F lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0

Then the verifier is shown to fail: one of the run's rides is deleted and it must
report `lost 1` (exit 1).

    test_kill_workers.py            the bounded form (3 kills a worker)
    test_kill_workers.py --long     make faults: 10 kills a worker, 4x the traffic
"""
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR", "/work/main")
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
TAG = uuid.uuid4().hex[:8]
LONG = "--long" in sys.argv
KILLS = 10 if LONG else 3
SCALE = 4 if LONG else 1
WAIT_S = 180


def psql(sql):
    return subprocess.run(["psql", DSN, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def run(*args, **kw):
    return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], check=True,
                          capture_output=True, text=True, timeout=300, **kw)


class Worker:
    def __init__(self, pool, topics, *args):
        self.pool, self.group, self.args = pool, f"souk-{pool}-faults-{TAG}", list(args)
        self.log = open(f"/tmp/souk-faults-{pool}-{TAG}.log", "a")
        self.proc = None
        for topic in topics:
            run("souk-replay", "--reset-group", self.group, "--to-latest", "--execute", topic)

    def start(self):
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "souk-worker"), self.pool, "--group", self.group,
             "-X", "http.listen=127.0.0.1:0", "-X", "log.level=warn",
             "-X", "kafka.session.timeout.ms=6000", "-X", "kafka.heartbeat.interval.ms=1000",
             *self.args],
            stderr=self.log)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        self.log.close()
        return rc


def main():
    start = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sale = run("souk-loadgen", "flash-sale", "--seed", str(random.randrange(2**32)),
               "--users", str(2000 * SCALE), "--orders", str(2000 * SCALE), "--skus", "5",
               "--stock", "50", "--limit", "2").stdout.splitlines()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    lat, lng = random.uniform(-40, 40), random.uniform(-170, 170)
    city = [x for x in run("souk-loadgen", "city", "--seed", str(random.randrange(2**32)),
                           "--start", now, "--drivers", "2000", "--requests",
                           str(500 * SCALE), "--duration", "120", "--tick", "30",
                           "--bbox", f"{lat},{lng},{lat + 0.05},{lng + 0.05}").stdout.splitlines()
            if '"type":"ride_event"' not in x]
    orders = {json.loads(x)["order_id"] for x in sale if '"type":"order"' in x}
    requests = {json.loads(x)["request_id"] for x in city if '"type":"ride_request"' in x}

    workers = [Worker("inventory", ["orders"]),
               Worker("matching", ["ride-requests", "ride-events"], "-X",
                      "matching.offer_ttl=10m")]
    for w in workers:
        w.start()
    # the locations first (the index is rebuilt from them after a kill), then the
    # traffic at a bounded rate while the kills land
    run("souk-produce", "-X", "log.level=warn",
        input="\n".join(x for x in city if '"type":"location"' in x) + "\n")
    traffic = [x for x in sale] + [x for x in city if '"type":"ride_request"' in x]
    sender = subprocess.Popen([os.path.join(BIN, "souk-produce"), "-X", "log.level=warn",
                               "--rate", str(400 * SCALE)], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    sender.stdin.write("\n".join(traffic) + "\n")
    sender.stdin.close()
    faults = 0
    for _ in range(KILLS):
        for w in workers:
            time.sleep(random.uniform(0.2, 1.2))
            w.kill()
            faults += 1
            w.start()
    assert sender.wait(timeout=WAIT_S) == 0, "souk-produce failed"
    until = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    order_list = ",".join(f"'{o}'" for o in orders)
    deadline = time.time() + WAIT_S
    while time.time() < deadline:
        got_orders = int(psql(f"SELECT count(*) FROM orders WHERE order_id IN ({order_list})"))
        got_rides = int(psql(f"SELECT count(*) FROM rides WHERE request_id IN "
                             f"({','.join(repr(r) for r in requests)})"))
        if got_orders == len(orders) and got_rides == len(requests):
            break
        time.sleep(0.5)
    codes = [w.stop() for w in workers]
    assert codes == [0, 0], f"workers exited {codes} on SIGTERM (logs in /tmp/souk-faults-*-{TAG}.log)"
    time.sleep(1)  # the last answers relayed

    res = subprocess.run([os.path.join(BIN, "souk-verify"), "--since", start, "--until",
                          until, "--faults", str(faults)],
                         capture_output=True, text=True, timeout=300)
    print(res.stdout.strip())
    assert res.returncode == 0, res.stdout + res.stderr
    summary = res.stdout.strip().splitlines()[-1]
    assert f"faults {faults} lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0" \
        in summary, summary
    # every SKU sold out: demand exceeded supply
    skus = sorted({json.loads(x)["sku"] for x in sale if '"type":"stock_set"' in x})
    left = psql(f"SELECT string_agg(available::text, ',') FROM stock WHERE sku IN "
                f"({','.join(repr(s) for s in skus)})")
    assert left == ",".join(["0"] * len(skus)), f"stock left: {left}"

    # the verifier catches a lost decision
    victim = sorted(requests)[0]
    psql(f"DELETE FROM driver_claims WHERE request_id = '{victim}'; "
         f"DELETE FROM rides WHERE request_id = '{victim}'")
    res = subprocess.run([os.path.join(BIN, "souk-verify"), "--since", start, "--until",
                          until, "rides"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and " lost 1 " in res.stdout, res.stdout + res.stderr
    psql(f"DELETE FROM driver_claims WHERE request_id IN "
         f"({','.join(repr(r) for r in requests)})")
    for w in workers:
        os.unlink(w.log.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
