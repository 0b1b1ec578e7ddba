#!/usr/bin/python3
"""The VM verbs end to end (integration case vm_mgmt_e2e; runner.py's host_script).

  vm_mgmt_e2e.py prepare WORK   picks a free localhost port, writes the QEMU -readconfig file that
                                forwards it to the management API (port 8443 of the guest), and
                                starts the driver below in the background
  vm_mgmt_e2e.py verify WORK    waits for the driver, prints its log and figures, passes if it did
  vm_mgmt_e2e.py drive WORK     (the driver, started by prepare) runs the real halctl against
                                Halcyon once `HALCYON MGMT` is on the serial console

The driver: Get-VM lists the VM of halcyon.cfg (cfg-hello, Off after it ran); Copy-VMFile uploads
Debian's kernel and the busybox initramfs (tests/guests/linux); New-VM, Start-VM (Starting ->
Running; free memory drops by the VM's RAM); Connect-VM reads the console until the guest's shell
is up; Restart-VM (a hard reset: the kernel boots again); Connect-VM loads the Hyper-V drivers and
runs `echo E2E-MARKER-$((6*7))` (the answer 42 proves the guest ran it); Get-VM shows the
heartbeat Ok (hv_utils answers the heartbeat service); Suspend-VM / Resume-VM and another command;
refused requests (wrong key -> exit 2, a bad name -> 6, Start-VM, Set-VM or Remove-VM of a running
VM -> 4, an unknown VM -> 3); a second VM (the spinner test guest, its memory changed by Set-VM)
turned off at once with Stop-VM -TurnOff; a third (the triple_fault guest) that ends Crashed and
starts again; a graceful Stop-VM (the guest powers off through the
shutdown integration service: Stopping -> Off); free memory is back; Get-VMLog has the events;
Remove-VM; Get-VM requests per second with 1 and 8 concurrent clients (HALCYON_E2E_CLIENTS); and
last Remove-VM of cfg-hello, whose log line is the case's final expected line. The serial-log patterns in cases.json check the host's side of the same story.

On a failure the driver writes the reason to QEMU's stderr log (which the runner prints) and
stops QEMU, so the case fails at once instead of at its timeout. Stdlib only.
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time

import mgmt_driver  # the host-script plumbing (prepare/verify/drive)

DRIVER_TIMEOUT = 200  # seconds, the whole scenario
MGMT_KEY = re.compile(r"^HALCYON MGMT KEY ([0-9a-f]{64})\s*$", re.M)
MGMT_ADDRESS = re.compile(r"^HALCYON MGMT (\d+\.\d+\.\d+\.\d+):(\d+)\s*$", re.M)
CONSOLE_PROMPT = "HALCYON-GUEST: interactive shell"
MIB = 1 << 20


class Failure(Exception):
    pass


def build_dir(work):
    # runner.py's work directory is BUILD/tests/integration/work/CASE.
    return pathlib.Path(os.environ.get("HALCYON_BUILD_DIR") or work.resolve().parents[3])


def prepare(work):
    driver = mgmt_driver.start_driver(work, "vm_mgmt_e2e", __file__)
    (work / "vm_mgmt_e2e.pid").write_text(f"{driver.pid}\n")
    return 0


def verify(work):
    return 0 if mgmt_driver.driver_result(work, "vm_mgmt_e2e") == "PASS" else 1


class Driver:
    def __init__(self, work):
        self.work = work
        self.build = build_dir(work)
        self.halctl_path = os.environ.get("HALCYON_HALCTL") or str(self.build / "bin" / "halctl")
        self.guests = self.build / "tests" / "guests"
        self.port = int((work / "mgmt-port").read_text())
        self.key = None
        self.deadline = time.monotonic() + DRIVER_TIMEOUT
        self.figures = []

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
        result.seconds = time.monotonic() - started
        if not quiet:
            self.say(f"$ halctl {' '.join(command)} -> {result.returncode} "
                     f"({result.seconds * 1000:.0f} ms)")
            for stream in (result.stdout, result.stderr):
                if stream.strip():
                    text = stream.strip()
                    if len(text) > 1200:
                        text = "..." + text[-1200:]
                    self.say("  " + text.replace("\n", "\n  "))
        return result

    def ok(self, *command, **options):
        result = self.halctl(*command, **options)
        self.check(result.returncode == 0, f"halctl {' '.join(command)} failed "
                   f"(exit {result.returncode})")
        return result

    def timed(self, label, *command, **options):
        result = self.ok(*command, **options)
        self.figures.append((label, result.seconds))
        return result

    def vm(self, name):
        return json.loads(self.ok("Get-VM", name, "-Json", quiet=True).stdout)

    def host(self):
        return json.loads(self.ok("Get-VMHost", "-Json", quiet=True).stdout)

    def wait_for(self, what, predicate, seconds, interval=0.3):
        end = min(time.monotonic() + seconds, self.deadline)
        while time.monotonic() < end:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise Failure(f"timed out waiting for {what}")

    def wait_state(self, name, state, seconds):
        started = time.monotonic()
        vm = self.wait_for(f"{name} to be {state}",
                           lambda: (lambda v: v if v.get("state") == state else None)(self.vm(name)),
                           seconds)
        self.say(f"  {name} is {state} after {time.monotonic() - started:.1f} s")
        return vm

    def console(self, name, text=""):
        return self.halctl("Connect-VM", name, stdin=text, quiet=True).stdout

    def wait_console(self, name, needle, seconds, send="\r", after=0):
        """Polls the console (Connect-VM shows the last 2 KiB) until `needle` appears `after`
        characters into the newest output of the VM's console (used to wait for a second boot)."""
        started = time.monotonic()
        seen = {"text": ""}

        def found():
            seen["text"] = self.console(name, send)
            return needle in seen["text"]
        try:
            self.wait_for(f"{needle!r} on {name}'s console", found, seconds, interval=0.5)
        except Failure:
            self.say("  console tail: " + seen["text"][-800:].replace("\n", "\n    "))
            raise
        self.say(f"  {needle!r} on the console after {time.monotonic() - started:.1f} s")
        return seen["text"]

    def serial(self):
        return (self.work / "serial.log").read_text(errors="replace")

    def wait_for_api(self):
        """Waits for this boot's HALCYON MGMT lines and takes the API key from them."""
        # The runner recreates serial.log when QEMU starts: wait for this boot's markers.
        def markers():
            try:
                text = self.serial()
            except OSError:
                return None
            key, address = MGMT_KEY.search(text), MGMT_ADDRESS.search(text)
            return (key.group(1), address.group(0)) if key and address else None
        self.key, address = self.wait_for("HALCYON MGMT on the serial console", markers, 90, 0.5)
        self.say(f"{address} (forwarded from 127.0.0.1:{self.port})")

    def run(self):
        self.wait_for_api()

        # The VM of halcyon.cfg ran at boot and is listed, Off, with the reason it stopped.
        vms = json.loads(self.ok("Get-VM", "-Json").stdout)["vms"]
        self.check([v["name"] for v in vms] == ["cfg-hello"], f"Get-VM lists {vms}")
        hello = self.wait_state("cfg-hello", "Off", 30)
        self.check(hello["status"] == "hlt with interrupts disabled",
                   f"cfg-hello's status: {hello['status']!r}")
        free_boot = self.host()["memory_free_bytes"]

        # Uploads.
        linux = self.guests / "linux"
        sizes = {}
        for name in ("vmlinuz", "initramfs.cpio.gz"):
            path = linux / name
            sizes[name] = path.stat().st_size
            result = self.timed(f"Copy-VMFile {name}", "Copy-VMFile", str(path))
            self.say(f"  {sizes[name] / MIB:.1f} MiB at "
                     f"{sizes[name] / MIB / result.seconds:.1f} MiB/s")
        free_files = self.host()["memory_free_bytes"]
        self.say(f"free memory: {free_boot / MIB:.1f} MiB at boot, {free_files / MIB:.1f} MiB "
                 "with the files uploaded")
        self.check(free_boot - free_files >= sum(sizes.values()),
                   "the uploaded files do not show in the free memory")

        # New-VM and Start-VM.
        new = json.loads(self.timed(
            "New-VM", "New-VM", "e2e", "-Kernel", "vmlinuz", "-Initrd", "initramfs.cpio.gz",
            "-MemoryStartupBytes", "256MB", "-CommandLine", "console=ttyS0 halcyon.test=shell",
            "-Json").stdout)
        self.check(new["state"] == "Off" and new["vmbus"] is True and new["heartbeat"] is None,
                   f"New-VM: {new}")
        started = json.loads(self.timed("Start-VM", "Start-VM", "e2e", "-Json").stdout)
        self.check(started["state"] in ("Starting", "Running"), f"Start-VM: {started}")
        running = self.wait_state("e2e", "Running", 30)
        self.check(running["uptime_ms"] > 0 and running["heartbeat"] == "NoContact",
                   f"a running VM before hv_utils: {running}")
        free_running = self.host()["memory_free_bytes"]
        self.say(f"free memory with e2e running: {free_running / MIB:.1f} MiB")
        self.check(free_files - free_running >= 256 * MIB,
                   "the VM's 256 MiB do not show in the free memory")
        self.wait_console("e2e", CONSOLE_PROMPT, 90)

        # Restart-VM: a hard reset, the kernel boots again from the same (pinned) files.
        self.timed("Restart-VM", "Restart-VM", "e2e")
        refused = self.halctl("Copy-VMFile", str(linux / "vmlinuz"))
        self.check(refused.returncode == 4, "replacing a file a running VM uses must be refused")
        self.wait_for("the second boot", lambda: self.serial().count(
            "[vm e2e] HALCYON-GUEST: interactive shell") >= 2, 90, 0.5)
        self.say("  the guest booted again after Restart-VM")

        # A command in the guest: load the Hyper-V drivers (hv_utils answers the integration
        # services) and compute something only the guest's shell can.
        self.console("e2e", ". /tests/common.sh; load_group vmbus >/dev/null; "
                     "echo E2E-MARKER-$((6*7))\r")
        self.wait_console("e2e", "E2E-MARKER-42", 60, send="")
        started = time.monotonic()
        vm = self.wait_for("heartbeat Ok", lambda: (lambda v: v if v.get("heartbeat", "").
                                                    startswith("Ok") else None)(self.vm("e2e")), 60)
        self.say(f"  heartbeat {vm['heartbeat']} {time.monotonic() - started:.1f} s after the "
                 "drivers loaded")
        self.ok("Get-VM", "e2e") # the details list, for the log

        # Suspend-VM / Resume-VM.
        paused = json.loads(self.timed("Suspend-VM", "Suspend-VM", "e2e", "-Json").stdout)
        self.check(paused["state"] == "Paused", f"Suspend-VM: {paused}")
        time.sleep(1)
        self.check(self.vm("e2e")["state"] == "Paused", "the VM did not stay paused")
        resumed = json.loads(self.timed("Resume-VM", "Resume-VM", "e2e", "-Json").stdout)
        self.check(resumed["state"] == "Running", f"Resume-VM: {resumed}")
        self.console("e2e", "echo AFTER-RESUME-$((2*3))\r")
        self.wait_console("e2e", "AFTER-RESUME-6", 30, send="")

        # Requests that must be refused, and the server still serving afterwards.
        wrong = "0" * 64 if self.key != "0" * 64 else "1" * 64
        self.check(self.halctl("Get-VMHost", key=wrong).returncode == 2, "a wrong key: exit 2")
        self.check(self.halctl("New-VM", "bad name!", "-Kernel", "vmlinuz").returncode == 6,
                   "an invalid VM name: exit 6")
        self.check(self.halctl("Start-VM", "e2e").returncode == 4, "Start-VM while running: 4")
        self.check(self.halctl("Remove-VM", "e2e").returncode == 4, "Remove-VM while running: 4")
        self.check(self.halctl("Start-VM", "nosuchvm").returncode == 3, "an unknown VM: exit 3")
        self.check(self.halctl("Set-VM", "e2e", "-ProcessorCount", "2").returncode == 4,
                   "Set-VM while running: exit 4")

        # A second VM, turned off at once.
        self.ok("Copy-VMFile", str(self.guests / "spinner.bin"))
        self.ok("New-VM", "spin", "-Kernel", "spinner.bin", "-MemoryStartupBytes", "16MB")
        changed = json.loads(self.ok("Set-VM", "spin", "-MemoryStartupBytes", "32MB",
                                     "-Json").stdout)
        self.check(changed["memory_bytes"] == 32 * MIB, f"Set-VM: {changed}")
        self.ok("Start-VM", "spin")
        self.wait_state("spin", "Running", 20)
        off = json.loads(self.timed("Stop-VM -TurnOff", "Stop-VM", "spin", "-TurnOff",
                                    "-Json").stdout)
        self.check(off["state"] == "Off" and off["status"] == "turned off by Stop-VM -TurnOff",
                   f"Stop-VM -TurnOff: {off}")
        self.ok("Remove-VM", "spin")

        # A guest that triple-faults ends Crashed, with the reason; it may be started again.
        self.ok("Copy-VMFile", str(self.guests / "triple_fault.bin"))
        self.ok("New-VM", "tf", "-Kernel", "triple_fault.bin", "-MemoryStartupBytes", "16MB")
        self.ok("Start-VM", "tf")
        crashed = self.wait_state("tf", "Crashed", 20)
        self.check(crashed["status"] == "triple fault", f"a crashed VM: {crashed}")
        self.ok("Start-VM", "tf")
        self.wait_state("tf", "Crashed", 20)
        self.ok("Remove-VM", "tf")

        # A graceful Stop-VM: the shutdown integration service; the guest powers off.
        stopping = json.loads(self.timed("Stop-VM", "Stop-VM", "e2e", "-Json").stdout)
        self.check(stopping["state"] == "Stopping", f"Stop-VM: {stopping}")
        started = time.monotonic()
        off = self.wait_state("e2e", "Off", 60)
        self.figures.append(("Stop-VM until Off", time.monotonic() - started))
        self.check(off["status"] == "the guest powered off" and off["uptime_ms"] == 0 and
                   off["heartbeat"] is None, f"after Stop-VM: {off}")
        free_off = self.host()["memory_free_bytes"]
        self.say(f"free memory: {free_running / MIB:.1f} MiB running, {free_off / MIB:.1f} MiB "
                 f"off ({(free_off - free_running) / MIB:.1f} MiB back)")
        self.check(free_off - free_running >= 256 * MIB and free_files - free_off <= 4 * MIB,
                   "the VM's memory did not come back")
        self.check(self.halctl("Connect-VM", "e2e", stdin="x").returncode == 4,
                   "console input to an Off VM: exit 4")

        log = json.loads(self.ok("Get-VMLog", "-Json", quiet=True).stdout)["text"]
        for line in ("created VM e2e", "started VM e2e", "restarted VM e2e", "paused VM e2e",
                     "resumed VM e2e", "stopping VM e2e (shutdown integration service)",
                     "VM e2e stopped: the guest powered off"):
            self.check(line in log, f"Get-VMLog lacks {line!r}")

        self.timed("Remove-VM", "Remove-VM", "e2e")
        self.check(self.halctl("Get-VM", "e2e").returncode == 3, "a removed VM: exit 3")
        free_removed = self.host()["memory_free_bytes"]
        self.say(f"free memory after Remove-VM: {free_removed / MIB:.1f} MiB")

        # Concurrent clients (each request a halctl process, as an administrator's script
        # would): HALCYON_E2E_CLIENTS=1,64 for a bigger run.
        for clients in os.environ.get("HALCYON_E2E_CLIENTS", "1,8").split(","):
            self.throughput(int(clients), 3)

        self.say("figures (wall time of the halctl process, TCG):")
        for label, seconds in self.figures:
            self.say(f"  {label:<30} {seconds * 1000:8.0f} ms")
        # Last: its log line ends the case's expected serial lines.
        self.ok("Remove-VM", "cfg-hello")

    def throughput(self, clients, seconds):
        end = time.monotonic() + seconds
        counts = [0] * clients
        failures = [0] * clients

        def client(index):
            while time.monotonic() < end:
                if self.halctl("Get-VM", "-Json", quiet=True).returncode == 0:
                    counts[index] += 1
                else:
                    failures[index] += 1
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.say(f"Get-VM with {clients} client{'s' if clients > 1 else ''}: "
                 f"{sum(counts) / seconds:.1f} requests/s ({sum(failures)} refused)")
        self.check(sum(counts) > 0, "no Get-VM answered under load")


def drive(work):
    return mgmt_driver.drive(work, "vm_mgmt_e2e", Driver(work), (Failure,))


if __name__ == "__main__":
    sys.exit(mgmt_driver.main(prepare, verify, drive))
