#!/usr/bin/env python3
"""vswitch-sim against a real peer: tshark dissects what the switch wrote.

The test builds input captures with the standard library (classic microsecond pcap, the format
tcpdump writes), runs vswitch-sim over two hosts whose uplinks share a provider network plus a
VLAN/PVLAN switch, then asks tshark what each output capture contains and asserts on tshark's
view: NVGRE GRE key -> VSID (key >> 8), inner and outer MACs and IPs, valid IPv4/UDP checksums,
802.1Q tags on the trunk, and no frame in a VLAN, PVLAN or VSID it does not belong to.
If tshark disagrees with us, we are wrong.

usage: tshark_test.py VSWITCH_SIM [TSHARK]
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


# --- packet building -------------------------------------------------------------------------

def mac(text):
    return bytes.fromhex(text.replace(":", ""))


def ip4(text):
    return bytes(int(part) for part in text.split("."))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def ipv4(src, dst, protocol, payload, ttl=64, ident=0x100):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, ttl, protocol, 0,
                         ip4(src), ip4(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def udp(src, dst, sport, dport, payload):
    segment = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, len(segment))
    value = checksum(pseudo + segment) or 0xFFFF
    return segment[:6] + struct.pack("!H", value) + segment[8:]


def ethernet(dst, src, ethertype, payload, vlan=None):
    frame = mac(dst) + mac(src)
    if vlan is not None:
        frame += struct.pack("!HH", 0x8100, vlan)
    frame += struct.pack("!H", ethertype) + payload
    return frame + b"\0" * max(0, 60 - len(frame))


def udp_frame(dst_mac, src_mac, src, dst, sport, dport, payload=b"hello", vlan=None):
    return ethernet(dst_mac, src_mac, 0x0800,
                    ipv4(src, dst, 17, udp(src, dst, sport, dport, payload)), vlan)


def arp_request(src_mac, src_ip, target_ip, vlan=None):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac(src_mac), ip4(src_ip),
                       b"\0" * 6, ip4(target_ip))
    return ethernet("ff:ff:ff:ff:ff:ff", src_mac, 0x0806, body, vlan)


def write_pcap(path, packets):
    """Classic little-endian microsecond pcap, as tcpdump writes it."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for time_us, frame in packets:
            f.write(struct.pack("<IIII", time_us // 1_000_000, time_us % 1_000_000, len(frame),
                                len(frame)))
            f.write(frame)


# --- the scenario ----------------------------------------------------------------------------

BLUE = "{11111111-2222-3333-4444-000000000001}"
YELLOW = "{11111111-2222-3333-4444-000000000002}"
PA_A, PA_B = "192.168.1.10", "192.168.1.11"
PA_MAC_A, PA_MAC_B = "02:bb:00:00:00:0a", "02:bb:00:00:00:0b"
BLUE_2, BLUE_3 = "02:00:5e:10:00:02", "02:00:5e:10:00:03"
YELLOW_2, YELLOW_3 = "02:00:5e:20:00:02", "02:00:5e:20:00:03"
ROUTER = "02:aa:00:00:00:01"


