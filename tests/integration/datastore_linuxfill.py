#!/usr/bin/python3
"""vm_linux_datastore_linuxfill: Halcyon reads a datastore that Linux's own exFAT driver filled
(runner.py's host_script; docs/datastore.md).

  datastore_linuxfill.py prepare WORK   mkfs.exfat formats the datastore, Linux fills it
  datastore_linuxfill.py verify WORK    checks it again after Halcyon used it

prepare:
  1. The files: the VM's kernel and initrd (tests/guests/linux/), the VHDX vmbus-persist verifies
     (datastore_check.make_guest_vhdx: an ext2 file system built on the host) and a set of files
     with long, Unicode and odd names and sizes, an empty file, an empty directory and a deep
     tree - all in a tar archive (GNU format) on a raw "source disk".
  2. The datastore: tools/make-datastore.py --mkfs (a GPT disk, partition 1 formatted by
     exfatprogs' mkfs.exfat, labelled HALCYON-DS), empty.
  3. Debian's stock kernel (the guests' linux-image package from .deps/debs) boots in plain QEMU
     TCG - no Halcyon - from an initramfs of its own (tests/guests/linux/fill/: /init, modules.txt:
     virtio-blk, exfat, nls_utf8; built by kernel_modules.py and mkinitramfs.py, cached in
     BUILD/tests/integration/linuxfill-cache/). Its /init mounts the datastore with
     `mount -t exfat`, extracts the archive into it, copies the VHDX interleaved with another
     file (both become FAT chains), deletes files (holes, deleted entry sets), grows a directory
     into a FAT chain, moves, shrinks, grows, appends to and patches files, syncs, unmounts, and
     prints the SHA-256 of every file it reads back from a fresh read-only mount.
  4. The host checks Linux's listing against expected_tree() (which mirrors the /init step by
     step), runs fsck.exfat -n, then reads the volume with Halcyon's exFAT code (exfat-tool check,
     ls -R -l, get of the whole tree, a case-insensitive Unicode lookup): every directory, name,
     size, SHA-256 and modification time must be what Linux wrote.
  5. The other way round, on a copy: exfat-tool changes structures Linux made (modify_copy);
     fsck.exfat -n, our own read and a second Linux boot (halcyon.fill=read) must find exactly
     the result, a file exfat-tool grew included: our code zero-fills growth so ValidDataLength
     = DataLength, which Linux before 6.8 takes for the size (docs/datastore.md,
     "Interoperability").
Halcyon then boots with the image as a virtio-blk disk (datastore = auto): its mount validates
the whole tree, the VM's kernel and initrd are read from the Linux-written files (named in a
different case) and the guest verifies the files of the fragmented VHDX.
verify: fsck.exfat -n and exfat-tool check again, every file but the VHDX unchanged, the VHDX
passes `vhdx check` and `qemu-img check`.

Needs, besides datastore_check.py's tools: qemu-system-x86 (the Linux fill), dpkg-deb (reading the
kernel and busybox packages), mkfs.exfat/fsck.exfat (exfatprogs), sgdisk (gdisk). Stdlib only.
"""
import hashlib
import io
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import datastore_check  # noqa: E402  (after the path tweak, on purpose)
from datastore_check import CheckFailed, MIB, run, tool  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LINUX_DIR = ROOT / "tests/guests/linux"
FILL_DIR = LINUX_DIR / "fill"
IMAGE_MIB = 256
VOLUME = ["--offset", str(1 * MIB), "--length", str((IMAGE_MIB - 2) * MIB)]
VOLUME_BYTES = (IMAGE_MIB - 2) * MIB
VHDX_PATH = "vms/linux/disk.vhdx"
BOOT_DIR = "Boot Files (written by Linux)"
FILL_TIMEOUT = 120  # seconds, for each Linux boot (about 7-10 s under TCG)
# tar's mtime of every archived file: an odd second (exFAT keeps 2 s steps plus a 10 ms field).
MTIME = 1709210097  # 2024-02-29 12:34:57 UTC
PIECE = 1 * MIB  # the /init copies the VHDX in pieces of this size
UNICODE_NAME = "Ünïcödé κόσμε файл 日本語.txt"


def say(text):
    print(f"datastore_linuxfill: {text}", flush=True)


def data(seed, size):
    return random.Random(seed).randbytes(size)


