#!/usr/bin/env python3
"""The flash sale end to end on the real stack: souk-loadgen's traffic through
souk-produce into `orders`, decided by souk-worker inventory, checked from PostgreSQL,
Redis and the `order-results` topic.

Scenarios (each a fresh sale: a new seed gives new SKUs, users and order ids):
  plain       one worker, no faults
  kill        the worker SIGKILLed at two random instants and restarted
  redis       Redis flushed (FLUSHALL) in the middle of the sale
  zombie      two workers; one SIGSTOPped past its session timeout, its partitions move
              to the other, then SIGCONT: the zombie's batches must apply nothing

Invariants checked after each: every order_id has exactly one row in `orders` and one
distinct result id on `order-results`, every message for it carries the same answer as
the row (a repeat got its first answer); per SKU sold == stock (demand exceeded supply)
and available == 0; no user over the per-user limit; Redis == PostgreSQL after
`souk-inventory reconcile`. Each prints one line:
  flash-sale <scenario>: orders N decided N accepted A sold S stock S faults F lost 0 applied_twice 0 oversold 0

usage: test_flash_sale.py [--orders N] [scenario...]   (default 10000, all scenarios)
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

ROOT = os.environ.get("SOUK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("SOUK_BIN", os.path.join(ROOT, "build", "bin"))
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
REDIS_PORT = "16379"
SKUS, STOCK, LIMIT = 10, 100, 2
WAIT_S = 180


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def psql(sql):
    out = subprocess.run(["psql", DSN, "-qAtX", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def redis(*args):
    return subprocess.run(["redis-cli", "-p", REDIS_PORT, *args], check=True,
                          capture_output=True, text=True).stdout.strip()


class Worker:
    def __init__(self, name):
        self.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"souk-e2e-{name}.log"), "ab")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "souk-worker"), "inventory",
             "-X", "http.listen=127.0.0.1:0", "-X", "log.level=warn",
             "-X", "kafka.session.timeout.ms=6000", "-X", "kafka.heartbeat.interval.ms=1000",
             "-X", "worker.poll_timeout=50ms"],
            stdout=self.log, stderr=self.log)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            return rc
        return self.proc.returncode if self.proc else 0


def generate(orders):
    seed = random.randrange(1, 2**62)
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"souk-e2e-{seed}.ndjson")
    with open(path, "w") as f:
        res = subprocess.run([os.path.join(BIN, "souk-loadgen"), "flash-sale", "--seed", str(seed),
                              "--users", str(orders), "--orders", str(orders), "--skus", str(SKUS),
                              "--stock", str(STOCK), "--limit", str(LIMIT)],
                             stdout=f, stderr=subprocess.PIPE, text=True, check=True)
    events = [json.loads(line) for line in open(path)]
    skus = sorted({e["sku"] for e in events if e["type"] == "stock_set"})
    first_qty = {}
    for e in events:
        if e["type"] == "order":
            first_qty.setdefault(e["order_id"], (e["sku"], e["qty"]))
    demand = {s: 0 for s in skus}
    for sku, qty in first_qty.values():
        demand[sku] += qty
    return path, skus, first_qty, demand, res.stderr.strip()


def produce(path, rate=None):
    """Starts souk-produce; with a rate the sale is still arriving while faults hit."""
    args = [os.path.join(BIN, "souk-produce"), path]
    if rate:
        args += ["--rate", str(rate)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def decided(skus):
    placeholders = ",".join(f"'{s}'" for s in skus)
    return int(psql(f"SELECT count(*) FROM orders WHERE sku IN ({placeholders})")[0][0])


def wait_decided(skus, want):
    deadline = time.time() + WAIT_S
    n = decided(skus)
    while n < want and time.time() < deadline:
        time.sleep(0.2)
        n = decided(skus)
    return n


def wait_published():
    deadline = time.time() + 60
    while time.time() < deadline:
        left = int(psql("SELECT count(*) FROM outbox_pending WHERE source_topic = 'orders'")[0][0])
        if left == 0:
            return
        time.sleep(0.2)
    raise Failure("outbox rows for orders still unpublished after 60 s")


def read_results(order_ids):
    """order_id -> list of (result_id, status, reason) from order-results."""
    out = subprocess.run(["kcat", "-b", BROKERS, "-C", "-t", "order-results", "-e", "-q",
                          "-f", "%k\t%h\t%s\n"], capture_output=True, check=True).stdout
    results = {}
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.split("\t", 2)
        if len(parts) != 3 or parts[0] not in order_ids:
            continue
        headers = dict(h.split("=", 1) for h in parts[1].split(",") if "=" in h)
        value = json.loads(parts[2])
        results.setdefault(parts[0], []).append(
            (headers.get("souk-result-id"), value["status"], value.get("reason")))
    return results


def verify(name, skus, first_qty, demand, faults):
    placeholders = ",".join(f"'{s}'" for s in skus)
    rows = psql("SELECT order_id, status, coalesce(reason, ''), sku, user_id, qty, result_id "
                f"FROM orders WHERE sku IN ({placeholders})")
    by_id = {r[0]: r for r in rows}
    lost = len(set(first_qty) - set(by_id))
    check(len(rows) == len(by_id), "an order_id has two rows")
    check(lost == 0, f"{lost} orders never decided")

    wait_published()
    results = read_results(set(first_qty))
    applied_twice = 0
    for oid, row in by_id.items():
        msgs = results.get(oid, [])
        check(msgs, f"order {oid} has no result on order-results")
        ids = {m[0] for m in msgs}
        answers = {(m[1], m[2] or "") for m in msgs}
        if len(ids) != 1 or len(answers) != 1:
            applied_twice += 1
        check(ids == {row[6]}, f"order {oid}: result ids {ids} != row's {row[6]}")
        check(answers == {(row[1], row[2])}, f"order {oid}: answers {answers} != row's")
    check(applied_twice == 0, f"{applied_twice} orders answered differently")

    sold = {s: 0 for s in skus}
    accepted = 0
    for r in rows:
        if r[1] == "accepted":
            sold[r[3]] += int(r[5])
            accepted += 1
    oversold = sum(max(0, sold[s] - STOCK) for s in skus)
    check(oversold == 0, f"oversold {oversold}: {sold}")
    for s in skus:
        if demand[s] > STOCK:
            check(sold[s] == STOCK, f"sku {s}: sold {sold[s]} of {STOCK} with demand {demand[s]}")
    available = dict(psql(f"SELECT sku, available FROM stock WHERE sku IN ({placeholders})"))
    for s in skus:
        check(int(available[s]) == STOCK - sold[s], f"sku {s}: available {available[s]}, sold {sold[s]}")
    over = psql(f"SELECT count(*) FROM purchases WHERE sku IN ({placeholders}) AND qty > {LIMIT}")
    check(over[0][0] == "0", f"{over[0][0]} users over the limit")
    per_user = {}
    for r in rows:
        if r[1] == "accepted":
            per_user[(r[3], r[4])] = per_user.get((r[3], r[4]), 0) + int(r[5])
    check(max(per_user.values(), default=0) <= LIMIT, "a user bought past the limit")

    subprocess.run([os.path.join(BIN, "souk-inventory"), "reconcile", *skus],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for s in skus:
        got = redis("GET", f"souk:stock:{s}")
        check(got == available[s], f"sku {s}: redis {got!r} != postgres {available[s]} after reconcile")

    print(f"flash-sale {name}: orders {len(first_qty)} decided {len(by_id)} accepted {accepted} "
          f"sold {sum(sold.values())} stock {STOCK * len(skus)} faults {faults} "
          f"lost {lost} applied_twice {applied_twice} oversold {oversold}", flush=True)


def scenario(name, orders):
    path, skus, first_qty, demand, summary = generate(orders)
    check(all(demand[s] > STOCK for s in skus), f"loadgen demand {demand} does not exceed stock")
    workers = [Worker(name)]
    faults = 0
    try:
        producer = produce(path, None if name == "plain" else 4000)
        workers[0].start()
        want = len(first_qty)
        if name == "kill":
            for _ in range(2):
                time.sleep(random.uniform(0.3, 1.5))
                workers[0].kill()
                faults += 1
                workers[0].start()
        elif name == "redis":
            deadline = time.time() + WAIT_S
            while decided(skus) < want // 3 and time.time() < deadline:
                time.sleep(0.05)
            redis("FLUSHALL")
            faults += 1
        elif name == "zombie":
            workers.append(Worker(name + "-b"))
            workers[1].start()
            time.sleep(random.uniform(0.5, 1.0))
            workers[0].signal(signal.SIGSTOP)
            faults += 1
            time.sleep(9)  # past the 6 s session timeout: its partitions move
            workers[0].signal(signal.SIGCONT)
        check(producer.wait(timeout=WAIT_S) == 0, "souk-produce failed")
        n = wait_decided(skus, want)
        check(n == want, f"{n} of {want} orders decided after {WAIT_S} s")
        verify(name, skus, first_qty, demand, faults)
        for w in workers:
            rc = w.stop()
            check(rc == 0, f"worker exited {rc} on SIGTERM")
    finally:
        for w in workers:
            w.stop()
        os.unlink(path)


def main():
    args = sys.argv[1:]
    orders = 10000
    if args[:1] == ["--orders"]:
        orders = int(args[1])
        args = args[2:]
    names = args or ["plain", "kill", "redis", "zombie"]
    try:
        for name in names:
            scenario(name, orders)
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
