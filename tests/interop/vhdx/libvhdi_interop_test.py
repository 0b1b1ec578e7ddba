#!/usr/bin/python3
"""VHDX interop with libyal's libvhdi (Debian python3-libvhdi), the peer for what qemu-img
cannot do: differencing chains (depth 1 and 3, made and written by ours) and 4096-byte
logical sectors. libvhdi must read every disk - children with their parents set - to the same
bytes we wrote, and the same bytes `vhdx read` returns. Also checks that `vhdx merge` and
`vhdx convert` (flattening) of a chain keep those bytes.
Usage: libvhdi_interop_test.py PATH/TO/vhdx
"""
import os
import random
import shutil
import sys
import tempfile

from interop_common import MiB, Failure, Timer, pattern, run, tool_path

try:
    import pyvhdi
except ImportError:
    print("FAIL: the libvhdi Python binding is required (Debian package python3-libvhdi; run "
          "this test with the system /usr/bin/python3)")
    sys.exit(1)

SIZE = 24 * MiB


def read_ours(vhdx, path, length):
    return run([vhdx, "read", path, "--offset", "0", "--length", str(length)])[1]


def write_ours(vhdx, path, offset, data):
    run([vhdx, "write", path, "--offset", str(offset)], stdin=data)


def read_libvhdi(chain):
    """chain[0] is the disk to read, chain[i + 1] the parent of chain[i]."""
    files = []
    for path in chain:
        f = pyvhdi.file()
        f.open(path)
        files.append(f)
    # Parents first, so each child is given a complete parent.
    for i in range(len(files) - 2, -1, -1):
        files[i].set_parent(files[i + 1])
    top = files[0]
    if top.get_media_size() != SIZE:
        raise Failure("libvhdi: %s has media size %d" % (chain[0], top.get_media_size()))
    data = top.read_buffer_at_offset(SIZE, 0)
    for f in files:
        f.close()
    return data


def apply_writes(vhdx, path, expected, seed, count):
    rng = random.Random(seed)
    for i in range(count):
        offset = rng.randrange(0, SIZE - 1)
        length = min(rng.choice([1, 511, 4096, 70_000, 1_500_000]), SIZE - offset)
        data = pattern(seed * 1000 + i, length)
        write_ours(vhdx, path, offset, data)
        expected[offset:offset + length] = data


def compare(label, actual, expected):
    if bytes(actual) != bytes(expected):
        n = min(len(actual), len(expected))
        first = next((i for i in range(n) if actual[i] != expected[i]), n)
        raise Failure("%s: data differs (first difference at byte %d)" % (label, first))


def check_clean(vhdx, path):
    code, out = run([vhdx, "check", path], check=False)
    if code != 0:
        raise Failure("vhdx check %s: exit %d: %s" % (path, code, out.decode()))


def standalone(vhdx, work, timer):
    done = []
    for kind in ("dynamic", "fixed"):
        for logical in ("512", "4096"):
            name = "%s-ls%s" % (kind, logical)
            path = os.path.join(work, name + ".vhdx")
            run([vhdx, "create", path, "--size", str(SIZE), "--type", kind, "--logical-sector",
                 logical, "--block-size", "1M"])
            expected = bytearray(SIZE)
            apply_writes(vhdx, path, expected, 11, 12)
            check_clean(vhdx, path)
            data = timer.measure("libvhdi: read " + name, read_libvhdi, [path])
            compare(name + " read by libvhdi", data, expected)
            done.append(name)
    return done


def chains(vhdx, work, timer):
    done = []
    for logical in ("512", "4096"):
        for depth in (1, 3):
            name = "chain-ls%s-depth%d" % (logical, depth)
            directory = os.path.join(work, name)
            os.makedirs(os.path.join(directory, "sub"))
            base = os.path.join(directory, "base.vhdx")
            run([vhdx, "create", base, "--size", str(SIZE), "--logical-sector", logical,
                 "--block-size", "8M"])
            expected = bytearray(SIZE)
            apply_writes(vhdx, base, expected, 21, 10)
            chain = [base]
            for level in range(depth):
                # Alternate directories so relative paths with ".." are exercised too.
                child = os.path.join(directory, "sub" if level % 2 == 0 else "",
                                     "child%d.vhdx" % level)
                run([vhdx, "create", child, "--parent", chain[0]])
                compare("%s level %d before writes" % (name, level),
                        read_ours(vhdx, child, SIZE), expected)
                apply_writes(vhdx, child, expected, 30 + level, 10)
                check_clean(vhdx, child)
                chain.insert(0, child)
            ours = timer.measure("ours: read " + name, read_ours, vhdx, chain[0], SIZE)
            compare(name + " read by ours", ours, expected)
            theirs = timer.measure("libvhdi: read " + name, read_libvhdi, chain)
            compare(name + " read by libvhdi", theirs, expected)
            # Flattening the chain keeps the bytes.
            flat = os.path.join(work, name + "-flat.vhdx")
            run([vhdx, "convert", chain[0], flat, "--type", "dynamic"])
            compare(name + " flattened, read by libvhdi", read_libvhdi([flat]), expected)
            # Merging the top child into its parent: the parent then reads as the chain did.
            timer.measure("ours: merge " + name, run, [vhdx, "merge", chain[0]])
            check_clean(vhdx, chain[1])
            compare(name + " after merge, parent read by libvhdi", read_libvhdi(chain[1:]),
                    expected)
            compare(name + " after merge, parent read by ours", read_ours(vhdx, chain[1], SIZE),
                    expected)
            done.append(name)
    return done


def main():
    vhdx = tool_path()
    timer = Timer()
    work = tempfile.mkdtemp(prefix="vhdx-libvhdi-interop-")
    try:
        passed = standalone(vhdx, work, timer)
        print("ours-made disks read by libvhdi: %d OK (%s)" % (len(passed), ", ".join(passed)))
        passed = chains(vhdx, work, timer)
        print("ours-made chains read by libvhdi: %d OK (%s)" % (len(passed), ", ".join(passed)))
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
