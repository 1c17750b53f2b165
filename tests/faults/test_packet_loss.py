#!/usr/bin/env python3
"""Packets dropped on loopback under load, then souk-verify.

The scenario runs on servers of its own (faultlib.isolated): a network namespace with
`ops/stack up` (one broker, PostgreSQL, Redis) in a temporary folder, so the stack the
other tests use is not touched. Once `souk-worker inventory` and `souk-worker matching`
have joined their groups, an nftables rule drops a share of the packets entering the
namespace's loopback (3% unless --loss N: `numgen random mod 100 < N`, at random,
whatever the connection: Kafka, PostgreSQL, Redis, the group's heartbeats). The drivers'
locations, a flash sale and a city's ride requests are sent (souk-produce, acks=all),
decided, and the workers drained with SIGTERM, all under the loss; then the rule goes
and souk-verify prints the line:

    events N faults F lost 0 applied_twice 0 oversold 0 double_booked 0 split_ids 0

where F is the number of packets dropped (the rule's counter), also printed against
every packet that entered the loopback meanwhile, with the TCP segments the namespace
retransmitted.

    test_packet_loss.py [--loss N]           the bounded form
    test_packet_loss.py --long [--loss N]    make faults: 4x the traffic

Needs root (ip netns, nft). Netem is not in this kernel: nft's numgen does the drop.
"""
import json
import subprocess
import sys
import time

import faultlib
from faultlib import Traffic, Worker, stamp

LONG = "--long" in sys.argv
SCALE = 4 if LONG else 1
RATE = 300 * SCALE
LOSS = int(sys.argv[sys.argv.index("--loss") + 1]) if "--loss" in sys.argv else 3
TABLE = "souk_loss"


def nft(*args):
    return subprocess.run(["nft", *args], check=True, capture_output=True, text=True,
                          timeout=30).stdout


def loss_on(percent):
    """Every packet entering lo is counted; percent of them, drawn at random, dropped."""
    nft("add", "table", "inet", TABLE)
    nft("add", "chain", "inet", TABLE, "input",
        "{ type filter hook input priority 0; policy accept; }")
    nft("add", "rule", "inet", TABLE, "input", "iif", "lo", "counter")
    nft("add", "rule", "inet", TABLE, "input", "iif", "lo", "numgen", "random", "mod",
        "100", "<", str(percent), "counter", "drop")


def loss_counters():
    """(packets that entered lo, packets dropped) since loss_on."""
    seen = dropped = None
    for item in json.loads(nft("-j", "list", "table", "inet", TABLE))["nftables"]:
        if "rule" not in item:
            continue
        exprs = item["rule"]["expr"]
        packets = next(e["counter"]["packets"] for e in exprs if "counter" in e)
        if any("drop" in e for e in exprs):
            dropped = packets
        else:
            seen = packets
    return seen, dropped


def loss_off():
    nft("delete", "table", "inet", TABLE)


def retransmitted():
    """TCP segments retransmitted in this network namespace so far."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index("RetransSegs")])


def scenario():
    start = stamp()
    t0 = time.time()
    traffic = Traffic(scale=SCALE)
    # info logs: they say when a worker holds its partitions
    workers = [Worker("inventory", ["orders"], "-X", "log.level=info"),
               Worker("matching", ["ride-requests", "ride-events"], "-X",
                      "matching.offer_ttl=10m", "-X", "log.level=info")]
    for w in workers:
        w.start()
    # the groups formed before the loss starts: what is measured is the work
    faultlib.wait_for("both workers holding partitions",
                      lambda: all("partition_claimed" in open(w.log.name).read()
                                  for w in workers), timeout=60)
    retrans = retransmitted()
    loss_on(LOSS)
    try:
        traffic.produce_locations()
        sender = traffic.send(RATE)
        assert sender.wait(timeout=300) == 0, f"souk-produce failed: {sender.stderr.read()}"
        until = stamp(precise=True)
        traffic.wait_decided()
        codes = [w.stop() for w in workers]
        assert codes == [0] * len(workers), \
            f"workers exited {codes} on SIGTERM (logs in {workers[0].log.name})"
        seen, dropped = loss_counters()
        retrans = retransmitted() - retrans
    finally:
        loss_off()
    assert dropped > 0, "the rule dropped nothing"
    share = 100.0 * dropped / seen
    # a binomial draw over tens of thousands of packets: well inside these bounds
    assert LOSS / 2 <= share <= LOSS * 2, f"dropped {share:.2f}% of packets, not ~{LOSS}%"
    print(f"loopback: {dropped} of {seen} packets dropped ({share:.2f}%, rule {LOSS}%), "
          f"{retrans} TCP segments retransmitted", flush=True)
    faultlib.conclude("packet_loss", traffic, workers, start, until, dropped, t0)


def main():
    return faultlib.isolated_main("packet_loss", scenario, brokers=1)


if __name__ == "__main__":
    sys.exit(main())
