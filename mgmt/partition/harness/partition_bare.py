#!/usr/bin/env python3
"""halcyon-mgmt.elf on plain QEMU, without the Halcyon core (CTest mgmt.partition_bare).

The multiboot stand-in (harness.c) builds the partition's region as the core would and enters the
program; QEMU provides a virtio-net forwarded from a free localhost port, COM1, the local APIC
timer. Two boots:
  serve: waits for HALCYON MGMT KEY / HALCYON MGMT <addr>:<port>, runs the real halctl
         (Get-VMHost -Json: the facts from MgmtBootInfo; Get-VM: empty), measures power-on to
         HALCYON MGMT and the partition's memory, and checks the vCPU idles (HLT on the APIC
         timer: QEMU's CPU time while idle stays well below one core).
  crash: crash_test = page fault: the report (CRASH page fault (#14) ... CRASH END) and a triple
         fault, which ends QEMU (-no-reboot).
The parts only the core provides (nested paging, PCI filtering, HvCallHalcyonManagement) are
covered by the integration cases that boot the real core."""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

MGMT = re.compile(r"^HALCYON MGMT (\d+\.\d+\.\d+\.\d+):(\d+)$")
KEY = re.compile(r"^HALCYON MGMT KEY ([0-9a-f]{64})$")
IN_USE = re.compile(r"management partition: (\d+) KiB in use after start")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def boot(args, work, port, crash):
    config = os.path.join(work, "halcyon.cfg")
    with open(config, "w") as f:
        f.write("[management]\naddress = dhcp\n")
    command = ["timeout", str(args.timeout), args.qemu, "-machine", "q35", "-cpu", "max",
               "-m", "256", "-kernel", args.harness, "-initrd", f"{args.elf},{config}",
               "-display", "none", "-serial", "stdio", "-no-reboot",
               "-device", "isa-debug-exit",
               "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:8443",
               "-device", "virtio-net-pci,netdev=n0,addr=03.0,disable-legacy=on,romfile="]
    if crash:
        command += ["-append", "crash"]
    # Own process group: killing `timeout` alone would leave QEMU running (it is timeout's child).
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def stop(process):
    """Ends `timeout` and QEMU under it, whatever state they are in."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def read_until(process, pattern, deadline, lines):
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            return None
        line = line.rstrip("\r\n")
        lines.append(line)
        print("  | " + line)
        if m := pattern.search(line):
            return m
    return None


def cpu_seconds(pid):
    # utime + stime of the QEMU process (child of timeout), in clock ticks.
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    total = 0
    for child in children or [str(pid)]:
        with open(f"/proc/{child}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def serve(args, work):
    port = free_port()
    started = time.monotonic()
    process = boot(args, work, port, crash=False)
    lines = []
    try:
        deadline = started + args.timeout
        key = read_until(process, KEY, deadline, lines)
        address = read_until(process, MGMT, deadline, lines)
        if not key or not address:
            return "no HALCYON MGMT KEY / HALCYON MGMT line"
        to_mgmt = time.monotonic() - started
        in_use = next((IN_USE.search(l) for l in lines if IN_USE.search(l)), None)
        halctl = [args.halctl, "--host", f"127.0.0.1:{port}", "--key", key.group(1)]
        host = subprocess.run(halctl + ["Get-VMHost", "-Json"], capture_output=True, text=True,
                              timeout=60)
        if host.returncode != 0:
            return f"Get-VMHost failed: {host.stderr}"
        info = json.loads(host.stdout)
        if info["logical_processors"] != 1 or info["virtualization"] != "none" or \
           info["memory_bytes"] < 200 << 20:
            return f"unexpected host facts: {info}"
        vms = subprocess.run(halctl + ["Get-VM", "-Json"], capture_output=True, text=True,
                             timeout=60)
        if vms.returncode != 0 or json.loads(vms.stdout).get("vms") != []:
            return f"Get-VM: {vms.returncode} {vms.stdout} {vms.stderr}"
        before = cpu_seconds(process.pid)
        time.sleep(4)
        idle = (cpu_seconds(process.pid) - before) / 4
        print(f"partition_bare: power-on to HALCYON MGMT {to_mgmt:.1f} s; "
              f"{in_use.group(1) if in_use else '?'} KiB in use after start; "
              f"QEMU CPU while idle {idle * 100:.0f}% of a core")
        if idle > 0.6:
            return f"the partition does not idle (QEMU uses {idle * 100:.0f}% of a core)"
        return None
    finally:
        stop(process)


def crash(args, work):
    process = boot(args, work, free_port(), crash=True)
    lines = []
    try:
        deadline = time.monotonic() + args.timeout
        if not read_until(process, re.compile(r"^mgmt: CRASH page fault \(#14\) error=0x\w+ "
                                              r"rip=0xffffffff8\w+ cr2=0x8000000000$"),
                          deadline, lines):
            return "no page-fault crash report"
        if not read_until(process, re.compile(r"^mgmt: CRASH END$"), deadline, lines):
            return "no CRASH END"
        process.wait(timeout=30)  # the triple fault ends QEMU (-no-reboot)
        return None
    finally:
        stop(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--harness", required=True)
    parser.add_argument("--elf", required=True)
    parser.add_argument("--halctl", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    parser.add_argument("--timeout", type=int, default=120)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    failed = False
    for name, scenario in (("serve", serve), ("crash", crash)):
        error = scenario(args, args.work)
        print(f"partition_bare {name}: {'PASS' if error is None else 'FAIL: ' + error}")
        failed |= error is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
