#!/usr/bin/env python3
"""souk-lag (--once and the server) against the real broker and PostgreSQL.

A topic of this run's own (3 partitions) gets a first batch of 5, 7 and 9 messages, which
a consumer group of its own reads with kcat and commits, then stops; then a second batch
of 11, 0 and 4 messages that nobody reads. So the group's backlog is known exactly:

  accuracy     per partition, CURRENT-OFFSET, LOG-END-OFFSET and LAG equal
               `ops/kafka consumer-groups --describe` exactly (5/16/11, 7/7/0, 9/13/4)
  time lag     the oldest unconsumed message's timestamp is the one kcat reads at the
               committed offset; lag_seconds = sample time - that timestamp, at least
               the pause before the sample
  status       STOP (no member, lag > 0) on partitions 0 and 2, OK (zero lag) on 1,
               the group ERR; the same over a window of 2 samples
  PostgreSQL   a consumer_offsets row that differs from Kafka's is shown next to it; a
               group only PostgreSQL knows is measured from its rows
  serving      without --once: /lag has the same figures over a 3-sample window,
               /metrics has souk_consumer_lag, _lag_seconds, _status and
               souk_consumer_group_status; /readyz ready; Burrow's v3 consumer list
               and consumer lag (ERR, totallag 15, per-partition start/end, maxlag),
               404 for a group it never saw; the dashboard's page (HTML, nothing
               fetched from elsewhere) and /lag/history; SIGTERM: exit 0
  backlog      orders past a group's PostgreSQL offsets on `orders`, payments parked
               and stuck, rides without a final outcome (relative to the rows other
               tests left)
  usage        a bad group regex, --samples 0, --json without --once: exit 2;
               --help: exit 0; a regex no group matches: no groups
"""
import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request
import uuid

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR", "/work/main")
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
TAG = uuid.uuid4().hex[:8]
TOPIC = f"lag-test-{TAG}"
GROUP = f"lag-test-{TAG}"
PG_ONLY_GROUP = f"lag-test-{TAG}-pg"
CONSUMED = [5, 7, 9]
BACKLOG = [11, 0, 4]
PAUSE_S = 2.0


def psql(sql):
    subprocess.run(["psql", DSN, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   capture_output=True, text=True)


def kafka_cli(*args):
    return subprocess.run([os.path.join(SOURCE_DIR, "ops", "kafka"), *args], check=True,
                          capture_output=True, text=True, timeout=120).stdout


def produce(partition, n, what):
    data = "".join(f"{what}-{partition}-{i}\n" for i in range(n))
    subprocess.run(["kcat", "-P", "-b", BROKERS, "-t", TOPIC, "-p", str(partition)],
                   input=data, text=True, check=True, timeout=60)


def timestamp_at(partition, offset):
    out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", TOPIC, "-p", str(partition),
                          "-o", str(offset), "-c", "1", "-q", "-f", "%T"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return int(out)


def http_get(url, ok=(200,)):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.read().decode()
    except urllib.error.HTTPError as e:
        if e.code in ok:
            return e.read().decode()
        raise


def souk_lag(*args):
    return subprocess.run([os.path.join(BIN, "souk-lag"), *args], capture_output=True,
                          text=True, timeout=120)


def lag_json(*args):
    res = souk_lag("--once", "--json", *args)
    if res.returncode != 0:
        raise AssertionError(f"souk-lag exited {res.returncode}: {res.stderr}")
    return json.loads(res.stdout)


def describe(group):
    """(partition) -> (CURRENT-OFFSET, LOG-END-OFFSET, LAG) as the Kafka tool prints them."""
    rows = {}
    for line in kafka_cli("consumer-groups", "--describe", "--group", group).splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] == group and cols[1] == TOPIC:
            rows[int(cols[2])] = tuple(None if c == "-" else int(c) for c in cols[3:6])
    return rows


