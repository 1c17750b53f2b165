#!/usr/bin/env python3
"""souk-payments reconcile against a real souk-psp, PostgreSQL and Kafka.

Starts its own souk-psp on a free port and captures payments there over HTTP; writes
the matching ledger rows into PostgreSQL (SOUK_PG_DSN) with psql, plus three
discrepancies: a capture the provider never saw (missing_at_provider), a capture whose
ledger amount differs from the provider's (amount_mismatch) and a capture at the
provider with no ledger row (missing_in_ledger); and a captured payment without a
provider_ref, which reconcile can only warn about. Then checks what reconcile prints,
writes and publishes to `payments` (read back with kcat), and that a second run sends
the same idempotency keys. Other tests share the database: every assertion about the
ledger looks at this run's payment ids only, and the rows are deleted at the end. A
payments pool consuming `payments` meanwhile may settle the clean payments after the
first publishing run; the second run's checks allow for it.
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR", "/work/main")
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
PSP = os.path.join(BIN, "souk-psp")
PAYMENTS = os.path.join(BIN, "souk-payments")
PG_DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
RUN = uuid.uuid4().hex[:8]
PREFIX = f"p-recon-{RUN}-"
CLIENT = "souk-reconcile"
# lib/souk_uuid.c's namespace: event ids derived from (client, idempotency key, part)
SOUK_NAMESPACE = uuid.UUID(bytes=bytes([0x4f, 0x1d, 0x8a, 0x52, 0x3c, 0x7e, 0x4b, 0x90,
                                        0xa1, 0x6d, 0x2e, 0x95, 0xc0, 0x37, 0x5b, 0x18]))
KINDS = ["missing_at_provider", "missing_in_ledger", "amount_mismatch",
         "currency_mismatch", "state_mismatch"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sql(text):
    """Runs text in one psql session (stops at the first error); its output."""
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", PG_DSN,
                        "-c", text], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"psql failed: {r.stderr}\n{text}"
    return r.stdout


def lit(v):
    """v as an SQL literal."""
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def expected_event_id(key):
    return str(uuid.uuid5(SOUK_NAMESPACE, f"{CLIENT}\0{key}\0" + "0"))


class Psp:
    """One souk-psp on a free port, its log in a temporary directory."""

    def __init__(self, workdir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "psp.log"), "wb")
        self.proc = subprocess.Popen([PSP, "-X", f"http.listen=127.0.0.1:{self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            assert self.proc.poll() is None, f"souk-psp exited with {self.proc.returncode}"
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, "souk-psp not up in 10 s"
            time.sleep(0.02)

    def request(self, method, path, body=None, key=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def post(self, path, body, key):
        status, data = self.request("POST", path, body, key)
        assert status == 200, f"POST {path}: {status} {data!r}"
        return json.loads(data)

    def capture(self, pid, amount, currency, refund=None):
        """Authorizes and captures amount of pid (then refunds `refund` of it); the
        provider_ref and the provider's operations of pid."""
        ref = self.post("/v1/payments/authorize",
                        {"payment_id": pid, "amount": amount, "currency": currency},
                        f"auth-{pid}")["provider_ref"]
        self.post(f"/v1/payments/{ref}/capture", {"amount": amount}, f"cap-{pid}")
        if refund:
            self.post(f"/v1/payments/{ref}/refund", {"amount": refund, "refund_id": "rf-1"},
                      f"ref-{pid}")
        status, data = self.request("GET", f"/v1/ledger/{pid}")
        assert status == 200, data
        return ref, {o["type"]: o for o in json.loads(data)["operations"]}

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def insert_ledger(pid, ref, amount, currency, at, refund=None, refund_at=None):
    """A payment captured at `at` (RFC 3339): its payments row, its create, authorize
    and capture transitions, and a succeeded refund when given, in one transaction (the
    refunds trigger checks the sum at commit)."""
    refunded = refund or 0
    rows = [
        f"INSERT INTO payments (payment_id, client_id, state, currency, amount, "
        f"amount_authorized, amount_captured, amount_refunded, provider_ref, version) "
        f"VALUES ({lit(pid)}, 'test-recon', 'captured', {lit(currency)}, {amount}, "
        f"{amount}, {amount}, {refunded}, {lit(ref)}, {4 if refund else 3})",
    ]
    steps = [(None, "created", "create"), ("created", "authorized", "authorize"),
             ("authorized", "captured", "capture")]
    for version, (src, dst, cmd) in enumerate(steps, 1):
        rows.append(
            f"INSERT INTO payment_transitions (payment_id, version, from_state, to_state, "
            f"command, amount, client_id, idempotency_key, at) VALUES ({lit(pid)}, "
            f"{version}, {lit(src)}, {lit(dst)}, {lit(cmd)}, {amount}, 'test-recon', "
            f"{lit(cmd + '-' + pid)}, {lit(at)})")
    if refund:
        rows.append(
            f"INSERT INTO payment_refunds (payment_id, refund_id, amount, state, created_at, "
            f"updated_at) VALUES ({lit(pid)}, 'rf-1', {refund}, 'succeeded', {lit(refund_at)}, "
            f"{lit(refund_at)})")
        rows.append(
            f"INSERT INTO payment_transitions (payment_id, version, from_state, to_state, "
            f"command, amount, refund_id, client_id, idempotency_key, at) VALUES ({lit(pid)}, "
            f"4, 'captured', 'captured', 'refund', {refund}, 'rf-1', 'test-recon', "
            f"{lit('refund-' + pid)}, {lit(refund_at)})")
    sql("BEGIN;\n" + ";\n".join(rows) + ";\nCOMMIT;")


