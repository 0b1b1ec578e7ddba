#!/usr/bin/python3
"""Disk images for the storage_drivers integration case (runner.py's host_script).

  storage_check.py prepare WORK   makes the raw images the case's QEMU drives use
  storage_check.py verify WORK    checks what Halcyon's boot-time self-test left in them

Scratch images carry the marker drivers/block/selftest.hpp asks for in sector 0; the self-test
then writes its pattern - the little-endian 64-bit word (byte offset XOR "HALCYON!") at every
8-byte offset - to the last MiB of the disk, flushes and reads it back. verify checks, on the
host, that exactly that pattern is at exactly that place, that the marker survived, that nothing
else was written, and that the image without a marker was not touched at all. Stdlib only.
"""
import hashlib
import json
import pathlib
import struct
import sys

MARKER = b"HALCYON STORAGE SELFTEST SCRATCH"
SALT = 0x48414C43594F4E21  # "HALCYON!", kSelftestSalt
SELFTEST_BYTES = 1 << 20
MIB = 1 << 20
# name -> (size in MiB, scratch marker?)
IMAGES = {
    "virtio-blk.img": (64, True),
    "virtio-blk-wt.img": (32, True),
    "nvme.img": (64, True),
    "ahci.img": (64, True),
    "ahci-unmarked.img": (16, False),
}


def expected_pattern(start):
    return b"".join(struct.pack("<Q", (start + i) ^ SALT) for i in range(0, SELFTEST_BYTES, 8))


def prepare(work):
    state = {}
    for name, (size_mib, scratch) in IMAGES.items():
        path = work / name
        with open(path, "wb") as image:
            image.truncate(size_mib * MIB)
            if scratch:
                image.write(MARKER)
            else:
                # Recognisable contents everywhere the self-test could have written.
                image.seek(size_mib * MIB - 2 * SELFTEST_BYTES)
                image.write(bytes([0x5A]) * (2 * SELFTEST_BYTES))
        state[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (work / "storage-images.json").write_text(json.dumps(state, indent=1) + "\n")
    print(f"storage_check: made {len(IMAGES)} images in {work}")
    return 0


def first_nonzero(data, begin, end):
    """Offset of the first non-zero byte in data[begin:end], or None (chunked, fast)."""
    step = 1 << 16
    for chunk in range(begin, end, step):
        piece = data[chunk:min(chunk + step, end)]
        if piece.count(0) != len(piece):
            return chunk + next(i for i, b in enumerate(piece) if b)
    return None


def verify(work):
    state = json.loads((work / "storage-images.json").read_text())
    problems = []
    for name, (size_mib, scratch) in IMAGES.items():
        data = (work / name).read_bytes()
        if len(data) != size_mib * MIB:
            problems.append(f"{name}: size changed to {len(data)} bytes")
            continue
        if not scratch:
            if hashlib.sha256(data).hexdigest() != state[name]:
                problems.append(f"{name}: an image without the scratch marker was modified")
            else:
                print(f"storage_check: {name}: untouched (no scratch marker)")
            continue
        start = len(data) - SELFTEST_BYTES
        found_before = len(problems)
        if data[:len(MARKER)] != MARKER:
            problems.append(f"{name}: the scratch marker in sector 0 was overwritten")
        if data[start:] != expected_pattern(start):
            mismatch = next(i for i in range(0, SELFTEST_BYTES, 8)
                            if data[start + i:start + i + 8] !=
                            struct.pack("<Q", (start + i) ^ SALT))
            problems.append(f"{name}: pattern wrong at byte {start + mismatch} "
                            f"(found {data[start + mismatch:start + mismatch + 8].hex()})")
        stray = first_nonzero(data, len(MARKER), start)
        if stray is not None:
            problems.append(f"{name}: unexpected data at byte {stray} (outside the last MiB)")
        if len(problems) == found_before:
            print(f"storage_check: {name}: pattern at bytes {start}..{len(data) - 1}, "
                  "marker intact, nothing else written")
    for problem in problems:
        print(f"storage_check: {problem}")
    return 1 if problems else 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("prepare", "verify"):
        print(__doc__)
        return 2
    work = pathlib.Path(sys.argv[2])
    return prepare(work) if sys.argv[1] == "prepare" else verify(work)


if __name__ == "__main__":
    sys.exit(main())
