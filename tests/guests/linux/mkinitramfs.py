#!/usr/bin/env python3
"""Builds the Halcyon Linux test guest's initramfs: a gzip'd cpio archive in the "newc" format
(the only one the kernel's initramfs unpacker reads) holding busybox, /init, the directories
and device nodes the guest needs before it mounts devtmpfs and, with --tree, a directory of
further files (kernel modules from kernel_modules.py, the halcyon-disktest program). Standard
library only, so neither the cpio package nor root privileges (for mknod) are needed; the output
is byte-for-byte reproducible (fixed mtime, owner root, files in sorted order)."""

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


def tree_entries(root):
    """(archive name, path, is directory) for everything under `root`, parents first, sorted."""
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        relative = os.path.relpath(directory, root)
        for name, is_directory in [(d, True) for d in subdirectories] + \
                [(f, False) for f in sorted(files)]:
            archive_name = os.path.normpath(os.path.join(relative, name))
            yield archive_name, os.path.join(directory, name), is_directory


def build(busybox, init, tree=None):
    cpio = CpioWriter()
    directories = ["bin", "dev", "proc", "sys", "tmp", "root", "mnt"]
    for directory in directories:
        cpio.directory(directory)
    # The kernel opens /dev/console for init's stdin/stdout before init runs, so the node must be
    # in the archive itself (devtmpfs is mounted only later, by init).
    cpio.char_device("dev/console", 5, 1)
    cpio.char_device("dev/null", 1, 3)
    cpio.file("bin/busybox", busybox, 0o755)
    cpio.symlink("bin/sh", "busybox")
    cpio.file("init", init, 0o755)
    if tree:
        for name, path, is_directory in tree_entries(tree):
            if is_directory:
                if name not in directories:  # the kernel creates parents only from entries
                    cpio.directory(name)
            else:
                with open(path, "rb") as f:
                    # Executables keep their x bits; everything else is read-only data.
                    cpio.file(name, f.read(), 0o755 if os.access(path, os.X_OK) else 0o644)
    return cpio.finish()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busybox", required=True, help="a statically linked busybox binary")
    parser.add_argument("--init", required=True, help="the script that becomes /init")
    parser.add_argument("--tree", help="a directory whose contents are added at the root")
    parser.add_argument("--output", required=True, help="where to write the .cpio.gz")
    args = parser.parse_args()
    with open(args.busybox, "rb") as f:
        busybox = f.read()
    with open(args.init, "rb") as f:
        init = f.read()
    if not busybox.startswith(b"\x7fELF"):
        sys.exit(f"mkinitramfs.py: {args.busybox} is not an ELF binary")
    if args.tree and not os.path.isdir(args.tree):
        sys.exit(f"mkinitramfs.py: {args.tree} is not a directory")
    archive = build(busybox, init, args.tree)
    with open(args.output + ".tmp", "wb") as raw:
        # mtime=0 and no file name in the gzip header: the same inputs give the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
            out.write(archive)
    os.replace(args.output + ".tmp", args.output)


if __name__ == "__main__":
    main()
