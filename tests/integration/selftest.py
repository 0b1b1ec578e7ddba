#!/usr/bin/python3
"""Tests the integration-test harness itself, without Halcyon: OVMF's built-in UEFI shell runs a
startup.nsh from a small FAT disk and prints marker lines, then powers off, resets or idles.

Checks that runner.py passes a good run, fails wrong order / forbidden lines / a reset where a
power-off was expected / a timeout (each time printing the full serial log), and that no QEMU
survives a timeout, SIGINT, SIGTERM or SIGKILL of the runner.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
RUNNER = [sys.executable, str(HERE / "runner.py"), "--cases", str(HERE / "selftest_cases.json")]
failures = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def make_disk(path, script_lines):
    """A FAT disk whose root holds startup.nsh (the shell runs it after a 5 s countdown)."""
    script = path.with_suffix(".nsh")
    script.write_text("\r\n".join(script_lines) + "\r\n")
    subprocess.run(["mkfs.fat", "-C", "-F", "32", str(path), "65536"], check=True,
                   capture_output=True)
    subprocess.run(["mcopy", "-i", str(path), str(script), "::/startup.nsh"], check=True,
                   env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def run_case(name, disk, work):
    started = time.monotonic()
    result = subprocess.run(RUNNER + [name, "--work", str(work), "--disk-image", str(disk)],
                            capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - started
    pid = int((work / name / "qemu.pid").read_text())
    return result, elapsed, pid


def expect_outcome(name, disk, work, passes, failure_text=None):
    result, elapsed, pid = run_case(name, disk, work)
    output = result.stdout + result.stderr
    failed_before = len(failures)
    verdict = "passes" if passes else "fails"
    check((result.returncode == 0) == passes, f"{name} {verdict} (exit {result.returncode}, "
          f"{elapsed:.1f}s)")
    check(not alive(pid), f"{name}: no QEMU left behind (pid {pid})")
    check("----- full serial log" in output and "HARNESS-MARK-1" in output,
          f"{name}: the full serial log is printed")
    if failure_text:
        check(failure_text in output, f"{name}: reports '{failure_text}'")
    if len(failures) > failed_before:
        print(output)
    return elapsed


def interrupted(signal_number, disk, work):
    """Starts a long run, signals the runner once the guest is up, checks QEMU is gone."""
    name = "harness_timeout"
    # Remove the previous run's files first, or its log and pid would be mistaken for this one's.
    shutil.rmtree(work / name, ignore_errors=True)
    runner = subprocess.Popen(RUNNER + [name, "--work", str(work), "--disk-image", str(disk),
                                        "--timeout", "300"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = work / name / "serial.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and b"HARNESS-MARK-1" in log.read_bytes():
            break
        time.sleep(0.2)
    else:
        runner.kill()
        check(False, f"{signal.Signals(signal_number).name}: guest never printed its marker")
        return
    pid = int((work / name / "qemu.pid").read_text())
    runner.send_signal(signal_number)
    try:
        runner.wait(timeout=15)
        stopped = True
    except subprocess.TimeoutExpired:
        runner.kill()
        stopped = False
    check(stopped, f"{signal.Signals(signal_number).name}: runner stops")
    gone_by = time.monotonic() + 10
    while alive(pid) and time.monotonic() < gone_by:
        time.sleep(0.1)
    check(not alive(pid), f"{signal.Signals(signal_number).name}: QEMU (pid {pid}) is gone")


def main():
    with tempfile.TemporaryDirectory(prefix="halcyon-harness-") as scratch:
        work = pathlib.Path(scratch)
        marks = ["echo HARNESS-MARK-1", "echo HARNESS-MARK-2"]
        poweroff = work / "poweroff.img"
        make_disk(poweroff, marks + ["reset -s"])
        reset = work / "reset.img"
        make_disk(reset, marks + ["reset -c"])
        idle = work / "idle.img"
        make_disk(idle, marks)

        expect_outcome("harness_pass", poweroff, work, passes=True,
                       failure_text="status 0, guest-shutdown")
        expect_outcome("harness_wrong_order", poweroff, work, passes=False,
                       failure_text="before /^HARNESS-MARK-1$/ appeared")
        expect_outcome("harness_forbidden", poweroff, work, passes=False,
                       failure_text="forbidden line")
        expect_outcome("harness_reset_is_not_poweroff", reset, work, passes=False,
                       failure_text="guest-reset")
        elapsed = expect_outcome("harness_timeout", idle, work, passes=False,
                                 failure_text="timed out after 20")
        check(20 <= elapsed < 55, f"harness_timeout: gave up at its timeout ({elapsed:.1f}s)")
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            interrupted(number, idle, work)

    print(f"{len(failures)} harness check(s) failed" if failures else "harness OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
