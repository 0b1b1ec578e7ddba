#!/usr/bin/python3
"""Runs one Halcyon integration test: build its boot media, boot it in QEMU, judge the serial log.

The test cases are described in cases.json (next to this file); CTest runs this script once per
case. A case passes when its `expect` patterns appear in the serial log in order (an entry that is
a list of patterns matches its lines in any order), no `forbid`
pattern appears, and - if it says `exit` - QEMU then exits by itself, for the given reason, with
the given status, all within `timeout` seconds. On failure the FULL serial log is printed.

Patterns are Python regular expressions matched against each serial line with terminal escape
sequences and carriage returns removed; `{virt}` stands for the virtualization extension the
guest sees (svm under TCG) and `{cpus}` for the case's CPU count.
"""
import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import qemu  # noqa: E402  (after the path tweak, on purpose)

HERE = pathlib.Path(__file__).resolve().parent
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-9;=?]*[A-Za-z]|[()][0-9A-Za-z])")
SETTLE_SECONDS = 1.0  # after the last expected line, watch this long for forbidden ones


class SerialLog:
    """Incrementally reads the serial log file and yields complete, cleaned lines."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.pending = b""

    def new_lines(self, final=False):
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            data = log.read()
        self.offset += len(data)
        self.pending += data
        *complete, self.pending = self.pending.split(b"\n")
        if final and self.pending:
            complete.append(self.pending)
            self.pending = b""
        for raw in complete:
            text = ANSI_ESCAPE.sub("", raw.decode("utf-8", "replace")).replace("\r", "")
            yield text


def build_media(case, args, work):
    """Makes the case's own USB image or PXE tree with tools/make-image.py."""
    config = HERE / "configs" / case["config"]
    command = [sys.executable, str(args.make_image), "--loader", args.loader, "--core", args.core,
               "--config", str(config), "--cfg-tool", args.cfg_tool]
    if case.get("no_check"):
        command.append("--no-check")
    # Extra files next to the loader (VM kernels, test guests); "{guests}" is the directory the
    # build puts the flat test guests in (tests/guests/).
    for spec in case.get("add", []):
        command += ["--add", spec.replace("{guests}", args.guests)]
    # Config overrides (key=value), e.g. to power off a shipped config that keeps running.
    for setting in case.get("set", []):
        command += ["--set", setting]
    if case["boot"] == "pxe":
        command += ["--pxe", str(work / "pxe")]
    else:
        command += ["--usb", str(work / "usb.img")]
    result = subprocess.run(command, capture_output=True, text=True)
    print(result.stdout + result.stderr, end="")
    if result.returncode != 0:
        raise TestFailure("could not build the boot media")


def boot_args(case, work, disk_image):
    if case["boot"] == "pxe":
        return ["-netdev", f"user,id=n0,tftp={work / 'pxe'},bootfile=BOOTX64.EFI",
                "-device", "virtio-net-pci,netdev=n0,bootindex=1"]
    image = disk_image or work / "usb.img"
    return ["-drive", f"if=none,id=usb,format=raw,snapshot=on,file={image}",
            "-device", "qemu-xhci", "-device", "usb-storage,drive=usb,bootindex=1"]


class TestFailure(Exception):
    pass


def compile_pattern(pattern, values):
    # Plain substitution, not str.format: regex quantifiers like {7} must stay as they are.
    for placeholder, value in values.items():
        pattern = pattern.replace(placeholder, value)
    return re.compile(pattern)


class AnyOrder:
    """An `expect` entry that is a list: all of its patterns, in any order (lines printed by
    several CPUs or VMs at once). Matches, like a single pattern, once its last pattern has."""

    def __init__(self, patterns):
        self.remaining = list(patterns)
        self.pattern = " & ".join(p.pattern for p in patterns)

    def search(self, line):
        for pattern in self.remaining:
            if pattern.search(line):
                self.remaining.remove(pattern)
                break
        return not self.remaining


