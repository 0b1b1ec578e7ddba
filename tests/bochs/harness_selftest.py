#!/usr/bin/python3
"""Tests the Bochs side of the integration harness (runner.py --machine bochs, bochs.py) without
Halcyon: small GRUB CD images (grub-mkrescue) print marker lines on COM1 and then power off,
reset or idle, under the same cases as the QEMU self-test (tests/integration/selftest_cases.json).

Checks that a good run passes, that wrong order, a forbidden line, a reset where a power-off was
expected and a timeout fail (each printing the full serial log), that the term display's
pseudo-terminal is drained (bochs.ScreenDrain: undrained, Bochs blocks for good once a few KiB of
screen updates are queued, after several minutes of a long test; here a stand-in writes 256 KiB
to such a terminal, and Bochs's own screen must reach bochs-screen.log), and that no Bochs
survives a timeout, SIGINT, SIGTERM or SIGKILL of the runner. Exits 77 (skipped) when Bochs or GRUB's BIOS
tools are not installed.
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
INTEGRATION = HERE.parent / "integration"
RUNNER = [sys.executable, str(INTEGRATION / "runner.py"), "--machine", "bochs",
          "--cases", str(INTEGRATION / "selftest_cases.json")]
SKIPPED = 77
failures = []

sys.path.insert(0, str(INTEGRATION))
import bochs  # noqa: E402


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def make_iso(path, commands):
    """A BIOS-bootable GRUB CD whose grub.cfg prints the marks on COM1, then runs `commands`."""
    root = path.with_suffix(".d")
    (root / "boot/grub").mkdir(parents=True)
    (root / "boot/grub/grub.cfg").write_text("\n".join(
        ["serial --unit=0 --speed=115200", "terminal_output serial",
         "echo HARNESS-MARK-1", "echo HARNESS-MARK-2", *commands]) + "\n")
    subprocess.run(["grub-mkrescue", "-o", str(path), str(root)], check=True,
                   capture_output=True)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def expect_outcome(name, iso, work, passes, failure_text=None):
    started = time.monotonic()
    result = subprocess.run(RUNNER + [name, "--work", str(work), "--disk-image", str(iso)],
                            capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - started
    pid = int((work / name / "bochs.pid").read_text())
    output = result.stdout + result.stderr
    failed_before = len(failures)
    verdict = "passes" if passes else "fails"
    check((result.returncode == 0) == passes, f"{name} {verdict} (exit {result.returncode}, "
          f"{elapsed:.1f}s)")
    check(not alive(pid), f"{name}: no Bochs left behind (pid {pid})")
    check("----- full serial log" in output and "HARNESS-MARK-1" in output,
          f"{name}: the full serial log is printed")
    if failure_text:
        check(failure_text in output, f"{name}: reports '{failure_text}'")
    if len(failures) > failed_before:
        print(output)
    return elapsed


# Stands in for Bochs's term display: opens a pseudo-terminal, names it the way Bochs does and
# writes far more than a terminal buffers. It finishes only if someone reads the other side.
SCREEN_WRITER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None)
libc.ptsname.restype = ctypes.c_char_p
fd = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
libc.grantpt(fd)
libc.unlockpt(fd)
sys.stderr.write('\nBochs connected to screen "%s"\n' % libc.ptsname(fd).decode())
sys.stderr.flush()
for _ in range(256):
    os.write(fd, b"s" * 1024)
time.sleep(1)  # let the reader catch up before the hang-up
"""


def screen_drain(work):
    stdout_log = work / "screen-writer-stdout.log"
    screen_log = work / "screen-writer-screen.log"
    with open(stdout_log, "w") as stdout:
        writer = subprocess.Popen([sys.executable, "-c", SCREEN_WRITER], stdout=stdout,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        drain = bochs.ScreenDrain(stdout_log, screen_log, writer)
        try:
            writer.wait(timeout=20)
            finished = True
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
            finished = False
    drain.wait(5)
    check(finished and writer.returncode == 0,
          "a screen writer of 256 KiB finishes: its pseudo-terminal is drained")
    # Not all of it: until the drain has the terminal in raw mode, the line discipline (line
    # buffering, full) throws input away, and only its echo queue filling up blocks the writer.
    # Everything after that arrives: more than any terminal queue holds.
    size = screen_log.stat().st_size if screen_log.exists() else 0
    check(size >= 16 * 1024, f"the drained screen reached its log ({size} bytes)")


def interrupted(signal_number, iso, work):
    """Starts a long run, signals the runner once the guest is up, checks Bochs is gone."""
    name = "harness_timeout"
    shutil.rmtree(work / name, ignore_errors=True)
    runner = subprocess.Popen(RUNNER + [name, "--work", str(work), "--disk-image", str(iso),
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
    pid = int((work / name / "bochs.pid").read_text())
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
    check(not alive(pid), f"{signal.Signals(signal_number).name}: Bochs (pid {pid}) is gone")


def main():
    missing = bochs.available() or next(
        (f"{tool} is missing" for tool in ("grub-mkrescue", "xorriso") if not shutil.which(tool)),
        None)
    if missing:
        print(f"SKIP: {missing}")
        return SKIPPED
    with tempfile.TemporaryDirectory(prefix="halcyon-bochs-harness-") as scratch:
        work = pathlib.Path(scratch)
        poweroff = work / "poweroff.iso"
        make_iso(poweroff, ["halt"])  # GRUB powers off through ACPI
        reset = work / "reset.iso"
        make_iso(reset, ["reboot"])
        idle = work / "idle.iso"
        make_iso(idle, ["sleep 100000"])

        expect_outcome("harness_pass", poweroff, work, passes=True,
                       failure_text="status 0, guest-shutdown")
        screen_log = work / "harness_pass" / "bochs-screen.log"
        # Only that the drain found and opened Bochs's terminal: what Bochs wrote there before
        # that may be gone (see screen_drain).
        check(screen_log.exists(), "harness_pass: Bochs's screen is drained into bochs-screen.log")
        screen_drain(work)
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

    print(f"{len(failures)} harness check(s) failed" if failures else "Bochs harness OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
