#!/usr/bin/env python3
"""vswitch-sim's command line: usage and configuration errors exit 1 with a pinpointed message and
write nothing; a damaged input pcap is reported (stderr, report.json, exit 2) after the packets
before the damage were switched; every port gets an output pcap even when it received nothing.

usage: sim_cli_test.py VSWITCH_SIM
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL: " + message)


def frame(src_last, dst=b"\xff" * 6):
    # EtherType 0x88B5 (IEEE local experimental): switched on MACs alone, no L3 to parse.
    return dst + bytes([2, 0, 0x5e, 0, 0, src_last]) + b"\x88\xb5" + b"\0" * 46


def pcap(records, cut=0):
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(records):
        data += struct.pack("<IIII", i + 1, 0, len(f), len(f)) + f
    return data[:len(data) - cut]


def run(sim, *args):
    return subprocess.run([sim, *args], capture_output=True, text=True)


def main():
    sim = sys.argv[1]
    work = tempfile.mkdtemp(prefix="vswitch-cli-")
    config = os.path.join(work, "c.json")
    with open(config, "w") as f:
        f.write('{"switches": [{"name": "s", "ports": [\n'
                '  {"name": "p1"}, {"name": "p2"}, {"name": "p3"}]}]}\n')
    good = os.path.join(work, "good.pcap")
    with open(good, "wb") as f:
        f.write(pcap([frame(1), frame(2)]))
    cut = os.path.join(work, "cut.pcap")
    with open(cut, "wb") as f:
        f.write(pcap([frame(3), frame(4)], cut=10))  # second record's data cut short
    out = os.path.join(work, "out")

    # Usage errors.
    r = run(sim, config)
    check(r.returncode == 1 and "--out-dir is required" in r.stderr, "missing --out-dir: %r" % r.stderr)
    r = run(sim, config, "--out-dir", out, "--in", "nope=" + good)
    check(r.returncode == 1 and 'unknown port "nope"' in r.stderr, "unknown port: %r" % r.stderr)
    r = run(sim, config, "--out-dir", out, "--in", "p1")
    check(r.returncode == 1 and "PORT=FILE.pcap" in r.stderr, "bad --in: %r" % r.stderr)
    check(not os.path.exists(out), "usage errors must not write outputs")

    # Configuration errors name file:line:column.
    bad = os.path.join(work, "bad.json")
    with open(bad, "w") as f:
        f.write('{"switches": [{"name": "s", "ports": [\n  {"name": "p1", "mtu": "big"}]}]}\n')
    r = run(sim, bad, "--out-dir", out)
    check(r.returncode == 1 and bad + ":2:25: switches[0].ports[0].mtu: expected an integer" in r.stderr,
          "config error: %r" % r.stderr)
    with open(bad, "w") as f:
        f.write('{"switches": [\n  {"name": "s" "ports": []}]}\n')
    r = run(sim, bad, "--out-dir", out)
    check(r.returncode == 1 and bad + ":2:16: invalid JSON: expected ',' or '}'" in r.stderr,
          "JSON error: %r" % r.stderr)

    # A truncated record: reported, not crashed on; the complete packet before it is switched.
    r = run(sim, config, "--out-dir", out, "--in", "p1=" + good, "--in", "p2=" + cut)
    check(r.returncode == 2, "damaged input should exit 2, got %d: %s" % (r.returncode, r.stderr))
    check("pcap record data truncated (packet index 1" in r.stderr, "stderr: %r" % r.stderr)
    report = json.load(open(os.path.join(out, "report.json")))
    inputs = {i["port"]: i for i in report["inputs"]}
    check(inputs["p2"]["packets"] == 1 and "truncated" in (inputs["p2"]["error"] or ""),
          "report inputs: %s" % inputs)
    check(inputs["p1"]["error"] is None, "p1 had no error: %s" % inputs["p1"])
    for port in ("p1", "p2", "p3"):
        check(os.path.exists(os.path.join(out, port + ".pcap")), "no output pcap for " + port)
    # p3 got the three broadcasts (two from p1, one from p2) as 24-byte header + 3 records.
    size = os.path.getsize(os.path.join(out, "p3.pcap"))
    check(size == 24 + 3 * (16 + 60), "p3.pcap is %d bytes" % size)
    check(report["ports"]["p3"]["tx_packets"] == 3, "p3 counters: %s" % report["ports"]["p3"])

    if FAILURES:
        print("%d check(s) failed; files kept in %s" % (len(FAILURES), work))
        return 1
    shutil.rmtree(work)
    print("vswitch-sim command line: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