# ---- what the archive holds and what the volume must hold afterwards ---------------------------

def source_tree(work):
    """{path: bytes} of the archive's files and the set of its directories."""
    linux = datastore_check.build_dir(work) / "tests/guests/linux"
    files = {
        f"{BOOT_DIR}/vmlinuz": (linux / "vmlinuz").read_bytes(),
        f"{BOOT_DIR}/initramfs.cpio.gz": (linux / "initramfs.cpio.gz").read_bytes(),
        "staging/disk.vhdx": (work / "prepared.vhdx").read_bytes(),
        "src/pattern.bin": data(1, 65536),
        # Names: the longest a name may be (255 UTF-16 units; Linux allows 255 bytes), 127
        # two-byte characters, characters outside the BMP (surrogate pairs), case variants that
        # only the up-case table tells apart, punctuation exFAT allows.
        "names/" + "L" * 255: data(2, 3000),
        "names/" + "Ü" * 127: data(3, 700),
        "names/Grüße, κόσμε ✓ 😀🚀 (outside the BMP).txt": "Grüße 😀\n".encode(),
        "names/" + UNICODE_NAME: data(4, 9000),
        "names/ß and ẞ, STRASSE.txt": b"sharp s\n",
        "names/mixed Case.TXT": b"one\n",
        "names/other/MIXED case.txt": b"two\n",
        "names/.hidden": b"hidden\n",
        "names/name  with  two  spaces and a very long tail to straddle a sector.bin": data(5, 5),
        "names/semi;colon,comma+plus=equals[brackets]{braces}~tilde'quote!.x": data(6, 77),
        "names/ünïcödé-dir/inside.txt": b"inside\n",
        "names/rename-me.txt": b"moved by Linux\n",
        # Sizes around sector and cluster boundaries.
        **{f"sizes/size-{n}.bin": data(100 + n % 1000, n)
           for n in (1, 511, 512, 513, 4095, 4096, 4097, 65537, 1048577)},
        "sizes/empty": b"",
        "sizes/shrink-me.bin": data(7, 100000),
        "sizes/grow-me.bin": data(8, 5000),
        "sizes/append-me.bin": data(9, 3000),
        "sizes/patch-me.bin": data(10, 40000),
        "sizes/remove-me.bin": data(11, 200000),
        "sizes/zeroed.bin": data(12, 50000),
        "sizes/o-trunc.bin": data(13, 20000),
        "sizes/sparse.bin": data(14, 10000),
        "deep/" + "/".join(str(level) for level in range(1, 13)) + "/leaf.txt": b"deep leaf\n",
    }
    directories = {"empty-dir"}
    for path in files:
        parts = path.split("/")[:-1]
        directories.update("/".join(parts[:n]) for n in range(1, len(parts) + 1))
    return files, directories


def expected_tree(files, directories):
    """What the /init (tests/guests/linux/fill/init) leaves: the same steps, on the host."""
    files, directories = dict(files), set(directories)
    pattern = files["src/pattern.bin"]
    vhdx = files.pop("staging/disk.vhdx")
    directories.remove("staging")
    pieces = (len(vhdx) + PIECE - 1) // PIECE
    files[VHDX_PATH] = vhdx
    files["filler.bin"] = pattern * pieces
    directories.update({"vms", "vms/linux"})
    files["after-hole.bin"] = pattern * 32
    directories.add("many")
    for i in range(120):
        if i % 3:
            files[f"many/file-{i}.txt"] = f"halcyon linuxfill file {i}\n".encode()
    for i in range(20):
        files[f"many/a longer name that needs two name entries, number {i}.txt"] = \
            f"long {i}\n".encode()
    files["deep/1/2/3/renamed across directories.txt"] = files.pop("names/rename-me.txt")
    files["sizes/shrink-me.bin"] = files["sizes/shrink-me.bin"][:1000]
    files["sizes/zeroed.bin"] = files["sizes/o-trunc.bin"] = b""
    sparse = files["sizes/sparse.bin"]
    files["sizes/sparse.bin"] = sparse + bytes(50 * 4096 - len(sparse)) + pattern[:4096]
    files["sizes/grow-me.bin"] += bytes(300000 - 5000)
    files["sizes/append-me.bin"] += pattern
    patched = bytearray(files["sizes/patch-me.bin"])
    patched[3 * 4096:5 * 4096] = pattern[:2 * 4096]
    files["sizes/patch-me.bin"] = bytes(patched)
    del files["sizes/remove-me.bin"]
    return files, directories