def config():
    def nvgre(pa, pa_mac, neighbor, neighbor_mac):
        return {"router_mac": ROUTER,
                "local_provider_addresses": [{"address": pa, "mac": pa_mac}],
                "provider_neighbors": [{"address": neighbor, "mac": neighbor_mac}]}

    def access(name, vlan):
        return {"name": name, "vlan": {"mode": "access", "access_vlan": vlan}}

    def pvlan(name, mode, secondary):
        return {"name": name, "vlan": {"mode": "private", "pvlan_mode": mode, "primary_vlan": 100,
                                       "secondary_vlan": secondary}}

    return {
        "switches": [
            {"name": "hostA", "ports": [
                {"name": "a-up", "kind": "external"},
                {"name": "a-blue", "vsid": 5001},
                {"name": "a-yellow", "vsid": 6001}],
             "nvgre": nvgre(PA_A, PA_MAC_A, PA_B, PA_MAC_B)},
            {"name": "hostB", "ports": [
                {"name": "b-up", "kind": "external"},
                {"name": "b-blue", "vsid": 5001},
                {"name": "b-yellow", "vsid": 6001}],
             "nvgre": nvgre(PA_B, PA_MAC_B, PA_A, PA_MAC_A)},
            {"name": "lan", "ports": [
                access("web1", 10), access("web2", 10), access("db", 20),
                {"name": "trunk", "kind": "external",
                 "vlan": {"mode": "trunk", "allowed_vlans": [10, 20, "100-102"]}},
                pvlan("iso1", "isolated", 101), pvlan("iso2", "isolated", 101),
                pvlan("com1", "community", 102), pvlan("com2", "community", 102),
                {"name": "prom", "vlan": {"mode": "private", "pvlan_mode": "promiscuous",
                                          "primary_vlan": 100,
                                          "promiscuous_secondaries": [101, 102]}}]},
        ],
        "policy": {
            "subnets": [{"vsid": 5001, "routing_domain": BLUE, "gateway": "10.1.1.1"},
                        {"vsid": 6001, "routing_domain": YELLOW, "gateway": "10.1.1.1"}],
            "records": [
                {"vsid": 5001, "customer_address": "10.1.1.2", "customer_mac": BLUE_2, "provider_address": PA_A},
                {"vsid": 5001, "customer_address": "10.1.1.3", "customer_mac": BLUE_3, "provider_address": PA_B},
                {"vsid": 6001, "customer_address": "10.1.1.2", "customer_mac": YELLOW_2, "provider_address": PA_A},
                {"vsid": 6001, "customer_address": "10.1.1.3", "customer_mac": YELLOW_3, "provider_address": PA_B},
            ]},
        "links": [["a-up", "b-up"]],
    }


def lan_mac(n):
    return "02:00:5e:30:00:%02x" % n


def inputs():
    s = 1_000_000
    return {
        # Blue and yellow VMs use the same customer addresses (the seeds' overlapping CAs).
        "a-blue": [(1 * s, udp_frame(BLUE_3, BLUE_2, "10.1.1.2", "10.1.1.3", 1000, 80)),
                   (2 * s, udp_frame(BLUE_3, BLUE_2, "10.1.1.2", "10.1.1.3", 1001, 80, b"x" * 1000)),
                   (3 * s, arp_request(BLUE_2, "10.1.1.2", "10.1.1.3")),
                   (4 * s, udp_frame(BLUE_3, BLUE_2, "10.1.1.2", "10.1.1.99", 1002, 80)),
                   (5 * s, udp_frame(BLUE_3, BLUE_2, "10.1.1.2", "10.1.1.3", 1003, 80))],
        "a-yellow": [(6 * s, udp_frame(YELLOW_3, YELLOW_2, "10.1.1.2", "10.1.1.3", 2000, 443)),
                     (7 * s, udp_frame(YELLOW_3, YELLOW_2, "10.1.1.2", "10.1.1.3", 2001, 443))],
        "b-blue": [(8 * s, udp_frame(BLUE_2, BLUE_3, "10.1.1.3", "10.1.1.2", 80, 1000))],
        # LAN: one broadcast per sender, each sender with its own MAC, then one tagged frame
        # entering on the trunk.
        "web1": [(10 * s, arp_request(lan_mac(1), "10.0.10.1", "10.0.10.2"))],
        "db": [(11 * s, arp_request(lan_mac(3), "10.0.20.3", "10.0.20.4"))],
        "iso1": [(12 * s, arp_request(lan_mac(5), "10.0.100.5", "10.0.100.1"))],
        "com1": [(13 * s, arp_request(lan_mac(7), "10.0.100.7", "10.0.100.1"))],
        "prom": [(14 * s, arp_request(lan_mac(9), "10.0.100.1", "10.0.100.5"))],
        "trunk": [(15 * s, arp_request(lan_mac(4), "10.0.10.4", "10.0.10.1", vlan=10))],
    }


# --- tshark ----------------------------------------------------------------------------------

