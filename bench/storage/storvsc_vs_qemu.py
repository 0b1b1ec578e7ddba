#!/usr/bin/env python3
"""Storage benchmark (issue 7): the same Debian guest and workload on two disks, in one run.

  storvsc  Halcyon in QEMU TCG; the guest's hv_storvsc on Halcyon's storvsp, over a fresh
           dynamic VHDX made by qemu-img (in memory, loaded from the boot medium);
  qemu     the same kernel and initramfs booted by QEMU TCG directly (-kernel), the same kind of
           fresh VHDX on QEMU's own virtio-blk device model with QEMU's vhdx driver.

The guest (tests/guests/linux/scripts/storage.sh with halcyon.bench=1) makes a file system,
writes and verifies its files, then runs halcyon-disktest: sequential write+read of 32 MiB and
4 KiB random read/write on every vCPU, printing MiB/s and IOPS. Runs alternate between the two
setups (the host is noisy); the table shows medians and the storvsc/qemu ratio. Not a test: it
prints figures.

  bench/storage/storvsc_vs_qemu.py --build build [--runs 3] [--cpus 2]
"""
import argparse
import json
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
LINE = re.compile(r"HALCYON-GUEST: (?:VMBUS|EMULATED)-IO (\S+) OK (.*)$")


def parse(log):
    """{workload: {key: float}} from the guest's IO lines (the bench run is the last of each)."""
    found = {}
    for line in log.splitlines():
        m = LINE.search(line)
        if m:
            fields = dict(kv.split("=", 1) for kv in m.group(2).split() if "=" in kv)
            found[m.group(1)] = {k: float(v) for k, v in fields.items()
                                 if re.fullmatch(r"[0-9.]+", v)}
    return found


def run_qemu(build, work, cpus):
    assets = build / "tests/guests/linux"
    disk = work / "qemu.vhdx"
    disk.unlink(missing_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "vhdx", str(disk), "128M"], check=True)
    log = work / "qemu.log"
    subprocess.run(["timeout", "600", "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
                    "-cpu", "EPYC", "-smp", str(cpus), "-m", "512",
                    "-kernel", str(assets / "vmlinuz"),
                    "-initrd", str(assets / "initramfs.cpio.gz"),
                    "-append", "console=ttyS0 panic=-1 halcyon.test=disk halcyon.io-ops=300 "
                               "halcyon.bench=1",
                    "-drive", f"file={disk},format=vhdx,if=virtio", "-display", "none",
                    "-serial", f"file:{log}", "-no-reboot"], check=False,
                   stderr=subprocess.DEVNULL)
    return parse(log.read_text(errors="replace"))


def run_halcyon(build, work, cpus):
    cfg = work / "bench.cfg"
    cfg.write_text(
        "on_ready = poweroff\n\n[vm linux]\nkernel = vmlinuz\ninitrd = initramfs.cpio.gz\n"
        "cmdline = console=ttyS0 panic=-1 halcyon.test=vmbus halcyon.disk=/dev/sda "
        "halcyon.io-ops=300 halcyon.bench=1 halcyon.wait=300\n"
        f"memory = 256M\nvcpus = {cpus}\nvmbus = yes\ndisk = bench.vhdx\n")
    disk = work / "bench.vhdx"
    disk.unlink(missing_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "vhdx", str(disk), "128M"], check=True)
    case = {"name": "bench_storvsc", "description": "storage benchmark",
            "config": str(cfg), "boot": "usb", "cpus": cpus, "memory": 1024, "timeout": 900,
            "add": ["{guests}/linux/vmlinuz", "{guests}/linux/initramfs.cpio.gz", str(disk)],
            "expect": ["HALCYON-GUEST: vmbus test (PASS|FAIL)"], "forbid": []}
    cases = work / "cases.json"
    cases.write_text(json.dumps([case]))
    env = dict(line.split("=", 1) for line in
               (build / "halcyon-artifacts.env").read_text().split() if "=" in line)
    subprocess.run([sys.executable, str(ROOT / "tests/integration/runner.py"), "bench_storvsc",
                    "--cases", str(cases), "--work", str(work / "runner"),
                    "--loader", env["HALCYON_LOADER"], "--core", env["HALCYON_CORE"],
                    "--cfg-tool", str(build / "bin/halcyon-cfg"),
                    "--guests", str(build / "tests/guests"),
                    "--make-image", str(ROOT / "tools/make-image.py")],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = work / "runner/bench_storvsc/serial.log"
    return parse(log.read_text(errors="replace")) if log.exists() else {}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", type=pathlib.Path, default=ROOT / "build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    build = args.build.resolve()
    results = {"storvsc": [], "qemu": []}
    with tempfile.TemporaryDirectory(prefix="halcyon-storage-bench-") as tmp:
        work = pathlib.Path(tmp)
        for run in range(args.runs):
            for name, fn in (("storvsc", run_halcyon), ("qemu", run_qemu)):
                got = fn(build, work, args.cpus)
                print(f"run {run + 1} {name}: {json.dumps(got)}", flush=True)
                results[name].append(got)

    def median(name, workload, key):
        values = [r[workload][key] for r in results[name] if workload in r and key in r[workload]]
        return statistics.median(values) if values else None

    rows = [("sequential write MiB/s", "sequential", "write_mib_s"),
            ("sequential read MiB/s", "sequential", "read_mib_s"),
            ("4 KiB random read+write IOPS", "random", "iops")]
    print(f"\n| medians of {args.runs} runs, {args.cpus} vCPUs | storvsc on Halcyon | "
          "virtio-blk on QEMU | ratio |")
    print("| --- | --- | --- | --- |")
    for label, workload, key in rows:
        a, b = median("storvsc", workload, key), median("qemu", workload, key)
        ratio = f"{a / b:.2f}x" if a and b else "n/a"
        print(f"| {label} | {a if a is not None else 'n/a'} | "
              f"{b if b is not None else 'n/a'} | {ratio} |")


if __name__ == "__main__":
    main()
