#!/usr/bin/env python3
"""The matching pool (souk-worker matching) against the real broker and PostgreSQL.

Drivers of this run's own are placed around a pickup at a random spot (so earlier runs'
drivers, stale by now, are elsewhere); a worker of its own group (moved to the end of
ride-requests and ride-events first) with short offers (8 s) decides:

  best ETA      the nearest available, fresh, unclaimed driver is offered; a closer one
                that is busy, offline or stale (its last location 2 minutes old) is not;
                the ride records the ETA model's id and the index's locations offsets;
                the ride_match carries the driver, ETA, fare and surge 1.0
  decline       the next driver is offered; the one who declined never again
  expiry        an offer nobody answers goes to the next driver after the TTL
  lifecycle     accept, start, complete: the trip is written, the driver freed (and
                offered again to the next request)
  cancel        the driver is freed
  claims        two requests next to one driver: one gets them, the other the next
                driver; no driver ever holds two open rides (driver_claims, and the
                rides table checked by brute force)
  no_driver     nobody within reach: no_driver, final
  repeats       the same request again gets the same answer with the same result id;
                an illegal event (another driver's accept) goes to ride-events.dlq
  geometry      a driver across the antimeridian, and one next to an H3 pentagon
  surge         12 requests and 1 driver in a cell: its multiplier rises (stored and on
                the surge topic), a rider arriving then is quoted at it, and it falls
                back to 1.0 once the 10 s window passes
"""
import json
import math
import os
import random
import subprocess
import time
import unittest
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR", "/work/main")
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
TAG = uuid.uuid4().hex[:8]
GROUP = f"souk-matching-test-{TAG}"
RNG = random.Random(TAG)
# a spot of this run's own: nothing but this run's drivers within reach
BASE = (RNG.uniform(-50, 50), RNG.uniform(-150, 150))
TTL_S = 8


