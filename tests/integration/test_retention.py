#!/usr/bin/env python3
"""Retention: what souk keeps for a while and then lets go, against the real stack.

  outbox      the relay purges outbox rows that were published and are older than
              worker.outbox_retention; a published recent row and an unpublished old
              one stay
  dedup       an order re-sent after its outbox rows are gone is answered with its
              first answer and result id: dedup reads the decisions (orders), never
              the outbox
  locations   the locations topic (drivers' positions: personal data) keeps one hour,
              in segments of 10 minutes so that old positions really go; payments keep
              a day, which the payments pool checks its idempotency keys against

Idempotency keys' expiry is tested with the payments pool (test_pay_pool.py, reaper).
"""
import json
import os
import subprocess
import sys
import time
import unittest
import uuid

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
RUN = uuid.uuid4().hex[:8]
TOPIC = f"retention-test-{RUN}"  # a source no relay owns: its rows are never published


def psql(sql):
    return subprocess.run(["psql", DSN, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def produce(*events):
    subprocess.run([os.path.join(BIN, "souk-produce"), "-X", "log.level=warn"],
                   input="".join(json.dumps(e) + "\n" for e in events), check=True,
                   capture_output=True, text=True, timeout=60)


def wait_for(what, check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def topic_config(topic):
    out = subprocess.run([os.path.join(SOURCE_DIR, "ops", "kafka"), "configs", "--describe",
                          "--entity-type", "topics", "--entity-name", topic],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)


class Retention(unittest.TestCase):
    worker = None

    @classmethod
    def setUpClass(cls):
        # The rows the purge must judge, in id order: published and old (goes),
        # published and recent (stays), unpublished and old (stays).
        ids = psql(f"""
            INSERT INTO outbox (source_topic, source_partition, messages, body, created_at)
            VALUES ('{TOPIC}', 0, 1, '\\x00', now() - interval '2 hours'),
                   ('{TOPIC}', 0, 1, '\\x00', now()),
                   ('{TOPIC}', 0, 1, '\\x00', now() - interval '2 hours')
            RETURNING id""").split()
        cls.old_published, cls.recent_published, cls.old_unpublished = map(int, ids)
        psql(f"INSERT INTO outbox_relay (source_topic, source_partition, published_id) "
             f"VALUES ('{TOPIC}', 0, {cls.recent_published})")
        cls.group = f"souk-inventory-retention-{RUN}"
        subprocess.run([os.path.join(BIN, "souk-replay"), "--reset-group", cls.group,
                        "--to-latest", "--execute", "orders"], check=True,
                       capture_output=True, timeout=120)
        cls.log = open(f"/tmp/souk-retention-{RUN}.log", "w")
        # the relay purges once when it starts, then every 30 s
        cls.worker = subprocess.Popen(
            [os.path.join(BIN, "souk-worker"), "inventory", "--group", cls.group,
             "-X", "http.listen=127.0.0.1:0", "-X", "log.level=warn",
             "-X", "worker.outbox_retention=1h"], stderr=cls.log)

    @classmethod
    def tearDownClass(cls):
        if cls.worker is not None:
            cls.worker.terminate()
            cls.worker.wait(timeout=60)
        cls.log.close()
        psql(f"DELETE FROM outbox WHERE source_topic = '{TOPIC}'; "
             f"DELETE FROM outbox_relay WHERE source_topic = '{TOPIC}'; "
             f"DELETE FROM consumer_offsets WHERE group_id = '{cls.group}'")
        os.unlink(cls.log.name)

    def test_outbox_purge(self):
        def kept():
            return {int(i) for i in psql(f"SELECT id FROM outbox WHERE source_topic = "
                                         f"'{TOPIC}'").split()}
        wait_for("the published old outbox row purged",
                 lambda: self.old_published not in kept())
        self.assertEqual(kept(), {self.recent_published, self.old_unpublished})

    def test_dedup_after_purge(self):
        sku, order_id = f"SKU-ret-{RUN}", f"o-ret-{RUN}"
        order = {"event_id": str(uuid.uuid4()), "type": "order", "version": 1,
                 "ts": "2026-01-01T00:00:00.000Z", "client_id": "retention-test",
                 "order_id": order_id, "user_id": f"u-ret-{RUN}", "sku": sku, "qty": 1}
        produce({"event_id": str(uuid.uuid4()), "type": "stock_set", "version": 1,
                 "ts": "2026-01-01T00:00:00.000Z", "client_id": "retention-test",
                 "sku": sku, "stock": 1}, order)

        def decided():
            return psql(f"SELECT status || ' ' || result_id FROM orders "
                        f"WHERE order_id = '{order_id}'")
        wait_for("the order decided", decided)
        first = decided()
        self.assertTrue(first.startswith("accepted "), first)
        result_id = first.split()[1]
        wait_for("its answer published", lambda: self.answers(order_id) == [result_id])
        # as if retention had passed: the source partition's rows are gone
        psql("DELETE FROM outbox WHERE source_topic = 'orders' AND id <= "
             "(SELECT published_id FROM outbox_relay WHERE source_topic = 'orders' "
             f"AND source_partition = (SELECT source_partition FROM orders "
             f"WHERE order_id = '{order_id}'))")
        order["event_id"] = str(uuid.uuid4())  # a client's retry: a new event, same order
        produce(order)
        wait_for("the retry answered", lambda: len(self.answers(order_id)) >= 2)
        self.assertEqual(set(self.answers(order_id)), {result_id})
        self.assertEqual(decided(), first)

    @staticmethod
    def answers(order_id):
        """The souk-result-id of each answer to order_id on order-results."""
        out = subprocess.run(["kcat", "-b", BROKERS, "-C", "-t", "order-results", "-o",
                              "-20000", "-e", "-q", "-f", "%k\t%h\n"],
                             capture_output=True, text=True, timeout=60).stdout
        ids = []
        for line in out.splitlines():
            key, _, headers = line.partition("\t")
            if key == order_id:
                ids += [h.split("=", 1)[1] for h in headers.split(",")
                        if h.startswith("souk-result-id=")]
        return ids

    def test_locations_short_retention(self):
        config = topic_config("locations")
        self.assertEqual(config.get("retention.ms"), "3600000", config)
        self.assertEqual(config.get("segment.ms"), "600000", config)
        self.assertEqual(topic_config("payments").get("retention.ms"), "86400000")


if __name__ == "__main__":
    unittest.main(verbosity=2)
