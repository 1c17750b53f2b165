#!/usr/bin/env python3
"""The payments pool (souk-worker payments) against the real stack and souk-psp.

Starts its own souk-psp (a journal in a temporary directory, restarted on the same port
with other faults between scenarios) and a souk-worker payments in a consumer group of
its own; commands go in with souk-produce, outcomes are read from PostgreSQL, from the
provider's ledger (GET /v1/ledger/{payment_id}) and from `payment-results`. Every id
carries this run's tag, so other traffic on the topics is ignored.

Scenarios:
  ttl         keys kept less than the topic's retention: the worker refuses to start
  reaper      an expired key is deleted by the pool's timer, a live one is kept
  retries     the same authorize sent 3 times -> one provider authorization, one result
              id for the three answers
  reused      the same key with another amount -> idempotency_key_reused, nothing stored
  illegal     capture before authorize -> illegal_transition, nothing applied
  kill        the worker SIGKILLed after the intent is committed and the call is out,
              before the batch commits -> after a restart: one authorization, authorized
  kill, down  the same, and the provider down when the batch runs again: the call that
              cannot connect now was sent before -> parked (not provider_unavailable);
              once the provider is back the janitor finds it applied: authorized
  timeouts    every provider call times out -> parked; the janitor completes them; the
              capture that waited behind the authorize applies after it, and a retry
              of the parked authorize gets its outcome with the same result id
  declined    the provider declines the authorization -> declined, the capture refused
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR", "/work/main")
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
RUN = "tp" + uuid.uuid4().hex[:8]
WAIT_S = 60


def psql(sql):
    out = subprocess.run(["psql", DSN, "-qAtX", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(payment_id, key, cmd, amount=None, currency="EUR", client="client-a", **extra):
    ev = {"event_id": str(uuid.uuid4()), "type": "payment", "version": 1,
          "ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
          "client_id": client, "idempotency_key": key, "command": cmd,
          "payment_id": payment_id}
    if amount is not None:
        ev.update(amount=amount, currency=currency)
    ev.update(extra)
    return ev


class Psp:
    """souk-psp on a fixed port with a journal, restartable with other settings."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="souk-pay-psp-")
        self.port = free_port()
        self.proc = None

    def start(self, *settings):
        args = [os.path.join(BIN, "souk-psp"), "-X", f"http.listen=127.0.0.1:{self.port}",
                "-X", f"psp.journal={self.dir}/journal.ndjson"]
        for s in settings:
            args += ["-X", s]
        with open(os.path.join(self.dir, "psp.log"), "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("souk-psp did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read().decode()
        finally:
            c.close()

    def operations(self, payment_id, op_type):
        status, body = self.get(f"/v1/ledger/{payment_id}")
        if status == 404:
            return []
        ops = json.loads(body)["operations"]
        return [o for o in ops if o.get("type") == op_type]


class Worker:
    def __init__(self, psp_port, group):
        self.provider_timeout = "700ms"
        self.args = [os.path.join(BIN, "souk-worker"), "payments", "--group", group,
                     "-X", "http.listen=127.0.0.1:0", "-X", "log.level=warn",
                     "-X", f"payments.provider_url=http://127.0.0.1:{psp_port}",
                     "-X", "payments.janitor_interval=1s",
                     "-X", "kafka.session.timeout.ms=6000",
                     "-X", "kafka.heartbeat.interval.ms=1000",
                     "-X", "worker.poll_timeout=50ms"]
        self.log = open(os.path.join(tempfile.gettempdir(), f"souk-pay-pool-{RUN}.log"), "ab")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            self.args + ["-X", f"payments.provider_timeout={self.provider_timeout}"],
            stdout=self.log, stderr=self.log)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode if self.proc else 0


def produce(events):
    data = "".join(json.dumps(e) + "\n" for e in events)
    res = subprocess.run([os.path.join(BIN, "souk-produce")], input=data, text=True,
                         capture_output=True)
    if res.returncode != 0:
        raise AssertionError(f"souk-produce failed: {res.stderr}")


def payment(payment_id):
    rows = psql("SELECT state, amount_authorized, amount_captured, amount_refunded, version "
                f"FROM payments WHERE payment_id = '{payment_id}'")
    return rows[0] if rows else None


