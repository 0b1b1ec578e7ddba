#!/usr/bin/env python3
"""VHDX interop with qemu-img, both ways.

1. qemu-made files (qemu-img create and convert, subformats dynamic and fixed, block sizes
   1M/8M/32M/256M, log sizes 1M/8M) open, read and write correctly with ours: our reads equal
   the raw source; after our (unaligned) writes, qemu-img check is clean and qemu reads our
   data back.
2. Files made by ours (fixed/dynamic, several block sizes, and `vhdx convert` of a raw file)
   pass qemu-img check, and qemu-img convert -O raw of them is byte-identical to what we
   wrote. qemu (7.2) refuses 4096-byte logical sectors with ENOTSUP, so for those this only
   checks that it refuses them; libvhdi_interop_test.py is their peer.
Usage: qemu_interop_test.py PATH/TO/vhdx
"""
import os
import shutil
import sys
import tempfile

from interop_common import MiB, Failure, Timer, make_raw, pattern, run, tool_path

SIZE = 40 * MiB + 7 * 512  # not a multiple of any block size


def read_ours(vhdx, path, length):
    return run([vhdx, "read", path, "--offset", "0", "--length", str(length)])[1]


def write_ours(vhdx, path, offset, data):
    run([vhdx, "write", path, "--offset", str(offset)], stdin=data)


def qemu_raw(path, work):
    out = os.path.join(work, "qemu-out.raw")
    if os.path.exists(out):
        os.remove(out)
    run(["qemu-img", "convert", "-f", "vhdx", "-O", "raw", path, out])
    with open(out, "rb") as f:
        return f.read()


def qemu_check(path):
    code, out = run(["qemu-img", "check", "-f", "vhdx", path], check=False)
    if code != 0:
        raise Failure("qemu-img check %s failed (%d): %s" % (path, code, out.decode()))


def our_check(vhdx, path):
    code, out = run([vhdx, "check", path], check=False)
    if code != 0:
        raise Failure("vhdx check %s: exit %d: %s" % (path, code, out.decode()))


def compare(label, actual, expected):
    if len(actual) < len(expected):
        raise Failure("%s: only %d of %d bytes" % (label, len(actual), len(expected)))
    if actual[:len(expected)] != expected:
        first = next(i for i in range(len(expected)) if actual[i] != expected[i])
        raise Failure("%s: data differs (first difference at byte %d)" % (label, first))
    if any(actual[len(expected):]):
        raise Failure("%s: non-zero bytes past the expected data" % label)


def our_writes(vhdx, path, expected, seed):
    """Writes that cover unaligned edges, block boundaries and the disk's last bytes."""
    writes = [(1, 1000), (MiB - 100, 300), (8 * MiB - 4096, 3 * 4096 + 17),
              (32 * MiB - 511, 2 * MiB + 1023), (len(expected) - 777, 777)]
    for i, (offset, length) in enumerate(writes):
        data = pattern(seed * 100 + i, length)
        write_ours(vhdx, path, offset, data)
        expected[offset:offset + length] = data


def qemu_made(vhdx, work, timer):
    results = []
    source_path = os.path.join(work, "source.raw")
    source = make_raw(source_path, SIZE, 1)
    for subformat in ("dynamic", "fixed"):
        for block in ("1M", "8M", "32M", "256M"):
            for log in ("1M", "8M"):
                name = "qemu-%s-b%s-l%s" % (subformat, block, log)
                path = os.path.join(work, name + ".vhdx")
                options = "subformat=%s,block_size=%s,log_size=%s" % (subformat, block, log)
                timer.measure("qemu-img convert -O vhdx %s" % options, run,
                              ["qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", options,
                               source_path, path])
                our_check(vhdx, path)
                data = timer.measure("ours: read %s (%d MiB)" % (name, SIZE // MiB), read_ours,
                                     vhdx, path, SIZE)
                compare(name + " read by ours", data, source)
                expected = bytearray(source)
                timer.measure("ours: writes into " + name, our_writes, vhdx, path, expected, 3)
                qemu_check(path)
                compare(name + " after our writes, read by qemu", qemu_raw(path, work), expected)
                compare(name + " after our writes, read by ours", read_ours(vhdx, path, SIZE),
                        expected)
                our_check(vhdx, path)
                os.remove(path)
                results.append(name)
        # qemu-img create: an empty image of each subformat, written by ours.
        path = os.path.join(work, "qemu-create-%s.vhdx" % subformat)
        run(["qemu-img", "create", "-f", "vhdx", "-o", "subformat=%s" % subformat, path,
             str(SIZE)])
        compare("empty qemu " + subformat, read_ours(vhdx, path, SIZE), bytes(SIZE))
        expected = bytearray(SIZE)
        our_writes(vhdx, path, expected, 4)
        qemu_check(path)
        compare("qemu-create " + subformat + " after our writes", qemu_raw(path, work), expected)
        os.remove(path)
        results.append("qemu-create-" + subformat)
    return results


def ours_made(vhdx, work, timer):
    results = []
    size = SIZE - 7 * 512 + 8 * 4096  # a multiple of 4096 too
    for kind in ("dynamic", "fixed"):
        for logical in ("512", "4096"):
            for block in ("1M", "32M", "256M"):
                name = "ours-%s-ls%s-b%s" % (kind, logical, block)
                path = os.path.join(work, name + ".vhdx")
                timer.measure("ours: create " + name, run,
                              [vhdx, "create", path, "--size", str(size), "--type", kind,
                               "--block-size", block, "--logical-sector", logical])
                expected = bytearray(size)
                our_writes(vhdx, path, expected, 5)
                our_check(vhdx, path)
                compare(name + " read by ours", read_ours(vhdx, path, size), expected)
                if logical == "4096":
                    # qemu's VHDX driver only handles 512-byte logical sectors: it must refuse
                    # the file (ENOTSUP) rather than misread it. libvhdi_interop_test.py reads
                    # these files with a second peer.
                    code, _ = run(["qemu-img", "check", "-f", "vhdx", path], check=False)
                    if code == 0:
                        raise Failure(name + ": qemu-img unexpectedly accepted 4096-byte sectors")
                else:
                    qemu_check(path)
                    compare(name + " read by qemu", qemu_raw(path, work), expected)
                os.remove(path)
                results.append(name)
    # Our conversions of a raw image, read back by qemu, and back to raw by ours.
    source_path = os.path.join(work, "source2.raw")
    source = make_raw(source_path, SIZE, 2)
    for kind in ("dynamic", "fixed"):
        path = os.path.join(work, "ours-convert-%s.vhdx" % kind)
        timer.measure("ours: convert raw -> %s (%d MiB)" % (kind, SIZE // MiB), run,
                      [vhdx, "convert", source_path, path, "--type", kind])
        qemu_check(path)
        compare("ours convert " + kind + " read by qemu", qemu_raw(path, work), source)
        back = os.path.join(work, "back-%s.raw" % kind)
        run([vhdx, "convert", path, back, "--type", "raw"])
        with open(back, "rb") as f:
            compare("ours convert %s -> raw" % kind, f.read(), source)
        os.remove(path)
        os.remove(back)
        results.append("ours-convert-" + kind)
    return results


def corrupt(path, offset, length=4):
    with open(path, "r+b") as f:
        f.seek(offset)
        old = f.read(length)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in old))


