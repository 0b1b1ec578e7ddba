"""Shared helpers of the VHDX interop tests: running tools, making patterned data, timing."""
import os
import random
import subprocess
import sys
import time

MiB = 1024 * 1024


class Failure(Exception):
    pass


def run(args, stdin=None, check=True):
    """Runs a command; returns (returncode, stdout bytes). Raises Failure with its stderr."""
    result = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=120)
    if check and result.returncode != 0:
        raise Failure("%s exited %d: %s" % (" ".join(map(str, args)), result.returncode,
                                           result.stderr.decode(errors="replace").strip()))
    return result.returncode, result.stdout


def pattern(seed, length):
    """Deterministic non-trivial bytes."""
    return random.Random(seed).randbytes(length)


def make_raw(path, size, seed):
    """A raw image of `size` bytes: random runs separated by holes of zeros (so converters
    have both data and zero ranges to deal with). Returns the bytes."""
    rng = random.Random(seed)
    data = bytearray(size)
    offset = 0
    while offset < size:
        run_length = rng.choice([4096, 65536, 700_000, 3 * MiB])
        if rng.random() < 0.5:
            chunk = rng.randbytes(min(run_length, size - offset))
            data[offset:offset + len(chunk)] = chunk
        offset += run_length + rng.choice([0, 512, 1 * MiB, 5 * MiB])
    with open(path, "wb") as f:
        f.write(data)
    return data


class Timer:
    def __init__(self):
        self.rows = []

    def measure(self, label, function, *args):
        start = time.monotonic()
        value = function(*args)
        self.rows.append((label, time.monotonic() - start))
        return value

    def print(self):
        print("\ntimings:")
        for label, seconds in self.rows:
            print("  %-60s %7.2f s" % (label, seconds))


def tool_path():
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        print("usage: %s PATH/TO/vhdx" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    return sys.argv[1]
