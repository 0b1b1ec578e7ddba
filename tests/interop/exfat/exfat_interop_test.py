#!/usr/bin/env python3
"""exFAT datastore against independent implementations.

Peers: Debian's exfatprogs (mkfs.exfat, fsck.exfat -n) are required. When this runs as root
with loop devices and FUSE available (exfat-fuse's mount.exfat-fuse), a second, independent
implementation also reads what we wrote and writes what we then read; otherwise that part is
reported as SKIP (it needs privileges CI machines may not give).

usage: exfat_interop_test.py PATH/TO/exfat-tool
"""
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

MiB = 1024 * 1024
GiB = 1024 * MiB
TOOL = None
failures = []


class Failure(Exception):
    pass


def run(args, check=True, timeout=300):
    result = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=timeout)
    if check and result.returncode != 0:
        raise Failure("%s exited %d: %s%s" % (" ".join(map(str, args)), result.returncode,
                                              result.stdout.decode(errors="replace"),
                                              result.stderr.decode(errors="replace")))
    return result


def tool(*args, check=True):
    return run([TOOL] + list(args), check=check)


def fsck_clean(image):
    result = run(["fsck.exfat", "-n", image], check=False)
    text = (result.stdout + result.stderr).decode(errors="replace")
    if result.returncode != 0 or "clean" not in text:
        raise Failure("fsck.exfat -n %s: exit %d\n%s" % (image, result.returncode, text))
    return text.strip().splitlines()[-1]


def make_tree(root, seed, files, max_size):
    """A host tree of files with varied sizes and names (unicode, long, nested)."""
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    names = ["plain", "Grüße", "Ελληνικά", "кириллица", "日本語のファイル", "emoji 🚀",
             "spaces and.dots.", "x" * 200, "UPPER", "MiXeD"]
    made = {}
    dirs = [root]
    for i in range(files):
        if rng.random() < 0.15 and len(dirs) < 40:
            d = os.path.join(rng.choice(dirs), "dir-%d-%s" % (i, rng.choice(names)[:40]))
            os.makedirs(d, exist_ok=True)
            dirs.append(d)
            continue
        size = rng.choice([0, 1, 511, 512, 4095, 4096, 4097, 65536, 100000,
                           rng.randrange(1, max_size)])
        path = os.path.join(rng.choice(dirs), "f%03d-%s" % (i, rng.choice(names)))
        if os.path.exists(path):
            continue
        with open(path, "wb") as f:
            f.write(rng.randbytes(size))
        made[os.path.relpath(path, root)] = size
    return made


def digests(root):
    out = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def same_trees(a, b, what):
    da, db = digests(a), digests(b)
    if da != db:
        missing = sorted(set(da) ^ set(db))[:5]
        differ = sorted(k for k in set(da) & set(db) if da[k] != db[k])[:5]
        raise Failure("%s: trees differ (only on one side: %s; different: %s)"
                      % (what, missing, differ))
    return len(da)


def case(name):
    def wrap(function):
        def run_case(work):
            start = time.monotonic()
            try:
                detail = function(work)
                print("PASS: %s (%.1f s)%s" % (name, time.monotonic() - start,
                                              " - " + detail if detail else ""))
            except Failure as error:
                failures.append(name)
                print("FAIL: %s: %s" % (name, error))
        run_case.__name__ = name
        return run_case
    return wrap


@case("format with exfat-tool, fsck.exfat clean (4K/32K/128K clusters, 512 and 4096 sectors)")
def test_format(work):
    results = []
    for size, extra in (("64M", []), ("300M", []), ("1G", ["--cluster-size", "128K"]),
                        ("48M", ["--sector-size", "4096", "--label", "Datastore"])):
        image = os.path.join(work, "format.img")
        if os.path.exists(image):
            os.unlink(image)
        tool("format", image, size, *extra)
        results.append(size + " " + fsck_clean(image).split(": ", 1)[1])
        tool("check", image)
    return "; ".join(results)


