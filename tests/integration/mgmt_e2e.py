#!/usr/bin/env python3
"""End-to-end test of the management network: boot Halcyon in QEMU with a management NIC
(virtio-net, e1000 or e1000e) forwarded to a localhost port, wait for `HALCYON MGMT KEY <hex>` and
`HALCYON MGMT <address>:<port>` on the serial console, then drive the real halctl against it:

  - Get-VMHost -Json with the right key answers (exit 0) with this machine's facts;
  - Get-VM -Json answers with an empty list (no VMs in halcyon.cfg);
  - New-VM defines a VM, Start-VM then fails as not found (no kernel file on this host: exit
    code 3), Remove-VM removes it (the VM verbs with a real guest: vm_mgmt_e2e.py);
  - a wrong key is refused (exit code 2) and the server goes on serving the right one;
  - a key set in halcyon.cfg (the static scenario) is used and never printed;

with virtio-net: DHCP on the default port (default.cfg), and a static address and another port
from a [management] section; with an e1000 (82540EM) in slot 5 and a virtio-net in a lower slot:
DHCP and `nic = 00:05.0`, so the configured address must win over auto's preference for
virtio-net; with an e1000e (82574L) and an e1000 side by side: DHCP, and `nic = auto` must pick
the e1000e. Each scenario checks that the driver it expects took the NIC. `--nic` runs only the
scenarios of one model.

Stdlib only; QEMU is started and reliably stopped by qemu.py (shared with runner.py).
"""
import argparse
import json
import pathlib
import re
import socket
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import qemu  # noqa: E402

MGMT_KEY = re.compile(r"^HALCYON MGMT KEY ([0-9a-f]{64})\s*$")
MGMT_ADDRESS = re.compile(r"^HALCYON MGMT (\d+\.\d+\.\d+\.\d+):(\d+)\s*$")
# The service's log line naming the driver that took the management NIC.
MGMT_NIC = re.compile(r"info: (virtio-net|e1000e|e1000) [0-9a-f]{2}:[0-9a-f]{2}\.[0-7]: mac ")
# (name, [management] section or None, guest address expected or None for DHCP's, API port,
#  NIC model forwarded to the host, its PCI slot or None, other NIC models present without a
#  forward, in lower slots)
SCENARIOS = [
    ("dhcp", None, None, 8443, "virtio", None, []),  # halcyon.cfg's defaults
    ("static", "address = 10.0.2.20/24\ngateway = 10.0.2.2\nport = 9080\n"
     f"key = {'5a17c0de' * 8}\n", "10.0.2.20", 9080, "virtio", None, []),
    ("e1000-by-address", "nic = 00:05.0\n", None, 8443, "e1000", 5, ["virtio"]),
    ("e1000e-auto", None, None, 8443, "e1000e", None, ["e1000"]),  # auto prefers the e1000e
]
DRIVER_OF_MODEL = {"virtio": "virtio-net", "e1000": "e1000", "e1000e": "e1000e"}


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_markers(machine, deadline, configured_key):
    """The key comes from halcyon.cfg (then the console must never show it) or is generated and
    printed once."""
    key = address = driver = None
    while time.monotonic() < deadline:
        for line in machine.serial_log.read_text(errors="replace").splitlines():
            if "CRASH" in line or "PANIC" in line or "HALCYON BOOT FAILED" in line:
                raise Failure(f"boot failed: {line}")
            if m := MGMT_KEY.match(line):
                if configured_key:
                    raise Failure("a key was generated although halcyon.cfg sets one")
                key = m.group(1)
            if configured_key and "management key: from halcyon.cfg" in line:
                key = configured_key
            if configured_key and configured_key in line:
                raise Failure("the configured key appears on the console")
            if m := MGMT_ADDRESS.match(line):
                address = (m.group(1), int(m.group(2)))
            if m := MGMT_NIC.search(line):
                driver = m.group(1)
        if key and address:
            return key, address, driver
        if machine.exit_status() is not None:
            raise Failure("QEMU exited before the management network came up")
        time.sleep(0.5)
    raise Failure(f"no HALCYON MGMT markers in time (key={key!r}, address={address!r})")


def halctl(args, port, key, *command):
    full = [args.halctl, "--host", f"127.0.0.1:{port}", "--key", key, *command]
    result = subprocess.run(full, capture_output=True, text=True, timeout=60)
    print(f"$ {' '.join(full[:3])} --key {key[:8]}... {' '.join(command)} -> {result.returncode}")
    if result.stdout.strip():
        print("  stdout: " + result.stdout.strip().replace("\n", "\n          "))
    if result.stderr.strip():
        print("  stderr: " + result.stderr.strip().replace("\n", "\n          "))
    return result


