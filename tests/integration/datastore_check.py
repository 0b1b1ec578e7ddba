#!/usr/bin/python3
"""The datastore integration cases (runner.py's host_script; docs/datastore.md).

  datastore_check.py prepare WORK   makes the case's datastore disk image
  datastore_check.py verify WORK    checks it on the host after Halcyon powered off

The case is WORK's name:

vm_linux_datastore: tools/make-datastore.py makes a GPT disk with an exFAT partition (our
  exfat-tool) holding a fresh qemu-img VHDX; the guest writes files of known SHA-256 into it
  through Halcyon. verify: fsck.exfat -n passes on the partition, the VHDX is copied out with
  exfat-tool (no loop device, no mount), `vhdx check` and `qemu-img check` pass, and
  tests/guests/linux/check-guest-disk.sh converts it to raw (qemu-img convert) and finds every
  file's data (debugfs -R 'cat /FILE', SHA-256 against halcyon-disktest fill) and the random-I/O
  region. Then QEMU boots the same media and datastore again (the command runner.py used, from
  WORK/qemu-command.txt): the guest must read everything back intact, and the volume must still
  pass fsck.exfat.

vm_linux_datastore_mkfs: a datastore Halcyon did not make: mkfs.exfat (exfatprogs) formats the
  whole image with 64 KiB clusters, exfat-tool fills it with the VM's kernel, initrd and a VHDX
  whose ext2 file system was built on the host (mke2fs -d with halcyon-disktest files, the random
  region written by halcyon-disktest, qemu-img convert). verify: fsck.exfat -n and exfat-tool
  check pass on the volume Halcyon wrote to, and the VHDX passes `vhdx check` and qemu-img check.

Tools come from the build tree (WORK is BUILD/tests/integration/work/CASE, or HALCYON_BUILD_DIR):
bin/exfat-tool, bin/vhdx, tests/guests/linux/{halcyon-disktest,vmlinuz,initramfs.cpio.gz}; and
Debian's qemu-img (qemu-utils), fsck.exfat and mkfs.exfat (exfatprogs), mke2fs, e2fsck and debugfs
(e2fsprogs), sgdisk (gdisk). Stdlib only.
"""
import hashlib
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MIB = 1 << 20
IMAGE_MIB = 256
PARTITION_OFFSET = 1 * MIB  # tools/make-datastore.py's GPT layout
VHDX_PATH = "/vms/linux/disk.vhdx"
# The files tests/guests/linux/scripts/storage.sh writes (name, seed, bytes) and its layout.
TEST_FILES = [("small.bin", 1, 4096), ("medium.bin", 2, 1048576), ("large.bin", 3, 8388608)]
RANDOM_REGION = (64, 4)  # offset and size in MiB
RANDOM_OPS, RANDOM_JOBS, RANDOM_SEED = 200, 1, 42
SECOND_BOOT_TIMEOUT = 400


class CheckFailed(Exception):
    pass


def build_dir(work):
    if os.environ.get("HALCYON_BUILD_DIR"):
        return pathlib.Path(os.environ["HALCYON_BUILD_DIR"])
    return work.resolve().parents[3]


def tool(work, relative):
    path = build_dir(work) / relative
    if not path.exists():
        raise CheckFailed(f"{path} is missing (build it first)")
    return path


def run(command, **kwargs):
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True,
                            **kwargs)
    if result.returncode != 0:
        raise CheckFailed(f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
                          f"{result.stdout}{result.stderr}".rstrip())
    return result


def say(text):
    print(f"datastore_check: {text}", flush=True)


def copy_range(source, destination, offset, length):
    with open(source, "rb") as src, open(destination, "wb") as dst:
        src.seek(offset)
        remaining = length
        while remaining:
            chunk = src.read(min(remaining, 4 * MIB))
            if not chunk:
                raise CheckFailed(f"{source} ends early")
            dst.write(chunk)
            remaining -= len(chunk)


# ---- vm_linux_datastore ------------------------------------------------------------------------

def volume_args(work):
    length = (IMAGE_MIB * MIB) - 2 * MIB
    return ["--offset", str(PARTITION_OFFSET), "--length", str(length)], length


