#!/usr/bin/env python3
"""souk-replay against the real broker and PostgreSQL.

Every topic is this run's own (replay-test-<tag>..., created here with kcat-produced
messages, deleted at the end), except in the reset-group test, which runs the inventory
pool (souk-worker inventory) in a consumer group of its own on `orders`, with SKUs and
orders of its own.

  offset range   -p 0,1 --start-offset 10 --end-offset 40: exactly those messages, in
                 order, same partitions, keys, original timestamps, a source header
  time range     --start-time = a message's timestamp (taken), --end-time = another's
                 (not taken)
  filters        --key (any), --type, --field; a non-JSON message passes no type filter
  by key         into a topic with fewer partitions: one key, one partition, in order
  dry run        counts per partition, first/last offsets; nothing sent
  guard          into `payments` within 24 h: allowed; with --dedup-window 1s: refused
                 (exit 1, nothing sent) unless --force
  DLQ redrive    <t>.dlq -> <t> with no --to; then <t> into itself: exactly doubled
  reset group    refused while the worker runs; dry run changes nothing; --execute moves
                 Kafka's and PostgreSQL's offsets to --to-datetime; the restarted worker
                 reads the orders again and answers each with its first answer: rows,
                 stock and purchases unchanged, a second result with the same result id
"""
import datetime
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR", "/work/main")
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
REDIS_PORT = "16379"
TAG = uuid.uuid4().hex[:8]
BASE = f"replay-test-{TAG}"
SRC, OUT_RANGE, OUT_TIME, OUT_FILTER, OUT_KEY, OUT_GUARD = (
    BASE, f"{BASE}.range", f"{BASE}.time", f"{BASE}.filter", f"{BASE}.key", f"{BASE}.guard")
REDRIVE = f"{BASE}-r"
WAIT_S = 90