def run(args, scenario):
    name, management, expected_address, api_port_configured, nic, slot, other_nics = scenario
    print(f"--- scenario {name}: management NIC {nic}" +
          (f" (also present: {', '.join(other_nics)})" if other_nics else ""))
    work = pathlib.Path(args.work) / name
    work.mkdir(parents=True, exist_ok=True)
    image = work / "usb.img"
    config = HERE / "configs" / "default.cfg"
    if management is not None:
        config = work / "halcyon.cfg"
        config.write_text(f"# mgmt_e2e scenario {name}\n[management]\n{management}")
    made = subprocess.run([sys.executable, args.make_image, "--loader", args.loader, "--core",
                           args.core, "--config", str(config), "--cfg-tool", args.cfg_tool,
                           "--usb", str(image)], capture_output=True, text=True)
    if made.returncode != 0:
        raise Failure("could not build the boot image:\n" + made.stdout + made.stderr)

    port = free_port()
    boot = ["-drive", f"if=none,id=usb,format=raw,snapshot=on,file={image}",
            "-device", "qemu-xhci", "-device", "usb-storage,drive=usb,bootindex=1",
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-{expected_address or ''}"
                       f":{api_port_configured}"]
    # Other NICs first (lower PCI slots): the choice must follow the configured address or the
    # model preference, never the slot order.
    for index, other in enumerate(other_nics, start=1):
        boot += ["-netdev", f"user,id=n{index}", *qemu.nic_args(other, f"n{index}")]
    boot += qemu.nic_args(nic, "n0", slot)
    machine = qemu.Qemu(work, 1, 512, boot)
    started = time.monotonic()
    machine.start()
    try:
        configured = re.search(r"^key = ([0-9a-f]{64})$", management or "", re.M)
        key, (address, api_port), driver = wait_for_markers(
            machine, started + args.timeout, configured.group(1) if configured else None)
        print(f"HALCYON MGMT {address}:{api_port} after {time.monotonic() - started:.1f} s "
              f"({driver})")
        if driver != DRIVER_OF_MODEL[nic]:
            raise Failure(f"the management NIC was taken by {driver!r}, expected "
                          f"{DRIVER_OF_MODEL[nic]!r}")
        if api_port != api_port_configured:
            raise Failure(f"server announced port {api_port}, configured {api_port_configured}")
        if expected_address and address != expected_address:
            raise Failure(f"server announced {address}, configured {expected_address}")

        host = halctl(args, port, key, "Get-VMHost", "-Json")
        if host.returncode != 0:
            raise Failure(f"Get-VMHost failed with exit code {host.returncode}")
        facts = json.loads(host.stdout)
        print(f"  parsed: {facts}")
        if facts.get("logical_processors") != 1:
            raise Failure("Get-VMHost does not report the machine's 1 logical processor")
        if not 256 << 20 <= facts.get("memory_bytes", 0) <= 512 << 20:
            raise Failure("Get-VMHost memory is not plausible for a 512 MiB machine")
        if not 0 < facts.get("memory_free_bytes", 0) <= facts["memory_bytes"]:
            raise Failure("Get-VMHost free memory is not plausible")

        vms = halctl(args, port, key, "Get-VM", "-Json")
        if vms.returncode != 0 or json.loads(vms.stdout) not in ([], {"vms": []}):
            raise Failure("Get-VM should answer with no VMs")

        # The VM manager serves the VM verbs (vm_mgmt_e2e covers them with a real guest): a VM
        # is defined, but it cannot start without its kernel, which this host does not have.
        new = halctl(args, port, key, "New-VM", "-Name", "e2e", "-MemoryStartupBytes", "64MB",
                     "-Kernel", "vmlinuz")
        if new.returncode != 0:
            raise Failure(f"New-VM should define the VM (exit 0), got {new.returncode}")
        start = halctl(args, port, key, "Start-VM", "e2e")
        if start.returncode != 3:
            raise Failure(f"Start-VM without the kernel file should be not found (exit 3), got "
                          f"{start.returncode}")
        if halctl(args, port, key, "Remove-VM", "e2e").returncode != 0:
            raise Failure("Remove-VM of the VM that never started failed")

        wrong = "0" * 64 if key != "0" * 64 else "1" * 64
        refused = halctl(args, port, wrong, "Get-VMHost", "-Json")
        if refused.returncode != 2:
            raise Failure(f"a wrong key must give exit code 2, got {refused.returncode}")

        again = halctl(args, port, key, "Get-VMHost", "-Json")
        if again.returncode != 0:
            raise Failure("the server stopped serving after a refused request")
    finally:
        machine.stop()
    print(f"mgmt_e2e {name}: PASS")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--loader", required=True)
    parser.add_argument("--core", required=True)
    parser.add_argument("--cfg-tool", required=True)
    parser.add_argument("--make-image", required=True)
    parser.add_argument("--halctl", required=True)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--nic", choices=sorted(qemu.NIC_MODELS),
                        help="run only the scenarios whose management NIC is this model")
    args = parser.parse_args()
    try:
        for scenario in SCENARIOS:
            if args.nic is None or scenario[4] == args.nic:
                run(args, scenario)
    except (Failure, json.JSONDecodeError, subprocess.TimeoutExpired) as error:
        print(f"mgmt_e2e: FAIL: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
