#!/usr/bin/python3
"""The key-value pair exchange end to end with the real hv_kvp_daemon (integration case
vm_kvp_e2e; runner.py's host_script; issue 7 item 5).

  vm_kvp_e2e.py prepare WORK   picks a free localhost port forwarded to the management API and
                               starts the driver below (mgmt_driver.py)
  vm_kvp_e2e.py verify WORK    waits for the driver, prints its log and figures, passes if it did
  vm_kvp_e2e.py drive WORK     (the driver) runs the real halctl once `HALCYON MGMT` is on the
                               serial console

The VM `kvp` of the case's halcyon.cfg (configs/vm-kvp-e2e.cfg) starts at boot: Debian's kernel
with the busybox initramfs in halcyon.test=kvp (tests/guests/linux/scripts/kvp.sh) loads hv_utils,
sets its host name and addresses and runs Debian's hv_kvp_daemon. The driver waits until
`halctl Get-VM -Json` shows the guest's host name as computer_name and its addresses in
ip_addresses (what the daemon answers for FullyQualifiedDomainName and NetworkAddressIPv4/IPv6 of
the Auto pool), checks Get-VMIntegrationService's Key-Value Pair Exchange is OK at version 4.0
and that the guest received the host's own item (VirtualMachineName = kvp, in the daemon's
AutoExternal pool file); then stops the VM through the shutdown service (the values go with the
guest), gives it another host name and IPv4 address and no IPv6 address with Set-VM -CommandLine,
and measures Start-VM until Get-VM shows the new values (and none of the old). Stdlib only.
"""
import json
import pathlib
import re
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mgmt_driver  # noqa: E402  (prepare/verify/drive plumbing)
import vm_mgmt_e2e  # noqa: E402  (the Driver and its halctl helpers)

NAME = "vm_kvp_e2e"
VM = "kvp"
KVP_SERVICE = "Key-Value Pair Exchange"
# The two identities: the first from halcyon.cfg, the second given by Set-VM before a restart.
FIRST = {"hostname": "kvp-first", "ipv4": "192.0.2.10", "ipv6": "2001:db8::10"}
SECOND = {"hostname": "kvp-second", "ipv4": "198.51.100.7", "ipv6": None}
SECOND_CMDLINE = ("console=ttyS0 quiet panic=-1 halcyon.test=kvp halcyon.hostname=kvp-second "
                  "halcyon.ipv4=198.51.100.7/24 halcyon.ipv6=none halcyon.wait=60")


class Failure(Exception):
    pass


def prepare(work):
    mgmt_driver.start_driver(work, NAME, __file__)
    return 0


def verify(work):
    return 0 if mgmt_driver.driver_result(work, NAME) == "PASS" else 1


