#!/usr/bin/python3
"""The management partition end to end (integration cases mgmt_partition_e2e and
mgmt_partition_crash; runner.py's host_script). The management API runs in the management
partition (`[management] partition = yes`), so every halctl verb below crosses the partition's
vendor hypercall to the core's VM manager.

  mgmt_partition_e2e    Get-VMHost; Copy-VMFile of Debian's kernel and the busybox initramfs;
                        New-VM, Start-VM (Running), Connect-VM until the guest's shell answers a
                        command; a wrong key is refused (exit 2); Stop-VM -TurnOff, Remove-VM
                        (then Get-VM of it: exit 3)
  mgmt_partition_crash  the partition faults on purpose (crash_test = page_fault) while the Linux
                        VM of halcyon.cfg runs: after HALCYON MGMT CRASHED the partition comes up
                        again (a second HALCYON MGMT), Get-VM works, the VM ran through the crash
                        (still Running, uptime longer than the time since the crash, its console
                        answers a command), and the restart time is reported

  mgmt_partition_e2e.py prepare|verify|drive WORK   (mgmt_driver.py's plumbing; the flow is
                                                     chosen by the case name, WORK's name)
Stdlib only.
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import time

import mgmt_driver

DRIVER_TIMEOUT = 150
MGMT_KEY = re.compile(r"^HALCYON MGMT KEY ([0-9a-f]{64})\s*$", re.M)
MGMT_ADDRESS = re.compile(r"^HALCYON MGMT (\d+\.\d+\.\d+\.\d+):(\d+)\s*$", re.M)
# mgmt-partition-crash.cfg's key (the restarted partition must not print a new one).
CRASH_KEY = "6d676d74637261736874657374206b65792020202020202020202020202020aa"
PROMPT = "HALCYON-GUEST: interactive shell"


class Failure(Exception):
    pass


class Driver:
    def __init__(self, work):
        self.work = work
        build = pathlib.Path(os.environ.get("HALCYON_BUILD_DIR") or work.resolve().parents[3])
        self.halctl_path = os.environ.get("HALCYON_HALCTL") or str(build / "bin" / "halctl")
        self.linux = build / "tests" / "guests" / "linux"
        self.port = int((work / "mgmt-port").read_text())
        self.key = None
        self.deadline = time.monotonic() + DRIVER_TIMEOUT

    def say(self, text):
        print(text, flush=True)

    def check(self, condition, what):
        if not condition:
            raise Failure(what)

    def halctl(self, *command, key=None, stdin=None, quiet=False):
        if time.monotonic() > self.deadline:
            raise Failure(f"out of time before halctl {' '.join(command)}")
        full = [self.halctl_path, "--host", f"127.0.0.1:{self.port}", "--key", key or self.key,
                *command]
        started = time.monotonic()
        result = subprocess.run(full, capture_output=True, text=True, timeout=60, input=stdin,
                                errors="replace")
        if not quiet:
            self.say(f"$ halctl {' '.join(command)} -> {result.returncode} "
                     f"({(time.monotonic() - started) * 1000:.0f} ms)")
            text = (result.stdout + result.stderr).strip()
            if text:
                self.say("  " + text[-600:].replace("\n", "\n  "))
        return result

    def ok(self, *command, **options):
        result = self.halctl(*command, **options)
        self.check(result.returncode == 0,
                   f"halctl {' '.join(command)} failed (exit {result.returncode})")
        return result

    def vm(self, name):
        return json.loads(self.ok("Get-VM", name, "-Json", quiet=True).stdout)

    def serial(self):
        try:
            return (self.work / "serial.log").read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, what, predicate, seconds, interval=0.5):
        end = min(time.monotonic() + seconds, self.deadline)
        while time.monotonic() < end:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise Failure(f"timed out waiting for {what}")

    def wait_console(self, name, command, needle, seconds):
        def found():
            return needle in self.halctl("Connect-VM", name, stdin=command, quiet=True).stdout
        self.wait_for(f"{needle!r} on {name}'s console", found, seconds, 1.0)

    def wait_for_api(self, count=1):
        """The count-th HALCYON MGMT address line (count 2: after a restart)."""
        def markers():
            text = self.serial()
            found = MGMT_ADDRESS.findall(text)
            key = MGMT_KEY.search(text)
            return len(found) >= count and (key.group(1) if key else CRASH_KEY)
        self.key = self.wait_for(f"HALCYON MGMT #{count}", markers, 90)
        self.say(f"HALCYON MGMT #{count} (API at 127.0.0.1:{self.port})")

    def run(self):
        if self.work.name.endswith("crash"):
            self.crash()
        else:
            self.e2e()

    def e2e(self):
        self.wait_for_api()
        host = json.loads(self.ok("Get-VMHost", "-Json").stdout)
        self.check(host.get("logical_processors", 0) >= 1, f"Get-VMHost: {host}")
        for name in ("vmlinuz", "initramfs.cpio.gz"):
            self.ok("Copy-VMFile", str(self.linux / name))
        self.ok("New-VM", "lin", "-Kernel", "vmlinuz", "-Initrd", "initramfs.cpio.gz",
                "-MemoryStartupBytes", "128MB", "-CommandLine",
                "console=ttyS0 loglevel=4 halcyon.test=shell")
        self.ok("Start-VM", "lin")
        self.wait_for("lin Running", lambda: self.vm("lin").get("state") == "Running", 30)
        self.wait_console("lin", "\r", PROMPT, 60)
        self.wait_console("lin", "echo MGMT-PARTITION-$((6*7))\r", "MGMT-PARTITION-42", 30)
        wrong = "0" * 64 if self.key != "0" * 64 else "1" * 64
        self.check(self.halctl("Get-VM", key=wrong).returncode == 2, "a wrong key: exit 2")
        self.ok("Stop-VM", "lin", "-TurnOff")
        self.check(self.vm("lin").get("state") == "Off", "lin is not Off after Stop-VM -TurnOff")
        self.ok("Remove-VM", "lin")
        self.check(self.halctl("Get-VM", "lin").returncode == 3, "a removed VM: exit 3")
        self.say("mgmt_partition_e2e: every verb answered through the partition")

    def crash(self):
        self.wait_for_api()
        self.ok("Get-VM")
        crashed = self.wait_for("HALCYON MGMT CRASHED",
                                lambda: "HALCYON MGMT CRASHED" in self.serial(), 30, 0.2)
        crash_seen = time.monotonic()
        self.wait_for_api(count=2)
        self.say(f"figure: the partition served again {time.monotonic() - crash_seen:.1f} s "
                 "after the crash report (seen by this script)")
        self.check(crashed, "no crash")
        vm = self.vm("lin")
        self.check(vm.get("state") == "Running", f"lin after the crash: {vm}")
        since_crash_ms = (time.monotonic() - crash_seen) * 1000
        self.check(vm.get("uptime_ms", 0) > since_crash_ms,
                   f"lin restarted across the crash (uptime {vm.get('uptime_ms')} ms)")
        self.wait_console("lin", "\r", PROMPT, 60)
        self.wait_console("lin", "echo AFTER-CRASH-$((6*7))\r", "AFTER-CRASH-42", 30)
        text = self.serial()
        after = text[text.index("HALCYON MGMT CRASHED"):]
        self.check("[vm lin]" in after, "the VM printed nothing after the crash")
        self.say("mgmt_partition_crash: the VM ran through the crash; the partition restarted")


def prepare(work):
    driver = mgmt_driver.start_driver(work, "mgmt_partition", __file__)
    (work / "mgmt_partition.pid").write_text(f"{driver.pid}\n")
    return 0


def verify(work):
    return 0 if mgmt_driver.driver_result(work, "mgmt_partition") == "PASS" else 1


def drive(work):
    return mgmt_driver.drive(work, "mgmt_partition", Driver(work), (Failure,))


if __name__ == "__main__":
    sys.exit(mgmt_driver.main(prepare, verify, drive))
