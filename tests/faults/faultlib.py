"""Shared by the fault scenarios (tests/faults/test_*.py): the stack's servers, the
traffic, workers started and killed, waiting for every decision, souk-verify.

A scenario produces a flash sale and a city's ride requests at a bounded rate through
souk-produce (or the gateway), injects its faults while the pools work, waits until
every order and request is decided, stops the workers with SIGTERM, and runs
souk-verify over the window. Its figures are printed in one line:

    events N faults F lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0

The workers run in consumer groups of the run's own, moved to the end of their topics
first, so what other tests left on the topics is not theirs to decide.

A scenario that needs servers of its own (three brokers, packet loss on loopback) runs
isolated(): the script runs again inside a network namespace of its own, with a stack
of its own in a temporary folder, and everything is torn down after it.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
STACK_DIR = os.environ.get("SOUK_STACK_DIR", os.path.join(SOURCE_DIR, ".stack"))
BROKERS = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
# set in the run isolated() starts inside its network namespace
NETNS = os.environ.get("SOUK_FAULTS_NETNS")
TAG = uuid.uuid4().hex[:8]
WAIT_S = 180


def psql(sql):
    # on stdin: the long form's IN lists (8,000 order ids) are more than the kernel
    # takes as one argument (128 KiB)
    return subprocess.run(["psql", DSN, "-qAtX", "-v", "ON_ERROR_STOP=1"], input=sql,
                          check=True, capture_output=True, text=True).stdout.strip()


def run(*args, **kw):
    return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], check=True,
                          capture_output=True, text=True, timeout=300, **kw)


def stamp(precise=False):
    """Now, as souk-verify reads a window's bound."""
    now = datetime.now(timezone.utc)
    if precise:
        return now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack(*args):
    """ops/stack with args (up brings back whatever a scenario stopped)."""
    subprocess.run([os.path.join(SOURCE_DIR, "ops", "stack"), *args], check=True,
                   capture_output=True, text=True, timeout=300)


