#!/usr/bin/env python3
"""Payments under faults: workers SIGKILLed, the provider SIGKILLed, then souk-verify.

Payment commands from souk-loadgen (full flows, voids, refunds in part and in full,
retries under the same idempotency key, keys reused with other parameters, illegal
commands) are produced at a bounded rate to `payments` while `souk-worker payments`
(in a group of this run's own, moved to the end of the topic first) is SIGKILLed at
random instants and started again, and the provider (souk-psp with a journal, 20 ms of
latency, 3 % of its calls applied but answered too late, 1 % refused with a 500) is
SIGKILLed once mid-load and restarted 1.5 s later. Calls cut by the kills have an
unknown outcome: their payments are parked until the janitor (every second here)
asks the provider. Once every command is consumed and no payment is parked, the
worker stops and `souk-verify --psp URL payments` checks the window: every command
answered, nothing charged twice at the provider, every payment in a legal state
reached by legal transitions, the ledger's amounts equal to the provider's. It prints

    events N faults F lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0 illegal_states 0

Then the verifier is shown to fail: an authorized payment's row set to voided (a
state its history does not reach, a void the provider never applied) must give
illegal_states 1 and applied_twice 1, and a capture made at the provider behind the
ledger's back must give lost 1.

    test_kill_payments.py           the bounded form (3 worker kills, 1 provider kill)
    test_kill_payments.py --long    make faults: 10 worker kills, 3 provider kills, 4x
                                    the traffic
"""
import json
import os
import random
import subprocess
import sys
import time

from faultlib import (BIN, PaymentTraffic, Psp, Worker, psql, stamp, verify)

LONG = "--long" in sys.argv
WORKER_KILLS = 10 if LONG else 3
PSP_KILLS = 3 if LONG else 1
SCALE = 4 if LONG else 1


def verify_fails(start, until, psp, *expect):
    res = subprocess.run([os.path.join(BIN, "souk-verify"), "--since", start, "--until",
                          until, "--psp", psp.url, "payments"],
                         capture_output=True, text=True, timeout=300)
    summary = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    assert res.returncode == 1 and all(e in summary + " " for e in expect), \
        f"want {expect}: {res.stdout}{res.stderr}"
    return res.stderr


def main():
    started = []  # the processes to end if the scenario fails half-way
    try:
        return scenario(started)
    finally:
        for proc in started:
            if proc.proc and proc.proc.poll() is None:
                proc.proc.kill()
                proc.proc.wait()


def scenario(started):
    t0 = time.monotonic()
    start = stamp()
    psp = Psp("psp.latency=20ms", "psp.timeout_rate=0.03", "psp.timeout_delay=3s",
              "psp.error_rate=0.01", f"psp.seed={random.randrange(2**31)}")
    started.append(psp)
    psp.start()
    traffic = PaymentTraffic(payments=500 * SCALE)
    print(traffic.summary, flush=True)
    worker = Worker("payments", ["payments"], "-X", f"payments.provider_url={psp.url}",
                    "-X", "payments.provider_timeout=1s", "-X",
                    "payments.janitor_interval=1s", "-X", "worker.poll_timeout=50ms")
    started.append(worker)
    worker.start()
    sender = traffic.send(150 * SCALE)
    faults = 0
    # the kills in a random order, each at a random instant of the load
    plan = ["worker"] * WORKER_KILLS + ["psp"] * PSP_KILLS
    random.shuffle(plan)
    for what in plan:
        time.sleep(random.uniform(0.5, 3.0))
        if what == "worker":
            worker.kill()
            worker.start()
        else:
            psp.kill()
            time.sleep(1.5)  # calls meanwhile find nothing listening
            psp.start()
        faults += 1
    assert sender.wait(timeout=300) == 0, f"souk-produce failed: {sender.stderr.read()}"
    until = stamp(precise=True)
    traffic.wait_settled(worker.group)
    rc = worker.stop()
    assert rc == 0, f"worker exited {rc} on SIGTERM (log in {worker.log.name})"
    time.sleep(1)  # the last answers relayed
    with open(worker.log.name) as f:
        parked = f.read().count("payment_parked")
    print(f"settled {time.monotonic() - t0:.1f} s after the start; {parked} provider calls "
          "had an unknown outcome (parked, then resolved by the janitor)", flush=True)

    summary = verify(start, until, faults, "--psp", psp.url, "payments")
    assert summary.endswith(" illegal_states 0"), summary

    # the verifier catches a payment in a state its history does not reach
    ids = ",".join(f"'{p}'" for p in traffic.payment_ids)
    victim = psql(f"SELECT min(payment_id) FROM payments WHERE state = 'authorized' "
                  f"AND payment_id IN ({ids})")
    assert victim, "no payment left authorized"
    psql(f"UPDATE payments SET state = 'voided' WHERE payment_id = '{victim}'")
    try:
        err = verify_fails(start, until, psp, " applied_twice 1 ", " illegal_states 1 ")
        assert f"payment {victim}: state voided, its history ends authorized" in err, err
    finally:
        psql(f"UPDATE payments SET state = 'authorized' WHERE payment_id = '{victim}'")
    # and a capture the ledger never made
    ref = psql(f"SELECT provider_ref FROM payments WHERE payment_id = '{victim}'")
    amount = int(psql(f"SELECT amount_authorized FROM payments WHERE payment_id = '{victim}'"))
    status, body = psp.request("POST", f"/v1/payments/{ref}/capture",
                               json.dumps({"amount": amount}),
                               {"Idempotency-Key": f"behind-the-ledger-{victim}",
                                "Content-Type": "application/json"})
    assert status == 200, body
    err = verify_fails(start, until, psp, " lost 1 ", " applied_twice 0 ")
    assert f"payment {victim}: ledger captured 0, provider {amount} (lost)" in err, err

    assert psp.stop() == 0
    psp.forget()
    worker.forget()
    print(f"test_kill_payments: ok in {time.monotonic() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