def digests(files):
    return {path: hashlib.sha256(body).hexdigest() for path, body in files.items()}


def write_source_disk(path, files, directories):
    """A raw disk holding a GNU tar archive (busybox tar reads long names from its LongLink
    records); tarfile pads it to whole 10 KiB records, so it is a whole number of sectors."""
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="utf-8") as archive:
        for name in sorted(directories):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            archive.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, MTIME
            archive.addfile(info, io.BytesIO(files[name]))


# ---- the fill initramfs ------------------------------------------------------------------------

def debs_dir():
    return pathlib.Path(os.environ.get("HALCYON_DEPS_DEBS", ROOT / ".deps/debs"))


def newest_deb(glob):
    """The newest cached .deb whose name matches glob (fetch-linux.sh's choice, `sort -V`)."""
    def version_key(path):
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]
    found = sorted(debs_dir().glob(f"{glob}_*_amd64.deb"), key=version_key)
    if not found:
        raise CheckFailed(f"no {glob} package in {debs_dir()} (build the target linux_guest)")
    return found[-1]


def kernel_release(vmlinuz):
    """The release in a bzImage's version string (setup header field kernel_version, 0x20E)."""
    image = vmlinuz.read_bytes()
    if image[0x202:0x206] != b"HdrS":
        raise CheckFailed(f"{vmlinuz} is not a bzImage")
    offset = int.from_bytes(image[0x20E:0x210], "little") + 0x200
    return image[offset:image.index(b"\0", offset)].decode().split()[0]


def fill_initramfs(work):
    """The fill guest's initramfs, rebuilt only when an input changed (kernel_modules.py streams
    the whole kernel package: seconds)."""
    kernel_deb, busybox_deb = newest_deb("linux-image-[0-9]*-amd64"), newest_deb("busybox-static")
    inputs = [FILL_DIR / "init", FILL_DIR / "modules.txt", LINUX_DIR / "kernel_modules.py",
              LINUX_DIR / "mkinitramfs.py"]
    key = hashlib.sha256(f"{kernel_deb.name} {busybox_deb.name}".encode())
    for path in inputs:
        key.update(path.read_bytes())
    cache = datastore_check.build_dir(work) / "tests/integration/linuxfill-cache"
    initramfs = cache / f"fill-{key.hexdigest()[:16]}.cpio.gz"
    if initramfs.exists():
        return initramfs
    shutil.rmtree(cache, ignore_errors=True)
    scratch = cache / "scratch"
    scratch.mkdir(parents=True)
    run([sys.executable, LINUX_DIR / "kernel_modules.py", "--deb", kernel_deb, "--list",
         FILL_DIR / "modules.txt", "--out", scratch / "tree"])
    releases = [p.name for p in (scratch / "tree/lib/modules").iterdir()]
    vmlinuz = datastore_check.build_dir(work) / "tests/guests/linux/vmlinuz"
    if releases != [kernel_release(vmlinuz)]:
        raise CheckFailed(f"the modules of {kernel_deb.name} ({releases}) do not belong to "
                          f"{vmlinuz} ({kernel_release(vmlinuz)}): rebuild linux_guest")
    busybox = scratch / "busybox"
    with open(busybox, "wb") as out:
        extract = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(busybox_deb)],
                                   stdout=subprocess.PIPE)
        subprocess.run(["tar", "-xO", "./bin/busybox"], stdin=extract.stdout, stdout=out,
                       check=True)
        extract.stdout.close()
        if extract.wait() != 0:
            raise CheckFailed(f"dpkg-deb --fsys-tarfile {busybox_deb} failed")
    run([sys.executable, LINUX_DIR / "mkinitramfs.py", "--busybox", busybox, "--init",
         FILL_DIR / "init", "--tree", scratch / "tree", "--output", initramfs])
    shutil.rmtree(scratch)
    say(f"built {initramfs.name} ({initramfs.stat().st_size // 1024} KiB)")
    return initramfs