def psql(sql):
    return subprocess.run(["psql", DSN, "-qAtX", "-v", "ON_ERROR_STOP=1", "-F", "|", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def ts(delta_s=0.0):
    t = datetime.now(timezone.utc) + timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def at(north_m, east_m):
    """The point north_m and east_m metres from BASE."""
    lat = BASE[0] + north_m / 111195.0
    lng = BASE[1] + east_m / (111195.0 * math.cos(math.radians(BASE[0])))
    return {"lat": round(lat, 7), "lng": round(lng, 7)}


def send(topic, key, body, age_s=0.0):
    event = {"event_id": str(uuid.uuid4()), "version": 1, "ts": ts(-age_s),
             "client_id": "matching-test", **body}
    subprocess.run(["kcat", "-P", "-b", BROKERS, "-t", topic, "-K", "\t"],
                   input=f"{key}\t{json.dumps(event)}\n", text=True, check=True, timeout=60)
    return event


def location(driver, north_m, east_m, status="available", age_s=0.0):
    p = at(north_m, east_m)
    send("locations", driver, {"type": "location", "driver_id": driver, "lat": p["lat"],
                               "lng": p["lng"], "speed_mps": 8.0, "status": status}, age_s)


def request(rid, north_m=0.0, east_m=0.0, event_id=None):
    body = {"type": "ride_request", "request_id": rid, "rider_id": f"rider-{rid}",
            "pickup": at(north_m, east_m), "dropoff": at(north_m + 3000, east_m + 2000)}
    if event_id is None:
        return send("ride-requests", rid, body)
    event = {"event_id": event_id, "version": 1, "ts": ts(), "client_id": "matching-test",
             **body}
    subprocess.run(["kcat", "-P", "-b", BROKERS, "-t", "ride-requests", "-K", "\t"],
                   input=f"{rid}\t{json.dumps(event)}\n", text=True, check=True, timeout=60)
    return event


def ride_event(rid, action, driver=None):
    body = {"type": "ride_event", "request_id": rid, "action": action}
    if driver:
        body["driver_id"] = driver
    return send("ride-events", rid, body)


def ride(rid):
    row = psql(f"SELECT state, coalesce(driver_id, ''), offers, "
               f"array_to_string(passed, ','), coalesce(model_id, ''), "
               f"coalesce(array_length(index_offsets, 1), 0), coalesce(eta_s, -1), "
               f"coalesce(fare_amount, -1), coalesce(surge, 0) "
               f"FROM rides WHERE request_id = '{rid}'")
    if not row:
        return None
    state, driver, offers, passed, model, noff, eta, fare, surge = row.split("|")
    return {"state": state, "driver": driver, "offers": int(offers),
            "passed": passed.split(",") if passed else [], "model": model,
            "offsets": int(noff), "eta": int(eta), "fare": int(fare), "surge": float(surge)}


def wait_ride(rid, cond, timeout=30):
    deadline = time.time() + timeout
    r = None
    while time.time() < deadline:
        r = ride(rid)
        if r and cond(r):
            return r
        time.sleep(0.1)
    raise AssertionError(f"ride {rid}: condition not met, last {r}")


def matches(rid):
    """The ride_match messages of rid on ride-matches, with their result ids."""
    out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", "ride-matches", "-o",
                          f"s@{START_MS}", "-e", "-q", "-f", "%k\t%h\t%s\n"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    found = []
    for line in out.splitlines():
        key, headers, value = line.split("\t", 2)
        if key == rid:
            rid_header = [h.split("=", 1)[1] for h in headers.split(",")
                          if h.startswith("souk-result-id=")]
            found.append((rid_header[0], json.loads(value)))
    return found


def wait_matches(rid, n, timeout=30):
    """The ride_match messages of rid once there are n (the relay publishes after the
    commit, so a ride's row comes first)."""
    deadline = time.time() + timeout
    while len(m := matches(rid)) < n and time.time() < deadline:
        time.sleep(0.2)
    return m


START_MS = int(time.time() * 1000)


class Matching(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for topic in ("ride-requests", "ride-events"):
            subprocess.run([os.path.join(BIN, "souk-replay"), "--reset-group", GROUP,
                            "--to-latest", "--execute", topic], check=True,
                           capture_output=True, timeout=120)
        cls.log = open(f"/tmp/souk-matching-test-{TAG}.log", "w+")
        cls.worker = subprocess.Popen(
            [os.path.join(BIN, "souk-worker"), "matching", "--group", GROUP,
             "-X", "http.listen=127.0.0.1:0", "-X", f"matching.offer_ttl={TTL_S}s",
             "-X", "matching.k_max=10", "-X", "matching.surge_window=10s",
             "-X", "matching.surge_interval=1s", "-X", "matching.surge_half_life=1s"],
            stderr=cls.log)
        deadline = time.time() + 120
        port = None
        while port is None and time.time() < deadline:
            assert cls.worker.poll() is None, f"the worker exited: {cls.tail()}"
            with open(cls.log.name) as f:
                for line in f:
                    if "event=worker_started" in line:
                        port = line.split("http_port=")[1].split()[0]
            time.sleep(0.1)
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        else:
            raise AssertionError(f"the worker did not get ready: {cls.tail()}")

    @classmethod
    def tail(cls):
        with open(cls.log.name) as f:
            return "".join(f.readlines()[-20:])

    @classmethod
    def tearDownClass(cls):
        cls.worker.terminate()
        code = cls.worker.wait(timeout=60)
        log = cls.tail()
        cls.log.close()
        os.unlink(cls.log.name)
        psql(f"DELETE FROM driver_claims WHERE request_id LIKE 'r-{TAG}-%'")
        assert code == 0, f"souk-worker matching exited {code}: {log}"

    def setUp(self):
        self.assertIsNone(self.worker.poll(), self.tail())

    def test_best_eta_then_decline_expiry_and_lifecycle(self):
        d = lambda n: f"d-{TAG}-a{n}"  # noqa: E731
        location(d(1), 0, 400)                       # 400 m: the best available
        location(d(2), 0, -900)                      # 900 m: next
        location(d(3), 1500, 0)                      # 1.5 km: after that
        location(d(4), 0, 100, status="busy")        # closer, busy
        location(d(5), 100, 0, status="offline")     # closer, offline
        location(d(6), -100, 0, age_s=120)           # closer, stale
        time.sleep(1.5)
        rid = f"r-{TAG}-a"
        req = request(rid)
        r = wait_ride(rid, lambda r: r["state"] == "offered")
        self.assertEqual(r["driver"], d(1))
        self.assertEqual(len(r["model"]), 16)
        self.assertGreater(r["offsets"], 0)
        self.assertEqual(r["surge"], 1.0)
        self.assertGreater(r["fare"], 0)
        self.assertGreater(r["eta"], 0)
        m = wait_matches(rid, 1)
        self.assertEqual(len(m), 1, m)
        self.assertEqual((m[0][1]["status"], m[0][1]["driver_id"], m[0][1]["source_event_id"]),
                         ("matched", d(1), req["event_id"]))
        self.assertEqual(m[0][1]["fare"]["currency"], "AED")

        # decline: the next driver; d1 is passed
        ride_event(rid, "decline", d(1))
        r = wait_ride(rid, lambda r: r["offers"] == 2)
        self.assertEqual((r["state"], r["driver"], r["passed"]), ("offered", d(2), [d(1)]))

        # nobody answers d2's offer: after the TTL it goes to d3
        r = wait_ride(rid, lambda r: r["offers"] == 3, timeout=TTL_S + 15)
        self.assertEqual((r["state"], r["driver"], r["passed"]), ("offered", d(3), [d(1), d(2)]))

        # the lifecycle
        ride_event(rid, "accept", d(3))
        wait_ride(rid, lambda r: r["state"] == "accepted")
        ride_event(rid, "start", d(3))
        wait_ride(rid, lambda r: r["state"] == "started")
        ride_event(rid, "complete", d(3))
        wait_ride(rid, lambda r: r["state"] == "completed")
        self.assertEqual(psql(f"SELECT driver_id FROM trips WHERE request_id = '{rid}'"), d(3))
        self.assertEqual(psql(f"SELECT count(*) FROM driver_claims WHERE request_id = '{rid}'"),
                         "0")
        self.assertEqual(len(wait_matches(rid, 3)), 3)

        # d3 is free again: a request at d3's spot gets them (d1 and d2 are free too,
        # but farther)
        rid2 = f"r-{TAG}-a2"
        request(rid2, 1500, 0)
        r = wait_ride(rid2, lambda r: r["state"] == "offered")
        self.assertEqual(r["driver"], d(3))
        # the rider cancels: the driver is freed
        ride_event(rid2, "cancel")
        wait_ride(rid2, lambda r: r["state"] == "cancelled")
        self.assertEqual(psql(f"SELECT count(*) FROM driver_claims WHERE driver_id = '{d(3)}'"),
                         "0")

    def test_one_driver_two_requests_and_no_driver(self):
        far = (40000, 40000)  # 56 km from BASE: beyond this worker's 10 rings
        h, h2 = f"d-{TAG}-h1", f"d-{TAG}-h2"
        location(h, far[0], far[1])
        location(h2, far[0] + 2000, far[1])
        time.sleep(1.5)
        r1, r2, r3 = f"r-{TAG}-h1", f"r-{TAG}-h2", f"r-{TAG}-h3"
        request(r1, *far)
        request(r2, far[0], far[1] + 50)
        a = wait_ride(r1, lambda r: r["state"] == "offered")
        b = wait_ride(r2, lambda r: r["state"] == "offered")
        self.assertEqual({a["driver"], b["driver"]}, {h, h2})  # never the same
        request(r3, far[0], far[1] + 80)  # both drivers are claimed now
        c = wait_ride(r3, lambda r: r["state"] == "no_driver")
        self.assertEqual((c["driver"], c["offers"]), ("", 0))
        m = wait_matches(r3, 1)
        self.assertEqual([x[1]["status"] for x in m], ["no_driver"])
        # nobody holds two open rides (brute force over the table)
        self.assertEqual(psql("SELECT count(*) FROM (SELECT driver_id FROM rides WHERE state "
                              "IN ('offered', 'accepted', 'started') GROUP BY driver_id "
                              "HAVING count(*) > 1) x"), "0")

    def test_across_the_antimeridian_and_next_to_a_pentagon(self):
        """Drivers are found across the 180th meridian and around an H3 pentagon (the
        res-9 pentagon at the icosahedron's vertex 64.7000001 N 10.5361991 E, where the
        rings have five neighbours)."""
        east, west = f"d-{TAG}-east", f"d-{TAG}-west"
        send("locations", west, {"type": "location", "driver_id": west, "lat": 10.0,
                                 "lng": -179.9990, "speed_mps": 8.0, "status": "available"})
        send("locations", east, {"type": "location", "driver_id": east, "lat": 10.0,
                                 "lng": 179.9900, "speed_mps": 8.0, "status": "available"})
        pent = f"d-{TAG}-pent"
        send("locations", pent, {"type": "location", "driver_id": pent, "lat": 64.7050,
                                 "lng": 10.5450, "speed_mps": 8.0, "status": "available"})
        time.sleep(1.5)

        def req(rid, lat, lng):
            body = {"type": "ride_request", "request_id": rid, "rider_id": "rider-x",
                    "pickup": {"lat": lat, "lng": lng}, "dropoff": {"lat": lat, "lng": lng}}
            send("ride-requests", rid, body)

        # 160 m west across the meridian beats 1 km east on this side
        req(f"r-{TAG}-am", 10.0, 179.9995)
        self.assertEqual(wait_ride(f"r-{TAG}-am", lambda r: r["state"] != "")["driver"], west)
        # the pickup on the pentagon's centre, the driver 700 m away
        req(f"r-{TAG}-pent", 64.7000001, 10.5361991)
        self.assertEqual(wait_ride(f"r-{TAG}-pent", lambda r: r["state"] != "")["driver"],
                         pent)

    def test_surge_rises_in_a_flooded_cell_and_falls_back(self):
        spot = (-30000, 30000)
        location(f"d-{TAG}-s1", *spot)
        time.sleep(1.5)
        rids = [f"r-{TAG}-s{i}" for i in range(12)]
        for rid in rids:
            request(rid, *spot)
        wait_ride(rids[-1], lambda r: r["state"] != "")
        cell = psql(f"SELECT surge_cell FROM rides WHERE request_id = '{rids[0]}'")

        def multiplier():
            m = psql(f"SELECT multiplier FROM surge_cells WHERE surge_cell = '{cell}'")
            return float(m) if m else 1.0

        deadline = time.time() + 20
        while multiplier() < 2 and time.time() < deadline:
            time.sleep(0.2)
        self.assertGreaterEqual(multiplier(), 2, "12 requests, 1 driver: the cell should surge")
        # a rider arriving now is quoted at the cell's multiplier
        location(f"d-{TAG}-s2", *spot)
        time.sleep(1)
        request(f"r-{TAG}-s-late", *spot)
        late = wait_ride(f"r-{TAG}-s-late", lambda r: r["state"] != "")
        self.assertEqual(late["driver"], f"d-{TAG}-s2")
        self.assertGreaterEqual(late["surge"], 2.0)
        # the requests stop: past the 10 s window the target is 1.0 again
        deadline = time.time() + 40
        while multiplier() > 1 and time.time() < deadline:
            time.sleep(0.5)
        self.assertEqual(multiplier(), 1.0)
        out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", "surge", "-o",
                              f"s@{START_MS}", "-e", "-q", "-f", "%k %s\n"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        published = [json.loads(x.split(" ", 1)[1])["multiplier"] for x in out.splitlines()
                     if x.startswith(cell + " ")]
        self.assertGreaterEqual(max(published), 2.0, published)
        self.assertEqual(published[-1], 1.0, published)

    def test_repeats_and_illegal_events(self):
        d1 = f"d-{TAG}-r1"
        location(d1, -20000, -20000)
        time.sleep(1.5)
        rid = f"r-{TAG}-r"
        first = request(rid, -20000, -20000)
        wait_ride(rid, lambda r: r["state"] == "offered")
        request(rid, -20000, -20000)  # a client retry: another event, the same request
        m = wait_matches(rid, 2)
        self.assertEqual(len(m), 2, m)
        self.assertEqual(m[0][0], m[1][0])  # the same result id
        self.assertEqual(m[0][1]["source_event_id"], first["event_id"])
        self.assertEqual(ride(rid)["offers"], 1)
        ride_event(rid, "accept", d1)
        ride_event(rid, "accept", d1)  # a repeat: nothing happens
        wait_ride(rid, lambda r: r["state"] == "accepted")
        # another driver's accept: illegal, to the DLQ with the reason
        bad = ride_event(rid, "accept", f"d-{TAG}-nobody")
        deadline = time.time() + 20
        found = ""
        while bad["event_id"] not in found and time.time() < deadline:
            found = subprocess.run(
                ["kcat", "-C", "-b", BROKERS, "-t", "ride-events.dlq", "-o", f"s@{START_MS}",
                 "-e", "-q", "-f", "%h %s\n"], capture_output=True, text=True,
                timeout=60).stdout
            time.sleep(0.3)
        line = [x for x in found.splitlines() if bad["event_id"] in x]
        self.assertEqual(len(line), 1, found[-2000:])
        self.assertIn(f"accept by d-{TAG}-nobody: the ride is accepted with {d1}", line[0])
        self.assertEqual((ride(rid)["state"], ride(rid)["driver"]), ("accepted", d1))


if __name__ == "__main__":
    unittest.main()
