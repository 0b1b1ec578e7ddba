#!/usr/bin/python3
"""Builds Halcyon's boot media from the loader, the core and a configuration.

Two outputs, holding the same files:
  --usb IMAGE  a GPT disk image whose only partition is a FAT32 EFI system partition with
               EFI/BOOT/{BOOTX64.EFI,halcyon.elf,halcyon.cfg,...}: write it to a USB stick with dd,
               or attach it to a virtual machine.
  --pxe DIR    a TFTP root with the same files side by side (the loader fetches its files from the
               directory it was booted from).

Everything runs unprivileged on plain files: mkfs.fat -C creates the file system in a file, mtools
fills it, sgdisk partitions the disk file and dd copies the file system to the partition's offset.
No loop devices, no mount.
"""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

SECTOR = 512
MIB = 1024 * 1024
# The ESP starts at 1 MiB (the customary alignment) and the disk keeps 1 MiB at the end for the
# backup GPT. FAT32 needs at least 65525 clusters; 64 MiB with 512-byte sectors is safely above.
PARTITION_START = 1 * MIB
DISK_TAIL = 1 * MIB
MIN_ESP_SIZE = 64 * MIB
ESP_LABEL = "HALCYON"
BOOT_DIR = "EFI/BOOT"


class ImageError(Exception):
    pass


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise ImageError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
                         f"{result.stdout}{result.stderr}")
    return result


def parse_added_file(spec):
    """FILE or FILE=NAME -> (source path, relative name under EFI/BOOT)."""
    source, _, name = spec.partition("=")
    source = pathlib.Path(source)
    name = name or source.name
    parts = pathlib.PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts:
        raise ImageError(f"--add {spec}: NAME must be a relative path without '..'")
    if not source.is_file():
        raise ImageError(f"--add {spec}: {source} is not a file")
    return source, str(pathlib.PurePosixPath(*parts))


def apply_settings(config_text, settings):
    """Returns config_text with top-level `key = value` settings replaced or added.

    Keys before the first [section] header are the global ones. An existing assignment is
    rewritten in place (a second one would be a duplicate-key error); a new one is inserted just
    before the first section so it stays global.
    """
    lines = config_text.splitlines()
    first_section = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")),
                         len(lines))
    for key, value in settings:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(first_section):
            if pattern.match(lines[i]):
                lines[i] = f"{key} = {value}"
                break
        else:
            lines.insert(first_section, f"{key} = {value}")
            first_section += 1
    return "\n".join(lines) + "\n"


def check_config(cfg_tool, config_path, shown_name, skip):
    if skip:
        return
    if not cfg_tool or not os.access(cfg_tool, os.X_OK):
        print(f"make-image: warning: {cfg_tool or 'halcyon-cfg'} not built; "
              "configuration NOT validated", file=sys.stderr)
        return
    result = subprocess.run([cfg_tool, "check", str(config_path)], capture_output=True, text=True)
    if result.returncode != 0:
        # Name the user's file in the diagnostics, not our scratch copy of it.
        report = (result.stdout + result.stderr).replace(str(config_path), shown_name)
        raise ImageError(f"configuration is invalid (halcyon-cfg check):\n{report}".rstrip())


