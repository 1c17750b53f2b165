#!/usr/bin/env python3
"""souk-psp, the payment provider simulator, over HTTP.

Starts its own simulators on free ports (binary from SOUK_BIN), each with a journal in
a temporary directory, and speaks HTTP with the standard library. Needs no other
server.
"""
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR", "/work/main")
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
PSP = os.path.join(BIN, "souk-psp")
RUN = uuid.uuid4().hex[:8]

CHECKED = []  # what the run checked, for the summary line


def checked(what):
    CHECKED.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"{self.status} {self.body[:300]!r}"


class Simulator:
    """One souk-psp process on a free port, its journal and log in a temporary
    directory (kept across restart())."""

    def __init__(self, *settings, journal=True):
        self.dir = tempfile.mkdtemp(prefix="souk-psp-")
        self.journal = os.path.join(self.dir, "journal.ndjson") if journal else None
        self.settings = list(settings)
        self.start()

    def start(self):
        self.port = free_port()
        args = [PSP, "-X", f"http.listen=127.0.0.1:{self.port}"]
        if self.journal:
            args += ["-X", f"psp.journal={self.journal}"]
        for s in self.settings:
            args += ["-X", s]
        self.log = open(os.path.join(self.dir, "psp.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"souk-psp exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                if self.request("GET", "/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"souk-psp not up in 10 s:\n{self.log_text()}")
            time.sleep(0.02)

    def log_text(self):
        with open(os.path.join(self.dir, "psp.log"), errors="replace") as f:
            return f.read()[-4000:]

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def post(self, path, body, key=None, timeout=10):
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", path, data, headers, timeout)

    def authorize(self, payment_id, key, amount=1999, currency="EUR", **kw):
        return self.post("/v1/payments/authorize",
                         {"payment_id": payment_id, "amount": amount, "currency": currency}, key, **kw)

    def op(self, ref, action, key, body=None, **kw):
        return self.post(f"/v1/payments/{ref}/{action}", body if body is not None else {}, key, **kw)

    def ledger(self, payment_id):
        r = self.request("GET", f"/v1/ledger/{payment_id}")
        assert r.status == 200, r
        return r.json()["operations"]

    def lookup(self, key):
        return self.request("GET", f"/v1/operations/{key}")

    def report(self, date):
        r = self.request("GET", f"/v1/reports/settlement?date={date}")
        assert r.status == 200, r
        assert r.headers["Content-Type"].startswith("text/csv"), r.headers["Content-Type"]
        return r.body.decode()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def stop(self, timeout=10):
        """SIGTERM; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("souk-psp did not exit within 10 s of SIGTERM")
        self.log.close()
        return self.proc.returncode

    def close(self):
        """Stops it with SIGTERM, which must exit 0 (under ASan: with no leak or error
        reported), and removes its directory."""
        try:
            if self.proc.poll() is None:
                rc = self.stop()
                assert rc == 0, f"souk-psp exited with {rc} on SIGTERM:\n{self.log_text()}"
        finally:
            self.kill()
            shutil.rmtree(self.dir, ignore_errors=True)


def report_rows(csv_text):
    lines = csv_text.splitlines()
    assert lines[0] == "settled_at,provider_ref,payment_id,type,amount,currency,key", lines[0]
    return [tuple(line.split(",")) for line in lines[1:]]


def expected_rows(payment_id, ops):
    """The report lines the ledger's captures and refunds of payment_id should give, by
    date."""
    rows = {}
    for o in ops:
        if o["type"] in ("capture", "refund"):
            rows.setdefault(o["settled_at"][:10], []).append(
                (o["settled_at"], o["provider_ref"], payment_id, o["type"], str(o["amount"]),
                 o["currency"], o["key"]))
    return rows


def authorized_ref(response, payment_id):
    assert response.status == 200, response
    body = response.json()
    assert (body["payment_id"], body["status"]) == (payment_id, "authorized"), body
    return body["provider_ref"]


class Flow(unittest.TestCase):
    """One simulator without faults for the whole flow, idempotency and the report."""

    @classmethod
    def setUpClass(cls):
        cls.psp = Simulator("psp.test_hooks=true")

    @classmethod
    def tearDownClass(cls):
        cls.psp.close()

    def test_full_flow_and_report(self):
        psp, pid = self.psp, f"p-{RUN}-flow"
        r = psp.authorize(pid, f"auth-{pid}")
        ref = authorized_ref(r, pid)
        self.assertEqual({k: v for k, v in r.json().items() if k != "provider_ref"},
                         {"payment_id": pid, "type": "authorize", "status": "authorized",
                          "amount": 1999, "currency": "EUR", "key": f"auth-{pid}"})
        self.assertRegex(ref, r"^psp_[0-9a-f]{32}$")
        r = psp.op(ref, "capture", f"cap-{pid}", {"amount": 1999})
        self.assertEqual((r.status, r.json()["status"], r.json()["amount"]), (200, "captured", 1999), r)
        r = psp.op(ref, "refund", f"ref1-{pid}", {"amount": 500, "refund_id": "rf-1"})
        self.assertEqual((r.status, r.json()["status"], r.json()["refunded_total"]),
                         (200, "partially_refunded", 500), r)
        r = psp.op(ref, "refund", f"ref2-{pid}", {"amount": 1500, "refund_id": "rf-2"})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["code"], "illegal_state")
        self.assertIn("only 1499 of 1999 captured left", r.json()["error"])
        r = psp.op(ref, "refund", f"ref3-{pid}", {"amount": 1499, "refund_id": "rf-2"})
        self.assertEqual((r.status, r.json()["status"], r.json()["refunded_total"]), (200, "refunded", 1999), r)

        ops = psp.ledger(pid)
        self.assertEqual([(o["type"], o["amount"], o["status"]) for o in ops],
                         [("authorize", 1999, "authorized"), ("capture", 1999, "captured"),
                          ("refund", 500, "partially_refunded"), ("refund", 1499, "refunded")])

        # The report of each day the operations settled on holds exactly them.
        got = set()
        for date, rows in expected_rows(pid, ops).items():
            in_report = [row for row in report_rows(psp.report(date)) if row[2] == pid]
            self.assertEqual(sorted(in_report), sorted(rows))
            got.update(in_report)
        self.assertEqual(len(got), 3)
        checked("authorize, capture, partial refund, refund of the rest: 4 ledger entries, 3 report lines")

    def test_same_request_three_times_applies_once(self):
        psp, pid = self.psp, f"p-{RUN}-idem"
        answers = [psp.authorize(pid, f"auth-{pid}") for _ in range(3)]
        self.assertEqual({r.status for r in answers}, {200})
        self.assertEqual(len({r.body for r in answers}), 1, answers)
        self.assertIsNone(answers[0].headers["Idempotent-Replayed"])
        self.assertEqual([r.headers["Idempotent-Replayed"] for r in answers[1:]], ["true", "true"])
        ref = authorized_ref(answers[0], pid)
        caps = [psp.op(ref, "capture", f"cap-{pid}", {"amount": 1000}) for _ in range(3)]
        self.assertEqual([r.status for r in caps], [200, 200, 200])
        self.assertEqual([(o["type"], o["key"]) for o in psp.ledger(pid)],
                         [("authorize", f"auth-{pid}"), ("capture", f"cap-{pid}")])

        # Member order and spacing do not make another request.
        r = psp.post("/v1/payments/authorize",
                     b'{ "currency":"EUR", "amount":1999,\n "payment_id":"%s" }' % pid.encode(), f"auth-{pid}")
        self.assertEqual((r.status, r.headers["Idempotent-Replayed"]), (200, "true"), r)

        # Same key, other amount: refused, nothing applied.
        r = psp.authorize(pid, f"auth-{pid}", amount=2000)
        self.assertEqual((r.status, r.json()["code"]), (422, "idempotency_key_reused"), r)
        self.assertEqual(len(psp.ledger(pid)), 2)
        checked("3 identical requests: 1 ledger entry, replays marked Idempotent-Replayed; other amount: 422")

    def test_illegal_operations_are_409_and_stored(self):
        psp, pid = self.psp, f"p-{RUN}-illegal"
        ref = authorized_ref(psp.authorize(pid, f"auth-{pid}", amount=1000), pid)
        r = psp.op(ref, "capture", f"cap-big-{pid}", {"amount": 1001})
        self.assertEqual((r.status, r.json()["code"]), (409, "illegal_state"), r)
        self.assertIn("only 1000 authorized", r.json()["error"])
        self.assertEqual(psp.op(ref, "capture", f"cap-{pid}", {"amount": 400}).status, 200)
        r = psp.op(ref, "capture", f"cap-again-{pid}", {"amount": 100})
        self.assertEqual((r.status, r.json()["code"]), (409, "illegal_state"), r)
        self.assertIn("cannot capture a payment that is captured", r.json()["error"])
        r = psp.op(ref, "void", f"void-{pid}")
        self.assertEqual((r.status, r.json()["code"]), (409, "illegal_state"), r)
        r = psp.op("psp_" + "0" * 32, "capture", f"cap-none-{pid}", {"amount": 1})
        self.assertEqual((r.status, r.json()["code"]), (404, "not_found"), r)
        # the refusal is the key's answer: asked again, it replays
        r = psp.op(ref, "capture", f"cap-big-{pid}", {"amount": 1001})
        self.assertEqual((r.status, r.headers["Idempotent-Replayed"]), (409, "true"), r)
        self.assertEqual(len(psp.ledger(pid)), 2)

        vid = f"p-{RUN}-void"
        vref = authorized_ref(psp.authorize(vid, f"auth-{vid}"), vid)
        r = psp.op(vref, "void", f"void-{vid}")
        self.assertEqual((r.status, r.json()["status"]), (200, "voided"), r)
        r = psp.op(vref, "capture", f"cap-{vid}", {"amount": 1})
        self.assertEqual((r.status, r.json()["code"]), (409, "illegal_state"), r)
        checked("capture over the authorization, twice, void after capture, capture after void: 409")

    def test_bad_requests_name_the_field(self):
        psp = self.psp
        cases = [
            ({"payment_id": "p", "amount": 0, "currency": "EUR"}, "k1", "amount"),
            ({"payment_id": "p", "amount": 5, "currency": "XXX"}, "k2", "currency"),
            ({"payment_id": "p", "amount": 5, "currency": "EUR", "extra": 1}, "k3", "extra"),
            ({"amount": 5, "currency": "EUR"}, "k4", "payment_id"),
            ({"payment_id": "p", "amount": 5, "currency": "EUR"}, None, "Idempotency-Key"),
        ]
        for body, key, field in cases:
            r = psp.post("/v1/payments/authorize", body, key)
            self.assertEqual((r.status, r.json()["code"], r.json()["field"]), (400, "invalid_request", field), r)
        self.assertEqual(psp.request("GET", "/v1/payments/authorize").status, 405)
        self.assertEqual(psp.request("GET", "/v1/nothing").status, 404)
        r = psp.request("GET", "/v1/reports/settlement?date=2026-02-30")
        self.assertEqual((r.status, r.json()["field"]), (400, "date"), r)
        checked("400 names the field (amount, currency, unknown field, Idempotency-Key, date)")

    def test_lookup_by_key(self):
        psp, pid = self.psp, f"p-{RUN}-lookup"
        auth = psp.authorize(pid, f"auth-{pid}")
        ref = authorized_ref(auth, pid)
        found = psp.lookup(f"auth-{pid}")
        self.assertEqual(found.status, 200, found)
        self.assertEqual(found.json(), {"key": f"auth-{pid}", "status": 200, "body": auth.json()})
        r = psp.lookup(f"never-{pid}")
        self.assertEqual((r.status, r.json()["code"]), (404, "unknown_key"), r)
        # a refused request is looked up with its refusal
        psp.op(ref, "refund", f"ref-{pid}", {"amount": 1, "refund_id": "r"})
        r = psp.lookup(f"ref-{pid}")
        self.assertEqual((r.json()["status"], r.json()["body"]["code"]), (409, "illegal_state"), r)
        checked("GET /v1/operations/{key}: the stored answer, 404 unknown_key")

    def test_operations_listing_pages_in_order(self):
        psp, pid = self.psp, f"p-{RUN}-list"
        since = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 1))
        ref = authorized_ref(psp.authorize(pid, f"auth-{pid}"), pid)
        self.assertEqual(psp.op(ref, "capture", f"cap-{pid}", {"amount": 1999}).status, 200)
        for i in range(3):
            r = psp.op(ref, "refund", f"ref{i}-{pid}", {"amount": 100, "refund_id": f"r{i}"})
            self.assertEqual(r.status, 200, r)
        psp.authorize(pid, f"auth-{pid}")  # a replay lists nothing new
        pages, after, listed = 0, 0, []
        while True:
            r = psp.request("GET", f"/v1/operations?since={since}&after={after}&limit=2")
            self.assertEqual(r.status, 200, r)
            page = r.json()
            self.assertLessEqual(len(page["operations"]), 2)
            listed += page["operations"]
            pages += 1
            self.assertGreaterEqual(page["next_after"], after)
            after = page["next_after"]
            if not page["more"]:
                break
        mine = [o for o in listed if o["payment_id"] == pid]
        self.assertEqual([(o["type"], o["key"]) for o in mine],
                         [("authorize", f"auth-{pid}"), ("capture", f"cap-{pid}")] +
                         [("refund", f"ref{i}-{pid}") for i in range(3)])
        seqs = [o["seq"] for o in listed]
        self.assertEqual(seqs, sorted(set(seqs)))  # increasing, none twice
        # the same operations as the ledger's view, numbered
        self.assertEqual([{k: v for k, v in o.items() if k not in ("seq", "payment_id")}
                          for o in mine], psp.ledger(pid))
        # since in milliseconds, and a page past the end
        ms = int((time.time() + 3600) * 1000)
        r = psp.request("GET", f"/v1/operations?since={ms}")
        self.assertEqual((r.status, r.json()["operations"], r.json()["more"]), (200, [], False), r)
        for bad, field in (("since=yesterday", "since"), ("after=-1", "after"),
                           ("limit=0", "limit"), ("limit=10001", "limit")):
            r = psp.request("GET", f"/v1/operations?{bad}")
            self.assertEqual((r.status, r.json()["field"]), (400, field), r)
        checked(f"operations listing: {len(listed)} operations in {pages} pages of 2, "
                "numbered in order, as the ledger shows them; bad arguments named")

    def test_hooks_change_the_report_only(self):
        psp = self.psp
        refs = {}
        for n in ("drop", "amount"):
            pid = f"p-{RUN}-hook-{n}"
            refs[n] = authorized_ref(psp.authorize(pid, f"auth-{pid}", amount=700), pid)
            self.assertEqual(psp.op(refs[n], "capture", f"cap-{pid}", {"amount": 700}).status, 200)
        self.assertEqual(psp.request("POST", f"/v1/test/drop/{refs['drop']}").status, 200)
        r = psp.post(f"/v1/test/amount/{refs['amount']}", {"amount": 699})
        self.assertEqual(r.status, 200, r)
        dates = {o["settled_at"][:10] for n in refs for o in psp.ledger(f"p-{RUN}-hook-{n}")
                 if o["type"] == "capture"}
        rows = [row for d in dates for row in report_rows(psp.report(d))]
        self.assertNotIn(refs["drop"], [row[1] for row in rows])
        self.assertEqual([row[4] for row in rows if row[1] == refs["amount"]], ["699"])
        self.assertEqual(psp.ledger(f"p-{RUN}-hook-amount")[1]["amount"], 700)
        checked("test hooks: a dropped capture leaves the report, a misreported one shows 699 of 700")


class Faults(unittest.TestCase):
    def setUp(self):
        self.sims = []

    def tearDown(self):
        for s in self.sims:
            s.close()

    def start(self, *settings, **kw):
        s = Simulator(*settings, **kw)
        self.sims.append(s)
        return s

    def test_error_rate_applies_nothing(self):
        psp, pid = self.start("psp.error_rate=1"), f"p-{RUN}-err"
        for _ in range(2):  # a retry draws again, and fails again at rate 1
            r = psp.authorize(pid, f"auth-{pid}")
            self.assertEqual((r.status, r.json()["code"]), (500, "provider_error"), r)
        self.assertEqual(psp.ledger(pid), [])
        self.assertEqual(psp.lookup(f"auth-{pid}").status, 404)
        metrics = psp.request("GET", "/metrics").body.decode()
        self.assertIn('souk_psp_operations_total{type="authorize",outcome="provider_error"} 2', metrics)
        with open(psp.journal) as f:
            self.assertEqual(f.read(), "")
        checked("error_rate=1: 500, empty ledger, nothing journaled, key unknown")

    def test_timeout_applies_then_answers_late(self):
        psp, pid = self.start("psp.timeout_rate=1", "psp.timeout_delay=2s"), f"p-{RUN}-timeout"
        start = time.monotonic()
        with self.assertRaises(socket.timeout):
            psp.authorize(pid, f"auth-{pid}", timeout=0.5)
        self.assertLess(time.monotonic() - start, 1.5)
        r = psp.lookup(f"auth-{pid}")
        self.assertEqual((r.status, r.json()["status"], r.json()["body"]["status"]), (200, 200, "authorized"), r)
        self.assertEqual([o["type"] for o in psp.ledger(pid)], ["authorize"])
        # the retry replays at once: the late answer was for the first attempt only
        start = time.monotonic()
        r = psp.authorize(pid, f"auth-{pid}")
        self.assertEqual((r.status, r.headers["Idempotent-Replayed"]), (200, "true"), r)
        self.assertLess(time.monotonic() - start, 1.0)
        checked("timeout_rate=1: client timed out at 0.5 s, lookup shows it applied, the retry replays")

    def test_latency_does_not_block(self):
        psp = self.start("psp.latency=200ms")
        n = 100
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(lambda i: psp.authorize(f"p-{RUN}-lat-{i}", f"auth-{RUN}-lat-{i}", timeout=30),
                                    range(n)))
        took = time.monotonic() - start
        self.assertEqual({r.status for r in answers}, {200})
        self.assertGreaterEqual(took, 0.2)
        self.assertLess(took, 3.0, f"{n} requests at 200 ms latency took {took:.2f} s")

        # A second request under a key whose first is still in its latency: in_progress.
        key, pid = f"auth-{RUN}-busy", f"p-{RUN}-busy"
        first = threading.Thread(target=psp.authorize, args=(pid, key))
        first.start()
        time.sleep(0.05)
        r = psp.authorize(pid, key)
        first.join()
        self.assertEqual((r.status, r.json()["code"]), (409, "in_progress"), r)
        self.assertEqual(psp.authorize(pid, key).headers["Idempotent-Replayed"], "true")
        checked(f"latency=200ms: {n} concurrent requests in {took:.2f} s; a concurrent retry gets in_progress")

    def test_client_gone_before_the_answer(self):
        # Clients send an authorization and close their connection before the answer:
        # in the latency (before the operation ran: libmicrohttpd then closes the
        # connection without calling the handler again, and the key must be released,
        # not left in_progress for good) or in the timeout delay (after it ran: the
        # key keeps the stored answer). Either way a retry under the same key gets a
        # 200 and the payment has one authorization.
        psp = self.start("psp.latency=20ms", "psp.timeout_rate=1", "psp.timeout_delay=300ms")
        sent, stuck = [], []
        for wait in (0, 0.005, 0.01, 0.015, 0.1):  # the last ones in the timeout delay
            socks = []
            for i in range(20):
                pid, key = f"p-{RUN}-gone-{wait}-{i}", f"auth-{RUN}-gone-{wait}-{i}"
                body = json.dumps({"payment_id": pid, "amount": 1999, "currency": "EUR"}).encode()
                sock = socket.create_connection(("127.0.0.1", psp.port))
                sock.sendall(b"POST /v1/payments/authorize HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Type: application/json\r\n"
                             + f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                             + body)
                socks.append(sock)
                sent.append((pid, key))
            time.sleep(wait)
            for sock in socks:
                sock.close()
        time.sleep(0.6)  # every latency and timeout delay is over
        replayed = 0
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda s: psp.authorize(*s, timeout=5), sent))
        for (pid, key), r in zip(sent, answers):
            if r.status == 409:
                stuck.append(key)
                continue
            self.assertEqual((r.status, r.json()["status"]), (200, "authorized"), f"{key}: {r}")
            replayed += r.headers.get("Idempotent-Replayed") == "true"
            self.assertEqual([o["type"] for o in psp.ledger(pid)], ["authorize"], key)
        self.assertEqual(stuck, [], f"{len(stuck)} of {len(sent)} keys left in_progress")
        self.assertGreater(replayed, 0)
        self.assertLess(replayed, len(sent))
        checked(f"{len(sent)} clients gone in the latency or the timeout delay: every retry "
                f"200 ({replayed} replays of an operation that ran, the others run now), "
                "one authorization each")

    def test_kill_and_restart_from_the_journal(self):
        psp, pid = self.start(), f"p-{RUN}-restart"
        first = psp.authorize(pid, f"auth-{pid}")
        ref = authorized_ref(first, pid)
        self.assertEqual(psp.op(ref, "capture", f"cap-{pid}", {"amount": 1500}).status, 200)
        self.assertEqual(psp.op(ref, "refund", f"ref-{pid}", {"amount": 200, "refund_id": "r1"}).status, 200)
        before = psp.ledger(pid)
        dates = {o["settled_at"][:10] for o in before if "settled_at" in o}
        report = {d: psp.report(d) for d in dates}
        psp.kill()  # SIGKILL: no chance to flush anything
        with open(psp.journal, "ab") as f:
            f.write(b'{"key":"torn-write","request":"authorize')  # a crash mid-append
        psp.start()
        self.assertEqual(psp.ledger(pid), before)
        self.assertEqual({d: psp.report(d) for d in dates}, report)
        r = psp.authorize(pid, f"auth-{pid}")
        self.assertEqual((r.status, r.headers["Idempotent-Replayed"], r.body), (200, "true", first.body))
        r = psp.op(ref, "capture", f"cap-again-{pid}", {"amount": 1})
        self.assertEqual((r.status, r.json()["code"]), (409, "illegal_state"), r)
        r = psp.op(ref, "refund", f"ref2-{pid}", {"amount": 1300, "refund_id": "r2"})
        self.assertEqual((r.status, r.json()["status"]), (200, "refunded"), r)
        self.assertEqual(psp.stop(), 0)
        checked("SIGKILL and restart: ledger, report and replays intact, a torn last line dropped")

    def test_sigterm_answers_waiting_requests(self):
        psp, pid = self.start("psp.timeout_rate=1", "psp.timeout_delay=30s"), f"p-{RUN}-term"
        answer = []
        t = threading.Thread(target=lambda: answer.append(psp.authorize(pid, f"auth-{pid}", timeout=20)))
        t.start()
        time.sleep(0.3)
        start = time.monotonic()
        rc = psp.stop()
        t.join(10)
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(answer[0].status, 200, answer)
        checked("SIGTERM with a request waiting 30 s: answered at once, exit 0")

    def test_hooks_need_the_setting(self):
        psp, pid = self.start(journal=False), f"p-{RUN}-nohooks"
        ref = authorized_ref(psp.authorize(pid, f"auth-{pid}"), pid)
        self.assertEqual(psp.op(ref, "capture", f"cap-{pid}", {"amount": 1}).status, 200)
        r = psp.request("POST", f"/v1/test/drop/{ref}")
        self.assertEqual((r.status, r.json()["code"]), (404, "not_found"), r)
        checked("test hooks off by default: 404")

    def test_faults_follow_the_seed(self):
        def declined(seed):
            psp = self.start(f"psp.seed={seed}", "psp.decline_rate=0.5", journal=False)
            return [psp.authorize(f"p-{i}", f"auth-{i}").json()["status"] == "declined" for i in range(40)]

        a, b, c = declined(7), declined(7), declined(8)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertTrue(5 < sum(a) < 35, sum(a))
        checked(f"decline_rate=0.5: {sum(a)} of 40 declined, the same with the same seed")


class Cli(unittest.TestCase):
    def run_psp(self, *args):
        return subprocess.run([PSP, *args], capture_output=True, text=True, timeout=10)

    def test_exit_codes(self):
        p = self.run_psp("--version")
        self.assertEqual((p.returncode, p.stdout.split()[0]), (0, "souk-psp"))
        self.assertIn("psp.timeout_rate", self.run_psp("--help").stdout)
        self.assertEqual(self.run_psp("--bogus").returncode, 2)
        p = self.run_psp("-X", "psp.error_rate=2")
        self.assertEqual(p.returncode, 2)
        self.assertIn("psp.error_rate", p.stderr)
        with tempfile.TemporaryDirectory() as d:
            journal = os.path.join(d, "j")
            with open(journal, "w") as f:
                f.write('{"key":"k","request":"void psp_x","status":200,"op":{"type":"void"},"body":{}}\n')
            p = self.run_psp("-X", "http.listen=127.0.0.1:0", "-X", f"psp.journal={journal}")
            self.assertEqual(p.returncode, 1)
            self.assertIn(f"journal {journal}:1: op.state: is missing", p.stderr)
        checked("--version, --help, bad option (2), bad value (2), corrupt journal names its line (1)")


def main():
    start = time.monotonic()
    result = unittest.main(exit=False, verbosity=2).result
    ok = result.wasSuccessful()
    print(f"test_psp: {'ok' if ok else 'FAILED'} in {time.monotonic() - start:.1f} s: {'; '.join(CHECKED)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