def psql(sql):
    out = subprocess.run(["psql", DSN, "-qAtX", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def kafka_cli(*args):
    return subprocess.run([os.path.join(SOURCE_DIR, "ops", "kafka"), *args], check=True,
                          capture_output=True, text=True, timeout=120).stdout


def produce(topic, partition, records, headers=()):
    """records: (key, value) pairs, sent in order to one partition."""
    data = "".join(f"{k}\t{v}\n" for k, v in records)
    args = ["kcat", "-P", "-b", BROKERS, "-t", topic, "-p", str(partition), "-K", "\t"]
    for h in headers:
        args += ["-H", h]
    subprocess.run(args, input=data, text=True, check=True, timeout=60)


def consume(topic, *extra):
    """Every message of topic: dicts of p, o, key, ts, headers, value, in offset order."""
    out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", topic, "-e", "-q", *extra,
                          "-f", "%p\t%o\t%k\t%T\t%h\t%s\n"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    msgs = []
    for line in out.splitlines():
        p, o, k, ts, h, v = line.split("\t", 5)
        headers = dict(x.split("=", 1) for x in h.split(",") if "=" in x)
        msgs.append({"p": int(p), "o": int(o), "key": k, "ts": int(ts), "headers": headers,
                     "value": v})
    return sorted(msgs, key=lambda m: (m["p"], m["o"]))


def highs(topic, partitions):
    args = ["kcat", "-b", BROKERS, "-Q"]
    for p in range(partitions):
        args += ["-t", f"{topic}:{p}:-1"]
    return offsets_of(subprocess.run(args, capture_output=True, text=True, check=True,
                                     timeout=30).stdout)


def offsets_of(kcat_q):
    """kcat -Q lines ("topic [3] offset 40104") -> {partition: offset}."""
    got = {}
    for line in kcat_q.splitlines():
        if "[" in line:
            got[int(line.split("[")[1].split("]")[0])] = int(line.split()[-1])
    return got


def replay(*args):
    return subprocess.run([os.path.join(BIN, "souk-replay"), *args], capture_output=True,
                          text=True, timeout=120)


def source_view(m):
    return (m["key"], m["value"])


def wait_for(what, fn, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def event(n, partition):
    """The n-th event of a partition: an order (qty 1 or 2) or, every tenth, a stock_set."""
    sku = f"sku-{n % 4}"
    if n % 10 == 0:
        return sku, json.dumps({"type": "stock_set", "sku": sku, "stock": n, "n": n,
                                "p": partition})
    return sku, json.dumps({"type": "order", "order_id": f"{TAG}-{partition}-{n}", "sku": sku,
                            "qty": 1 + n % 2, "n": n, "p": partition})


def phase(m):
    """Which of the three production phases m belongs to (None: not an event of ours)."""
    try:
        return json.loads(m["value"])["n"] // 20
    except ValueError:
        return None


class Replay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for topic, parts in ((SRC, 3), (OUT_RANGE, 3), (OUT_TIME, 3), (OUT_FILTER, 3),
                             (OUT_KEY, 2), (OUT_GUARD, 3), (REDRIVE, 3), (REDRIVE + ".dlq", 3)):
            kafka_cli("topics", "--create", "--topic", topic, "--partitions", str(parts),
                      "--replication-factor", "1")
        # three phases 60 ms apart, 20 messages per partition each: 60 per partition
        for phase in range(3):
            for p in range(3):
                produce(SRC, p, [event(phase * 20 + i, p) for i in range(20)])
            time.sleep(0.06)
        produce(SRC, 2, [("sku-1", "not json")])
        cls.source = consume(SRC)

    @classmethod
    def tearDownClass(cls):
        kafka_cli("topics", "--delete", "--topic", f"{BASE}.*")

    def in_partition(self, msgs, p):
        return [m for m in msgs if m["p"] == p]

    def test_offset_range_exactly_in_order(self):
        res = replay("-p", "0,1", "--start-offset", "10", "--end-offset", "40",
                     "--keep-timestamps", "--json", "--to", OUT_RANGE, SRC)
        self.assertEqual(res.returncode, 0, res.stderr)
        summary = json.loads(res.stdout)
        self.assertEqual((summary["selected"], summary["delivered"], summary["failed"]),
                         (60, 60, 0))
        self.assertEqual([(p["partition"], p["first"], p["last"]) for p in summary["partitions"]],
                         [(0, 10, 39), (1, 10, 39)])
        out = consume(OUT_RANGE)
        for p in (0, 1):
            want = [m for m in self.in_partition(self.source, p) if 10 <= m["o"] < 40]
            got = self.in_partition(out, p)
            self.assertEqual([source_view(m) for m in got], [source_view(m) for m in want])
            self.assertEqual([m["ts"] for m in got], [m["ts"] for m in want])
            self.assertEqual([m["headers"]["souk-replay-source"] for m in got],
                             [f"{SRC}/{p}/{m['o']}" for m in want])
        self.assertEqual(self.in_partition(out, 2), [])

    def test_time_range_boundaries(self):
        start = min(m["ts"] for m in self.source if phase(m) == 1)
        end = min(m["ts"] for m in self.source if phase(m) == 2)
        want = [m for m in self.source if start <= m["ts"] < end]
        # a message stamped start is taken, one stamped end is not
        self.assertTrue(any(m["ts"] == start for m in want))
        self.assertFalse(any(m["ts"] == end for m in want))
        self.assertTrue(any(phase(m) == 0 for m in self.source) and
                        not any(phase(m) == 0 for m in want))
        rfc3339 = datetime.datetime.fromtimestamp(start / 1000, datetime.timezone.utc) \
            .strftime("%Y-%m-%dT%H:%M:%S.") + f"{start % 1000:03d}Z"
        res = replay("--start-time", rfc3339, "--end-time", str(end), "--to", OUT_TIME, SRC)
        self.assertEqual(res.returncode, 0, res.stderr)
        out = consume(OUT_TIME)
        for p in range(3):
            self.assertEqual([source_view(m) for m in self.in_partition(out, p)],
                             [source_view(m) for m in self.in_partition(want, p)])

    def test_filters(self):
        res = replay("--type", "order", "--field", "qty=2", "--key", "sku-1", "--key", "sku-3",
                     "--json", "--to", OUT_FILTER, SRC)
        self.assertEqual(res.returncode, 0, res.stderr)

        def wanted(m):
            if m["key"] not in ("sku-1", "sku-3"):
                return False
            try:
                v = json.loads(m["value"])
            except ValueError:
                return False
            return v.get("type") == "order" and v.get("qty") == 2

        want = [m for m in self.source if wanted(m)]
        self.assertTrue(want)
        summary = json.loads(res.stdout)
        self.assertEqual(summary["selected"], len(want))
        self.assertEqual(summary["skipped"], len(self.source) - len(want))
        out = consume(OUT_FILTER)
        for p in range(3):
            self.assertEqual([source_view(m) for m in self.in_partition(out, p)],
                             [source_view(m) for m in self.in_partition(want, p)])
        bad = replay("--type", "ordr", "--to", OUT_FILTER, SRC)
        self.assertEqual(bad.returncode, 2)
        self.assertIn('could not filter by type "ordr": no such event type', bad.stderr)

    def test_by_key_into_fewer_partitions(self):
        res = replay("--to", OUT_KEY, SRC)
        self.assertEqual(res.returncode, 0, res.stderr)
        out = consume(OUT_KEY)
        self.assertEqual(len(out), len(self.source))
        partitions = {}
        for m in out:
            partitions.setdefault(m["key"], set()).add(m["p"])
        self.assertTrue(all(len(ps) == 1 for ps in partitions.values()), partitions)
        for key in partitions:
            # one key's messages keep their order within each source partition
            for p in range(3):
                want = [m["value"] for m in self.source if m["key"] == key and m["p"] == p]
                got = [m["value"] for m in out if m["key"] == key and
                       m["headers"]["souk-replay-source"].startswith(f"{SRC}/{p}/")]
                self.assertEqual(got, want)

    def test_dry_run_sends_nothing(self):
        before = highs(OUT_GUARD, 3)
        res = replay("-n", "-p", "1", "--start-offset", "5", "--end-offset", "15", "--to",
                     OUT_GUARD, SRC)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("dry run:", res.stdout)
        row = [line.split() for line in res.stdout.splitlines() if line.split()[:1] == ["1"]]
        # partition, range, (count), would send, skipped, first, last
        self.assertEqual(row, [["1", "5..14", "(10)", "10", "0", "5", "14"]])
        self.assertEqual(highs(OUT_GUARD, 3), before)

    def test_guard(self):
        ok = replay("-n", "--json", "--to", "payments", SRC)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertEqual(json.loads(ok.stdout)["guard"],
                         {"window_ms": 86400000, "broken": False, "forced": False})
        newest = max(m["ts"] for m in self.source)
        time.sleep(max(0.0, 1.2 - (time.time() * 1000 - newest) / 1000))
        refused = replay("-n", "--json", "--dedup-window", "1s", "--to", "payments", SRC)
        self.assertEqual(refused.returncode, 1)
        self.assertTrue(json.loads(refused.stdout)["guard"]["broken"])
        self.assertIn('refusing to replay into "payments" messages older than its dedup window',
                      refused.stderr)
        self.assertIn(f'"{SRC}" [0]: every message of offsets 0..59 is older than 1 s',
                      refused.stderr)
        forced = replay("-n", "--dedup-window", "1s", "--force", "--to", "payments", SRC)
        self.assertEqual(forced.returncode, 0, forced.stderr)
        self.assertIn("anyway (--force)", forced.stderr)
        # a refused run sends nothing
        before = highs(OUT_GUARD, 3)
        real = replay("--dedup-window", "1s", "--to", OUT_GUARD, SRC)
        self.assertEqual(real.returncode, 1)
        self.assertEqual(highs(OUT_GUARD, 3), before)
        orders = replay("-n", "--json", "--to", "orders", SRC)
        self.assertEqual(json.loads(orders.stdout)["guard"]["window_ms"], 0)

    def test_dlq_redrive_then_replay_into_itself(self):
        dead = {p: [(f"k{i % 3}", json.dumps({"type": "order", "n": i, "p": p}))
                    for i in range(7)] for p in range(3)}
        for p, records in dead.items():
            produce(REDRIVE + ".dlq", p, records, headers=("souk-error=bad version",))
        usage = replay(SRC)
        self.assertEqual(usage.returncode, 2)
        self.assertIn(f'--to is required: the topic to replay "{SRC}" into', usage.stderr)
        res = replay(REDRIVE + ".dlq")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(f"replay: {REDRIVE}.dlq -> {REDRIVE}\n", res.stdout)
        out = consume(REDRIVE)
        for p in range(3):
            got = self.in_partition(out, p)
            self.assertEqual([(m["key"], m["value"]) for m in got], dead[p])
            self.assertEqual([m["headers"] for m in got],
                             [{"souk-error": "bad version",
                               "souk-replay-source": f"{REDRIVE}.dlq/{p}/{i}"}
                              for i in range(7)])
        # into itself: the range ends where the topic ended when the run started
        res = replay("--to", REDRIVE, REDRIVE)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(highs(REDRIVE, 3), {0: 14, 1: 14, 2: 14})
        again = consume(REDRIVE)
        for p in range(3):
            got = self.in_partition(again, p)
            self.assertEqual([m["value"] for m in got[7:]], [m["value"] for m in got[:7]])
            self.assertEqual([m["headers"]["souk-replay-source"] for m in got[7:]],
                             [f"{REDRIVE}/{p}/{i}" for i in range(7)])


class ResetGroup(unittest.TestCase):
    """The inventory pool in a group of its own, reset to before this run's orders."""

    def setUp(self):
        self.group = f"replay-test-{TAG}"
        self.skus = [f"rp{TAG}-a", f"rp{TAG}-b"]
        self.log = open(os.path.join(tempfile.gettempdir(), f"souk-replay-{TAG}.log"), "ab")
        self.worker = None
        parts = subprocess.run(["kcat", "-b", BROKERS, "-L", "-t", "orders"], check=True,
                               capture_output=True, text=True, timeout=30).stdout
        self.partitions = parts.count("partition ")

    def tearDown(self):
        self.stop_worker()
        self.log.close()
        skus = ",".join(f"'{s}'" for s in self.skus)
        psql(f"DELETE FROM orders WHERE sku IN ({skus}); DELETE FROM purchases WHERE sku IN "
             f"({skus}); DELETE FROM stock WHERE sku IN ({skus}); DELETE FROM consumer_offsets "
             f"WHERE group_id = '{self.group}'")
        for s in self.skus:
            subprocess.run(["redis-cli", "-p", REDIS_PORT, "DEL", f"souk:stock:{s}",
                            f"souk:limit:{{souk:stock:{s}}}", f"souk:users:{{souk:stock:{s}}}",
                            f"souk:seen:{{souk:stock:{s}}}"], capture_output=True)
        subprocess.run([os.path.join(SOURCE_DIR, "ops", "kafka"), "consumer-groups", "--delete",
                        "--group", self.group], capture_output=True, timeout=120)

    def start_worker(self):
        self.worker = subprocess.Popen(
            [os.path.join(BIN, "souk-worker"), "inventory", "--group", self.group,
             "-X", "http.listen=127.0.0.1:0", "-X", "log.level=warn",
             "-X", "kafka.session.timeout.ms=6000", "-X", "kafka.heartbeat.interval.ms=1000",
             "-X", "worker.poll_timeout=50ms"], stdout=self.log, stderr=self.log)

    def stop_worker(self):
        if self.worker and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            self.assertEqual(self.worker.wait(timeout=60), 0)

    def stored(self):
        return {int(p): int(o) for p, o in psql(
            "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = "
            f"'{self.group}' AND topic = 'orders'")}

    def caught_up(self, want):
        got = self.stored()
        return all(got.get(p, -1) >= o for p, o in want.items())

    def produce_events(self, events):
        data = "".join(json.dumps(e) + "\n" for e in events)
        res = subprocess.run([os.path.join(BIN, "souk-produce")], input=data, text=True,
                             capture_output=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)

    def envelope(self, kind, **body):
        ts = datetime.datetime.now(datetime.timezone.utc)
        return {"event_id": str(uuid.uuid4()), "type": kind, "version": 1,
                "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
                "client_id": "replay-test", **body}

    def snapshot(self):
        skus = ",".join(f"'{s}'" for s in self.skus)
        return (psql(f"SELECT order_id, status, coalesce(reason, ''), result_id FROM orders "
                     f"WHERE sku IN ({skus}) ORDER BY order_id"),
                psql(f"SELECT sku, available, version FROM stock WHERE sku IN ({skus}) "
                     "ORDER BY sku"),
                psql(f"SELECT sku, user_id, qty FROM purchases WHERE sku IN ({skus}) "
                     "ORDER BY sku, user_id"))

    def results(self, since_ms, order_ids):
        """order_id -> [(result id, status)] on order-results since since_ms."""
        out = subprocess.run(["kcat", "-b", BROKERS, "-C", "-t", "order-results", "-o",
                              f"s@{since_ms}", "-e", "-q", "-f", "%k\t%h\t%s\n"],
                             capture_output=True, text=True, check=True, timeout=120).stdout
        got = {}
        for line in out.splitlines():
            k, h, v = line.split("\t", 2)
            if k in order_ids:
                rid = dict(x.split("=", 1) for x in h.split(",") if "=" in x)["souk-result-id"]
                got.setdefault(k, []).append((rid, json.loads(v)["status"]))
        return got

    def reset(self, *args):
        return replay("--reset-group", self.group, *args, "orders")

    def test_reset_reprocesses_and_applies_nothing_twice(self):
        # the group starts at the end of `orders` (a new group would read it all)
        res = self.reset("--to-latest", "--execute", "--json")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(self.stored(), {r["partition"]: r["high"]
                                         for r in json.loads(res.stdout)["partitions"]})
        self.produce_events([self.envelope("stock_set", sku=s, stock=3) for s in self.skus])
        self.start_worker()
        wait_for("the stock rows", lambda: len(self.snapshot()[1]) == 2)
        reset_at = int(time.time() * 1000) + 1
        time.sleep(0.01)
        order_ids = {f"{s}-o{i}" for s in self.skus for i in range(6)}
        self.produce_events([self.envelope("order", order_id=f"{s}-o{i}", user_id=f"u{i}",
                                           sku=s, qty=1)
                             for i in range(6) for s in self.skus])
        end = highs("orders", self.partitions)
        wait_for("the orders decided", lambda: len(self.snapshot()[0]) == 12)
        wait_for("the group caught up", lambda: self.caught_up(end))
        first = self.snapshot()
        self.assertEqual(sorted(r[1] for r in first[0]), ["accepted"] * 6 + ["rejected"] * 6)

        # refused while the worker is a member
        before = self.stored()
        busy = self.reset("--to-datetime", str(reset_at), "--execute")
        self.assertEqual(busy.returncode, 1)
        self.assertIn(f'consumer group "{self.group}" has members', busy.stderr)
        self.assertEqual(self.stored(), before)
        self.stop_worker()

        # a dry run by default
        plan = self.reset("--to-datetime", str(reset_at), "--json")
        self.assertEqual(plan.returncode, 0, plan.stderr)
        plan = json.loads(plan.stdout)
        self.assertFalse(plan["executed"])
        self.assertEqual(self.stored(), before)
        at = offsets_of(subprocess.run(
            ["kcat", "-b", BROKERS, "-Q"] +
            [a for p in range(self.partitions) for a in ("-t", f"orders:{p}:{reset_at}")],
            capture_output=True, text=True, check=True, timeout=30).stdout)
        targets = {r["partition"]: r["target"] for r in plan["partitions"]}
        self.assertEqual(targets, {r["partition"]: at[r["partition"]] if at[r["partition"]] >= 0
                                   else r["high"] for r in plan["partitions"]})

        res = self.reset("--to-datetime", str(reset_at), "--execute")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(self.stored(), targets)
        committed = {}
        for line in kafka_cli("consumer-groups", "--describe", "--group", self.group,
                              "--offsets").splitlines():
            cols = line.split()
            if len(cols) > 3 and cols[1] == "orders":
                committed[int(cols[2])] = int(cols[3])
        self.assertEqual(committed, targets)

        # the worker reads this run's orders again and answers each as the first time
        self.start_worker()
        wait_for("the group caught up again", lambda: self.caught_up(end))
        got = wait_for("a second result per order", lambda: (
            lambda r: r if all(len(r.get(o, [])) >= 2 for o in order_ids) else None)(
                self.results(reset_at - 1000, order_ids)))
        self.stop_worker()
        self.assertEqual(self.snapshot(), first)
        for oid, answers in got.items():
            self.assertEqual(len(set(answers)), 1, f"{oid}: {answers}")


if __name__ == "__main__":
    unittest.main()
