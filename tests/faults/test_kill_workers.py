#!/usr/bin/env python3
"""Workers SIGKILLed under load, then souk-verify.

A flash sale (souk-loadgen: 5 SKUs x 50 items, retries of accepted orders, users over
the limit) and a city (2,000 drivers, 500 ride requests) are produced to Kafka at a
bounded rate while `souk-worker inventory` and `souk-worker matching` (each in a group
of this run's own, moved to the end of its topics first) are SIGKILLed at random
instants and started again. Once every order and request is decided, souk-verify
checks the window: nothing lost, nothing applied twice, no SKU oversold, no driver in
two rides, one result id per decision. It prints the scenario's line

    events N faults F lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0

Then the verifier is shown to fail: one of the run's rides is deleted and it must
report `lost 1` (exit 1).

    test_kill_workers.py            the bounded form (3 kills a worker)
    test_kill_workers.py --long     make faults: 10 kills a worker, 4x the traffic
"""
import os
import random
import subprocess
import sys
import time

from faultlib import BIN, Traffic, Worker, psql, stamp, verify

LONG = "--long" in sys.argv
KILLS = 10 if LONG else 3
SCALE = 4 if LONG else 1


def main():
    start = stamp()
    traffic = Traffic(scale=SCALE)
    workers = [Worker("inventory", ["orders"]),
               Worker("matching", ["ride-requests", "ride-events"], "-X",
                      "matching.offer_ttl=10m")]
    for w in workers:
        w.start()
    # the locations first (the index is rebuilt from them after a kill), then the
    # traffic at a bounded rate while the kills land
    traffic.produce_locations()
    sender = traffic.send(400 * SCALE)
    faults = 0
    for _ in range(KILLS):
        for w in workers:
            time.sleep(random.uniform(0.2, 1.2))
            w.kill()
            faults += 1
            w.start()
    assert sender.wait(timeout=300) == 0, f"souk-produce failed: {sender.stderr.read()}"
    until = stamp(precise=True)
    traffic.wait_decided()
    codes = [w.stop() for w in workers]
    assert codes == [0, 0], f"workers exited {codes} on SIGTERM (logs in {workers[0].log.name})"
    time.sleep(1)  # the last answers relayed

    verify(start, until, faults)
    traffic.assert_sold_out()  # demand exceeded supply

    # the verifier catches a lost decision
    victim = sorted(traffic.requests)[0]
    psql(f"DELETE FROM driver_claims WHERE request_id = '{victim}'; "
         f"DELETE FROM rides WHERE request_id = '{victim}'")
    res = subprocess.run([os.path.join(BIN, "souk-verify"), "--since", start, "--until",
                          until, "rides"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and " lost 1 " in res.stdout, res.stdout + res.stderr
    # and a purchase count that differs from the accepted orders
    sku = traffic.skus[0]
    user, qty = psql(f"SELECT user_id, qty FROM purchases WHERE sku = '{sku}' "
                     f"ORDER BY user_id LIMIT 1").split("|")
    # one more or one fewer, whichever stays inside the per-user limit of 2 (which the
    # database enforces)
    delta = 1 if int(qty) == 1 else -1
    psql(f"UPDATE purchases SET qty = qty + {delta} WHERE sku = '{sku}' AND user_id = '{user}'")
    res = subprocess.run([os.path.join(BIN, "souk-verify"), "--since", start, "--until",
                          until, "orders"],
                         capture_output=True, text=True, timeout=300)
    psql(f"UPDATE purchases SET qty = qty - {delta} WHERE sku = '{sku}' AND user_id = '{user}'")
    assert res.returncode == 1 and " purchase_mismatch 1" in res.stdout, \
        res.stdout + res.stderr
    traffic.cleanup()
    for w in workers:
        w.forget()
    return 0


if __name__ == "__main__":
    sys.exit(main())
