#!/usr/bin/env python3
"""souk-gateway against the real stack (ops/stack up).

Starts its own gateways on free ports (binaries from SOUK_BIN), speaks HTTP with the
standard library, reads what was published back from Kafka with kcat and sets display
stock with redis-cli. Every id, user and API client carries this run's tag, so runs
(and other tests using the same stack) do not see each other's events or rate buckets.

test_gateway_broker_down.py imports the helpers below.
"""
import http.client
import json
import os
import re
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
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
REDIS_URL = os.environ.get("SOUK_REDIS_URL", "redis://127.0.0.1:16379/0")
PG_DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
RUN = uuid.uuid4().hex[:8]
CLIENT_TOPICS = ["orders", "payments", "locations", "ride-requests", "ride-events"]
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JSON = {"Content-Type": "application/json"}

# What the run checked, for the summary line.
CHECKED = []


def checked(what):
    CHECKED.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uuid_version(s):
    m = UUID_RE.match(s or "")
    assert m, f"not a lower-case UUID: {s!r}"
    return m.group(1)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"{self.status} {self.body[:300]!r}"


class Gateway:
    """One souk-gateway process on a free port; its log goes to a temporary file."""

    def __init__(self, *settings):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="souk-gateway-", suffix=".log")
        args = [os.path.join(BIN, "souk-gateway"), "-X", f"http.listen=127.0.0.1:{self.port}"]
        for s in settings:
            args += ["-X", s]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def log_text(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()[-4000:]

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"souk-gateway exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                if self.request("GET", "/readyz", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"souk-gateway not ready in {timeout} s:\n{self.log_text()}")
            time.sleep(0.05)

    def request(self, method, path, body=None, headers=None, timeout=15, chunked=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if chunked:
                pieces = [body[i:i + 512] for i in range(0, len(body), 512)]
                conn.request(method, path, body=iter(pieces), headers=headers or {}, encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def post(self, path, event, key=None, auth=None, headers=None, **kw):
        """POSTs event (a dict, or bytes as they are) as JSON."""
        h = dict(JSON)
        if key is not None:
            h["Idempotency-Key"] = key
        if auth is not None:
            h["Authorization"] = f"Bearer {auth}"
        h.update(headers or {})
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        return self.request("POST", path, body, h, **kw)

    def stop(self, timeout=30):
        """SIGTERM, then the exit status (killed after timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_gateways(*settings_lists):
    """Starts the gateways at once and waits for each to be ready; on failure none is
    left running."""
    gws = [Gateway(*s) for s in settings_lists]
    try:
        for g in gws:
            g.wait_ready()
    except BaseException:
        for g in gws:
            g.kill()
        raise
    return gws


# ---- Kafka, through kcat ----------------------------------------------------------------


def kcat(*args, timeout=20):
    p = subprocess.run(["kcat", "-b", BROKERS, *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"kcat {' '.join(args)}: {p.stderr}"
    return p.stdout


def kafka_message(topic, partition, offset):
    """The (key, event) at topic/partition/offset."""
    out = kcat("-C", "-t", topic, "-p", str(partition), "-o", str(offset), "-c", "1", "-e", "-f", "%k\t%s\n")
    assert out, f"nothing at {topic}/{partition}@{offset}"
    key, value = out.rstrip("\n").split("\t", 1)
    return key, json.loads(value)


def end_offsets(topics):
    """{(topic, partition): high watermark} for every partition of topics."""
    meta = json.loads(kcat("-L", "-J"))
    args = []
    for t in meta["topics"]:
        if t["topic"] in topics:
            for p in t["partitions"]:
                args += ["-t", f"{t['topic']}:{p['partition']}:-1"]
    offsets = {}
    for line in kcat("-Q", *args).splitlines():
        m = re.match(r"^(\S+) \[(\d+)\] offset (-?\d+)$", line)
        if m:
            offsets[(m.group(1), int(m.group(2)))] = int(m.group(3))
    assert {t for t, _ in offsets} == set(topics), f"offsets of {topics}: {offsets}"
    return offsets


def messages_between(before, after):
    """[(topic, partition, offset, key, event)] published between two end_offsets. Other
    users of the stack may publish anything: a payload that is not a JSON object reads
    as {}."""
    found = []
    for (topic, partition), end in after.items():
        start = before.get((topic, partition), 0)
        if end <= start:
            continue
        out = kcat("-C", "-t", topic, "-p", str(partition), "-o", str(start), "-c", str(end - start), "-e", "-J")
        for line in out.splitlines():
            m = json.loads(line)
            try:
                event = json.loads(m["payload"] or "")
            except ValueError:
                event = {}
            found.append((topic, partition, m["offset"], m["key"], event if isinstance(event, dict) else {}))
    return found


def psql(sql):
    """Runs sql (statements in one transaction unless it says otherwise)."""
    p = subprocess.run(["psql", PG_DSN, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, f"psql: {p.stderr}"


def redis_cli(*args):
    p = subprocess.run(["redis-cli", "-u", REDIS_URL, *args], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, f"redis-cli {' '.join(args)}: {p.stderr}"
    return p.stdout.strip()


# ---- the events ------------------------------------------------------------------------


def order(n, user=None, **extra):
    return {"order_id": f"o-{RUN}-{n}", "user_id": user or f"u-{RUN}", "sku": f"SKU-{RUN}", "qty": 2, **extra}


def location(driver=None, **extra):
    return {"driver_id": driver or f"d-{RUN}", "lat": 25.2048, "lng": 55.2708, "speed_mps": 11.5, "heading": 90,
            "status": "available", **extra}


def ride_request(**extra):
    return {"request_id": f"r-{RUN}", "rider_id": f"rider-{RUN}", "pickup": {"lat": 25.2, "lng": 55.27},
            "dropoff": {"lat": 25.1972, "lng": 55.2744}, **extra}


def payment(**extra):
    return {"command": "create", "payment_id": f"p-{RUN}", "amount": 1999, "currency": "EUR", **extra}


def ride_event(**extra):
    return {"request_id": f"r-{RUN}", "action": "accept", "driver_id": f"d-{RUN}", **extra}


# ---- the tests -------------------------------------------------------------------------

OPEN = AUTH = None  # the two gateways the tests share
KEYS = {}  # name -> (client_id, API key) on AUTH
KEY_FILE = None


def setUpModule():
    global OPEN, AUTH, KEY_FILE
    for client in ("shop", "fleet", "lint", "other"):
        KEYS[client] = (f"{client}-{RUN}", f"sk_{client}_{uuid.uuid4().hex}")
    KEY_FILE = tempfile.NamedTemporaryFile("w", prefix="souk-gw-keys-", suffix=".txt")
    KEY_FILE.write("# souk-gateway test keys: <key> <client_id>\n\n")
    for cid, key in KEYS.values():
        KEY_FILE.write(f"{key} {cid}\n")
    KEY_FILE.flush()
    OPEN, AUTH = start_gateways(
        ["gateway.body_limit=2048", "gateway.batch_lines=5"],
        [f"gateway.api_keys={KEY_FILE.name}", "gateway.rate=1", "gateway.burst=2"])


def tearDownModule():
    for g in (OPEN, AUTH):
        if g:
            g.kill()
    if KEY_FILE:
        KEY_FILE.close()


def client_id(name):
    return KEYS[name][0]


def api_key(name):
    return KEYS[name][1]


class Routes(unittest.TestCase):
    def assert_accepted(self, resp, topic):
        self.assertEqual(resp.status, 202, resp)
        body = resp.json()
        self.assertEqual(set(body), {"event_id", "topic", "partition", "offset"}, body)
        self.assertEqual(body["topic"], topic)
        uuid_version(body["event_id"])
        return body

    def test_each_route_publishes_what_it_answers(self):
        fake_id = "0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d"
        routes = [
            ("/v1/orders", "order", "orders", "sku", order(1, gift={"note": "hi", "tags": [1, 2.5, None]}), None),
            ("/v1/payments", "payment", "payments", "payment_id", payment(), f"pay-{RUN}"),
            ("/v1/locations", "location", "locations", "driver_id", location(), None),
            ("/v1/ride-requests", "ride_request", "ride-requests", "request_id", ride_request(), None),
            # The gateway owns the envelope: what a client sends for it is replaced.
            ("/v1/ride-events", "ride_event", "ride-events", "request_id",
             ride_event(event_id=fake_id, ts="2001-01-01T00:00:00.000Z", client_id="someone-else"), None),
        ]
        for path, type_, topic, key_field, body, key in routes:
            with self.subTest(path=path):
                answer = self.assert_accepted(OPEN.post(path, body, key=key), topic)
                key_read, event = kafka_message(topic, answer["partition"], answer["offset"])
                self.assertEqual(key_read, body[key_field])
                self.assertEqual(event["event_id"], answer["event_id"])
                self.assertEqual(uuid_version(event["event_id"]), "5" if key else "4")
                self.assertEqual(event["type"], type_)
                self.assertEqual(event["version"], 1)
                self.assertEqual(event["client_id"], "anonymous")
                self.assertRegex(event["ts"], TS_RE)
                self.assertNotEqual(event["ts"], "2001-01-01T00:00:00.000Z")
                if key:
                    self.assertEqual(event["idempotency_key"], key)
                for field, value in body.items():
                    if field not in ("event_id", "ts", "client_id"):
                        self.assertEqual(event.get(field), value, f"{field} on {topic}")
        checked(f"{len(routes)} routes read back from Kafka")

    def test_idempotency_key_keeps_the_event_id(self):
        key = f"idem-{RUN}"
        first = OPEN.post("/v1/orders", order("idem-1"), key=key)
        again = OPEN.post("/v1/orders", order("idem-1"), key=key)
        other = OPEN.post("/v1/orders", order("idem-2"), key=f"idem-{RUN}-2")
        no_key = [OPEN.post("/v1/orders", order("idem-3")) for _ in range(2)]
        for r in (first, again, other, *no_key):
            self.assertEqual(r.status, 202, r)
        self.assertEqual(first.json()["event_id"], again.json()["event_id"])
        self.assertEqual(uuid_version(first.json()["event_id"]), "5")
        self.assertNotEqual(other.json()["event_id"], first.json()["event_id"])
        self.assertNotEqual(no_key[0].json()["event_id"], no_key[1].json()["event_id"])

        # With API keys the event belongs to the key's client, and so does its id: the
        # same Idempotency-Key from another client is another event.
        keyed = AUTH.post("/v1/orders", order("idem-4", user=f"u-idem-{RUN}"), key=key, auth=api_key("shop"))
        self.assertEqual(keyed.status, 202, keyed)
        answer = keyed.json()
        self.assertNotEqual(answer["event_id"], first.json()["event_id"])
        _, event = kafka_message("orders", answer["partition"], answer["offset"])
        self.assertEqual(event["client_id"], client_id("shop"))
        self.assertEqual(event["event_id"], answer["event_id"])
        self.assertEqual(event["idempotency_key"], key)
        checked("Idempotency-Key ids (stable, per key, per client)")

    def test_ndjson_batch_answers_every_line_in_order(self):
        lines = [
            json.dumps({"type": "order", **order("nd-1")}),
            "",
            json.dumps({"type": "surge", "cell": "89435359a2bffff", "multiplier": 1.2, "demand": 6, "supply": 5,
                        "window_s": 300}),
            '{"type": "order", "order_id": ',
            json.dumps({"type": "location", **location()}),
            "   ",
            json.dumps({"type": "payment", **payment()}),  # no idempotency key
        ]
        resp = OPEN.request("POST", "/v1/events", ("\n".join(lines) + "\n").encode(),
                            {"Content-Type": "application/x-ndjson"})
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(resp.headers["Content-Type"].startswith("application/x-ndjson"))
        results = [json.loads(line) for line in resp.body.decode().splitlines()]
        self.assertEqual([(r["line"], r["status"]) for r in results], [(1, 202), (3, 400), (4, 400), (5, 202), (7, 400)])
        self.assertEqual(results[1]["body"]["field"], "type")
        self.assertIn("published by souk", results[1]["body"]["error"])
        self.assertIsInstance(results[2]["body"]["offset"], int)
        self.assertEqual(results[4]["body"]["field"], "idempotency_key")
        for r, type_ in ((results[0], "order"), (results[3], "location")):
            b = r["body"]
            _, event = kafka_message(b["topic"], b["partition"], b["offset"])
            self.assertEqual((event["event_id"], event["type"]), (b["event_id"], type_))
        checked(f"NDJSON batch of {len(lines)} lines")


class Refusals(unittest.TestCase):
    def malformed_cases(self):
        """(name, route, body bytes, extra headers, the field named or "offset")."""
        o = json.dumps(order("bad")).encode()
        cases = [
            ("truncated", "/v1/orders", o[:-7], {}, "offset"),
            ("trailing garbage", "/v1/orders", o + b" x", {}, "offset"),
            ("invalid utf-8", "/v1/orders", o.replace(b'"o-', b'"o-\xff\xfe'), {}, "offset"),
            ("NaN", "/v1/orders", o.replace(b'"qty": 2', b'"qty": NaN'), {}, "offset"),
            ("duplicate key", "/v1/orders", b'{"qty": 1, ' + o[1:], {}, "offset"),
            ("nesting 9 deep", "/v1/orders", o[:-1] + b', "x": ' + b'{"a": ' * 8 + b"1" + b"}" * 8 + b"}", {}, "offset"),
            ("top-level array", "/v1/orders", b"[" + o + b"]", {}, "offset"),
            ("top-level string", "/v1/orders", b'"order"', {}, "offset"),
            ("top-level number", "/v1/orders", b"42", {}, "offset"),
            ("empty body", "/v1/orders", b"", {}, "offset"),
        ]
        required = [("/v1/orders", order("bad")), ("/v1/locations", location()),
                    ("/v1/ride-requests", ride_request()), ("/v1/payments", payment())]
        pay_key = {"Idempotency-Key": f"pay-bad-{RUN}"}
        for route, body in required:
            for field in body:
                if field == "heading":  # optional
                    continue
                missing = {k: v for k, v in body.items() if k != field}
                headers = pay_key if route == "/v1/payments" else {}
                cases.append((f"{route} without {field}", route, json.dumps(missing).encode(), headers, field))

        def bad(name, route, body, field, headers=None):
            headers = headers if headers is not None else (pay_key if route == "/v1/payments" else {})
            cases.append((name, route, json.dumps(body).encode(), headers, field))

        bad("qty a string", "/v1/orders", order("bad", qty="2"), "qty")
        bad("qty null", "/v1/orders", order("bad", qty=None), "qty")
        bad("qty fractional", "/v1/orders", order("bad", qty=1.5), "qty")
        bad("order_id a number", "/v1/orders", order("bad", order_id=5), "order_id")
        bad("lat a string", "/v1/locations", location(lat="25"), "lat")
        bad("qty 0", "/v1/orders", order("bad", qty=0), "qty")
        bad("qty 1001", "/v1/orders", order("bad", qty=1001), "qty")
        bad("lat 91", "/v1/locations", location(lat=91), "lat")
        bad("lng -181", "/v1/locations", location(lng=-181), "lng")
        bad("speed -1", "/v1/locations", location(speed_mps=-1), "speed_mps")
        bad("heading 361", "/v1/locations", location(heading=361), "heading")
        bad("status flying", "/v1/locations", location(status="flying"), "status")
        bad("command explode", "/v1/payments", payment(command="explode"), "command")
        bad("action dance", "/v1/ride-events", ride_event(action="dance"), "action")
        bad("currency XYZ", "/v1/payments", payment(currency="XYZ"), "currency")
        bad("order_id with a space", "/v1/orders", order("bad", order_id="o 1"), "order_id")
        bad("sku of 65 characters", "/v1/orders", order("bad", sku="S" * 65), "sku")
        bad("user_id with a leading '-'", "/v1/orders", order("bad", user_id="-u"), "user_id")
        bad("settle", "/v1/payments", payment(command="settle"), "command")
        bad("payment without a key", "/v1/payments", payment(), "idempotency_key", headers={})
        bad("refund without refund_id", "/v1/payments", payment(command="refund"), "refund_id")
        bad("pickup not an object", "/v1/ride-requests", ride_request(pickup="here"), "pickup")
        bad("pickup.lat missing", "/v1/ride-requests", ride_request(pickup={"lng": 55.27}), "pickup.lat")
        bad("accept without driver", "/v1/ride-events", {"request_id": f"r-{RUN}", "action": "accept"}, "driver_id")
        bad("type of another route", "/v1/orders", {"type": "payment", **order("bad")}, "type")
        bad("a result type", "/v1/orders", {"type": "order_result", **order("bad")}, "type")
        bad("version 2", "/v1/orders", order("bad", version=2), "version")
        bad("Idempotency-Key with a control character", "/v1/orders", order("bad"), "Idempotency-Key",
            headers={"Idempotency-Key": "key\x01one"})
        bad("Idempotency-Key of 256 characters", "/v1/orders", order("bad"), "Idempotency-Key",
            headers={"Idempotency-Key": "k" * 256})
        bad("idempotency_key differing from the header", "/v1/orders", order("bad", idempotency_key="body-key"),
            "idempotency_key", headers={"Idempotency-Key": "header-key"})
        return cases

    def test_malformed_bodies_get_400_naming_the_field_and_publish_nothing(self):
        cases = self.malformed_cases()
        self.assertGreaterEqual(len(cases), 30)
        before = end_offsets(CLIENT_TOPICS)
        for name, route, body, headers, field in cases:
            with self.subTest(name):
                h = {**JSON, "Authorization": f"Bearer {api_key('lint')}", **headers}
                resp = AUTH.request("POST", route, body, h)
                self.assertEqual(resp.status, 400, resp)
                answer = resp.json()
                self.assertIsInstance(answer.get("error"), str, answer)
                if field == "offset":
                    self.assertIsInstance(answer.get("offset"), int, answer)
                    self.assertGreaterEqual(answer["offset"], 0)
                    self.assertNotIn("field", answer)
                else:
                    self.assertEqual(answer.get("field"), field, answer)
                    self.assertIn(field, answer["error"])
        after = end_offsets(CLIENT_TOPICS)
        # Every event the gateway publishes carries the key's client: none of this
        # client's may have arrived (other users of the stack may publish meanwhile).
        ours = [m for m in messages_between(before, after) if m[4].get("client_id") == client_id("lint")]
        self.assertEqual(ours, [], "malformed events were published")
        checked(f"{len(cases)} malformed bodies (400 naming the field, none published)")

    def test_limits_and_content_types(self):
        # gateway.body_limit=2048: a body of 2048 bytes passes, one more byte does not,
        # whether the client announces its length or sends it in chunks.
        pad = 2048 - len(json.dumps(order("big", pad="")))
        at_limit = OPEN.post("/v1/orders", order("big", pad="x" * pad))
        self.assertEqual(at_limit.status, 202, at_limit)
        big = order("big", pad="x" * (pad + 1))
        too_large = [OPEN.post("/v1/orders", big), OPEN.post("/v1/orders", big, chunked=True)]
        six = "\n".join(json.dumps({"type": "order", **order(f"six-{i}")}) for i in range(6)).encode()
        too_large.append(OPEN.request("POST", "/v1/events", six, {"Content-Type": "application/x-ndjson"}))
        for r in too_large:
            self.assertEqual(r.status, 413, r)
            self.assertIn("limit", r.json()["error"])
        self.assertIn("2048", too_large[0].json()["error"])
        self.assertIn("6 lines", too_large[2].json()["error"])

        o = json.dumps(order("ct")).encode()
        for r, want in ((OPEN.request("POST", "/v1/orders", o, {"Content-Type": "text/plain"}), "application/json"),
                        (OPEN.request("POST", "/v1/orders", o, {}), "application/json"),
                        (OPEN.request("POST", "/v1/events", o, JSON), "application/x-ndjson")):
            self.assertEqual(r.status, 415, r)
            self.assertIn(want, r.json()["error"])
        # A charset parameter is fine.
        r = OPEN.request("POST", "/v1/orders", o, {"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 202, r)

        for r in (OPEN.request("GET", "/v1/nothing"), OPEN.post("/v1/order", order("404"))):
            self.assertEqual(r.status, 404, r)
        r = OPEN.request("GET", "/v1/orders")
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers["Allow"], "POST")
        r = OPEN.request("POST", "/metrics", b"", JSON)
        self.assertEqual(r.status, 405, r)
        self.assertIn("GET", r.headers["Allow"])
        checked("413, 415, 404, 405")

    def test_api_keys(self):
        o = order("auth", user=f"u-auth-{RUN}")
        answers = [
            AUTH.post("/v1/orders", o),
            AUTH.post("/v1/orders", o, auth="sk_shop_" + "0" * 32),
            AUTH.post("/v1/orders", o, headers={"Authorization": f"Basic {api_key('shop')}"}),
        ]
        for r in answers:
            self.assertEqual(r.status, 401, r)
            self.assertIn("API key", r.json()["error"])
        ok = AUTH.post("/v1/orders", o, headers={"Authorization": f"bearer {api_key('other')}"})
        self.assertEqual(ok.status, 202, ok)
        _, event = kafka_message("orders", ok.json()["partition"], ok.json()["offset"])
        self.assertEqual(event["client_id"], client_id("other"))
        checked("401 and API key clients")


class RateLimit(unittest.TestCase):
    def test_third_request_within_a_second_gets_429(self):
        shop = api_key("shop")
        before = end_offsets(["orders"])
        user = f"u-rate-{RUN}"
        orders = [AUTH.post("/v1/orders", order(f"rate-{i}", user=user), auth=shop) for i in range(3)]
        other_user = AUTH.post("/v1/orders", order("rate-other", user=f"u-rate2-{RUN}"), auth=shop)
        self.assertEqual([r.status for r in orders], [202, 202, 429], orders)
        self.assertGreaterEqual(int(orders[2].headers["Retry-After"]), 1)
        self.assertIn(f"user:{user}", orders[2].json()["error"])
        self.assertEqual(other_user.status, 202, other_user)
        published = {m[4].get("order_id") for m in messages_between(before, end_offsets(["orders"]))}
        self.assertIn(f"o-{RUN}-rate-1", published)
        self.assertNotIn(f"o-{RUN}-rate-2", published)

        # Elsewhere the bucket is the client's: another driver does not help, another
        # client is not limited.
        locs = [AUTH.post("/v1/locations", location(driver=f"d-{i}-{RUN}"), auth=shop) for i in range(3)]
        self.assertEqual([r.status for r in locs], [202, 202, 429], locs)
        self.assertIn(f"client:{client_id('shop')}", locs[2].json()["error"])
        self.assertGreaterEqual(int(locs[2].headers["Retry-After"]), 1)
        fleet = AUTH.post("/v1/locations", location(), auth=api_key("fleet"))
        self.assertEqual(fleet.status, 202, fleet)
        checked("429 per user and per client")


class Reads(unittest.TestCase):
    def test_display_stock(self):
        sku, odd = f"SKU-stock-{RUN}", f"SKU-odd-{RUN}"
        redis_cli("SET", f"souk:stock:{sku}", "42", "EX", "120")
        redis_cli("SET", f"souk:stock:{odd}", "lots", "EX", "120")
        try:
            r = OPEN.request("GET", f"/v1/stock/{sku}")
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertEqual((body["sku"], body["available"], body["consistency"]), (sku, 42, "eventual"))

            r = OPEN.request("GET", f"/v1/stock/none-{RUN}")
            self.assertEqual(r.status, 404, r)
            self.assertIn(f"none-{RUN}", r.json()["error"])
            r = OPEN.request("GET", "/v1/stock/-bad")
            self.assertEqual(r.status, 400, r)
            self.assertIn('"-bad"', r.json()["error"])

            # Whatever Redis holds, the answer is JSON, and "available" a number.
            r = OPEN.request("GET", f"/v1/stock/{odd}")
            try:
                body = r.json()
            except ValueError:
                self.fail(f"stock of a non-numeric value: not JSON: {r}")
            if r.status == 200:
                self.assertIsInstance(body["available"], int, body)
        finally:
            redis_cli("DEL", f"souk:stock:{sku}", f"souk:stock:{odd}")
        checked("display stock")

    def test_order_decision_from_postgresql(self):
        oid, sku = f"o-read-{RUN}", f"SKU-read-{RUN}"
        r = OPEN.request("GET", f"/v1/orders/{oid}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"order_id": oid, "status": "pending"})
        psql("INSERT INTO orders (order_id, sku, user_id, qty, status, reason, result_id, "
             "source_event_id, source_topic, source_partition, source_offset) VALUES "
             f"('{oid}', '{sku}', 'u-1', 2, 'rejected', 'sold_out', gen_random_uuid(), "
             "gen_random_uuid(), 'orders', 0, 0)")
        try:
            r = OPEN.request("GET", f"/v1/orders/{oid}")
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertEqual((body["status"], body["reason"], body["sku"], body["qty"]),
                             ("rejected", "sold_out", sku, 2), body)
            self.assertRegex(body["decided_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            r = OPEN.request("GET", "/v1/orders/-bad")
            self.assertEqual(r.status, 400, r)
            self.assertIn('"-bad"', r.json()["error"])
        finally:
            psql(f"DELETE FROM orders WHERE order_id = '{oid}'")
        checked("order decisions from postgresql")

    def test_payment_from_postgresql(self):
        # Written as the payments pool would: a captured payment with one refund done
        # and one whose provider call has no answer yet (its key in_progress), a voided
        # one without provider_ref, and one with a long history. The times are given in
        # +02:00 to see them answered in UTC.
        paid, voided, long = (f"p-read-{RUN}-{n}" for n in ("paid", "voided", "long"))
        ids = f"'{paid}', '{voided}', '{long}'"
        client, other = f"shop-{RUN}", f"shop2-{RUN}"
        h = "'" + "ab" * 32 + "'"

        def key(client_id, key, state, payment_id, command, at):
            final = "'{}', now() + interval '1 hour'" if state == "final" else "NULL, NULL"
            return (f"('{client_id}', '{key}', {h}, '{state}', '{payment_id}', '{command}', "
                    f"gen_random_uuid(), {final}, '{at}')")

        def transition(payment_id, version, from_, to, command, amount, at, refund_id="NULL"):
            from_ = f"'{from_}'" if from_ else "NULL"
            return (f"('{payment_id}', {version}, {from_}, '{to}', '{command}', {amount}, {refund_id}, "
                    f"'{client}', 'k-{version}', '{at}')")

        t = "2024-03-01 14:0{}:00.{}+02"
        psql(f"""
            INSERT INTO payments (payment_id, client_id, state, currency, amount, amount_authorized,
                                  amount_captured, amount_refunded, provider_ref, version, created_at, updated_at)
            VALUES ('{paid}', '{client}', 'captured', 'EUR', 1999, 1999, 1999, 500, 'psp_{RUN}', 4,
                    '{t.format(0, 120)}', '{t.format(4, 5)}'),
                   ('{voided}', '{client}', 'voided', 'JPY', 700, 700, 0, 0, NULL, 3,
                    '{t.format(0, 0)}', '{t.format(2, 0)}'),
                   ('{long}', '{client}', 'captured', 'EUR', 10, 10, 10, 0, 'psp_l_{RUN}', 105,
                    '{t.format(0, 0)}', '{t.format(0, 0)}');
            INSERT INTO payment_refunds (payment_id, refund_id, amount, state, created_at) VALUES
                ('{paid}', 'rf-2', 300, 'pending', '{t.format(5, 0)}'),
                ('{paid}', 'rf-1', 500, 'succeeded', '{t.format(4, 0)}');
            INSERT INTO payment_transitions (payment_id, version, from_state, to_state, command, amount,
                                             refund_id, client_id, idempotency_key, at) VALUES
                {transition(paid, 3, "authorized", "captured", "capture", 1999, t.format(3, 0))},
                {transition(paid, 1, None, "created", "create", 1999, t.format(0, 120))},
                {transition(paid, 4, "captured", "captured", "refund", 500, t.format(4, 5), "'rf-1'")},
                {transition(paid, 2, "created", "authorized", "authorize", 1999, t.format(1, 0))},
                {transition(voided, 1, None, "created", "create", 700, t.format(0, 0))},
                {transition(voided, 2, "created", "authorized", "authorize", 700, t.format(1, 0))},
                {transition(voided, 3, "authorized", "voided", "void", "NULL", t.format(2, 0))},
                {transition(long, 1, None, "created", "create", 10, t.format(0, 0))};
            INSERT INTO payment_transitions (payment_id, version, from_state, to_state, command, amount,
                                             client_id, idempotency_key)
                SELECT '{long}', v, 'captured', 'captured', 'capture', 10, '{client}', 'k-' || v
                FROM generate_series(2, 105) AS v;
            INSERT INTO idempotency_keys (client_id, key, params_hash, state, payment_id, command,
                                          result_id, response, expires_at, created_at) VALUES
                {key(other, f"k-late-{RUN}", "in_progress", paid, "settle", t.format(6, 0))},
                {key(client, f"k-refund-{RUN}", "in_progress", paid, "refund", t.format(5, 0))},
                {key(client, f"k-done-{RUN}", "final", paid, "capture", t.format(3, 0))},
                {key(client, f"k-elsewhere-{RUN}", "in_progress", voided + "-not", "capture", t.format(5, 0))};
            """)
        try:
            r = OPEN.request("GET", f"/v1/payments/{paid}")
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.headers["Content-Type"].startswith("application/json"), r.headers)
            self.assertEqual(r.json(), {
                "payment_id": paid, "state": "captured", "currency": "EUR", "amount": 1999,
                "amount_authorized": 1999, "amount_captured": 1999, "amount_refunded": 500, "version": 4,
                "provider_ref": f"psp_{RUN}",
                "created_at": "2024-03-01T12:00:00.120Z", "updated_at": "2024-03-01T12:04:00.500Z",
                # Only this payment's keys still in_progress, oldest first.
                "in_progress": [{"command": "refund", "idempotency_key": f"k-refund-{RUN}"},
                                {"command": "settle", "idempotency_key": f"k-late-{RUN}"}],
                "refunds": [{"refund_id": "rf-1", "amount": 500, "state": "succeeded"},
                            {"refund_id": "rf-2", "amount": 300, "state": "pending"}],
                "transitions": [
                    {"version": 1, "from": None, "to": "created", "command": "create", "amount": 1999,
                     "at": "2024-03-01T12:00:00.120Z"},
                    {"version": 2, "from": "created", "to": "authorized", "command": "authorize", "amount": 1999,
                     "at": "2024-03-01T12:01:00.000Z"},
                    {"version": 3, "from": "authorized", "to": "captured", "command": "capture", "amount": 1999,
                     "at": "2024-03-01T12:03:00.000Z"},
                    {"version": 4, "from": "captured", "to": "captured", "command": "refund", "amount": 500,
                     "at": "2024-03-01T12:04:00.500Z"},
                ],
            })

            r = OPEN.request("GET", f"/v1/payments/{voided}")
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertNotIn("provider_ref", body)
            self.assertEqual((body["state"], body["currency"], body["amount_captured"], body["in_progress"],
                              body["refunds"]), ("voided", "JPY", 0, [], []), body)
            self.assertEqual(body["transitions"][-1],
                             {"version": 3, "from": "authorized", "to": "voided", "command": "void", "amount": None,
                              "at": "2024-03-01T12:02:00.000Z"})

            # The last 100 transitions of a long history, still by version.
            r = OPEN.request("GET", f"/v1/payments/{long}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual([tr["version"] for tr in r.json()["transitions"]], list(range(6, 106)))

            # With API keys on: the client that created it reads it, another gets 404, no
            # key 401.
            def get_auth(name):
                h = {"Authorization": f"Bearer {KEYS[name][1]}"} if name else {}
                return AUTH.request("GET", f"/v1/payments/{paid}", headers=h)
            self.assertEqual(client_id("shop"), client)
            r = get_auth("shop")
            self.assertEqual((r.status, r.json()["payment_id"]), (200, paid), r)
            r = get_auth("fleet")
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json(), {"error": "payment not found", "payment_id": paid})
            r = get_auth(None)
            self.assertEqual(r.status, 401, r)
            self.assertIn("API key", r.json()["error"])
        finally:
            psql(f"""
                DELETE FROM payment_transitions WHERE payment_id IN ({ids});
                DELETE FROM payment_refunds WHERE payment_id IN ({ids});
                DELETE FROM idempotency_keys WHERE client_id IN ('{client}', '{other}');
                DELETE FROM payments WHERE payment_id IN ({ids});
                """)

        r = OPEN.request("GET", f"/v1/payments/{paid}")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json(), {"error": "payment not found", "payment_id": paid})
        r = OPEN.request("GET", "/v1/payments/p%20one")
        self.assertEqual(r.status, 400, r)
        self.assertIn('payment_id "p one"', r.json()["error"])
        r = OPEN.request("POST", f"/v1/payments/{paid}", json.dumps(payment()).encode(), JSON)
        self.assertEqual(r.status, 405, r)
        self.assertIn("GET", r.headers["Allow"])

        # Without PostgreSQL: 503 with Retry-After, as for orders.
        (nopg,) = start_gateways([f"pg.dsn=host=127.0.0.1 port={free_port()} dbname=souk user=souk connect_timeout=1",
                                  "gateway.retry_after=3"])
        try:
            r = nopg.request("GET", f"/v1/payments/{paid}")
        finally:
            nopg.kill()
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.headers["Retry-After"], "3")
        self.assertIn("postgresql", r.json()["error"])
        checked("payments from postgresql (200, 404, 400, 405, 503)")

    def test_ride_from_postgresql(self):
        # Written as the matching pool would: a ride with an open offer, after two
        # drivers passed on it, and one that found no driver (no offer figures). The
        # times are given in +02:00 to see them answered in UTC.
        offered, lost = (f"r-read-{RUN}-{n}" for n in ("offered", "lost"))
        client = client_id("shop")
        t = "2024-03-01 14:0{}:00.{}+02"
        psql(f"""
            INSERT INTO rides (request_id, rider_id, client_id, pickup_lat, pickup_lng, dropoff_lat,
                               dropoff_lng, surge_cell, state, driver_id, offers, passed, offer_expires_at,
                               eta_s, distance_m, fare_amount, fare_currency, surge, model_id, index_offsets,
                               source_partition, source_offset, source_event_id, version, created_at,
                               updated_at)
            VALUES ('{offered}', 'rider-{RUN}', '{client}', 52.52, 13.405, 52.5, -0.125,
                    '8b1f1d48a4c1fff', 'offered', 'd-3-{RUN}', 3, ARRAY['d-1-{RUN}', 'd-2-{RUN}'],
                    '{t.format(3, 250)}', 240, 1830, 1275, 'EUR', 1.5, '0123456789abcdef',
                    ARRAY[17, 0, 9876543210], 2, 41, gen_random_uuid(), 2,
                    '{t.format(0, 120)}', '{t.format(2, 5)}'),
                   ('{lost}', 'rider-{RUN}', '{client}', -33.8688, 151.2093, -33.9, 151.25,
                    '8bbe0e35a2d3fff', 'no_driver', NULL, 0, '{{}}', NULL,
                    NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL, 0, 7, gen_random_uuid(), 0, '{t.format(5, 0)}', '{t.format(5, 0)}');
            """)
        try:
            r = OPEN.request("GET", f"/v1/rides/{offered}")
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.headers["Content-Type"].startswith("application/json"), r.headers)
            self.assertEqual(r.json(), {
                "request_id": offered, "rider_id": f"rider-{RUN}", "state": "offered", "final": False,
                "driver_id": f"d-3-{RUN}", "offers": 3, "passed": [f"d-1-{RUN}", f"d-2-{RUN}"],
                "offer_expires_at": "2024-03-01T12:03:00.250Z",
                "pickup": {"lat": 52.52, "lng": 13.405}, "dropoff": {"lat": 52.5, "lng": -0.125},
                "surge_cell": "8b1f1d48a4c1fff", "eta_s": 240, "distance_m": 1830,
                "fare": {"amount": 1275, "currency": "EUR"}, "surge": 1.5, "model_id": "0123456789abcdef",
                "index_offsets": [17, 0, 9876543210], "version": 2,
                "created_at": "2024-03-01T12:00:00.120Z", "updated_at": "2024-03-01T12:02:00.500Z",
            })

            # No driver: final, and neither a driver nor an offer's figures.
            r = OPEN.request("GET", f"/v1/rides/{lost}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {
                "request_id": lost, "rider_id": f"rider-{RUN}", "state": "no_driver", "final": True,
                "offers": 0, "passed": [], "pickup": {"lat": -33.8688, "lng": 151.2093},
                "dropoff": {"lat": -33.9, "lng": 151.25}, "surge_cell": "8bbe0e35a2d3fff", "version": 0,
                "created_at": "2024-03-01T12:05:00.000Z", "updated_at": "2024-03-01T12:05:00.000Z",
            })

            # With API keys on: the client that requested it reads it, another gets 404,
            # no key 401.
            def get_auth(name):
                h = {"Authorization": f"Bearer {KEYS[name][1]}"} if name else {}
                return AUTH.request("GET", f"/v1/rides/{offered}", headers=h)
            r = get_auth("shop")
            self.assertEqual((r.status, r.json()["request_id"]), (200, offered), r)
            r = get_auth("fleet")
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json(), {"error": "ride not found", "request_id": offered})
            r = get_auth(None)
            self.assertEqual(r.status, 401, r)
            self.assertIn("API key", r.json()["error"])
        finally:
            psql(f"DELETE FROM rides WHERE request_id IN ('{offered}', '{lost}')")

        r = OPEN.request("GET", f"/v1/rides/{offered}")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json(), {"error": "ride not found", "request_id": offered})
        r = OPEN.request("GET", "/v1/rides/r%20one")
        self.assertEqual(r.status, 400, r)
        self.assertIn('request_id "r one"', r.json()["error"])
        r = OPEN.request("GET", "/v1/rides/" + "r" * 65)
        self.assertEqual(r.status, 400, r)
        self.assertIn("request_id", r.json()["error"])
        r = OPEN.request("POST", f"/v1/rides/{offered}", json.dumps(ride_request()).encode(), JSON)
        self.assertEqual(r.status, 405, r)
        self.assertIn("GET", r.headers["Allow"])
        counters = self.request_counters()
        self.assertGreaterEqual(counters.get(("/v1/rides/", "200"), 0), 2, counters)
        self.assertGreaterEqual(counters.get(("/v1/rides/", "404"), 0), 1, counters)

        # Without PostgreSQL: 503 with Retry-After, as for payments.
        (nopg,) = start_gateways([f"pg.dsn=host=127.0.0.1 port={free_port()} dbname=souk user=souk connect_timeout=1",
                                  "gateway.retry_after=3"])
        try:
            r = nopg.request("GET", f"/v1/rides/{offered}")
        finally:
            nopg.kill()
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.headers["Retry-After"], "3")
        self.assertIn("ride", r.json()["error"])
        self.assertIn("postgresql", r.json()["error"])
        checked("rides from postgresql (200, 404, 400, 405, 503)")

    def request_counters(self):
        r = OPEN.request("GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        counters = {}
        for line in r.body.decode().splitlines():
            m = re.match(r'^souk_gateway_requests_total\{route="([^"]+)",status="(\d+|other)"\} (\d+)$', line)
            if m:
                counters[(m.group(1), m.group(2))] = int(m.group(3))
        return counters

    def test_metrics_count_each_answer_once(self):
        before = self.request_counters()
        self.assertEqual(OPEN.post("/v1/orders", order("m-1")).status, 202)
        self.assertEqual(OPEN.post("/v1/orders", order("m-2", qty=0)).status, 400)
        r = OPEN.request("GET", "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        want = {("/v1/orders", "202"): 1, ("/v1/orders", "400"): 1, ("/healthz", "200"): 1}
        # A request is counted when its connection is done with it, which may come a
        # moment after the client read the answer.
        deadline = time.monotonic() + 2
        while True:
            after = self.request_counters()
            grown = {k: after.get(k, 0) - before.get(k, 0) for k in want}
            if grown == want or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(grown, want)
        checked("metrics and /healthz")


class Shutdown(unittest.TestCase):
    def test_sigterm_answers_requests_in_flight(self):
        # linger.ms holds every produced event back for a second: the SIGTERM lands
        # while the requests wait for their acknowledgements.
        (gw,) = start_gateways(["kafka.linger.ms=1000"])
        answers, errors, lock = [], [], threading.Lock()

        def post(i):
            try:
                r = gw.post("/v1/orders", order(f"term-{i}", user=f"u-term-{i}-{RUN}"), timeout=30)
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(type(e).__name__)
                return
            with lock:
                answers.append((time.monotonic(), r))

        try:
            threads = [threading.Thread(target=post, args=(i,)) for i in range(200)]
            for t in threads:
                t.start()
            time.sleep(0.3)
            term_at = time.monotonic()
            gw.proc.send_signal(signal.SIGTERM)
            # While the requests in flight wait for linger.ms, the draining gateway
            # is not ready and refuses new events without publishing them.
            ready = 200
            while ready == 200 and time.monotonic() < term_at + 0.6:
                ready = gw.request("GET", "/readyz", timeout=5).status
            late = gw.post("/v1/orders", order("term-late", user=f"u-term-late-{RUN}"), timeout=5)
            for t in threads:
                t.join(40)
            rc = gw.proc.wait(30)
            log = gw.log_text()
        finally:
            gw.kill()
        after_term = [r for at, r in answers if at > term_at]
        self.assertGreater(len(after_term), 0, f"no request was in flight at SIGTERM; errors {errors}")
        responses = [r for _, r in answers]
        self.assertLessEqual({r.status for r in responses}, {202, 503},
                             [r for r in responses if r.status not in (202, 503)])
        for r in responses:
            self.assertIn("event_id" if r.status == 202 else "error", r.json())
        self.assertEqual(rc, 0, log)
        self.assertEqual(ready, 503, "/readyz while draining")
        self.assertEqual(late.status, 503, late)
        self.assertIn("shutting down", late.json()["error"])
        self.assertIn("Retry-After", late.headers)

        # Every 202 is on the topic where its answer says.
        accepted = [r.json() for r in responses if r.status == 202]
        by_partition = {}
        for a in accepted:
            by_partition.setdefault(a["partition"], []).append(a["offset"])
        before = {("orders", p): min(offs) for p, offs in by_partition.items()}
        after = {("orders", p): max(offs) + 1 for p, offs in by_partition.items()}
        on_topic = {(m[1], m[2]): m[4]["event_id"] for m in messages_between(before, after)}
        for a in accepted:
            self.assertEqual(on_topic.get((a["partition"], a["offset"])), a["event_id"])
        checked(f"SIGTERM: {len(responses)} of 200 requests answered ({len(after_term)} in flight), "
                f"{len(errors)} refused, a new POST while draining 503, exit 0")


def main():
    start = time.monotonic()
    result = unittest.main(exit=False, verbosity=2).result
    ok = result.wasSuccessful()
    print(f"test_gateway: {'ok' if ok else 'FAILED'} in {time.monotonic() - start:.1f} s: {'; '.join(CHECKED)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
