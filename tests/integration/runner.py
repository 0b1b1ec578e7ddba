#!/usr/bin/python3
"""Runs one Halcyon integration test: build its boot media, boot it in QEMU, judge the serial log.

The test cases are described in cases.json (next to this file); CTest runs this script once per
case. A case passes when its `expect` patterns appear in the serial log in order (an entry that is
a list of patterns matches its lines in any order), no `forbid`
pattern appears, and - if it says `exit` - QEMU then exits by itself, for the given reason, with
the given status, all within `timeout` seconds. On failure the FULL serial log is printed.

`boot` is "usb", "pxe" or "iso" (the hybrid ISO on a CD drive); `firmware` is "uefi" (OVMF, the
default) or "bios" (QEMU's SeaBIOS, which boots the ISO through GRUB and the Multiboot2 stage).

`qemu_args` adds QEMU arguments (devices, drives); "{work}" in them is the case's work directory.
`host_script` names a script next to this file that is run as `SCRIPT prepare WORK` before the
boot (to make disk images, say) and `SCRIPT verify WORK` after the serial log passed and QEMU is
gone (to check what the guest left in them); a non-zero exit fails the case.

A case with `"disabled": "<reason>"` is not run by CTest (tests/integration/CMakeLists.txt marks it
DISABLED): it states what an unfinished feature must do. Run directly, it runs as any other case.

Patterns are Python regular expressions matched against each serial line with terminal escape
sequences and carriage returns removed; `{virt}` stands for the virtualization extension the
guest sees (svm under TCG, vmx under Bochs) and `{cpus}` for the case's CPU count.

With `--machine bochs` the same case boots under Bochs (bochs.py) instead of QEMU: from the
hybrid ISO (make-image.py --iso, so --multiboot2 is needed) through the BIOS, GRUB and the
Multiboot2 stage, on an emulated Haswell with VT-x. Cases that boot over the network cannot run
there; the runner then exits with status 77 (CTest's SKIP_RETURN_CODE).
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
import bochs  # noqa: E402  (after the path tweak, on purpose)
import qemu  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-9;=?]*[A-Za-z]|[()][0-9A-Za-z])")
SETTLE_SECONDS = 1.0  # after the last expected line, watch this long for forbidden ones
SKIPPED = 77  # exit status for a case this machine cannot run (CTest SKIP_RETURN_CODE)


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
    if args.machine == "bochs" or case["boot"] == "iso":
        command += ["--iso", str(work / "halcyon.iso"), "--multiboot2", args.multiboot2]
    elif case["boot"] == "pxe":
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
    if case["boot"] == "iso":
        return ["-drive", f"if=none,id=cd,media=cdrom,readonly=on,file={work / 'halcyon.iso'}",
                "-device", "ide-cd,drive=cd,bootindex=1"]
    image = disk_image or work / "usb.img"
    return ["-drive", f"if=none,id=usb,format=raw,snapshot=on,file={image}",
            "-device", "qemu-xhci", "-device", "usb-storage,drive=usb,bootindex=1"]


class TestFailure(Exception):
    pass


def case_qemu_args(case, work):
    return [arg.replace("{work}", str(work)) for arg in case.get("qemu_args", [])]


def run_host_script(case, work, step):
    if not case.get("host_script"):
        return
    result = subprocess.run([sys.executable, str(HERE / case["host_script"]), step, str(work)],
                            capture_output=True, text=True)
    print(result.stdout + result.stderr, end="")
    if result.returncode != 0:
        raise TestFailure(f"{case['host_script']} {step} failed (status {result.returncode})")


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
    name = "Bochs" if isinstance(machine, bochs.Bochs) else "QEMU"
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
                raise TestFailure(f"{name} exited (status {machine.exit_status()}, "
                                  f"{machine.shutdown_reason() or 'no shutdown event'}) before "
                                  f"/{expect[next_expected].pattern}/ appeared")
            if not exit_spec:
                raise TestFailure(f"{name} exited unexpectedly (status {machine.exit_status()}, "
                                  f"{machine.shutdown_reason() or 'no shutdown event'})")
            time.sleep(0.2)  # let the QMP reader take the last event
            status, reason = machine.exit_status(), machine.shutdown_reason()
            if status != exit_spec.get("status", 0) or reason != exit_spec.get(
                    "reason", "guest-shutdown"):
                raise TestFailure(f"{name} exited with status {status} ({reason}); expected status "
                                  f"{exit_spec.get('status', 0)} "
                                  f"({exit_spec.get('reason', 'guest-shutdown')})")
            return ready_after, f"{name} exited by itself: status {status}, {reason}"
        if all_seen and not exit_spec and now >= settle_until:
            return ready_after, "all expected lines seen"
        if now >= deadline:
            if not all_seen:
                raise TestFailure(f"timed out after {case['timeout']}s waiting for "
                                  f"/{expect[next_expected].pattern}/")
            raise TestFailure(f"timed out after {case['timeout']}s waiting for {name} to exit")
        time.sleep(0.05)


def run_case(case, args):
    if args.machine == "bochs":
        unavailable = bochs.available()
        if case["boot"] == "pxe" or case.get("qemu_args") or unavailable:
            why = unavailable or ("network boot" if case["boot"] == "pxe" else "QEMU devices")
            print(f"SKIP: {case['name']} cannot run under Bochs here: {why}")
            return SKIPPED
    if (args.machine == "bochs" or case["boot"] == "iso") and not args.disk_image:
        missing = [tool for tool in ("grub-mkimage", "xorriso") if not shutil.which(tool)]
        if missing:
            print(f"SKIP: {case['name']} needs an ISO: {', '.join(missing)} missing (Debian "
                  "packages grub-pc-bin, grub-common, xorriso)")
            return SKIPPED
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
    if args.machine == "bochs":
        machine = bochs.Bochs(work, case.get("cpus", 1), case.get("memory", 512),
                              args.disk_image or work / "halcyon.iso")
    else:
        machine = qemu.Qemu(work, case.get("cpus", 1), case.get("memory", 512),
                            boot_args(case, work, args.disk_image) + case_qemu_args(case, work),
                            firmware=case.get("firmware", "uefi"))
    values = {"{virt}": machine.virt, "{cpus}": str(case.get("cpus", 1))}
    expect = [AnyOrder([compile_pattern(p, values) for p in pattern]) if isinstance(pattern, list)
              else compile_pattern(pattern, values) for pattern in case["expect"]]
    forbid = [compile_pattern(pattern, values) for pattern in case.get("forbid", [])]
    ready = re.compile(case.get("ready", r"^HALCYON READY "))
    print(f"{case['name']}: {case.get('description', '')}")
    print(f"  accelerator: {machine.describe()}")
    try:
        run_host_script(case, work, "prepare")
        machine.start()
        ready_after, how = watch(case, machine, expect, forbid, ready)
        if case.get("host_script"):
            machine.stop()  # the images are complete once QEMU is gone
            run_host_script(case, work, "verify")
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
                print("QEMU stderr:" if isinstance(machine, qemu.Qemu) else
                      "Bochs errors (bochs.log):", *stderr, sep="\n")


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
    parser.add_argument("--disk-image",
                        help="boot this disk (an ISO under Bochs) instead of building one "
                             "(self-test)")
    parser.add_argument("--timeout", type=float, help="override the case's timeout")
    parser.add_argument("--machine", choices=["qemu", "bochs"], default="qemu",
                        help="boot under QEMU (default) or Bochs (VT-x, from the ISO)")
    parser.add_argument("--multiboot2", default="", help="halcyon-mb2.elf (for --machine bochs)")
    parser.add_argument("--timeout-factor", type=float, default=1.0,
                        help="multiply the case's timeout (Bochs emulates far slower than QEMU)")
    args = parser.parse_args()

    cases = {case["name"]: case for case in json.loads(pathlib.Path(args.cases).read_text())}
    if args.case not in cases:
        parser.error(f"no case {args.case!r} in {args.cases} (have: {', '.join(cases)})")
    case = cases[args.case]
    if case.get("disabled"):
        print(f"note: {args.case} is disabled in CTest ({case['disabled']}); running it as asked")
    if args.timeout:
        case["timeout"] = args.timeout
    case["timeout"] = case["timeout"] * args.timeout_factor
    if not args.disk_image and not (args.loader and args.core):
        parser.error("--loader and --core are needed to build the boot media")
    if (args.machine == "bochs" or case["boot"] == "iso") and not args.disk_image \
            and not args.multiboot2:
        parser.error("an ISO boot (--machine bochs, or boot \"iso\") needs --multiboot2")
    return run_case(case, args)


if __name__ == "__main__":
    sys.exit(main())