def tshark_fields(tshark, path, fields, display_filter=None):
    command = [tshark, "-n", "-r", path, "-o", "ip.check_checksum:TRUE",
               "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=\t",
               "-E", "occurrence=a", "-E", "aggregator=|"]
    if display_filter:
        command += ["-Y", display_filter]
    for field in fields:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit("tshark failed on %s: %s" % (path, result.stderr))
    rows = []
    for line in result.stdout.splitlines():
        values = line.split("\t")
        rows.append({field: (values[i].split("|") if i < len(values) and values[i] else [])
                     for i, field in enumerate(fields)})
    return rows


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    sim = sys.argv[1]
    tshark = sys.argv[2] if len(sys.argv) > 2 else "tshark"
    work = tempfile.mkdtemp(prefix="vswitch-tshark-")
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w") as f:
        json.dump(config(), f, indent=1)
    arguments = [sim, config_path, "--out-dir", os.path.join(work, "out")]
    for port, packets in inputs().items():
        path = os.path.join(work, port + ".in.pcap")
        write_pcap(path, packets)
        arguments += ["--in", "%s=%s" % (port, path)]
    result = subprocess.run(arguments, capture_output=True, text=True)
    print(result.stdout + result.stderr, end="")
    if result.returncode != 0:
        print("FAIL: vswitch-sim exited with %d" % result.returncode)
        return 1
    out = os.path.join(work, "out")
    report = json.load(open(os.path.join(out, "report.json")))

    def read(port, fields, display_filter=None):
        return tshark_fields(tshark, os.path.join(out, port + ".pcap"), fields, display_filter)

    nvgre_fields = ["eth.src", "eth.dst", "ip.src", "ip.dst", "ip.checksum.status", "ip.ttl",
                    "gre.key", "gre.proto", "udp.checksum.status", "udp.srcport", "arp"]

    # 1. Host A's wire: the blue and yellow unicast, NVGRE-encapsulated, nothing else (the ARP
    #    request was answered from policy, the packet to an unknown CA was dropped).
    rows = read("a-up", nvgre_fields)
    check(len(rows) == 5, "a-up: expected 5 NVGRE frames, tshark sees %d" % len(rows))
    expected = [(5001, BLUE_2, BLUE_3, 1000), (5001, BLUE_2, BLUE_3, 1001),
                (5001, BLUE_2, BLUE_3, 1003), (6001, YELLOW_2, YELLOW_3, 2000),
                (6001, YELLOW_2, YELLOW_3, 2001)]
    for row, (vsid, inner_src, inner_dst, sport) in zip(rows, expected):
        keys = row["gre.key"]
        check(len(keys) == 1, "a-up: one GRE key per frame, got %s" % keys)
        if keys:
            key = int(keys[0], 16)
            check(key >> 8 == vsid, "a-up: GRE key %#x carries VSID %d, expected %d" % (key, key >> 8, vsid))
        check(row["gre.proto"] == ["0x6558"], "a-up: GRE protocol %s is not 0x6558" % row["gre.proto"])
        check(row["eth.src"] == [PA_MAC_A, inner_src], "a-up: MACs %s" % row["eth.src"])
        check(row["eth.dst"] == [PA_MAC_B, inner_dst], "a-up: MACs %s" % row["eth.dst"])
        check(row["ip.src"] == [PA_A, "10.1.1.2"], "a-up: source IPs %s" % row["ip.src"])
        check(row["ip.dst"] == [PA_B, "10.1.1.3"], "a-up: destination IPs %s" % row["ip.dst"])
        check(row["ip.checksum.status"] == ["1", "1"],
              "a-up: IPv4 checksum status (outer, inner) %s, expected good" % row["ip.checksum.status"])
        check(row["udp.checksum.status"] == ["1"], "a-up: UDP checksum %s" % row["udp.checksum.status"])
        check(row["ip.ttl"][:1] == ["64"], "a-up: outer TTL %s" % row["ip.ttl"])
        check(row["udp.srcport"] == [str(sport)], "a-up: inner UDP port %s" % row["udp.srcport"])
        check(not row["arp"], "a-up: ARP leaked onto the provider network")

    # 2. Host B's wire: the blue reply, encapsulated the other way.
    rows = read("b-up", nvgre_fields)
    check(len(rows) == 1, "b-up: expected 1 NVGRE frame, tshark sees %d" % len(rows))
    for row in rows:
        check(row["gre.key"] and int(row["gre.key"][0], 16) >> 8 == 5001, "b-up: key %s" % row["gre.key"])
        check(row["ip.src"] == [PA_B, "10.1.1.3"] and row["ip.dst"] == [PA_A, "10.1.1.2"],
              "b-up: IPs %s -> %s" % (row["ip.src"], row["ip.dst"]))
        check(row["ip.checksum.status"] == ["1", "1"], "b-up: checksums %s" % row["ip.checksum.status"])

    # 3. Decapsulated delivery: each VM sees only its own virtual subnet's customer frames, with
    #    no GRE left and intact checksums.
    vm_fields = ["eth.src", "eth.dst", "ip.src", "ip.dst", "gre", "ip.checksum.status",
                 "udp.checksum.status", "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4"]
    for port, macs, count in (("b-blue", {BLUE_2}, 3), ("b-yellow", {YELLOW_2}, 2)):
        rows = read(port, vm_fields)
        check(len(rows) == count, "%s: expected %d frames, tshark sees %d" % (port, count, len(rows)))
        for row in rows:
            check(set(row["eth.src"]) <= macs, "%s: frame from %s leaked across VSIDs" % (port, row["eth.src"]))
            check(not row["gre"], "%s: still encapsulated" % port)
            check(row["ip.src"] == ["10.1.1.2"] and row["ip.dst"] == ["10.1.1.3"], "%s: IPs %s" % (port, row["ip.src"]))
            check(row["ip.checksum.status"] == ["1"] and row["udp.checksum.status"] == ["1"],
                  "%s: checksums %s %s" % (port, row["ip.checksum.status"], row["udp.checksum.status"]))
    rows = read("a-blue", vm_fields)
    check(len(rows) == 2, "a-blue: expected the ARP reply and B's UDP reply, tshark sees %d" % len(rows))
    if len(rows) == 2:
        arp_reply, reply = rows
        check(arp_reply["arp.opcode"] == ["2"] and arp_reply["arp.src.hw_mac"] == [BLUE_3] and
              arp_reply["arp.src.proto_ipv4"] == ["10.1.1.3"],
              "a-blue: ARP answered from policy should say 10.1.1.3 is at %s: %s" % (BLUE_3, arp_reply))
        check(reply["eth.src"] == [BLUE_3] and reply["ip.src"] == ["10.1.1.3"], "a-blue: reply %s" % reply)
    check(not read("a-yellow", vm_fields), "a-yellow: received blue traffic")

    # 4. The report explains the one missing packet.
    drops = [d for d in report["drops"] if d["switch"] in ("hostA", "hostB")]
    check(len(drops) == 1 and drops[0]["reason"] == "nvgre_no_route" and
          drops[0]["input_port"] == "a-blue" and drops[0]["packet_index"] == 3,
          "report: expected one nvgre_no_route drop of a-blue packet 3, got %s" % drops)

    # 5. VLANs and private VLANs on the LAN switch: who received whose broadcast, and the tags
    #    tshark reads on the trunk.
    trunk = read("trunk", ["vlan.id", "eth.src"])
    check([r["vlan.id"] for r in trunk] == [["10"], ["20"], ["101"], ["102"], ["100"]],
          "trunk: VLAN tags %s, expected 10, 20, 101, 102, 100" % [r["vlan.id"] for r in trunk])
    check([r["eth.src"] for r in trunk] == [[lan_mac(n)] for n in (1, 3, 5, 7, 9)],
          "trunk: senders %s" % [r["eth.src"] for r in trunk])
    allowed = {
        "web1": {lan_mac(4)}, "web2": {lan_mac(1), lan_mac(4)}, "db": set(),
        "iso1": {lan_mac(9)}, "iso2": {lan_mac(9)}, "com1": {lan_mac(9)},
        "com2": {lan_mac(7), lan_mac(9)}, "prom": {lan_mac(5), lan_mac(7)},
    }
    for port, senders in allowed.items():
        rows = read(port, ["eth.src", "vlan.id"])
        seen = {mac for r in rows for mac in r["eth.src"]}
        check(seen == senders, "%s: received from %s, expected exactly %s" % (port, sorted(seen), sorted(senders)))
        check(all(not r["vlan.id"] for r in rows), "%s: access/PVLAN port received a tagged frame" % port)

    if FAILURES:
        print("%d check(s) failed; files kept in %s" % (len(FAILURES), work))
        return 1
    print("tshark agrees: NVGRE, checksums, VLAN/PVLAN and VSID isolation")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