class KvpDriver(vm_mgmt_e2e.Driver):
    def json(self, *command):
        return json.loads(self.ok(*command, "-Json", quiet=True).stdout)

    def wait_serial(self, pattern, seconds):
        regex = re.compile(pattern, re.M)
        return self.wait_for(f"/{pattern}/ on the serial console",
                             lambda: regex.search(self.serial()), seconds, 0.2)

    def wait_identity(self, identity, seconds):
        """Polls Get-VM until it shows `identity`'s host name and addresses; returns the VM."""
        last = {}

        def shown():
            vm = self.vm(VM)
            last["vm"] = vm
            addresses = vm.get("ip_addresses") or []
            ok = vm.get("computer_name") == identity["hostname"] and identity["ipv4"] in addresses
            if identity["ipv6"]:
                ok = ok and identity["ipv6"] in addresses
            return vm if ok else None
        try:
            return self.wait_for(f"Get-VM to show {identity}", shown, seconds, 0.25)
        except vm_mgmt_e2e.Failure:
            vm = last.get("vm", {})
            self.say(f"  last Get-VM: computer_name {vm.get('computer_name')!r}, "
                     f"ip_addresses {vm.get('ip_addresses')}, heartbeat {vm.get('heartbeat')}")
            self.say("  " + self.ok("Get-VMIntegrationService", VM).stdout.rstrip()
                     .replace("\n", "\n  "))
            raise

    def check_identity(self, vm, identity, stale):
        addresses = vm["ip_addresses"]
        ipv4 = [a for a in addresses if ":" not in a]
        ipv6 = [a for a in addresses if ":" in a]
        # The daemon reports every non-loopback address: ours, plus dummy0's link-local IPv6.
        self.check(ipv4 == [identity["ipv4"]], f"IPv4 addresses {ipv4}, expected "
                   f"[{identity['ipv4']}]")
        global_ipv6 = [a for a in ipv6 if not a.lower().startswith("fe80:")]
        expected_ipv6 = [identity["ipv6"]] if identity["ipv6"] else []
        self.check(global_ipv6 == expected_ipv6, f"IPv6 addresses {ipv6}, expected "
                   f"{expected_ipv6} and link-local ones")
        self.check(all(a.lower().startswith("fe80:") for a in ipv6 if a not in expected_ipv6),
                   f"unexpected IPv6 addresses {ipv6}")
        for old in stale:
            self.check(old not in addresses and vm["computer_name"] != old,
                       f"Get-VM still shows {old!r} of the earlier boot: {vm}")

    def check_service(self):
        services = self.json("Get-VMIntegrationService", VM)["services"]
        kvp = [s for s in services if s["name"] == KVP_SERVICE]
        self.check(len(kvp) == 1, f"no {KVP_SERVICE} in {services}")
        self.check(kvp[0]["enabled"] and kvp[0]["status"] == "OK" and
                   kvp[0]["version"] == "4.0", f"the KVP service: {kvp[0]}")
        self.say(self.ok("Get-VMIntegrationService", VM, quiet=True).stdout.rstrip())

    def run(self):
        self.wait_for_api()

        # First boot (halcyon.cfg's VM, started with Halcyon): the time the VM ran until Get-VM
        # showed the daemon's values is its uptime then (Get-VM is polled every 0.25 s).
        vm = self.vm(VM)
        self.check(vm["state"] == "Running" and vm["vmbus"], f"the VM at boot: {vm}")
        vm = self.wait_identity(FIRST, 50)
        self.say(f"  Get-VM: computer_name {vm['computer_name']!r}, ip_addresses "
                 f"{vm['ip_addresses']} at VM uptime {vm['uptime_ms'] / 1000:.1f} s")
        self.figures.append(("VM start -> KVP values (1st boot, VM uptime)",
                             vm["uptime_ms"] / 1000))
        self.check_identity(vm, FIRST, [])
        self.check_service()
        # The host's own item reached the guest's daemon (pool AutoExternal).
        self.wait_serial(r"^\[vm kvp\] HALCYON-GUEST: kvp host item VirtualMachineName = kvp "
                         r"\(after", 20)
        self.wait_serial(r"^\[vm kvp\] HALCYON-GUEST: kvp test PASS$", 20)
        self.say(self.ok("Get-VM", VM, quiet=True).stdout.rstrip())

        # A graceful stop: the guest's values go with it.
        self.timed("Stop-VM", "Stop-VM", VM)
        off = self.wait_state(VM, "Off", 40)
        self.check(off["computer_name"] == "" and off["ip_addresses"] == [],
                   f"an Off VM still shows the guest's KVP values: {off}")

        # Another identity, and Start-VM until Get-VM shows it (and nothing of the first).
        changed = json.loads(self.ok("Set-VM", VM, "-CommandLine", SECOND_CMDLINE,
                                     "-Json").stdout)
        self.check(changed["command_line"] == SECOND_CMDLINE, f"Set-VM: {changed}")
        started = time.monotonic()
        self.timed("Start-VM", "Start-VM", VM)
        vm = self.wait_identity(SECOND, 50)
        elapsed = time.monotonic() - started
        self.say(f"  Get-VM: computer_name {vm['computer_name']!r}, ip_addresses "
                 f"{vm['ip_addresses']} {elapsed:.1f} s after Start-VM")
        self.figures.append(("Start-VM -> KVP values (2nd boot, wall)", elapsed))
        self.check_identity(vm, SECOND, [FIRST["hostname"], FIRST["ipv4"], FIRST["ipv6"]])
        self.check_service()
        self.wait_for("the second boot's kvp test PASS", lambda: self.serial().count(
            "[vm kvp] HALCYON-GUEST: kvp test PASS") >= 2, 20, 0.2)

        self.say("figures:")
        for label, seconds in self.figures:
            self.say(f"  {label:<46} {seconds * 1000:8.0f} ms")
        self.ok("Stop-VM", VM, "-TurnOff")
        # Last: its log line ends the case's expected serial lines.
        self.ok("Remove-VM", VM)


def drive(work):
    return mgmt_driver.drive(work, NAME, KvpDriver(work), (Failure, vm_mgmt_e2e.Failure))


if __name__ == "__main__":
    sys.exit(mgmt_driver.main(prepare, verify, drive))