def build_esp(esp_path, files):
    payload = sum(source.stat().st_size for source, _ in files)
    # Room for FAT metadata and cluster rounding, then whole MiB.
    size = max(MIN_ESP_SIZE, (payload * 5 // 4 + 8 * MIB + MIB - 1) // MIB * MIB)
    if esp_path.exists():
        esp_path.unlink()
    run(["mkfs.fat", "-C", "-F", "32", "-S", str(SECTOR), "-n", ESP_LABEL, str(esp_path),
         str(size // 1024)])
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    directories = {BOOT_DIR}
    for _, name in files:
        parent = pathlib.PurePosixPath(BOOT_DIR, name).parent
        while str(parent) not in ("", ".", "/"):
            directories.add(str(parent))
            parent = parent.parent
    directories.add("EFI")
    for directory in sorted(directories, key=lambda d: d.count("/")):
        run(["mmd", "-i", str(esp_path), f"::/{directory}"], env=env)
    for source, name in files:
        run(["mcopy", "-i", str(esp_path), str(source), f"::/{BOOT_DIR}/{name}"], env=env)
    return size


def build_disk(disk_path, esp_path, esp_size):
    disk_size = PARTITION_START + esp_size + DISK_TAIL
    with open(disk_path, "wb") as disk:
        disk.truncate(disk_size)
    first = PARTITION_START // SECTOR
    last = first + esp_size // SECTOR - 1
    run(["sgdisk", "--clear", f"--new=1:{first}:{last}", "--typecode=1:EF00",
         "--change-name=1:EFI system partition", str(disk_path)])
    run(["dd", f"if={esp_path}", f"of={disk_path}", "bs=1M", f"seek={PARTITION_START // MIB}",
         "conv=notrunc,sparse", "status=none"])
    # Proves the table is intact after the copy (dd must not have overwritten it).
    run(["sgdisk", "--verify", str(disk_path)])


def build_pxe(pxe_dir, files):
    staging = pxe_dir.with_name(pxe_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for source, name in files:
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    shutil.rmtree(pxe_dir, ignore_errors=True)
    staging.rename(pxe_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loader", required=True, type=pathlib.Path, help="BOOTX64.EFI")
    parser.add_argument("--core", required=True, type=pathlib.Path, help="halcyon.elf")
    parser.add_argument("--config", required=True, type=pathlib.Path, help="becomes halcyon.cfg")
    parser.add_argument("--add", action="append", default=[], metavar="FILE[=NAME]",
                        help="extra file next to the loader (VM kernel, initrd, disk)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a global configuration key (e.g. on_ready=poweroff)")
    parser.add_argument("--usb", type=pathlib.Path, help="GPT disk image to write")
    parser.add_argument("--pxe", type=pathlib.Path, help="TFTP root directory to write")
    parser.add_argument("--cfg-tool", help="halcyon-cfg executable used to validate the config")
    parser.add_argument("--no-check", action="store_true",
                        help="skip validation (for tests that boot a deliberately bad config)")
    args = parser.parse_args()
    if not args.usb and not args.pxe:
        parser.error("nothing to do: give --usb and/or --pxe")

    try:
        for path in (args.loader, args.core, args.config):
            if not path.is_file():
                raise ImageError(f"{path} is not a file")
        settings = []
        for setting in args.set:
            key, sep, value = setting.partition("=")
            if not sep or not re.fullmatch(r"[a-z_][a-z0-9_]*", key.strip()):
                raise ImageError(f"--set {setting}: expected KEY=VALUE")
            settings.append((key.strip(), value.strip()))

        output_dir = (args.usb or args.pxe).resolve().parent
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="halcyon-image-", dir=output_dir) as scratch:
            scratch = pathlib.Path(scratch)
            config = scratch / "halcyon.cfg"
            text = args.config.read_text()
            config.write_text(apply_settings(text, settings) if settings else text)
            shown = str(args.config) + (" (with --set applied)" if settings else "")
            check_config(args.cfg_tool, config, shown, args.no_check)

            files = [(args.loader, "BOOTX64.EFI"), (args.core, "halcyon.elf"),
                     (config, "halcyon.cfg")]
            files += [parse_added_file(spec) for spec in args.add]
            names = [name.lower() for _, name in files]  # FAT is case-insensitive
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise ImageError(f"two files would be stored as {', '.join(duplicates)}")

            if args.usb:
                esp = scratch / "esp.img"
                size = build_esp(esp, files)
                disk = scratch / "disk.img"
                build_disk(disk, esp, size)
                args.usb.parent.mkdir(parents=True, exist_ok=True)
                os.replace(disk, args.usb)  # atomic: a running QEMU keeps the old inode
                print(f"make-image: {args.usb} ({(size + PARTITION_START + DISK_TAIL) // MIB} MiB,"
                      f" {len(files)} files in /{BOOT_DIR})")
            if args.pxe:
                args.pxe.parent.mkdir(parents=True, exist_ok=True)
                build_pxe(args.pxe, files)
                print(f"make-image: {args.pxe}/ (TFTP root, boot file BOOTX64.EFI)")
    except ImageError as error:
        print(f"make-image: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