def delete_ledger():
    """Deletes this run's rows, locking its payments first so that a payments pool
    settling one meanwhile cannot add a transition under the deletes."""
    like = lit(PREFIX + "%")
    sql(f"BEGIN; SELECT 1 FROM payments WHERE payment_id LIKE {like} FOR UPDATE;"
        f"DELETE FROM payment_transitions WHERE payment_id LIKE {like};"
        f"DELETE FROM payment_refunds WHERE payment_id LIKE {like};"
        f"DELETE FROM payments WHERE payment_id LIKE {like};"
        f"DELETE FROM idempotency_keys WHERE client_id = {lit(CLIENT)} "
        f"AND payment_id LIKE {like}; COMMIT")


def ledger_states(pids):
    """payment_id -> state of the payments pids."""
    if not pids:
        return {}
    rows = sql(f"SELECT payment_id, state FROM payments WHERE payment_id IN "
               f"({', '.join(lit(p) for p in pids)})")
    return dict(line.split("|") for line in rows.splitlines())


def kafka_messages(since_ms):
    """The messages of topic payments produced since since_ms with one of this run's
    payment ids as key: (key, decoded value) in offset order per partition."""
    r = subprocess.run(["kcat", "-b", BROKERS, "-C", "-t", "payments", "-o", f"s@{since_ms}",
                        "-e", "-q", "-J"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"kcat failed: {r.stderr}"
    out = []
    for line in r.stdout.splitlines():
        m = json.loads(line)
        if (m.get("key") or "").startswith(PREFIX):
            out.append((m["key"], json.loads(m["payload"])))
    return out


class Reconcile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="souk-recon-")
        cls.psp = Psp(cls.dir)
        try:
            cls.setUpPayments()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def setUpPayments(cls):
        psp = cls.psp
        # Clean captures: at the provider and in the ledger, with the same amounts
        # (one with a partial refund, one in a currency without minor units).
        cls.clean = {}
        for name, amount, currency, refund in [("ok-eur", 1999, "EUR", None),
                                               ("ok-jpy", 1200, "JPY", None),
                                               ("ok-refunded", 3000, "EUR", 500)]:
            pid = PREFIX + name
            ref, ops = psp.capture(pid, amount, currency, refund)
            cls.clean[pid] = (ref, amount, currency, ops, refund)
        cls.mismatch = PREFIX + "amount"
        cls.mismatch_ref, mismatch_ops = psp.capture(cls.mismatch, 1500, "EUR")
        cls.unknown = PREFIX + "not-in-ledger"
        cls.unknown_ref, unknown_ops = psp.capture(cls.unknown, 700, "EUR")
        cls.missing = PREFIX + "not-at-provider"
        cls.missing_ref = "psp_" + uuid.uuid4().hex
        # and a capture in the ledger without a provider_ref, which no report can name
        cls.unreferenced = PREFIX + "no-provider-ref"

        # The provider settles a capture when it applies it; the day is the UTC day of
        # those captures, and the ledger's capture rows carry the same instants.
        first = next(iter(cls.clean.values()))[3]["capture"]["settled_at"]
        cls.date = first[:10]
        days = {o["settled_at"][:10]
                for ops in [v[3] for v in cls.clean.values()] + [mismatch_ops, unknown_ops]
                for o in ops.values() if "settled_at" in o}
        assert days == {cls.date}, f"the captures straddle midnight UTC ({days}): run again"
        for pid, (ref, amount, currency, ops, refund) in cls.clean.items():
            insert_ledger(pid, ref, amount, currency, ops["capture"]["settled_at"], refund,
                          ops["refund"]["settled_at"] if refund else None)
        insert_ledger(cls.mismatch, cls.mismatch_ref, 1600, "EUR",
                      mismatch_ops["capture"]["settled_at"])
        insert_ledger(cls.missing, cls.missing_ref, 900, "EUR", first)
        insert_ledger(cls.unreferenced, None, 800, "EUR", first)

    @classmethod
    def tearDownClass(cls):
        try:
            delete_ledger()
        finally:
            cls.psp.close()
            shutil.rmtree(cls.dir, ignore_errors=True)

    def reconcile(self, *args, url=None):
        cmd = [PAYMENTS, "reconcile", "--date", self.date, "-X",
               f"payments.provider_url={url or self.psp.url}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def mine(self, items):
        return [d for d in items if d["payment_id"].startswith(PREFIX)]

    def check_report(self, report, settle=None):
        """The run's discrepancies are exactly the three injected ones and its settle list
        the clean payments (or those of them named in settle), looking at this run's
        payments only."""
        self.assertEqual(report["date"], self.date)
        got = sorted((d["kind"], d["payment_id"], d["provider_ref"], d.get("expected"),
                      d.get("got")) for d in self.mine(report["discrepancies"]))
        self.assertEqual(got, sorted([
            ("missing_at_provider", self.missing, self.missing_ref, 900, 0),
            ("amount_mismatch", self.mismatch, self.mismatch_ref, 1600, 1500),
            ("missing_in_ledger", self.unknown, self.unknown_ref, 0, 700),
        ]))
        want = self.clean if settle is None else settle
        self.assertEqual(sorted((s["payment_id"], s["provider_ref"], s["amount"], s["currency"])
                                for s in self.mine(report["settle"])),
                         sorted((pid, self.clean[pid][0], self.clean[pid][1], self.clean[pid][2])
                                for pid in want))

    def check_settle_messages(self, messages, runs):
        """Each clean payment got runs[payment_id] settle commands, all alike: same key,
        idempotency key and event id; nothing was sent for the others."""
        by_key = {}
        for key, ev in messages:
            by_key.setdefault(key, []).append(ev)
        self.assertEqual(sorted(by_key), sorted(self.clean))
        for pid, (ref, amount, currency, _, _) in self.clean.items():
            events = by_key[pid]
            self.assertEqual(len(events), runs[pid], events)
            for ev in events:
                self.assertEqual(
                    {k: ev[k] for k in ("type", "version", "client_id", "idempotency_key",
                                        "command", "payment_id", "amount", "currency")},
                    {"type": "payment", "version": 1, "client_id": CLIENT,
                     "idempotency_key": f"settle:{ref}", "command": "settle",
                     "payment_id": pid, "amount": amount, "currency": currency})
                self.assertEqual(ev["event_id"], expected_event_id(f"settle:{ref}"))

    def test_reconcile(self):
        """In order: dry runs (table, report from a file), then the run that publishes,
        then the same day again. Nothing is published before the third step, so until
        then the clean payments are still captured."""
        since = int(time.time() * 1000) - 1000

        table = self.reconcile("--dry-run")
        self.assertEqual(table.returncode, 1, table.stderr)
        self.assertRegex(table.stdout, rf"^reconciliation of {self.date}: \d+ discrepancies, "
                                       rf"\d+ captures to settle\n")
        line = next(l for l in table.stdout.splitlines() if self.mismatch in l)
        self.assertEqual(line.split()[:6], ["amount_mismatch", self.mismatch, self.mismatch_ref,
                                            "16.00", "EUR", "15.00"])
        self.assertIn("dry run: published none of", table.stderr)

        status, csv = self.psp.request("GET", f"/v1/reports/settlement?date={self.date}")
        self.assertEqual(status, 200)
        path = os.path.join(self.dir, "settlement.csv")
        with open(path, "wb") as f:
            f.write(csv)
        # the provider is not asked when the report comes from a file
        from_file = self.reconcile("--report", path, "--json", "--dry-run",
                                   url="http://127.0.0.1:1")
        self.assertEqual(from_file.returncode, 1, from_file.stderr)
        self.check_report(json.loads(from_file.stdout))
        self.assertEqual(kafka_messages(since), [])

        out, metrics = os.path.join(self.dir, "report.json"), os.path.join(self.dir, "recon.prom")
        started = time.time()
        first = self.reconcile("--json", "--out", out, "--metrics", metrics)
        # 1: discrepancies remain (ours at least; other tests' rows may add some)
        self.assertEqual(first.returncode, 1, first.stderr)
        report = json.loads(first.stdout)
        self.check_report(report)
        with open(out) as f:
            self.assertEqual(json.load(f), report)
        self.assertIn(f"published {len(report['settle'])} of {len(report['settle'])} settle "
                      f"commands to payments", first.stderr)
        self.assertIn(f'warning: payment "{self.unreferenced}" was captured on {self.date} but '
                      f"has no provider_ref: it cannot be reconciled", first.stderr)

        with open(metrics) as f:
            text = f.read()
        values = dict(re.findall(r"^(souk_payments_recon_\S+) (\d+)$", text, re.M))
        kind = lambda k: int(values[f'souk_payments_recon_discrepancies{{kind="{k}"}}'])
        self.assertEqual(sorted(re.findall(r'kind="(\w+)"', text)), sorted(KINDS))
        # A report row is needed for missing_in_ledger and the amount and currency
        # mismatches, and only this test's provider makes any: those counts are exactly
        # this run's. Other rows captured today may add missing_at_provider and
        # state_mismatch (their refunds) discrepancies.
        self.assertGreaterEqual(kind("missing_at_provider"), 1)
        self.assertEqual([kind(k) for k in KINDS[1:4]], [1, 1, 0])
        self.assertEqual(int(values["souk_payments_recon_settle_total"]), len(self.clean))
        last = int(values["souk_payments_recon_last_run_timestamp_seconds"])
        self.assertTrue(started - 1 <= last <= time.time() + 1, last)
        self.check_settle_messages(kafka_messages(since), {pid: 1 for pid in self.clean})

        # The same day again sends the same keys and event ids, which the pool answers
        # with its stored result. A payments pool running against this database may have
        # settled some of them already: those are no longer to settle.
        second = self.reconcile("--json")
        self.assertEqual(second.returncode, 1, second.stderr)
        report = json.loads(second.stdout)
        again = {s["payment_id"] for s in self.mine(report["settle"])}
        self.check_report(report, settle=again)
        settled = {pid for pid in self.clean if pid not in again}
        self.assertEqual(ledger_states(settled), {pid: "settled" for pid in settled})
        self.check_settle_messages(kafka_messages(since),
                                   {pid: 1 + (pid in again) for pid in self.clean})

    def test_failures_name_what_failed(self):
        port = free_port()  # nothing listens there
        r = self.reconcile(url=f"http://127.0.0.1:{port}")
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: could not fetch the settlement report from "
                      f"http://127.0.0.1:{port}/v1/reports/settlement?date={self.date}: ",
                      r.stderr)
        self.assertEqual(r.stdout, "")

        r = self.reconcile("--report", os.path.join(self.dir, "absent.csv"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("absent.csv: No such file or directory", r.stderr)

        r = subprocess.run([PAYMENTS, "reconcile", "--date", "2026-02-30"],
                           capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stderr.strip()),
                         (2, 'error: --date: must be a calendar date like 2026-11-27, got '
                             '"2026-02-30"'))
        r = subprocess.run([PAYMENTS, "reconcile"], capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stderr.strip()),
                         (2, "error: reconcile needs --date YYYY-MM-DD"))
        r = subprocess.run([PAYMENTS, "settle", "--date", self.date], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn('error: unknown command "settle"', r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