class Lag(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        kafka_cli("topics", "--create", "--topic", TOPIC, "--partitions", "3",
                  "--replication-factor", "1")
        for p, n in enumerate(CONSUMED):
            produce(p, n, "read")
        subprocess.run(["kcat", "-b", BROKERS, "-G", GROUP, "-X", "auto.offset.reset=earliest",
                        "-c", str(sum(CONSUMED)), "-q", "-f", "%p %o\n", TOPIC],
                       check=True, capture_output=True, text=True, timeout=120)
        for p, n in enumerate(BACKLOG):
            produce(p, n, "backlog")
        cls.produced_at_ms = int(time.time() * 1000)
        time.sleep(PAUSE_S)

    @classmethod
    def tearDownClass(cls):
        psql(f"DELETE FROM consumer_offsets WHERE group_id IN ('{GROUP}', '{PG_ONLY_GROUP}')")
        kafka_cli("consumer-groups", "--delete", "--group", GROUP)
        kafka_cli("topics", "--delete", "--topic", TOPIC)

    def partitions(self, doc, group):
        groups = [g for g in doc["groups"] if g["group"] == group]
        self.assertEqual(len(groups), 1, doc)
        return groups[0], {p["partition"]: p for p in groups[0]["partitions"]
                           if p["topic"] == TOPIC}

    def test_figures_equal_kafka_consumer_groups_describe(self):
        _, got = self.partitions(lag_json("--no-pg", "--group", GROUP), GROUP)
        want = describe(GROUP)
        self.assertEqual(
            {p: (r["current_offset"], r["log_end_offset"], r["lag"]) for p, r in got.items()},
            want)
        self.assertEqual(want, {p: (CONSUMED[p], CONSUMED[p] + BACKLOG[p], BACKLOG[p])
                                for p in range(3)})

    def test_time_lag_is_the_age_of_the_message_at_the_committed_offset(self):
        _, got = self.partitions(lag_json("--no-pg", "--group", GROUP), GROUP)
        for p in (0, 2):
            r = got[p]
            ts = timestamp_at(p, CONSUMED[p])
            self.assertEqual(r["oldest_unconsumed_timestamp_ms"], ts)
            self.assertAlmostEqual(r["lag_seconds"], (r["sampled_at_ms"] - ts) / 1000, places=3)
            self.assertGreaterEqual(r["lag_seconds"], PAUSE_S - 0.1)
            self.assertLess(r["lag_seconds"],
                            (time.time() * 1000 - self.produced_at_ms) / 1000 + 5)
        self.assertEqual(got[1]["lag_seconds"], 0)
        self.assertIsNone(got[1]["oldest_unconsumed_timestamp_ms"])

    def test_status_of_a_stopped_group(self):
        for args in ((), ("--samples", "2", "--interval", "200ms")):
            group, got = self.partitions(lag_json("--no-pg", "--group", GROUP, *args), GROUP)
            self.assertEqual({p: (r["status"], r["rule"]) for p, r in got.items()},
                             {0: ("STOP", "no member holds the partition"),
                              1: ("OK", "zero lag in window"),
                              2: ("STOP", "no member holds the partition")})
            self.assertEqual(group["status"], "ERR")
            self.assertEqual(group["total_lag"], sum(BACKLOG))
            self.assertIsNone(got[0]["consumer_id"])

    def test_postgresql_offsets_are_shown_next_to_kafkas(self):
        psql(f"INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES "
             f"('{GROUP}', '{TOPIC}', 0, 3), ('{GROUP}', '{TOPIC}', 2, 9), "
             f"('{PG_ONLY_GROUP}', '{TOPIC}', 0, 10)")
        doc = lag_json("--group", f"lag-test-{TAG}.*")
        _, got = self.partitions(doc, GROUP)
        self.assertEqual((got[0]["kafka_offset"], got[0]["pg_offset"], got[0]["offsets_differ"]),
                         (5, 3, True))
        self.assertEqual(got[0]["lag"], 11)  # from Kafka's offset
        self.assertEqual((got[2]["pg_offset"], got[2]["offsets_differ"]), (9, False))
        self.assertIsNone(got[1]["pg_offset"])
        _, pg_only = self.partitions(doc, PG_ONLY_GROUP)
        self.assertEqual(list(pg_only), [0])
        self.assertEqual((pg_only[0]["kafka_offset"], pg_only[0]["current_offset"],
                          pg_only[0]["lag"]), (None, 10, 6))
        self.assertEqual(pg_only[0]["oldest_unconsumed_timestamp_ms"], timestamp_at(0, 10))

    def test_table(self):
        res = souk_lag("--once", "--no-pg", "--group", GROUP)
        self.assertEqual(res.returncode, 0, res.stderr)
        lines = res.stdout.splitlines()
        self.assertEqual(lines[0].split()[:8], ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET",
                                                "LOG-END-OFFSET", "LAG", "LAG-SECONDS", "STATUS"])
        rows = [line.split() for line in lines[1:4]]
        self.assertEqual([r[:6] + [r[7]] for r in rows],
                         [[GROUP, TOPIC, "0", "5", "16", "11", "STOP"],
                          [GROUP, TOPIC, "1", "7", "7", "0", "OK"],
                          [GROUP, TOPIC, "2", "9", "13", "4", "STOP"]])
        self.assertIn(f"group {GROUP}: ERR, 3 partitions, total lag 15", lines)

    def test_business_backlog(self):
        """Orders past a group's PostgreSQL offsets on `orders`; payments parked and stuck
        (counted before and after rows of this test's own, since other tests leave
        payments behind)."""
        group = f"{GROUP}-orders"
        highs = {}
        for line in kafka_cli("get-offsets", "--topic", "orders").split():
            _, p, high = line.rsplit(":", 2)
            highs[int(p)] = int(high)
        behind = {p: min(h, 3 + p) for p, h in highs.items()}
        pay = f"lag-test-{TAG}"

        def backlog():
            doc = lag_json("--group", group, "-X", f"lag.orders_group={group}",
                           "-X", "lag.stuck_after=1h")
            return doc["backlog"]

        before = backlog()
        self.assertIsNone(before["orders_undecided"])  # the group has no offsets yet
        self.assertEqual(before["stuck_after_seconds"], 3600)
        values = ", ".join(f"('{group}', 'orders', {p}, {highs[p] - behind[p]})" for p in highs)
        try:
            psql(f"INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) "
                 f"VALUES {values}")
            psql(f"""INSERT INTO payments (payment_id, client_id, state, currency, amount,
                                           amount_authorized, updated_at) VALUES
                     ('{pay}-1', 'lag-test', 'created', 'EUR', 100, 0, now() - interval '2 h'),
                     ('{pay}-2', 'lag-test', 'created', 'EUR', 100, 0, now() - interval '2 h'),
                     ('{pay}-3', 'lag-test', 'authorized', 'EUR', 100, 100,
                      now() - interval '2 h'),
                     ('{pay}-4', 'lag-test', 'created', 'EUR', 100, 0, now());
                     INSERT INTO rides (request_id, rider_id, client_id, pickup_lat,
                                        pickup_lng, dropoff_lat, dropoff_lng, surge_cell,
                                        state, driver_id, offer_expires_at,
                                        source_partition, source_offset, source_event_id,
                                        created_at) VALUES
                     ('{pay}-r1', 'rider', 'lag-test', 0, 0, 0, 0, '871f1d489ffffff',
                      'accepted', 'd1', NULL, 0, 0, gen_random_uuid(),
                      now() - interval '1 h'),
                     ('{pay}-r2', 'rider', 'lag-test', 0, 0, 0, 0, '871f1d489ffffff',
                      'completed', 'd1', NULL, 0, 0, gen_random_uuid(), now());
                     INSERT INTO payment_waiting (payment_id, source_topic, source_partition,
                                                  source_offset, event, created_at)
                     VALUES ('{pay}-3', 'payments', 0, 0, '{{}}', now() - interval '30 s'),
                            ('{pay}-3', 'payments', 0, 1, '{{}}', now())""")
            after = backlog()
            table = souk_lag("--once", "--group", group, "-X", f"lag.orders_group={group}")
        finally:
            psql(f"DELETE FROM consumer_offsets WHERE group_id = '{group}'; "
                 f"DELETE FROM payment_waiting WHERE payment_id LIKE '{pay}-%'; "
                 f"DELETE FROM rides WHERE request_id LIKE '{pay}-%'; "
                 f"DELETE FROM payments WHERE payment_id LIKE '{pay}-%'")
        self.assertEqual(after["orders_undecided"], sum(behind.values()), after)
        self.assertEqual(after["payments_stuck"]["created"],
                         before["payments_stuck"]["created"] + 2)
        self.assertEqual(after["payments_stuck"]["authorized"],
                         before["payments_stuck"]["authorized"] + 1)
        self.assertEqual(after["payments_parked"], before["payments_parked"] + 1)
        self.assertGreaterEqual(after["payments_parked_oldest_seconds"], 30)
        self.assertEqual(after["rides_open"], before["rides_open"] + 1)  # not the completed
        self.assertGreaterEqual(after["rides_open_oldest_seconds"], 3600)
        self.assertIn(f"backlog: orders undecided {sum(behind.values())} (oldest ",
                      table.stdout)

    def test_serve_metrics_and_lag(self):
        proc = subprocess.Popen([os.path.join(BIN, "souk-lag"), "--no-pg", "--group", GROUP,
                                 "--interval", "300ms", "--samples", "3",
                                 "-X", "http.listen=127.0.0.1:0", "-X", "lag.cluster=souk"],
                                stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stderr.readline()
            self.assertIn("event=lag_serving", line)
            base = f"http://127.0.0.1:{line.split('port=')[1].split()[0]}"
            deadline = time.time() + 30
            while True:
                doc = json.loads(http_get(base + "/lag", ok=(200, 503)))
                if doc.get("samples") == 3 or time.time() > deadline:
                    break
                time.sleep(0.2)
            _, got = self.partitions(doc, GROUP)
            self.assertEqual({p: (r["lag"], r["status"]) for p, r in got.items()},
                             {0: (11, "STOP"), 1: (0, "OK"), 2: (4, "STOP")})
            metrics = http_get(base + "/metrics")
            for p, lag, status in ((0, 11, 4), (1, 0, 1), (2, 4, 4)):
                labels = f'{{group="{GROUP}",topic="{TOPIC}",partition="{p}"}}'
                self.assertIn(f"souk_consumer_lag{labels} {lag}\n", metrics)
                self.assertIn(f"souk_consumer_status{labels} {status}\n", metrics)
                self.assertIn(f"souk_consumer_lag_seconds{labels} ", metrics)
            self.assertIn(f'souk_consumer_group_status{{group="{GROUP}"}} 3\n', metrics)
            self.assertEqual(http_get(base + "/readyz").strip(), "ready")
            # Burrow's v3 API, with the cluster named by lag.cluster
            consumers = json.loads(http_get(base + "/v3/kafka/souk/consumer"))
            self.assertEqual((consumers["error"], consumers["consumers"]), (False, [GROUP]))
            burrow = json.loads(http_get(f"{base}/v3/kafka/souk/consumer/{GROUP}/lag"))
            st = burrow["status"]
            self.assertEqual((burrow["error"], st["cluster"], st["group"], st["status"],
                              st["complete"], st["partition_count"], st["totallag"]),
                             (False, "souk", GROUP, "ERR", 1.0, 3, 15))
            self.assertEqual([(p["partition"], p["status"], p["current_lag"],
                               p["start"]["offset"], p["end"]["offset"])
                              for p in st["partitions"]],
                             [(0, "STOP", 11, 5, 5), (1, "OK", 0, 7, 7), (2, "STOP", 4, 9, 9)])
            self.assertEqual((st["maxlag"]["partition"], st["maxlag"]["current_lag"]), (0, 11))
            with self.assertRaises(urllib.error.HTTPError) as e:
                http_get(f"{base}/v3/kafka/souk/consumer/no-such-{TAG}/lag")
            self.assertEqual(e.exception.code, 404)
            # the dashboard's page and its charts' points: one per pass, oldest first
            with urllib.request.urlopen(base + "/", timeout=10) as resp:
                self.assertEqual(resp.headers["Content-Type"], "text/html; charset=utf-8")
                page = resp.read().decode()
            self.assertIn("<title>souk-lag</title>", page)
            self.assertNotRegex(page, r"(src|href)=\"(https?:)?//")  # nothing from elsewhere
            doc = json.loads(http_get(base + "/lag"))
            history = json.loads(http_get(base + "/lag/history"))
            points = [g for g in history["groups"] if g["group"] == GROUP][0]
            self.assertGreaterEqual(len(points["t_ms"]), doc["pass"])
            self.assertEqual(points["t_ms"], sorted(points["t_ms"]))
            self.assertEqual(points["lag"][-1], 15)
            self.assertEqual(points["status"][-1], "ERR")
            self.assertIn("souk_backlog_orders_undecided ", metrics)
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(timeout=30), 0)
            proc.stderr.close()

    def test_usage(self):
        res = souk_lag("--help")
        self.assertEqual(res.returncode, 0)
        self.assertIn("--group REGEX", res.stdout)
        self.assertEqual(lag_json("--no-pg", "--group", f"no-such-group-{TAG}")["groups"], [])
        res = souk_lag("--once", "--group", "(")
        self.assertEqual(res.returncode, 2)
        self.assertIn('could not parse group regex "("', res.stderr)
        res = souk_lag("--json")
        self.assertEqual(res.returncode, 2)
        self.assertIn("--json goes with --once", res.stderr)
        res = souk_lag("--once", "--samples", "0")
        self.assertEqual(res.returncode, 2)
        self.assertIn("lag.window", res.stderr)


if __name__ == "__main__":
    unittest.main()