def wait_for(what, fn, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def start_group_at_end(group):
    """Stores the group's offsets at the end of `payments` (the worker's runtime seeks to
    the stored offsets): a new group would otherwise replay the whole topic first."""
    res = subprocess.run(["kcat", "-b", BROKERS, "-Q"] +
                         [a for p in range(6) for a in ("-t", f"payments:{p}:-1")],
                         capture_output=True, text=True, check=True, timeout=30)
    rows = []
    for line in res.stdout.splitlines():  # payments [3] offset 40104
        part = line.split("[")[1].split("]")[0]
        rows.append(f"('{group}', 'payments', {part}, {line.split()[-1]})")
    assert len(rows) == 6, res.stdout
    psql("INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES "
         + ", ".join(rows))


STARTED_MS = int(time.time() * 1000) - 60000


def results(payment_ids):
    """The payment-results of payment_ids: a list of (result id header, body)."""
    res = subprocess.run(["kcat", "-b", BROKERS, "-C", "-t", "payment-results", "-o", f"s@{STARTED_MS}",
                          "-e", "-q", "-f", "%h\t%s\n"], capture_output=True, text=True,
                         timeout=120, check=True)
    out = []
    for line in res.stdout.splitlines():
        if "\t" not in line:
            continue
        headers, body = line.split("\t", 1)
        try:
            doc = json.loads(body)
        except ValueError:
            continue
        if doc.get("payment_id") not in payment_ids:
            continue
        rid = dict(h.split("=", 1) for h in headers.split(",") if "=" in h).get("souk-result-id")
        out.append((rid, doc))
    return out


class PaymentsPool(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.psp = Psp()
        cls.psp.start()
        cls.group = f"souk-payments-test-{RUN}"
        start_group_at_end(cls.group)
        cls.worker = Worker(cls.psp.port, cls.group)
        cls.worker.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.worker.stop()
        cls.psp.stop()
        ids = f"payment_id LIKE '%-{RUN}'"
        psql(f"DELETE FROM payment_transitions WHERE {ids}; DELETE FROM payment_refunds WHERE {ids};"
             f"DELETE FROM payments WHERE {ids}; DELETE FROM idempotency_keys WHERE {ids};"
             f"DELETE FROM payment_intents WHERE {ids}; DELETE FROM payment_waiting WHERE {ids};"
             f"DELETE FROM consumer_offsets WHERE group_id = '{cls.group}'")
        shutil.rmtree(cls.psp.dir, ignore_errors=True)
        if rc != 0:
            raise AssertionError(f"souk-worker exited with {rc}")

    def test_0_keys_kept_at_least_the_topic_retention(self):
        res = subprocess.run([os.path.join(BIN, "souk-worker"), "payments", "--group",
                              f"souk-payments-ttl-{RUN}", "-X", "http.listen=127.0.0.1:0",
                              "-X", "payments.key_ttl=1h"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 1)
        self.assertIn("could not keep idempotency keys 3600 s: less than the payments topic's "
                      "retention of 86400000 ms", res.stderr)

    def test_0_reaper(self):
        key = f"expired-{RUN}"
        row = (f"'client-a', '{key}', repeat('a', 64), 'final', 'px-{RUN}', 'create', "
               f"'{uuid.uuid4()}', '{{}}'")
        psql("INSERT INTO idempotency_keys (client_id, key, params_hash, state, payment_id, "
             f"command, result_id, response, expires_at) VALUES ({row}, now() - interval '1 s'),"
             f" ({row.replace(key, key + '-kept')}, now() + interval '1 h')")
        wait_for("the expired key reaped", lambda: not psql(
            f"SELECT 1 FROM idempotency_keys WHERE key = '{key}'"))
        self.assertEqual(psql(f"SELECT count(*) FROM idempotency_keys WHERE key = '{key}-kept'"),
                         [["1"]])

    def test_1_retries_reuse_illegal(self):
        p1, p2, p3 = f"p1-{RUN}", f"p2-{RUN}", f"p3-{RUN}"
        auth = command(p1, f"auth-{p1}", "authorize")
        produce([command(p1, f"create-{p1}", "create", 1999),
                 auth, dict(auth, event_id=str(uuid.uuid4())), dict(auth, event_id=str(uuid.uuid4())),
                 command(p1, f"capture-{p1}", "capture", 1999),
                 command(p2, f"create-{p2}", "create", 500),
                 command(p2, f"create-{p2}", "create", 700),  # same key, other amount
                 command(p3, f"create-{p3}", "create", 800),
                 command(p3, f"capture-{p3}", "capture", 800)])  # before authorize
        wait_for("p1 captured", lambda: (payment(p1) or [""])[0] == "captured")
        for key in (f"capture-{p3}", f"create-{p2}"):
            wait_for(f"{key} decided", lambda: psql(
                f"SELECT 1 FROM idempotency_keys WHERE key = '{key}' AND state = 'final'"))
        self.assertEqual(payment(p1), ["captured", "1999", "1999", "0", "3"])
        self.assertEqual(len(self.psp.operations(p1, "authorize")), 1,
                         "three authorize commands under one key: one provider authorization")
        self.assertEqual(len(self.psp.operations(p1, "capture")), 1)
        self.assertEqual(payment(p2), ["created", "0", "0", "0", "1"], "the reuse changed nothing")
        self.assertEqual(payment(p3), ["created", "0", "0", "0", "1"], "the illegal capture applied")

        got = wait_for("9 results", lambda: (lambda r: r if len(r) >= 9 else None)(
            results({p1, p2, p3})))
        by_key = {}
        for rid, doc in got:
            by_key.setdefault(doc["idempotency_key"], []).append((rid, doc))
        auths = by_key[f"auth-{p1}"]
        self.assertEqual(len(auths), 3)
        self.assertEqual(len({rid for rid, _ in auths}), 1, "the replays reuse the result id")
        self.assertTrue(all(d["status"] == "ok" and d["state"] == "authorized" for _, d in auths))
        p2_answers = sorted((d["status"], d.get("error", "")) for _, d in by_key[f"create-{p2}"])
        self.assertEqual(p2_answers, [("error", "idempotency_key_reused"), ("ok", "")])
        [(_, illegal)] = by_key[f"capture-{p3}"]
        self.assertEqual((illegal["status"], illegal["error"], illegal["state"]),
                         ("error", "illegal_transition", "created"))
        # The stored outcome of the first create is unchanged by the reuse.
        [[resp]] = psql(f"SELECT response FROM idempotency_keys WHERE key = 'create-{p2}'")
        self.assertEqual(json.loads(resp)["amount"], 500)

    def test_2_kill_between_call_and_commit(self):
        p4 = f"p4-{RUN}"
        produce([command(p4, f"create-{p4}", "create", 1200)])
        wait_for("p4 created", lambda: payment(p4))
        # Calls now take 3 s: the worker is killed while its call is out.
        self.psp.stop()
        self.psp.start("psp.latency=3s")
        self.worker.provider_timeout = "10s"
        self.worker.kill()
        self.worker.start()
        produce([command(p4, f"auth-{p4}", "authorize")])
        wait_for("p4's intent committed before the call", lambda: psql(
            f"SELECT 1 FROM payment_intents WHERE payment_id = '{p4}'"))
        time.sleep(0.5)
        self.assertEqual(payment(p4)[0], "created", "the batch must not have committed yet")
        self.worker.kill()
        self.worker.start()
        wait_for("p4 authorized", lambda: (payment(p4) or [""])[0] == "authorized")
        self.assertEqual(len(self.psp.operations(p4, "authorize")), 1,
                         "a crash between the call and the commit charged twice")
        got = results({p4})
        auth_ids = {rid for rid, d in got if d["command"] == "authorize"}
        self.assertEqual(len(auth_ids), 1)

    def test_2b_kill_then_provider_down_on_the_rerun(self):
        p7 = f"p7-{RUN}"
        produce([command(p7, f"create-{p7}", "create", 1300)])
        wait_for("p7 created", lambda: payment(p7))
        # The call is out (applied after 2 s) when the worker is killed; the provider
        # is down when the batch runs again, so the second attempt of that call
        # cannot connect: nothing sent now, but the first attempt was applied.
        self.psp.stop()
        self.psp.start("psp.latency=2s")
        self.worker.provider_timeout = "10s"
        self.worker.kill()
        self.worker.start()
        produce([command(p7, f"auth-{p7}", "authorize")])
        wait_for("p7's intent committed before the call", lambda: psql(
            f"SELECT 1 FROM payment_intents WHERE payment_id = '{p7}'"))
        self.worker.kill()
        wait_for("the provider applied the authorization",
                 lambda: self.psp.operations(p7, "authorize"))
        self.psp.stop()
        self.worker.start()
        wait_for("the rerun's call answered", lambda: psql(
            f"SELECT 1 FROM payment_intents WHERE payment_id = '{p7}' AND state <> 'pending'"))
        self.assertEqual(
            psql(f"SELECT i.state, k.state FROM payment_intents i LEFT JOIN idempotency_keys k "
                 f"ON k.key = 'auth-{p7}' WHERE i.payment_id = '{p7}'"),
            [["unknown", "in_progress"]],
            "a call an earlier attempt sent must be parked when the rerun cannot connect, "
            "not answered provider_unavailable")
        self.psp.start()
        wait_for("p7 authorized by the janitor", lambda: (payment(p7) or [""])[0] == "authorized")
        self.assertEqual(len(self.psp.operations(p7, "authorize")), 1)

    def test_3_timeouts_parked_then_janitor(self):
        p5 = f"p5-{RUN}"
        produce([command(p5, f"create-{p5}", "create", 3000)])
        wait_for("p5 created", lambda: payment(p5))
        # Every call is applied but answered 2 s late; the worker gives up after 700 ms.
        self.psp.stop()
        self.psp.start("psp.timeout_rate=1", "psp.timeout_delay=2s")
        self.worker.provider_timeout = "700ms"
        self.worker.stop()
        self.worker.start()
        produce([command(p5, f"auth-{p5}", "authorize"),
                 command(p5, f"capture-{p5}", "capture", 2000)])
        wait_for("p5 parked", lambda: psql(
            f"SELECT 1 FROM payment_waiting WHERE payment_id = '{p5}'"))
        parked = psql(f"SELECT state FROM idempotency_keys WHERE key = 'auth-{p5}'")
        self.assertEqual(parked, [["in_progress"]])
        produce([command(p5, f"auth-{p5}", "authorize")])  # the client retries meanwhile
        wait_for("p5 captured", lambda: (payment(p5) or [""])[0] == "captured")
        self.assertEqual(payment(p5), ["captured", "3000", "2000", "0", "3"])
        self.assertEqual(psql(f"SELECT count(*) FROM payment_waiting WHERE payment_id = '{p5}'"),
                         [["0"]])
        self.assertEqual(len(self.psp.operations(p5, "authorize")), 1)
        self.assertEqual(len(self.psp.operations(p5, "capture")), 1)
        got = wait_for("4 results", lambda: (lambda r: r if len(r) >= 4 else None)(results({p5})))
        self.assertEqual(sorted((d["command"], d["status"]) for _, d in got),
                         [("authorize", "ok"), ("authorize", "ok"), ("capture", "ok"),
                          ("create", "ok")])
        self.assertEqual(len({rid for rid, d in got if d["command"] == "authorize"}), 1,
                         "the retry of the parked command gets its outcome and result id")

    def test_4_declined(self):
        p6 = f"p6-{RUN}"
        self.psp.stop()
        self.psp.start("psp.decline_rate=1")
        produce([command(p6, f"create-{p6}", "create", 4000),
                 command(p6, f"auth-{p6}", "authorize"),
                 command(p6, f"capture-{p6}", "capture", 4000)])
        wait_for("p6 decided", lambda: psql(
            f"SELECT 1 FROM idempotency_keys WHERE key = 'capture-{p6}' AND state = 'final'"))
        self.assertEqual(payment(p6), ["declined", "0", "0", "0", "2"])
        got = wait_for("3 results", lambda: (lambda r: r if len(r) >= 3 else None)(results({p6})))
        answers = sorted((d["command"], d["status"], d.get("error", ""), d.get("state", ""))
                         for _, d in got)
        self.assertEqual(answers, [("authorize", "error", "declined", "declined"),
                                   ("capture", "error", "illegal_transition", "declined"),
                                   ("create", "ok", "", "created")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