def wait_for(what, check, timeout=WAIT_S, every=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s")


class Worker:
    """One souk-worker process of a pool, in a group of this run's own. A low session
    timeout lets a killed or stopped member's partitions move on quickly."""

    def __init__(self, pool, topics, *args, session_timeout_ms=6000, member=1):
        """member: 2, 3, ... for further processes of the pool's group (their own log;
        topics [] as the first one moved the group already)."""
        self.pool, self.group, self.args = pool, f"souk-{pool}-faults-{TAG}", list(args)
        self.session_timeout_ms = session_timeout_ms
        suffix = "" if member == 1 else f"-{member}"
        self.log = open(f"/tmp/souk-faults-{pool}-{TAG}{suffix}.log", "a")
        self.proc = None
        for topic in topics:
            run("souk-replay", "--reset-group", self.group, "--to-latest", "--execute", topic)

    def start(self):
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "souk-worker"), self.pool, "--group", self.group,
             "-X", "http.listen=127.0.0.1:0", "-X", "log.level=warn",
             "-X", f"kafka.session.timeout.ms={self.session_timeout_ms}",
             "-X", "kafka.heartbeat.interval.ms=1000", *self.args],
            stderr=self.log)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM; returns the exit status (0: drained and left the group)."""
        self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        self.log.close()
        return rc

    def forget(self):
        os.unlink(self.log.name)


class Traffic:
    """A flash sale (SKUS x STOCK items, retries of accepted orders, users over the
    limit; demand well over supply) and a city's ride requests, with the drivers'
    locations that the matching index needs."""

    def __init__(self, scale=1, skus=5, stock=50):
        self.sale = run("souk-loadgen", "flash-sale", "--seed", str(random.randrange(2**32)),
                        "--users", str(2000 * scale), "--orders", str(2000 * scale),
                        "--skus", str(skus), "--stock", str(stock),
                        "--limit", "2").stdout.splitlines()
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        lat, lng = random.uniform(-40, 40), random.uniform(-170, 170)
        self.city = [x for x in run("souk-loadgen", "city", "--seed",
                                    str(random.randrange(2**32)), "--start", now,
                                    "--drivers", "2000", "--requests", str(500 * scale),
                                    "--duration", "120", "--tick", "30", "--bbox",
                                    f"{lat},{lng},{lat + 0.05},{lng + 0.05}").stdout.splitlines()
                     if '"type":"ride_event"' not in x]
        self.orders = {json.loads(x)["order_id"] for x in self.sale if '"type":"order"' in x}
        self.requests = {json.loads(x)["request_id"] for x in self.city
                         if '"type":"ride_request"' in x}
        self.skus = sorted({json.loads(x)["sku"] for x in self.sale
                            if '"type":"stock_set"' in x})
        # the stock first, then orders and requests; locations go ahead (produce_locations)
        self.events = self.sale + [x for x in self.city if '"type":"ride_request"' in x]

    def produce_locations(self):
        """The drivers' locations, before the requests: the index is built from them."""
        run("souk-produce", "-X", "log.level=warn",
            input="\n".join(x for x in self.city if '"type":"location"' in x) + "\n")

    def send(self, rate, *args):
        """souk-produce of the sale and the requests at rate events/s, in the background;
        it retries what the broker did not acknowledge (message.timeout.ms). The input is
        fed from a thread, so the caller's faults land while the traffic flows."""
        proc = subprocess.Popen([os.path.join(BIN, "souk-produce"), "-X", "log.level=warn",
                                 "--rate", str(rate), *args], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # from a thread: souk-produce reads its input at the rate, so writing more
        # than a pipe holds (64 KiB; the bounded traffic is 650 KB) would block the
        # scenario until nearly everything was sent, and its faults would land after
        # the load instead of in it
        def feed():
            proc.stdin.write("\n".join(self.events) + "\n")
            proc.stdin.close()
        threading.Thread(target=feed, daemon=True).start()
        return proc

    def decided(self):
        """(orders decided, requests with a ride) of this traffic, from PostgreSQL."""
        orders = ",".join(f"'{o}'" for o in self.orders)
        requests = ",".join(f"'{r}'" for r in self.requests)
        return (int(psql(f"SELECT count(*) FROM orders WHERE order_id IN ({orders})")),
                int(psql(f"SELECT count(*) FROM rides WHERE request_id IN ({requests})")))

    def wait_decided(self, timeout=WAIT_S):
        want = (len(self.orders), len(self.requests))
        got = None

        def done():
            nonlocal got
            try:
                got = self.decided()
            except subprocess.CalledProcessError:  # PostgreSQL coming back
                return False
            return got == want
        try:
            wait_for("every order and request decided", done, timeout, every=0.5)
        except AssertionError as e:
            raise AssertionError(f"{e}: decided {got} of {want}") from None

    def assert_sold_out(self):
        left = psql(f"SELECT string_agg(available::text, ',' ORDER BY sku) FROM stock "
                    f"WHERE sku IN ({','.join(repr(s) for s in self.skus)})")
        assert left == ",".join(["0"] * len(self.skus)), f"stock left: {left}"

    def cleanup(self):
        requests = ",".join(f"'{r}'" for r in self.requests)
        psql(f"DELETE FROM driver_claims WHERE request_id IN ({requests})")


def verify(start, until, faults, *args):
    """souk-verify over the window; prints and returns its summary line, which must
    show nothing lost, applied twice, oversold, double-booked or split."""
    res = subprocess.run([os.path.join(BIN, "souk-verify"), "--since", start, "--until",
                          until, "--faults", str(faults), *args],
                         capture_output=True, text=True, timeout=300)
    print(res.stdout.strip(), flush=True)
    assert res.returncode == 0, res.stdout + res.stderr
    summary = res.stdout.strip().splitlines()[-1]
    assert f"faults {faults} lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0" \
        in summary, summary
    return summary


def kafka_pid(node=None):
    """The broker's pid; node 1, 2 or 3 of a three-broker stack."""
    with open(os.path.join(STACK_DIR, "kafka" if node is None else f"kafka-{node}",
                           "pid")) as f:
        return int(f.read())


def leaders(topic):
    """{partition: leader node id} of topic (-1: none), and the node that answered."""
    out = subprocess.run(["kcat", "-b", BROKERS, "-L", "-J", "-t", topic, "-m", "5"],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    md = json.loads(out)
    return ({p["partition"]: p["leader"] for p in md["topics"][0]["partitions"]},
            md["originating_broker"]["id"])


def isolated_main(name, scenario, brokers=1):
    """A script's main: outside, runs itself again in a namespace of its own
    (isolated); inside, runs scenario(). Returns the exit status."""
    if NETNS is not None:
        scenario()
        return 0
    t0 = time.time()
    rc = isolated(brokers=brokers)
    print(f"{name}: exit {rc}, {time.time() - t0:.0f} s in all", flush=True)
    return rc


def conclude(name, traffic, workers, start, until, faults, t0):
    """The end of a Traffic scenario whose workers have stopped: souk-verify over the
    window, the stock sold out, the workers' logs removed, the summary printed."""
    time.sleep(1)  # the last answers relayed
    summary = verify(start, until, faults)
    traffic.assert_sold_out()
    for w in workers:
        w.forget()
    print(f"{name}: {summary} ({time.time() - t0:.0f} s)", flush=True)


def isolated(brokers=1):
    """Runs the calling script again inside a network namespace of its own (its own
    loopback, so the stack's usual ports), with SOUK_STACK_DIR a temporary folder and
    `ops/stack up --brokers N` there; returns the inner run's exit status. The stack,
    every process left in the namespace, the namespace and the folder go at the end,
    whatever happened. The inner run sees NETNS set."""
    ns = f"souk-faults-{TAG}"
    stack_dir = tempfile.mkdtemp(prefix="souk-faults-")
    env = dict(os.environ, SOUK_STACK_DIR=stack_dir, SOUK_FAULTS_NETNS=ns,
               SOUK_KAFKA_BROKERS=",".join(f"127.0.0.1:{19092 + 2 * i}"
                                           for i in range(brokers)))
    # the namespace's own servers, whatever the caller points souk at
    for name in ("SOUK_PG_DSN", "SOUK_REDIS_URL"):
        env.pop(name, None)
    stack_cmd = ["ip", "netns", "exec", ns, os.path.join(SOURCE_DIR, "ops", "stack")]

    def on_term(signum, frame):
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)  # ctest's timeout: still tear down
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
                       check=True)
        t0 = time.time()
        res = subprocess.run(stack_cmd + ["up", "--brokers", str(brokers)], env=env,
                             capture_output=True, text=True, timeout=240)
        assert res.returncode == 0, f"ops/stack up --brokers {brokers}: {res.stderr}"
        print(f"own stack ({brokers} broker{'s' if brokers > 1 else ''}) in network "
              f"namespace {ns}, {stack_dir}: up in {time.time() - t0:.0f} s", flush=True)
        rc = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                             os.path.abspath(sys.argv[0]), *sys.argv[1:]],
                            env=env).returncode
        if rc != 0:
            # the servers' logs outlive the folder
            for name in sorted(os.listdir(stack_dir)):
                log = os.path.join(stack_dir, name, "logs", "server.log")
                if name.startswith("kafka") and os.path.exists(log):
                    kept = f"/tmp/souk-faults-{TAG}-{name}.log"
                    shutil.copy(log, kept)
                    print(f"kept {kept}", flush=True)
        return rc
    finally:
        subprocess.run(stack_cmd + ["down"], env=env, capture_output=True, timeout=120)
        # whatever still runs in the namespace was started by this run
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(stack_dir, ignore_errors=True)