def tool_behaviour(vhdx, work, timer):
    """Exit statuses of `vhdx check` (0 clean, 1 repairable, 2 damaged, 3 error), repair of a
    qemu-made file that qemu then still accepts, and no partial output after a failure."""
    results = []
    source_path = os.path.join(work, "source3.raw")
    source = make_raw(source_path, 16 * MiB, 3)
    path = os.path.join(work, "damaged.vhdx")
    run(["qemu-img", "convert", "-f", "raw", "-O", "vhdx", source_path, path])
    corrupt(path, 64 * 1024 + 100)  # header 1 body: bad CRC
    code, out = run([vhdx, "check", path], check=False)
    if code != 1 or b"header 1: bad CRC-32C" not in out:
        raise Failure("check of a file with one bad header: exit %d, %s" % (code, out.decode()))
    code, out = run([vhdx, "check", path, "--repair"], check=False)
    if code != 0 or b"rewrote the damaged header" not in out:
        raise Failure("check --repair: exit %d, %s" % (code, out.decode()))
    qemu_check(path)
    compare("repaired file read by qemu", qemu_raw(path, work), source)
    results.append("repair-header")
    corrupt(path, 64 * 1024 + 100)
    corrupt(path, 128 * 1024 + 100)
    code, out = run([vhdx, "check", path], check=False)
    if code != 2:
        raise Failure("check of a file with two bad headers: exit %d, %s" % (code, out.decode()))
    code, _ = run([vhdx, "check", path, "--repair"], check=False)
    if code != 2:
        raise Failure("check --repair of a damaged file: exit %d" % code)
    results.append("damaged-refused")
    code, _ = run([vhdx, "check", os.path.join(work, "missing.vhdx")], check=False)
    if code != 3:
        raise Failure("check of a missing file: exit %d (expected 3)" % code)
    code, _ = run([vhdx, "create", os.path.join(work, "x.vhdx"), "--size", "1Q"], check=False)
    if code != 3:
        raise Failure("create with a bad size: exit %d (expected 3)" % code)
    # A failing conversion (the source is damaged) leaves no output file behind.
    destination = os.path.join(work, "out.vhdx")
    code, _ = run([vhdx, "convert", path, destination], check=False)
    leftovers = [n for n in os.listdir(work) if n.startswith("out.vhdx")]
    if code != 3 or leftovers:
        raise Failure("failed convert: exit %d, left %s" % (code, leftovers))
    results.append("exit-codes")
    return results


def main():
    vhdx = tool_path()
    if shutil.which("qemu-img") is None:
        print("FAIL: qemu-img is required (Debian package qemu-utils)")
        return 1
    timer = Timer()
    work = tempfile.mkdtemp(prefix="vhdx-qemu-interop-")
    try:
        passed = qemu_made(vhdx, work, timer)
        print("qemu-made files read/written by ours: %d OK (%s)" % (len(passed), ", ".join(passed)))
        passed = ours_made(vhdx, work, timer)
        print("ours-made files checked/read by qemu: %d OK (%s)" % (len(passed), ", ".join(passed)))
        passed = tool_behaviour(vhdx, work, timer)
        print("tool behaviour: %d OK (%s)" % (len(passed), ", ".join(passed)))
    except Failure as failure:
        timer.print()
        print("FAIL: %s" % failure)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timer.print()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