def prepare_fresh(work):
    vhdx = work / "fresh.vhdx"
    run(["qemu-img", "create", "-q", "-f", "vhdx", "-o", "subformat=dynamic", vhdx, "128M"])
    result = run([sys.executable, ROOT / "tools/make-datastore.py", "--exfat-tool",
                  tool(work, "bin/exfat-tool"), work / "datastore.img", f"{vhdx}={VHDX_PATH}",
                  "--size", f"{IMAGE_MIB}M"])
    print(result.stdout, end="")
    vhdx.unlink()


def check_volume(work, image, where, length):
    """fsck.exfat -n (exfatprogs, an independent implementation) and our own check."""
    volume = work / "volume.img"
    offset = int(where[1]) if where else 0
    copy_range(image, volume, offset, length)
    result = subprocess.run(["fsck.exfat", "-n", str(volume)], capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    volume.unlink()
    if result.returncode != 0 or "clean" not in output:
        raise CheckFailed(f"fsck.exfat -n: status {result.returncode}:\n{output}")
    say(f"fsck.exfat -n: {output.splitlines()[-1]}")
    check = run([tool(work, "bin/exfat-tool"), *where, "check", image])
    summary = check.stdout.strip().splitlines()[-1]
    say(f"exfat-tool check: {summary}")
    # Every file here was written by exfat-tool, Halcyon or Linux 6.1, all of which leave
    # ValidDataLength = DataLength; a smaller one would read cut short on Linux before 6.8
    # (docs/datastore.md, "Interoperability").
    if "partially_valid_files=0" not in summary:
        raise CheckFailed(f"a file has ValidDataLength < DataLength: {summary}")


def extract_vhdx(work, image, where):
    out = work / "disk-out.vhdx"
    out.unlink(missing_ok=True)
    run([tool(work, "bin/exfat-tool"), *where, "get", image, VHDX_PATH, out])
    vhdx = run([tool(work, "bin/vhdx"), "check", out])
    say(f"vhdx check: {vhdx.stdout.strip()}")
    qemu = run(["qemu-img", "check", "-f", "vhdx", out])
    say(f"qemu-img check: {qemu.stdout.strip().splitlines()[-1] if qemu.stdout.strip() else 'ok'}")
    return out


def second_boot(work):
    """Boots the same media and datastore again with runner.py's QEMU command; the guest must
    find and verify what the first boot wrote."""
    command = shlex.split((work / "qemu-command.txt").read_text())
    serial = work / "serial-second-boot.log"
    qmp = work / "qmp-second-boot.sock"
    command = [arg.replace(str(work / "serial.log"), str(serial))
               .replace(str(work / "qmp.sock"), str(qmp)) for arg in command]
    serial.unlink(missing_ok=True)
    say("second boot on the same datastore image")
    started = time.monotonic()
    with open(work / "qemu-stderr-second-boot.log", "w") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stderr,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait(timeout=SECOND_BOOT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            raise CheckFailed(f"the second boot did not power off within {SECOND_BOOT_TIMEOUT}s:\n"
                              + serial.read_text(errors="replace"))
    text = serial.read_text(errors="replace").replace("\r", "")
    expected = [r"datastore: virtio-blk \S+ partition 1 exFAT HALCYON-DS, \d+ MiB, \d+ MiB free"]
    expected += [rf"HALCYON-GUEST: VMBUS-DISK VERIFIED {name} " for name, _, _ in TEST_FILES]
    expected += [r"HALCYON-GUEST: VMBUS-IO random-verify OK ",
                 r"HALCYON-GUEST: vmbus test PASS", r"all VMs stopped", r"HALCYON POWEROFF"]
    forbidden = [r"FAIL", r"PANIC", r"CRASH", r"Kernel panic", r"not cleanly unmounted"]
    missing = [pattern for pattern in expected if not re.search(pattern, text)]
    found = [pattern for pattern in forbidden if re.search(pattern, text)]
    if missing or found:
        raise CheckFailed(f"second boot: missing {missing}, forbidden {found}; serial log:\n{text}")
    for line in text.splitlines():
        if "VERIFIED" in line or "random-verify" in line or "datastore:" in line:
            say(f"second boot: {line.strip()}")
    say(f"second boot passed ({time.monotonic() - started:.1f}s)")


def verify_fresh(work):
    image = work / "datastore.img"
    where, length = volume_args(work)
    run(["sgdisk", "--verify", image])
    check_volume(work, image, where, length)
    vhdx = extract_vhdx(work, image, where)
    disktest = tool(work, "tests/guests/linux/halcyon-disktest")
    result = subprocess.run([str(ROOT / "tests/guests/linux/check-guest-disk.sh"), str(disktest),
                             str(vhdx)], capture_output=True, text=True)
    print(result.stdout + result.stderr, end="")
    if result.returncode != 0:
        raise CheckFailed("check-guest-disk.sh found the guest's data damaged")
    vhdx.unlink()
    second_boot(work)
    check_volume(work, image, where, length)
    vhdx = extract_vhdx(work, image, where)
    vhdx.unlink()


# ---- vm_linux_datastore_mkfs -------------------------------------------------------------------

def fill(disktest, seed, size):
    return subprocess.run([str(disktest), "fill", str(seed), str(size)], capture_output=True,
                          check=True).stdout


def make_guest_vhdx(work):
    """WORK/prepared.vhdx: the disk vmbus-persist verifies, as its storage.sh would have left it
    (an ext2 file system with halcyon-disktest's files and the random-I/O region), made on the
    host (mke2fs -d, halcyon-disktest random, qemu-img convert). Also used by
    datastore_linuxfill.py."""
    disktest = tool(work, "tests/guests/linux/halcyon-disktest")
    tree = work / "fs"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    manifest = []
    for name, seed, size in TEST_FILES:
        data = fill(disktest, seed, size)
        (tree / name).write_bytes(data)
        manifest.append(f"{hashlib.sha256(data).hexdigest()}  {name}")
    (tree / "MANIFEST").write_text("\n".join(manifest) + "\n")
    offset, size = RANDOM_REGION
    (tree / "IO-PARAMETERS").write_text(
        f"{offset} {size} {RANDOM_OPS} {RANDOM_JOBS} {RANDOM_SEED}\n")
    raw = work / "guest-disk.raw"
    with open(raw, "wb") as disk:
        disk.truncate(128 * MIB)
    # The ext2 file system the guest's storage.sh would make (4 KiB blocks, the first 64 MiB).
    run(["mke2fs", "-q", "-F", "-t", "ext2", "-b", "4096", "-L", "halcyon", "-d", tree, raw,
         "64M"])
    result = run([disktest, "random", raw, offset, size, RANDOM_OPS, RANDOM_JOBS, RANDOM_SEED])
    say(f"host-side random region: {result.stdout.strip()}")
    vhdx = work / "prepared.vhdx"
    run(["qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic", raw, vhdx])
    raw.unlink()
    shutil.rmtree(tree)
    return vhdx


def prepare_mkfs(work):
    vhdx = make_guest_vhdx(work)
    linux = build_dir(work) / "tests/guests/linux"
    result = run([sys.executable, ROOT / "tools/make-datastore.py", "--exfat-tool",
                  tool(work, "bin/exfat-tool"), work / "datastore.img", "--mkfs", "--layout",
                  "whole", "--cluster-size", "64K", "--size", f"{IMAGE_MIB}M",
                  f"{linux / 'vmlinuz'}=/boot/vmlinuz",
                  f"{linux / 'initramfs.cpio.gz'}=/boot/initramfs.cpio.gz",
                  f"{vhdx}={VHDX_PATH}"])
    print(result.stdout, end="")
    vhdx.unlink()


def verify_mkfs(work):
    image = work / "datastore.img"
    check_volume(work, image, [], image.stat().st_size)
    vhdx = extract_vhdx(work, image, [])
    vhdx.unlink()


CASES = {
    "vm_linux_datastore": (prepare_fresh, verify_fresh),
    "vm_linux_datastore_mkfs": (prepare_mkfs, verify_mkfs),
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("prepare", "verify"):
        print(__doc__, file=sys.stderr)
        return 2
    work = pathlib.Path(sys.argv[2])
    if work.name not in CASES:
        print(f"datastore_check: no case named {work.name}", file=sys.stderr)
        return 2
    prepare, verify = CASES[work.name]
    try:
        (prepare if sys.argv[1] == "prepare" else verify)(work)
    except (CheckFailed, subprocess.CalledProcessError, OSError) as failure:
        print(f"datastore_check: FAIL: {failure}")
        return 1
    say(f"{sys.argv[1]} passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