def boot_linux(work, initramfs, mode, image):
    """Boots the fill guest (halcyon.fill=MODE) in plain QEMU TCG on the datastore IMAGE (and,
    to write, the source disk); returns its serial output."""
    vmlinuz = datastore_check.build_dir(work) / "tests/guests/linux/vmlinuz"
    command = ["timeout", "--kill-after=5", str(FILL_TIMEOUT), "qemu-system-x86_64", "-nodefaults",
               "-machine", "pc", "-accel", "tcg", "-cpu", "max", "-m", "384", "-smp", "1",
               "-no-reboot", "-display", "none", "-serial", "stdio", "-monitor", "none",
               "-kernel", str(vmlinuz), "-initrd", str(initramfs),
               "-append", f"console=ttyS0 panic=-1 loglevel=3 halcyon.fill={mode}",
               "-drive", f"if=virtio,format=raw,file={image}"]
    if mode == "write":
        command += ["-drive", f"if=virtio,format=raw,readonly=on,file={work / 'source.img'}"]
    (work / f"linux-{mode}-command.txt").write_text(" ".join(command) + "\n")
    started = time.monotonic()
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.monotonic() - started
    serial = result.stdout.decode("utf-8", "replace").replace("\r", "")
    (work / f"linux-{mode}-serial.log").write_text(serial)
    failed = "HALCYON-FILL: DONE" not in serial or "HALCYON-FILL: FAIL" in serial
    # Any message of the exFAT driver (fill/init repeats them from dmesg) means it objected.
    failed = failed or "HALCYON-FILL: DMESG" in serial
    if result.returncode != 0 or failed:
        raise CheckFailed(f"the Linux {mode} boot failed (QEMU status {result.returncode}, "
                          f"{elapsed:.1f}s):\n{serial}{result.stderr.decode(errors='replace')}")
    for line in serial.splitlines():
        if re.match(r"HALCYON-FILL: (up|mounted|filled|DONE)", line):
            say(f"linux: {line[len('HALCYON-FILL: '):]}")
    what = "fill, read-back" if mode == "write" else "read-back"
    say(f"Linux {mode} step: {elapsed:.1f}s (QEMU TCG boot, {what}, poweroff)")
    return serial


def linux_listing(serial):
    """The directories and SHA-256s the fill guest read back."""
    directories, files = set(), {}
    for line in serial.splitlines():
        if line.startswith("HALCYON-FILL: DIR ./"):
            directories.add(line[len("HALCYON-FILL: DIR ./"):])
        match = re.match(r"HALCYON-FILL: SHA256 ([0-9a-f]{64})  \./(.*)$", line)
        if match:
            files[match.group(2)] = match.group(1)
    return files, directories


def compare(what, files, directories, expected_files, expected_directories):
    problems = []
    for path in sorted(expected_directories - directories):
        problems.append(f"directory missing: {path}")
    for path in sorted(directories - expected_directories):
        problems.append(f"unexpected directory: {path}")
    for path in sorted(expected_files.keys() - files.keys()):
        problems.append(f"file missing: {path}")
    for path in sorted(files.keys() - expected_files.keys()):
        problems.append(f"unexpected file: {path}")
    for path in sorted(expected_files.keys() & files.keys()):
        if files[path] != expected_files[path]:
            problems.append(f"{path}: SHA-256 {files[path]}, expected {expected_files[path]}")
    if problems:
        raise CheckFailed(f"{what}:\n  " + "\n  ".join(problems))


# ---- reading the volume with Halcyon's exFAT code ----------------------------------------------

