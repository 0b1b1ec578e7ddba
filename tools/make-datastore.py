#!/usr/bin/python3
"""Makes a Halcyon datastore disk image: an exFAT volume (labelled HALCYON-DS, so Halcyon's
`datastore = auto` finds it) holding the files given on the command line.

    make-datastore.py --exfat-tool build/bin/exfat-tool OUT.img FILE[=PATH]... [options]

FILE is a host file or directory (copied as a tree); PATH is where it goes on the volume
(default: its name in the root). A VM then names it in halcyon.cfg as `disk = ds:PATH` (or
`kernel = ds:PATH`). Options:

  --size SIZE        the image size (K/M/G/T suffixes); default: the files plus a quarter,
                     plus 64 MiB, in whole MiB
  --layout gpt       (default) a GPT disk with one partition (Microsoft basic data, from 1 MiB to
                     1 MiB before the end) holding the volume: what other OSes expect of a disk
  --layout whole     the volume on the whole device, no partition table
  --label LABEL      the volume label (default HALCYON-DS)
  --cluster-size N   exFAT cluster size (default: by volume size, as Windows and exfatprogs)
  --mkfs             format with exfatprogs' mkfs.exfat instead of exfat-tool (files are still
                     copied in with exfat-tool)

Everything runs unprivileged on plain files with our exfat-tool (mgmt/datastore/exfat/tool):
no loop devices, no mount, no exfatprogs needed. sgdisk (gdisk) writes the partition table.
Write the result to a disk with dd, or give it to QEMU as a virtio-blk, NVMe or SATA disk.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys

MIB = 1024 * 1024
SECTOR = 512
PARTITION_START = 1 * MIB
DISK_TAIL = 1 * MIB  # the backup GPT
DEFAULT_LABEL = "HALCYON-DS"
BASIC_DATA = "0700"  # sgdisk's code for Microsoft basic data (EBD0A0A2-B9E5-4433-87C0-68B6B72699C7)
MIN_VOLUME = 8 * MIB


class DatastoreError(Exception):
    pass


def run(command):
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True)
    if result.returncode != 0:
        raise DatastoreError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
                             f"{result.stdout}{result.stderr}".rstrip())
    return result


def parse_size(text):
    match = re.fullmatch(r"(\d+)([KkMmGgTt]?)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 512M or 2G")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    return int(match.group(1)) * scale[match.group(2).lower()]


def parse_file(spec):
    """FILE or FILE=PATH -> (source, path on the volume)."""
    source, _, dest = spec.partition("=")
    source = pathlib.Path(source)
    if not source.exists():
        raise DatastoreError(f"{spec}: {source} does not exist")
    dest = dest or source.name
    parts = pathlib.PurePosixPath(dest.lstrip("/")).parts
    if not parts or ".." in parts:
        raise DatastoreError(f"{spec}: PATH must name a file on the volume, without '..'")
    return source, "/" + "/".join(parts)


def payload_bytes(files):
    total = 0
    for source, _ in files:
        if source.is_dir():
            total += sum(p.stat().st_size + 4096 for p in source.rglob("*") if p.is_file())
        else:
            total += source.stat().st_size
    return total


def make_datastore(args):
    files = [parse_file(spec) for spec in args.files]
    if not os.access(args.exfat_tool, os.X_OK):
        raise DatastoreError(f"{args.exfat_tool}: exfat-tool not built (ninja exfat-tool)")
    payload = payload_bytes(files)
    size = args.size or ((payload * 5 // 4 + 64 * MIB + MIB - 1) // MIB * MIB)
    gpt = args.layout == "gpt"
    overhead = PARTITION_START + DISK_TAIL if gpt else 0
    if size < overhead + MIN_VOLUME:
        raise DatastoreError(f"--size {size}: too small (at least {(overhead + MIN_VOLUME) // MIB} "
                             "MiB)")
    size = size // MIB * MIB if gpt else size // SECTOR * SECTOR

    out = pathlib.Path(args.output)
    if out.exists():
        out.unlink()
    with open(out, "wb") as image:
        image.truncate(size)
    where = []
    volume_bytes = size
    if gpt:
        first = PARTITION_START // SECTOR
        last = (size - DISK_TAIL) // SECTOR - 1
        run(["sgdisk", "--clear", f"--new=1:{first}:{last}", f"--typecode=1:{BASIC_DATA}",
             "--change-name=1:Halcyon datastore", out])
        volume_bytes = (last - first + 1) * SECTOR
        where = ["--offset", str(PARTITION_START), "--length", str(volume_bytes)]

    if args.mkfs:
        format_with_mkfs(out, gpt, volume_bytes, args)
    else:
        command = [args.exfat_tool, *where, "--defer-sync", "format", out, str(volume_bytes),
                   "--label", args.label]
        if args.cluster_size:
            command += ["--cluster-size", str(args.cluster_size)]
        run(command)
    for source, dest in files:
        run([args.exfat_tool, *where, "--defer-sync", "put", out, source, dest])
    run([args.exfat_tool, *where, "check", out])
    if gpt:
        run(["sgdisk", "--verify", out])
    listing = run([args.exfat_tool, *where, "ls", out, "/", "-R", "-l"]).stdout
    print(f"make-datastore: {out}: {size // MIB} MiB, exFAT {args.label!r}"
          f"{' in GPT partition 1' if gpt else ' on the whole device'}, {len(files)} item(s):")
    print(listing, end="")


def format_with_mkfs(out, gpt, volume_bytes, args):
    """exfatprogs' mkfs.exfat works on devices or files; for a partition, a volume file of the
    partition's size is formatted and copied in at the partition's offset."""
    target = out.with_suffix(out.suffix + ".volume") if gpt else out
    if gpt:
        with open(target, "wb") as volume:
            volume.truncate(volume_bytes)
    command = ["mkfs.exfat", "-L", args.label]
    if args.cluster_size:
        command += ["-c", str(args.cluster_size)]
    run([*command, target])
    if gpt:
        run(["dd", f"if={target}", f"of={out}", "bs=1M", f"seek={PARTITION_START // MIB}",
             "conv=notrunc,sparse", "status=none"])
        target.unlink()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="the image file to write")
    parser.add_argument("files", nargs="*", help="FILE or FILE=PATH")
    parser.add_argument("--exfat-tool", required=True, help="build/bin/exfat-tool")
    parser.add_argument("--size", type=parse_size)
    parser.add_argument("--layout", choices=["gpt", "whole"], default="gpt")
    parser.add_argument("--label", default=DEFAULT_LABEL)
    parser.add_argument("--cluster-size", type=parse_size)
    parser.add_argument("--mkfs", action="store_true",
                        help="format with mkfs.exfat (exfatprogs) instead of exfat-tool")
    # Files and options in any order (./halcyon image --datastore OUT FILE... --size 1G).
    args = parser.parse_intermixed_args()
    try:
        make_datastore(args)
    except DatastoreError as error:
        print(f"make-datastore: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
