#!/usr/bin/env python3
"""The matching pool on a synthetic city, killed and restarted mid-run.

souk-loadgen's city (10K drivers reporting every 10 s for a minute, 2K requests, a
10 km box at a random spot of this run's own, stamped from now) goes to Kafka: every location first, then the requests
(the simulation's own driver answers are left out: the pool decides). One worker
thread in a group of its own decides them with offers that outlive the test; once
about a quarter of the rides exist it is SIGKILLed and started again. Then:

  no loss           every request has exactly one ride, decided (offered or no_driver)
  no double booking no driver holds two rides; driver_claims has exactly the offers
  one answer        every request's ride_match messages share one result id
  best ETA          tests/helpers/match_check rebuilds the index each ride recorded
                    (its locations offsets) and ranks every driver by brute force: the
                    offered driver is the best-ETA available, fresh, unclaimed one
                    within 20 rings, and a no_driver ride had none (exactly, or within
                    5% + 1 s where a cell's traffic hint depends on how partitions
                    interleaved: see match_check.c)
"""
import json
import os
import random
import signal
import subprocess
import time
import unittest
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR", "/work/main")
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
TEST_BIN = os.environ.get("SOUK_TEST_BIN", os.path.join(SOURCE_DIR, "build", "tests"))
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
TAG = uuid.uuid4().hex[:8]
GROUP = f"souk-matching-city-{TAG}"
DRIVERS, REQUESTS = 10000, 2000


def psql(sql):
    return subprocess.run(["psql", DSN, "-qAtX", "-v", "ON_ERROR_STOP=1", "-F", "|", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


class Worker:
    def __init__(self, log):
        self.log = log
        self.out = open(log, "a")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "souk-worker"), "matching", "--group", GROUP, "--threads", "1",
             "-X", "http.listen=127.0.0.1:0", "-X", "matching.offer_ttl=10m",
             # the killed member's partitions move on after 6 s, not Kafka's 45
             "-X", "kafka.session.timeout.ms=6000"],
            stderr=self.out)
        deadline = time.time() + 120
        port = None
        while time.time() < deadline:
            assert self.proc.poll() is None, f"the worker exited: {self.tail()}"
            with open(log) as f:
                ports = [line.split("http_port=")[1].split()[0] for line in f
                         if "event=worker_started" in line]
            if ports:
                port = ports[-1]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                        return
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.2)
        raise AssertionError(f"the worker did not get ready: {self.tail()}")

    def tail(self):
        with open(self.log) as f:
            return "".join(f.readlines()[-20:])


class City(unittest.TestCase):
    def test_city_with_a_kill(self):
        rng = random.Random(TAG)
        lat, lng = rng.uniform(-40, 40), rng.uniform(-170, 170)
        bbox = f"{lat:.4f},{lng:.4f},{lat + 0.09:.4f},{lng + 0.1:.4f}"  # about 10 x 10 km
        log = f"/tmp/souk-matching-city-{TAG}.log"
        start_ms = int(time.time() * 1000)
        start = ",".join(line.split(":", 1)[1] for line in subprocess.run(
            [os.path.join(SOURCE_DIR, "ops", "kafka"), "get-offsets", "--topic", "locations"],
            check=True, capture_output=True, text=True, timeout=120).stdout.split())
        for topic in ("ride-requests", "ride-events"):
            subprocess.run([os.path.join(BIN, "souk-replay"), "--reset-group", GROUP,
                            "--to-latest", "--execute", topic], check=True,
                           capture_output=True, timeout=120)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        city = subprocess.run(
            [os.path.join(BIN, "souk-loadgen"), "city", "--seed", str(rng.randrange(2**32)),
             "--start", now, "--drivers", str(DRIVERS), "--requests", str(REQUESTS),
             "--duration", "60", "--tick", "10", "--bbox", bbox],
            check=True, capture_output=True, text=True, timeout=120).stdout.splitlines()
        locations = [x for x in city if '"type":"location"' in x]
        requests = [x for x in city if '"type":"ride_request"' in x]
        self.assertEqual(len(requests), REQUESTS)
        prefix = json.loads(requests[0])["request_id"].rsplit("-", 1)[0] + "-"

        worker = Worker(log)
        try:
            produce = [os.path.join(BIN, "souk-produce"), "-X", "log.level=warn"]
            subprocess.run(produce, input="\n".join(locations) + "\n", text=True,
                           check=True, capture_output=True, timeout=300)
            time.sleep(1)
            # the requests at 500/s, so that the kill lands mid-run
            sender = subprocess.Popen(produce + ["--rate", "500"], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      text=True)
            sender.stdin.write("\n".join(requests) + "\n")
            sender.stdin.close()
            count = lambda: int(psql(f"SELECT count(*) FROM rides "  # noqa: E731
                                     f"WHERE request_id LIKE '{prefix}%'"))
            deadline = time.time() + 120
            while count() < REQUESTS // 4 and time.time() < deadline:
                time.sleep(0.05)
            killed_at = count()
            worker.proc.send_signal(signal.SIGKILL)
            worker.proc.wait()
            worker.out.close()
            worker = Worker(log)
            self.assertEqual(sender.wait(timeout=120), 0)
            deadline = time.time() + 180
            while count() < REQUESTS and time.time() < deadline:
                time.sleep(0.2)
        finally:
            worker.proc.terminate()
            code = worker.proc.wait(timeout=60)
            worker.out.close()
        print(f"killed with {killed_at} of {REQUESTS} rides decided; exit {code}")
        self.assertEqual(code, 0, worker.tail())
        self.assertLess(killed_at, REQUESTS)

        states = dict(x.split("|") for x in psql(
            f"SELECT state, count(*) FROM rides WHERE request_id LIKE '{prefix}%' "
            f"GROUP BY state").splitlines())
        print(f"rides: {states}")
        self.assertEqual(sum(int(n) for n in states.values()), REQUESTS)
        self.assertEqual(set(states) - {"offered", "no_driver"}, set())
        self.assertGreater(int(states.get("offered", 0)), REQUESTS * 0.9)
        self.assertEqual(psql(f"SELECT count(*) FROM (SELECT driver_id FROM rides WHERE "
                              f"request_id LIKE '{prefix}%' AND driver_id IS NOT NULL "
                              f"GROUP BY driver_id HAVING count(*) > 1) x"), "0")
        self.assertEqual(psql(f"SELECT count(*) FROM driver_claims WHERE request_id LIKE "
                              f"'{prefix}%'"), states.get("offered", "0"))

        out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", "ride-matches", "-o",
                              f"s@{start_ms}", "-e", "-q", "-f", "%k %h\n"],
                             capture_output=True, text=True, check=True, timeout=120).stdout
        ids = {}
        for line in out.splitlines():
            key, headers = line.split(" ", 1)
            if key.startswith(prefix):
                rid = [h.split("=", 1)[1] for h in headers.split(",")
                       if h.startswith("souk-result-id=")][0]
                ids.setdefault(key, set()).add(rid)
        self.assertEqual(len(ids), REQUESTS)
        self.assertEqual([k for k, v in ids.items() if len(v) != 1], [])

        check = subprocess.run([os.path.join(TEST_BIN, "match_check"), BROKERS, DSN, prefix,
                                start], capture_output=True, text=True, timeout=300)
        print(check.stdout.strip())
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn(f"checked {REQUESTS} agree {REQUESTS} (exact", check.stdout)
        self.assertIn(" disagree 0 ", check.stdout)
        psql(f"DELETE FROM driver_claims WHERE request_id LIKE '{prefix}%'")
        os.unlink(log)


if __name__ == "__main__":
    unittest.main()