@case("populate with exfat-tool (put/mkdir/mv/rm/truncate), fsck clean, read back identical")
def test_populate(work):
    image = os.path.join(work, "ours.img")
    src = os.path.join(work, "src")
    out = os.path.join(work, "out")
    tool("format", image, "512M", "--label", "HALCYON")
    made = make_tree(src, 1, 400, 3 * MiB)
    with open(os.path.join(src, "big.bin"), "wb") as f:
        f.write(random.Random(2).randbytes(40 * MiB))
    crowded = os.path.join(src, "crowded")
    os.makedirs(crowded)
    for i in range(300):
        with open(os.path.join(crowded, "entry-%04d.txt" % i), "w") as f:
            f.write("entry %d\n" % i * (i % 5))
    # Bulk copies use --defer-sync (one fdatasync at the end, as an image build would); the
    # namespace changes below run with a real barrier per flush.
    tool("--defer-sync", "put", image, src, "/data")
    fsck_clean(image)
    tool("get", image, "/data", out)
    count = same_trees(src, out, "put then get")
    # Namespace changes: a move across directories, a rename in place, removals, truncation.
    tool("mkdir", image, "/moved/here")
    tool("mv", image, "/data/big.bin", "/moved/here/big-renamed.bin")
    tool("mv", image, "/data/crowded/entry-0001.txt", "/data/crowded/e1")
    tool("rm", image, "/data/crowded/entry-0002.txt")
    tool("truncate", image, "/moved/here/big-renamed.bin", str(1 * MiB + 3))
    tool("rm", "-r", image, "/data/crowded")
    fsck_clean(image)
    got = run([TOOL, "get", image, "/moved/here/big-renamed.bin", "-"]).stdout
    if got != random.Random(2).randbytes(40 * MiB)[:MiB + 3]:
        raise Failure("truncated file does not hold the original prefix")
    if tool("ls", image, "/data/crowded", check=False).returncode == 0:
        raise Failure("removed directory is still listed")
    return "%d files, %s" % (count, fsck_clean(image))


@case("volumes made by mkfs.exfat (-c 4K..1M, labels, --pack-bitmap): read, write, fsck clean")
def test_mkfs_volumes(work):
    src = os.path.join(work, "mkfs-src")
    make_tree(src, 3, 120, 2 * MiB)
    notes = []
    for cluster, label, extra in (("4K", "small", []), ("32K", "Ünïcödé", []),
                                  ("128K", "DATASTORE", []), ("1M", "packed", ["--pack-bitmap"]),
                                  ("512", "tiny", [])):
        image = os.path.join(work, "mkfs-%s.img" % cluster)
        with open(image, "wb") as f:
            f.truncate(256 * MiB)
        run(["mkfs.exfat", "-c", cluster, "-L", label] + extra + [image])
        info = tool("info", image).stdout.decode()
        if "label: %s\n" % label not in info:
            raise Failure("label %r not read back: %s" % (label, info))
        # Barriers per flush on the first volume, deferred on the others (faster).
        tool(*(["put"] if cluster == "4K" else ["--defer-sync", "put"]), image, src, "/tree")
        fsck_clean(image)
        out = os.path.join(work, "mkfs-out-" + cluster)
        tool("get", image, "/tree", out)
        same_trees(src, out, "mkfs.exfat -c %s volume" % cluster)
        notes.append(cluster)
    return "clusters " + ", ".join(notes)


@case("a file larger than 4 GiB (zero-filled as punched holes, ValidDataLength = DataLength), "
      "fsck clean")