def read_with_exfat_tool(work, skip=(), image=None):
    """{path: sha256}, directories and the `ls -R -l` lines, all through exfat-tool."""
    image, exfat_tool = image or work / "datastore.img", tool(work, "bin/exfat-tool")
    out = work / "readback"
    shutil.rmtree(out, ignore_errors=True)
    run([exfat_tool, *VOLUME, "get", image, "/", out])
    files, directories = {}, set()
    for path in out.rglob("*"):
        relative = path.relative_to(out).as_posix()
        if path.is_dir():
            directories.add(relative)
        elif relative not in skip:
            files[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    shutil.rmtree(out)
    listing = run([exfat_tool, *VOLUME, "ls", image, "/", "-R", "-l"]).stdout.splitlines()
    return files, directories, listing


def check_listing(listing, expected_files):
    """Sizes, kinds and modification times as `exfat-tool ls -l` reports them; returns the paths
    stored as FAT chains."""
    entries, chained = {}, set()
    pattern = re.compile(r"^([-d])\s+(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (contiguous|fat-chain)"
                         r"\s+/(.*)$")
    for line in listing:
        match = pattern.match(line)
        if not match:
            raise CheckFailed(f"exfat-tool ls: unexpected line {line!r}")
        kind, size, when, layout, path = match.groups()
        entries[path] = (kind, int(size), when)
        if layout == "fat-chain":
            chained.add(path)
    archived = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(MTIME))
    problems = []
    for path, body in expected_files.items():
        kind, size, when = entries.get(path, ("?", -1, ""))
        if kind != "-" or size != len(body):
            problems.append(f"{path}: ls says {kind} {size} bytes, expected a file of {len(body)}")
    # Files tar restored and Linux never touched again keep the archive's time (an odd second).
    for path in ("names/" + UNICODE_NAME, "sizes/size-4097.bin", f"{BOOT_DIR}/vmlinuz"):
        if entries.get(path, ("", 0, ""))[2] != archived:
            problems.append(f"{path}: modified {entries.get(path)}, expected {archived} (UTC)")
    if problems:
        raise CheckFailed("exfat-tool ls -R -l:\n  " + "\n  ".join(problems))
    return chained


def lookup_unicode(work, expected):
    """Opens a Unicode name by a differently cased path: name hash and compare through the
    up-case table mkfs.exfat wrote."""
    path = "/NAMES/" + UNICODE_NAME.upper()
    body = subprocess.run([str(tool(work, "bin/exfat-tool")), *VOLUME, "get",
                           str(work / "datastore.img"), path, "-"], capture_output=True)
    if body.returncode != 0 or hashlib.sha256(body.stdout).hexdigest() != expected:
        raise CheckFailed(f"exfat-tool get {path!r}: status {body.returncode}, "
                          f"{body.stderr.decode(errors='replace')}")
    say(f"case-insensitive lookup of {path!r}: OK")


# ---- the other way round: Halcyon's exFAT code changes what Linux wrote ------------------------

def modify_copy(work, initramfs, files, directories):
    """On a copy of the filled volume, exfat-tool changes structures Linux made (its FAT-chained
    directory and files, a 255-character name set spanning sectors, a Unicode name, a deep tree);
    fsck.exfat -n and a Linux mount must then find exactly the result."""
    started = time.monotonic()
    files, directories = dict(files), set(directories)
    copy = work / "modified.img"
    shutil.copyfile(work / "datastore.img", copy)
    exfat_tool = tool(work, "bin/exfat-tool")

    def exfat(*command):
        run([exfat_tool, *VOLUME, command[0], copy, *command[1:]])

    new_file = work / "new-file.bin"
    new_file.write_bytes(data(20, 3 * MIB + 123))
    name = "many/Halcyon wrote this, ünïcödé, in a FAT-chained directory.bin"
    exfat("put", new_file, "/" + name)
    files[name] = new_file.read_bytes()
    new_file.unlink()
    exfat("rm", "/names/" + "L" * 255)
    del files["names/" + "L" * 255]
    moved = "names/Grüße, κόσμε ✓ 😀🚀 (outside the BMP).txt"
    exfat("mv", "/" + moved, "/deep/1/Grüße, moved by Halcyon.txt")
    files["deep/1/Grüße, moved by Halcyon.txt"] = files.pop(moved)
    exfat("truncate", "/filler.bin", "100000")
    files["filler.bin"] = files["filler.bin"][:100000]
    # Growth: the new bytes are zero-filled on disk and ValidDataLength = DataLength, so every
    # Linux (6.1 too, which takes ValidDataLength for the size) reads the whole file.
    exfat("truncate", "/sizes/append-me.bin", "200000")
    grown = files["sizes/append-me.bin"]
    files["sizes/append-me.bin"] = grown + bytes(200000 - len(grown))
    exfat("rm", "/many/file-7.txt")
    del files["many/file-7.txt"]
    exfat("rm", "-r", "/deep/1/2/3/4")
    files = {p: b for p, b in files.items() if not p.startswith("deep/1/2/3/4/")}
    directories = {d for d in directories if not (d + "/").startswith("deep/1/2/3/4/")}
    exfat("mkdir", "/new dir/sub")
    directories.update({"new dir", "new dir/sub"})

    datastore_check.check_volume(work, copy, VOLUME, VOLUME_BYTES)
    ours, our_directories, _ = read_with_exfat_tool(work, image=copy)
    compare("exfat-tool reads back its own changes wrong", ours, our_directories, digests(files),
            directories)
    serial = boot_linux(work, initramfs, "read", copy)
    release = re.search(r"HALCYON-FILL: up at \S+, kernel (\d+)\.(\d+)", serial)
    if release:
        say(f"Linux {release.group(1)}.{release.group(2)} reads the file exfat-tool grew whole "
            f"({len(files['sizes/append-me.bin'])} bytes)")
    compare("Linux reads the volume Halcyon's exFAT code changed wrong", *linux_listing(serial),
            digests(files), directories)
    copy.unlink()
    say(f"Linux read back all {len(files)} files after exfat-tool changed its volume "
        f"({time.monotonic() - started:.1f}s)")


