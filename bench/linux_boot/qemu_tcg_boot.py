#!/usr/bin/env python3
"""Linux boot reference under QEMU TCG (issue #3 item 5): boots Debian 12's stock kernel and the
busybox initramfs of tests/guests/linux/ and reports wall time to the initramfs marker line
("HALCYON-GUEST: shell up") and to power-off, median of N runs, for each vCPU count.

Two ways of starting the same kernel on the same q35 machine:
  qemu-kernel     QEMU boots it itself: SeaBIOS + QEMU's linuxboot option ROM (-kernel/-initrd)
                  with QEMU's own ACPI tables; the figure Halcyon's boot is compared with.
  halcyon-loader  no firmware: Halcyon's loader (vmm/worker/linux, via linux-boot-inspect
                  qemu-image) prepares memory, ACPI tables and the entry state, and
                  tests/guests/linux/firmware/entry.S only switches to 64-bit mode.
  halcyon         the real thing: QEMU (-cpu EPYC,+svm,+npt, OVMF, a USB image from
                  tools/make-image.py) boots Halcyon, which runs the kernel as a VM. "to marker"
                  and "to power-off" count from QEMU's start (firmware and Halcyon's own boot
                  included); the "VM s" column counts from Halcyon's "vm linux: started" line
                  to the VM's power-off, the VM's own share.

  bench/linux_boot/qemu_tcg_boot.py [--runs 5] [--smp 1,2] [--build build]
      [--assets build/tests/guests/linux] [--memory-mib 512] [--mode qemu-kernel,halcyon-loader]
Standard library only. Prints a table; never part of CI (the machine's load decides the figures).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

MARKER = b"HALCYON-GUEST: shell up"
UPTIME = b"HALCYON-GUEST: uptime "
CMDLINE = "console=ttyS0 panic=-1 halcyon.test=poweroff"


def qemu_kernel_command(args, smp, _work):
    return ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "EPYC",
            "-m", str(args.memory_mib), "-smp", str(smp),
            "-kernel", os.path.join(args.assets, "vmlinuz"),
            "-initrd", os.path.join(args.assets, "initramfs.cpio.gz"),
            "-append", CMDLINE, "-nographic", "-no-reboot"]


def halcyon_loader_command(args, smp, work):
    inspect = os.path.join(args.build, "bin", "linux-boot-inspect")
    entry = os.path.join(args.assets, "entry.bin")
    subprocess.run([inspect, "qemu-image", os.path.join(args.assets, "vmlinuz"),
                    os.path.join(args.assets, "initramfs.cpio.gz"), "--out", work,
                    "--entry-code", entry, "--memory-mib", str(args.memory_mib),
                    "--cpus", str(smp), "--cmdline", CMDLINE],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(work, "qemu-args")) as f:
        placement = f.read().split("\n")[:-1]
    return ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "EPYC",
            "-m", str(args.memory_mib), "-smp", str(smp), "-nodefaults", "-display", "none",
            "-serial", "stdio", "-no-reboot", "-global", "ICH9-LPC.s4_val=5"] + placement


def halcyon_command(args, smp, work):
    config = os.path.join(work, "halcyon.cfg")
    with open(config, "w") as f:
        f.write("on_ready = poweroff\n[vm linux]\nkernel = vmlinuz\ninitrd = initramfs.cpio.gz\n"
                f"cmdline = {CMDLINE}\nmemory = 256M\nvcpus = {smp}\n")
    artifacts = {}
    with open(os.path.join(args.build, "halcyon-artifacts.env")) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            artifacts[key] = value
    image = os.path.join(work, "halcyon-usb.img")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, os.path.join(root, "tools", "make-image.py"),
                    "--loader", artifacts["HALCYON_LOADER"], "--core", artifacts["HALCYON_CORE"],
                    "--cfg-tool", os.path.join(args.build, "bin", "halcyon-cfg"),
                    "--config", config, "--usb", image,
                    "--add", os.path.join(args.assets, "vmlinuz"),
                    "--add", os.path.join(args.assets, "initramfs.cpio.gz")],
                   check=True, stdout=subprocess.DEVNULL)
    return ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "EPYC,+svm,+npt",
            "-m", "1024", "-smp", str(max(2, smp)), "-bios", "/usr/share/ovmf/OVMF.fd",
            "-display", "none", "-serial", "stdio", "-no-reboot",
            "-drive", f"if=none,id=usb,format=raw,snapshot=on,file={image}",
            "-device", "qemu-xhci", "-device", "usb-storage,drive=usb,bootindex=1"]


MODES = {"qemu-kernel": qemu_kernel_command, "halcyon-loader": halcyon_loader_command,
         "halcyon": halcyon_command}
VM_STARTED = b"vm linux: started"
VM_STOPPED = b"vm linux: stopped"


def one_run(command, timeout):
    """Returns (seconds to marker, seconds to exit, guest uptime at marker) or raises."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    marker = uptime = vm_start = vm_time = None
    try:
        for line in process.stdout:
            now = time.monotonic() - start
            if vm_start is None and VM_STARTED in line:
                vm_start = now
            if vm_start is not None and vm_time is None and VM_STOPPED in line:
                vm_time = now - vm_start
            if marker is None and MARKER in line:
                marker = now
            if uptime is None and UPTIME in line:
                uptime = float(line.split(UPTIME)[1].split()[0])
            if now > timeout:
                raise TimeoutError("no power-off within %d s" % timeout)
        process.wait(timeout=max(1, timeout - (time.monotonic() - start)))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    end = time.monotonic() - start
    if marker is None:
        raise RuntimeError("the guest never printed the marker (exit status %s)"
                           % process.returncode)
    if process.returncode != 0:
        raise RuntimeError("QEMU exited with status %d" % process.returncode)
    return marker, end, uptime, vm_time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smp", default="1,2")
    parser.add_argument("--build", default="build")
    parser.add_argument("--assets", default=None)
    parser.add_argument("--memory-mib", type=int, default=512)
    parser.add_argument("--mode", default="qemu-kernel,halcyon")
    parser.add_argument("--timeout", type=int, default=180)
    args = parser.parse_args()
    if args.assets is None:
        args.assets = os.path.join(args.build, "tests", "guests", "linux")
    for name in ("vmlinuz", "initramfs.cpio.gz"):
        if not os.path.isfile(os.path.join(args.assets, name)):
            sys.exit(f"{args.assets}/{name} is missing: ninja -C {args.build} linux_guest")

    print(f"Linux boot under QEMU TCG, q35, -cpu EPYC, {args.memory_mib} MiB, "
          f"median of {args.runs} runs (min-max); host: {os.cpu_count()} CPUs")
    print(f"{'mode':<16} {'vCPUs':>5} {'to marker s':>18} {'to power-off s':>18} "
          f"{'guest uptime s':>15} {'VM s':>18}")
    # Runs are interleaved (one of each configuration per round) so that a change in the
    # machine's load during the benchmark affects every configuration alike.
    configs = [(mode, int(smp)) for mode in args.mode.split(",") for smp in args.smp.split(",")]
    results = {config: [] for config in configs}
    with tempfile.TemporaryDirectory(prefix="linux-boot-") as work:
        for _ in range(args.runs):
            for mode, smp in configs:
                results[(mode, smp)].append(one_run(MODES[mode](args, smp, work), args.timeout))

    def cell(values):
        return "%6.2f (%.2f-%.2f)" % (statistics.median(values), min(values), max(values))

    for (mode, smp), runs in results.items():
        uptimes = [r[2] for r in runs if r[2] is not None]
        vm_times = [r[3] for r in runs if r[3] is not None]
        print(f"{mode:<16} {smp:>5} {cell([r[0] for r in runs]):>18} "
              f"{cell([r[1] for r in runs]):>18} "
              f"{statistics.median(uptimes) if uptimes else float('nan'):>15.2f} "
              f"{cell(vm_times) if vm_times else '-':>18}")

if __name__ == "__main__":
    main()