def redis_pid():
    with open(os.path.join(STACK_DIR, "redis", "redis.pid")) as f:
        return int(f.read())


def pg_stop_immediate():
    """PostgreSQL stopped the way a crash stops it: no checkpoint, recovery at start."""
    cmd = [os.environ.get("SOUK_PG_BIN", "/usr/lib/postgresql/15/bin") + "/pg_ctl",
           "-D", os.path.join(STACK_DIR, "pg"), "-m", "immediate", "-w", "stop"]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def sigkill(pid):
    os.kill(pid, signal.SIGKILL)
    wait_for(f"pid {pid} gone", lambda: not os.path.exists(f"/proc/{pid}")
             or open(f"/proc/{pid}/stat").read().split()[2] == "Z", timeout=30, every=0.05)


# ---- payments (test_kill_payments.py) ------------------------------------------------

class Psp:
    """souk-psp on a port of the run's own, with its faults; its journal and log in a
    directory of the run's own, so that a kill and a restart keep what it applied."""

    def __init__(self, *settings):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix=f"souk-faults-psp-{TAG}-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = list(settings)
        self.proc = None

    def start(self):
        args = [os.path.join(BIN, "souk-psp"), "-X", f"http.listen=127.0.0.1:{self.port}",
                "-X", f"psp.journal={self.dir}/journal.ndjson", "-X", "log.level=warn"]
        for s in self.settings:
            args += ["-X", s]
        with open(os.path.join(self.dir, "psp.log"), "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for("souk-psp answering", self.healthy, timeout=15, every=0.05)

    def healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"souk-psp exited with {self.proc.returncode} "
                                 f"(log in {self.dir}/psp.log)")
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read().decode()
        finally:
            c.close()

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        """SIGTERM; the exit status."""
        self.proc.terminate()
        return self.proc.wait(timeout=30)

    def forget(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


class PaymentTraffic:
    """souk-loadgen payments: full flows, voids, refunds in part and in full, retries
    under the same idempotency key, keys reused with other parameters and illegal
    commands, for payments of the run's own (p-<tag>-N)."""

    def __init__(self, payments=500, retry_share=0.1):
        res = run("souk-loadgen", "payments", "--seed", str(random.randrange(2**32)),
                  "--payments", str(payments), "--retry-share", str(retry_share))
        self.lines = res.stdout.splitlines()
        self.summary = res.stderr.strip().splitlines()[0]
        self.payment_ids = sorted({json.loads(x)["payment_id"] for x in self.lines})

    def send(self, rate):
        """souk-produce of the commands at rate events/s, in the background."""
        proc = subprocess.Popen([os.path.join(BIN, "souk-produce"), "-X", "log.level=warn",
                                 "--rate", str(rate)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        proc.stdin.write("\n".join(self.lines) + "\n")
        proc.stdin.close()
        return proc

    def parked(self):
        """Payments of this traffic whose provider outcome is still unknown."""
        ids = ",".join(f"'{p}'" for p in self.payment_ids)
        return int(psql(f"SELECT count(DISTINCT payment_id) FROM (SELECT payment_id FROM "
                        f"payment_waiting WHERE payment_id IN ({ids}) UNION ALL "
                        f"SELECT payment_id FROM idempotency_keys WHERE state = "
                        f"'in_progress' AND payment_id IN ({ids})) x"))

    def wait_settled(self, group, timeout=WAIT_S):
        """Until the group consumed `payments` up to its end and nothing of this traffic
        is parked (the janitor resolved every unknown outcome)."""
        ends = end_offsets("payments")
        state = None

        def done():
            nonlocal state
            try:
                rows = psql(f"SELECT partition, next_offset FROM consumer_offsets WHERE "
                            f"group_id = '{group}' AND topic = 'payments'")
                at = {int(p): int(o) for p, o in (r.split("|") for r in rows.splitlines())}
                behind = sum(max(0, end - at.get(p, 0)) for p, end in ends.items())
                state = (behind, self.parked())
            except subprocess.CalledProcessError:
                return False
            return state == (0, 0)
        try:
            wait_for("every payment command consumed and no payment parked", done, timeout,
                     every=0.5)
        except AssertionError as e:
            raise AssertionError(f"{e}: (messages behind, payments parked) {state}") from None


def end_offsets(topic):
    """{partition: high watermark} of topic (kcat)."""
    brokers = os.environ.get("SOUK_KAFKA_BROKERS", "127.0.0.1:19092")
    meta = json.loads(subprocess.run(["kcat", "-b", brokers, "-L", "-J", "-t", topic],
                                     check=True, capture_output=True, text=True,
                                     timeout=60).stdout)
    parts = [p["partition"] for t in meta["topics"] for p in t["partitions"]]
    out = subprocess.run(["kcat", "-b", brokers, "-Q"] +
                         [a for p in parts for a in ("-t", f"{topic}:{p}:-1")],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    ends = {}
    for line in out.splitlines():  # payments [3] offset 40104
        if "[" in line:
            ends[int(line.split("[")[1].split("]")[0])] = int(line.split()[-1])
    assert len(ends) == len(parts), out
    return ends