# ---- the steps ---------------------------------------------------------------------------------

def prepare(work):
    started = time.monotonic()
    datastore_check.make_guest_vhdx(work)
    files, directories = source_tree(work)
    (work / "prepared.vhdx").unlink()
    write_source_disk(work / "source.img", files, directories)
    result = run([sys.executable, ROOT / "tools/make-datastore.py", "--exfat-tool",
                  tool(work, "bin/exfat-tool"), work / "datastore.img", "--mkfs", "--size",
                  f"{IMAGE_MIB}M"])
    say(result.stdout.strip().splitlines()[0])
    initramfs = fill_initramfs(work)
    say(f"host preparation: {time.monotonic() - started:.1f}s")

    serial = boot_linux(work, initramfs, "write", work / "datastore.img")
    (work / "source.img").unlink()
    expected_files, expected_directories = expected_tree(files, directories)
    expected = digests(expected_files)
    compare("what Linux read back differs from what its /init should have written",
            *linux_listing(serial), expected, expected_directories)
    say(f"Linux read back {len(expected)} files in {len(expected_directories)} directories, "
        "all as expected")

    datastore_check.check_volume(work, work / "datastore.img", VOLUME, VOLUME_BYTES)
    checked = time.monotonic()
    ours, our_directories, listing = read_with_exfat_tool(work)
    compare("Halcyon's exFAT code (exfat-tool get) reads the Linux-written volume wrong",
            ours, our_directories, expected, expected_directories)
    chained = check_listing(listing, expected_files)
    lookup_unicode(work, expected["names/" + UNICODE_NAME])
    for must in (VHDX_PATH, "filler.bin", "many"):
        if must not in chained:
            raise CheckFailed(f"{must} is not a FAT chain: the fill no longer fragments it")
    say(f"exfat-tool read every file and directory as Linux wrote them "
        f"({time.monotonic() - checked:.1f}s); FAT chains: {', '.join(sorted(chained))}")
    (work / "expected.json").write_text(json.dumps(
        {"files": expected, "directories": sorted(expected_directories)}, indent=0))
    modify_copy(work, initramfs, expected_files, expected_directories)


def verify(work):
    """After Halcyon: the volume is still clean, nothing but the VHDX changed."""
    datastore_check.check_volume(work, work / "datastore.img", VOLUME, VOLUME_BYTES)
    recorded = json.loads((work / "expected.json").read_text())
    expected = {p: h for p, h in recorded["files"].items() if p != VHDX_PATH}
    ours, our_directories, _ = read_with_exfat_tool(work, skip=(VHDX_PATH,))
    compare("after Halcyon ran", ours, our_directories, expected, set(recorded["directories"]))
    say(f"all {len(expected)} files Linux wrote besides the VHDX are unchanged")
    vhdx = datastore_check.extract_vhdx(work, work / "datastore.img", VOLUME)
    vhdx.unlink()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("prepare", "verify"):
        print(__doc__, file=sys.stderr)
        return 2
    work = pathlib.Path(sys.argv[2])
    try:
        (prepare if sys.argv[1] == "prepare" else verify)(work)
    except (CheckFailed, subprocess.CalledProcessError, OSError) as failure:
        print(f"datastore_linuxfill: FAIL: {failure}")
        return 1
    say(f"{sys.argv[1]} passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