def watch(case, machine, expect, forbid, ready_pattern):
    """Follows the serial log until the case is decided; returns a one-line result summary."""
    log = SerialLog(machine.serial_log)
    deadline = machine.started + case["timeout"]
    exit_spec = case.get("exit")
    next_expected = 0
    ready_after = None
    settle_until = None
    while True:
        exited = machine.exit_status() is not None
        for line in log.new_lines(final=exited):
            elapsed = time.monotonic() - machine.started
            for pattern in forbid:
                if pattern.search(line):
                    raise TestFailure(f"forbidden line after {elapsed:.1f}s (/{pattern.pattern}/): "
                                      f"{line!r}")
            if ready_after is None and ready_pattern.search(line):
                ready_after = elapsed
                print(f"READY after {ready_after:.1f}s")
            if next_expected < len(expect) and expect[next_expected].search(line):
                print(f"  matched /{expect[next_expected].pattern}/ after {elapsed:.1f}s")
                next_expected += 1
        now = time.monotonic()
        all_seen = next_expected == len(expect)
        if all_seen and settle_until is None:
            settle_until = now + (0 if exit_spec else SETTLE_SECONDS)
        if exited:
            if not all_seen:
                raise TestFailure(f"QEMU exited (status {machine.exit_status()}, "
                                  f"{machine.qmp.shutdown_reason() or 'no shutdown event'}) before "
                                  f"/{expect[next_expected].pattern}/ appeared")
            if not exit_spec:
                raise TestFailure(f"QEMU exited unexpectedly (status {machine.exit_status()}, "
                                  f"{machine.qmp.shutdown_reason() or 'no shutdown event'})")
            time.sleep(0.2)  # let the QMP reader take the last event
            status, reason = machine.exit_status(), machine.qmp.shutdown_reason()
            if status != exit_spec.get("status", 0) or reason != exit_spec.get(
                    "reason", "guest-shutdown"):
                raise TestFailure(f"QEMU exited with status {status} ({reason}); expected status "
                                  f"{exit_spec.get('status', 0)} "
                                  f"({exit_spec.get('reason', 'guest-shutdown')})")
            return ready_after, f"QEMU exited by itself: status {status}, {reason}"
        if all_seen and not exit_spec and now >= settle_until:
            return ready_after, "all expected lines seen"
        if now >= deadline:
            if not all_seen:
                raise TestFailure(f"timed out after {case['timeout']}s waiting for "
                                  f"/{expect[next_expected].pattern}/")
            raise TestFailure(f"timed out after {case['timeout']}s waiting for QEMU to exit")
        time.sleep(0.05)


def run_case(case, args):
    work = pathlib.Path(args.work) / case["name"]
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    summary = work / "summary.txt"
    if not args.disk_image:
        try:
            build_media(case, args, work)
        except TestFailure as failure:
            summary.write_text(f"{case['name']}: FAIL ({failure})\n")
            print(f"FAIL: {failure}")
            return 1
    machine = qemu.Qemu(work, case.get("cpus", 1), case.get("memory", 512),
                        boot_args(case, work, args.disk_image))
    values = {"{virt}": machine.virt, "{cpus}": str(case.get("cpus", 1))}
    expect = [AnyOrder([compile_pattern(p, values) for p in pattern]) if isinstance(pattern, list)
              else compile_pattern(pattern, values) for pattern in case["expect"]]
    forbid = [compile_pattern(pattern, values) for pattern in case.get("forbid", [])]
    ready = re.compile(case.get("ready", r"^HALCYON READY "))
    print(f"{case['name']}: {case.get('description', '')}")
    print(f"  accelerator: {' '.join(machine.command[machine.command.index('-accel'):][:4])}")
    try:
        machine.start()
        ready_after, how = watch(case, machine, expect, forbid, ready)
        total = time.monotonic() - machine.started
        timing = f"READY after {ready_after:.1f}s" if ready_after is not None else "no READY"
        summary.write_text(f"{case['name']}: PASS ({timing}, {total:.1f}s total)\n")
        print(f"PASS: {how} ({timing}, {total:.1f}s total)")
        return 0
    except (TestFailure, RuntimeError, OSError) as failure:
        summary.write_text(f"{case['name']}: FAIL ({failure})\n")
        print(f"FAIL: {failure}")
        return 1
    finally:
        machine.stop()
        print(f"----- full serial log ({machine.serial_log}) -----")
        if machine.serial_log.exists():
            text = machine.serial_log.read_bytes().decode("utf-8", "replace")
            print(ANSI_ESCAPE.sub("", text).replace("\r", ""), end="" if text.endswith("\n") else "\n")
        print("----- end of serial log -----")
        if machine.stderr_log.exists():
            # TCG's notes about EPYC features it does not emulate are expected noise.
            noise = "TCG doesn't support requested feature"
            stderr = [line for line in machine.stderr_log.read_text().splitlines()
                      if noise not in line]
            if stderr:
                print("QEMU stderr:", *stderr, sep="\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", help="name of the case in the cases file")
    parser.add_argument("--cases", default=str(HERE / "cases.json"))
    parser.add_argument("--work", required=True, help="directory for per-test work dirs")
    parser.add_argument("--loader", default="", help="BOOTX64.EFI")
    parser.add_argument("--core", default="", help="halcyon.elf")
    parser.add_argument("--cfg-tool", default="", help="halcyon-cfg (optional)")
    parser.add_argument("--make-image", default=str(HERE.parent.parent / "tools/make-image.py"))
    parser.add_argument("--guests", default="", help="directory of the built test guests")
    parser.add_argument("--disk-image", help="boot this disk instead of building one (self-test)")
    parser.add_argument("--timeout", type=float, help="override the case's timeout")
    args = parser.parse_args()

    cases = {case["name"]: case for case in json.loads(pathlib.Path(args.cases).read_text())}
    if args.case not in cases:
        parser.error(f"no case {args.case!r} in {args.cases} (have: {', '.join(cases)})")
    case = cases[args.case]
    if args.timeout:
        case["timeout"] = args.timeout
    if not args.disk_image and not (args.loader and args.core):
        parser.error("--loader and --core are needed to build the boot media")
    return run_case(case, args)


if __name__ == "__main__":
    sys.exit(main())