def test_large_file(work):
    # What this covers: sizes and cluster counts past 32 bits (DataLength, ValidDataLength and a
    # 5 GiB contiguous run in the bitmap, checked by fsck.exfat and our mount). Growing a file
    # zero-fills it (Linux before 6.8 takes ValidDataLength for the size: docs/datastore.md,
    # "Interoperability"), and 5 GiB of zeros written in CI would take minutes; exfat-tool's
    # image device zeroes by punching holes (fallocate), so the image stays sparse and this
    # takes a second. The zero-fill logic itself (gaps, runs, crash order) is unit-tested on
    # memory devices through the plain write path.
    image = os.path.join(work, "large.img")
    tool("format", image, "6G")
    tool("truncate", image, "/huge.bin", str(5 * GiB + 12345))
    small = os.path.join(work, "small.bin")
    with open(small, "wb") as f:
        f.write(b"after the huge file\n")
    tool("put", image, small, "/small.bin")
    listing = tool("ls", image, "/").stdout.decode()
    if str(5 * GiB + 12345) not in listing:
        raise Failure("size of the large file not listed: " + listing)
    check = tool("check", image).stdout.decode()
    if "partially_valid_files=0" not in check:
        raise Failure("the grown file is not fully valid: " + check)
    allocated = os.stat(image).st_blocks * 512
    if allocated > 256 * MiB:
        raise Failure("the zero fill did not go through punched holes: %d MiB of the image "
                      "allocated" % (allocated // MiB))
    head = run([TOOL, "get", image, "/small.bin", "-"]).stdout
    if head != b"after the huge file\n":
        raise Failure("small file after the large one reads back wrong")
    return "%s; image %d MiB allocated" % (fsck_clean(image), allocated // MiB)


@case("corrupt volumes are refused and left untouched")
def test_corrupt(work):
    image = os.path.join(work, "corrupt.img")
    tool("format", image, "32M")
    with open(image, "r+b") as f:
        f.seek(200)
        byte = f.read(1)
        f.seek(200)
        f.write(bytes([byte[0] ^ 0xFF]))
        f.seek(12 * 512 + 200)
        f.write(bytes([byte[0] ^ 0xFF]))
    before = hashlib.sha256(open(image, "rb").read()).hexdigest()
    result = tool("put", image, image, "/x", check=False)
    after = hashlib.sha256(open(image, "rb").read()).hexdigest()
    message = result.stderr.decode()
    if result.returncode == 0 or "checksum" not in message or before != after:
        raise Failure("damaged boot region: exit %d, %r, changed=%s"
                      % (result.returncode, message, before != after))
    return message.strip()


def fuse_available():
    if os.geteuid() != 0:
        return "not root"
    for program in ("losetup", "mount.exfat-fuse", "umount"):
        if shutil.which(program) is None:
            return program + " not installed (package exfat-fuse)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    return None


class FuseMount:
    """A loop device plus an exfat-fuse mount of an image; cleaned up whatever happens."""

    def __init__(self, image, mountpoint, writable):
        self.image, self.mountpoint, self.writable = image, mountpoint, writable
        self.loop = None

    def __enter__(self):
        os.makedirs(self.mountpoint, exist_ok=True)
        args = ["losetup", "-f", "--show"] + ([] if self.writable else ["-r"]) + [self.image]
        self.loop = run(args).stdout.decode().strip()
        run(["mount.exfat-fuse", "-o", "rw" if self.writable else "ro", self.loop,
             self.mountpoint])
        return self.mountpoint

    def __exit__(self, *exc):
        run(["umount", self.mountpoint], check=False)
        if self.loop:
            run(["losetup", "-d", self.loop], check=False)


@case("cross-check with exfat-fuse: it reads our volume, we read its volume")
def test_fuse(work):
    reason = fuse_available()
    if reason:
        print("SKIP: exfat-fuse cross-check: %s" % reason)
        return "skipped (%s)" % reason
    src = os.path.join(work, "fuse-src")
    make_tree(src, 4, 150, 2 * MiB)
    ours = os.path.join(work, "fuse-ours.img")
    tool("format", ours, "256M", "--label", "OURS")
    tool("--defer-sync", "put", ours, src, "/tree")
    try:
        with FuseMount(ours, os.path.join(work, "mnt"), False) as mnt:
            same_trees(src, os.path.join(mnt, "tree"), "exfat-fuse reading our volume")
    except Failure as error:
        if "mount" in str(error) and "fuse" in str(error):
            print("SKIP: exfat-fuse cross-check: cannot mount here (%s)" % error)
            return "skipped (mount refused)"
        raise
    theirs = os.path.join(work, "fuse-theirs.img")
    with open(theirs, "wb") as f:
        f.truncate(256 * MiB)
    run(["mkfs.exfat", "-c", "16K", "-L", "THEIRS", theirs])
    with FuseMount(theirs, os.path.join(work, "mnt"), True) as mnt:
        shutil.copytree(src, os.path.join(mnt, "tree"))
    fsck_clean(theirs)
    out = os.path.join(work, "fuse-out")
    tool("get", theirs, "/tree", out)
    count = same_trees(src, out, "our reading of exfat-fuse's volume")
    # And we keep writing to it, still clean for both.
    tool("--defer-sync", "put", theirs, src, "/second")
    fsck_clean(theirs)
    with FuseMount(theirs, os.path.join(work, "mnt"), False) as mnt:
        same_trees(src, os.path.join(mnt, "second"), "exfat-fuse reading our additions")
    return "%d files both ways" % count


def main():
    global TOOL
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        print("usage: %s PATH/TO/exfat-tool" % sys.argv[0], file=sys.stderr)
        return 2
    TOOL = os.path.abspath(sys.argv[1])
    for program in ("mkfs.exfat", "fsck.exfat"):
        if shutil.which(program) is None:
            print("FAIL: %s not found (install Debian's exfatprogs)" % program)
            return 1
    work = tempfile.mkdtemp(prefix="exfat-interop-", dir=os.environ.get("TMPDIR"))
    tests = [test_format, test_populate, test_mkfs_volumes, test_large_file, test_corrupt,
             test_fuse]
    try:
        for test in tests:
            test(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (len(tests) - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
