#!/usr/bin/env python3
"""Builds the Halcyon Linux test guest's initramfs: a gzip'd cpio archive in the "newc" format
(the only one the kernel's initramfs unpacker reads) holding busybox, /init and the directories
and device nodes the guest needs before it mounts devtmpfs. Standard library only, so neither
the cpio package nor root privileges (for mknod) are needed; the output is byte-for-byte
reproducible (fixed mtime, owner root)."""

import argparse
import gzip
import os
import stat
import sys

NEWC_MAGIC = b"070701"


class CpioWriter:
    def __init__(self):
        self.data = bytearray()
        self.next_inode = 1

    def _pad(self):
        self.data += b"\0" * (-len(self.data) % 4)

    def add(self, name, mode, body=b"", rdev=(0, 0)):
        encoded = name.encode() + b"\0"
        fields = [self.next_inode, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(body),
                  0, 0, rdev[0], rdev[1], len(encoded), 0]
        self.next_inode += 1
        self.data += NEWC_MAGIC + b"".join(b"%08X" % field for field in fields)
        self.data += encoded
        self._pad()  # the header plus name is padded to a multiple of 4 bytes
        self.data += body
        self._pad()  # and so is the file body

    def directory(self, name):
        self.add(name, stat.S_IFDIR | 0o755)

    def file(self, name, body, permissions):
        self.add(name, stat.S_IFREG | permissions, body)

    def symlink(self, name, target):
        self.add(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name, major, minor):
        self.add(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self):
        self.add("TRAILER!!!", 0)
        return bytes(self.data)


def build(busybox, init):
    cpio = CpioWriter()
    for directory in ("bin", "dev", "proc", "sys", "tmp", "root"):
        cpio.directory(directory)
    # The kernel opens /dev/console for init's stdin/stdout before init runs, so the node must be
    # in the archive itself (devtmpfs is mounted only later, by init).
    cpio.char_device("dev/console", 5, 1)
    cpio.char_device("dev/null", 1, 3)
    cpio.file("bin/busybox", busybox, 0o755)
    cpio.symlink("bin/sh", "busybox")
    cpio.file("init", init, 0o755)
    return cpio.finish()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busybox", required=True, help="a statically linked busybox binary")
    parser.add_argument("--init", required=True, help="the script that becomes /init")
    parser.add_argument("--output", required=True, help="where to write the .cpio.gz")
    args = parser.parse_args()
    with open(args.busybox, "rb") as f:
        busybox = f.read()
    with open(args.init, "rb") as f:
        init = f.read()
    if not busybox.startswith(b"\x7fELF"):
        sys.exit(f"mkinitramfs.py: {args.busybox} is not an ELF binary")
    archive = build(busybox, init)
    with open(args.output + ".tmp", "wb") as raw:
        # mtime=0 and no file name in the gzip header: the same inputs give the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
            out.write(archive)
    os.replace(args.output + ".tmp", args.output)


if __name__ == "__main__":
    main()
