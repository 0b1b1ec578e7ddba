#!/usr/bin/python3
"""Builds Halcyon's boot media from the loader, the core and a configuration.

Three outputs, holding the same files:
  --usb IMAGE  a GPT disk image whose only partition is a FAT32 EFI system partition with
               EFI/BOOT/{BOOTX64.EFI,halcyon.elf,halcyon.cfg,...}: write it to a USB stick with dd,
               or attach it to a virtual machine.
  --pxe DIR    a TFTP root with the same files side by side (the loader fetches its files from the
               directory it was booted from).
  --iso ISO    a hybrid ISO 9660 image (needs --multiboot2) that boots both ways: UEFI firmware
               boots BOOTX64.EFI from an EFI system partition image (El Torito EFI entry), and a
               BIOS boots GRUB (El Torito no-emulation entry, or the MBR when the ISO is written to
               a USB stick), which loads the Multiboot2 stage halcyon-mb2.elf with halcyon.cfg,
               halcyon.elf and the VM files as modules. The files are stored once, in the EFI
               system partition image; GRUB reads them from it through `loopback`.

Everything runs unprivileged on plain files: mkfs.fat -C creates the file system in a file, mtools
fills it, sgdisk partitions the disk file and dd copies the file system to the partition's offset;
grub-mkimage and xorriso build the ISO. No loop devices, no mount.
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

# The ISO. Its EFI system partition image holds only what it needs (FAT12/16, no minimum size).
# El Torito records a boot image's size in 16 bits of 512-byte sectors; for an image over 32 MiB
# xorriso writes 0, which UEFI reads as "up to the end of the CD" (the UEFI specification's
# "ISO-9660 and El Torito" section), so large images work too (tested with OVMF).
ISO_ESP_IMAGE = "efi.img"
MULTIBOOT2_STAGE = "halcyon-mb2.elf"
GRUB_BIOS_DIR = pathlib.Path("/usr/lib/grub/i386-pc")
# Built into GRUB's El Torito image, so the ISO needs no GRUB module directory: CD and disk
# access, the ISO and FAT file systems, loopback (to read the ESP image), the script engine
# (normal), Multiboot2, the serial console, and halt for when booting fails.
GRUB_MODULES = ["biosdisk", "iso9660", "fat", "loopback", "part_msdos", "part_gpt", "normal",
                "configfile", "echo", "test", "sleep", "multiboot2", "serial", "terminal", "halt"]


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
    """Returns config_text with `key = value` settings replaced or added.

    A plain KEY is a global one (before the first [section] header); SECTION.KEY (e.g.
    management.key) belongs in the first `[SECTION]`, which is appended when the file has none.
    An existing assignment is rewritten in place (a second one would be a duplicate-key error);
    a new one goes at the end of the global part or right after the section's header.
    """
    lines = config_text.splitlines()
    for key, value in settings:
        section, _, name = key.rpartition(".")
        headers = [i for i, line in enumerate(lines) if line.lstrip().startswith("[")]
        if section:
            header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]")
            start = next((i for i in headers if header.match(lines[i])), None)
            if start is None:
                lines += ["", f"[{section}]"]
                start = len(lines) - 1
            begin = start + 1
            end = next((i for i in headers if i > start), len(lines))
        else:
            begin, end = 0, headers[0] if headers else len(lines)
        pattern = re.compile(rf"^\s*{re.escape(name)}\s*=")
        for i in range(begin, end):
            if pattern.match(lines[i]):
                lines[i] = f"{name} = {value}"
                break
        else:
            lines.insert(begin if section else end, f"{name} = {value}")
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


def build_esp(esp_path, files, compact=False):
    """A FAT EFI system partition image with `files` under EFI/BOOT. FAT32 of at least 64 MiB
    for disks (what firmware expects of a real ESP); `compact` picks the smallest FAT12/16 that
    holds the files (an ISO's El Torito image)."""
    payload = sum(source.stat().st_size for source, _ in files)
    if compact:
        # Cluster rounding (at most 2 KiB per file at this size) and FAT metadata, whole MiB.
        size = (payload + len(files) * 4096 + 2 * MIB + MIB - 1) // MIB * MIB
        fat = []  # mkfs.fat picks FAT12 or FAT16 for the size
    else:
        # Room for FAT metadata and cluster rounding, then whole MiB.
        size = max(MIN_ESP_SIZE, (payload * 5 // 4 + 8 * MIB + MIB - 1) // MIB * MIB)
        fat = ["-F", "32"]
    if esp_path.exists():
        esp_path.unlink()
    run(["mkfs.fat", "-C", *fat, "-S", str(SECTOR), "-n", ESP_LABEL, str(esp_path),
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


def module_names(cfg_tool, config_path, added_names):
    """The files the loaders bring to the core as modules, in their order (halcyon-cfg modules:
    the same parser and the same list as both loaders). Without the tool, every file in the
    image is a module (GRUB then loads some the core does not need)."""
    if cfg_tool and os.access(cfg_tool, os.X_OK):
        result = subprocess.run([cfg_tool, "modules", str(config_path)], capture_output=True,
                                text=True)
        if result.returncode == 0:
            return [line for line in result.stdout.splitlines() if line]
        print("make-image: note: halcyon-cfg rejects this configuration, so the ISO's grub.cfg "
              "loads every file as a module", file=sys.stderr)
    return ["halcyon.cfg", "halcyon.elf", *added_names]


def grub_quote(text):
    if "'" in text or "\n" in text:
        raise ImageError(f"{text!r}: a file name GRUB cannot quote")
    return f"'{text}'"


def grub_config(modules, stored_names):
    """GRUB's script for BIOS boot: the Multiboot2 stage and one module per boot file, each
    named (its module command line) by its path in halcyon.cfg, read from the ESP image."""
    stored = {name.lower(): name for name in stored_names}
    lines = [
        "# Written by tools/make-image.py: boots Halcyon on a BIOS machine through its",
        "# Multiboot2 stage. The files are in the EFI system partition image, stored once for",
        "# both ways of booting.",
        "serial --unit=0 --speed=115200",
        "terminal_input console serial",
        "terminal_output console serial",
        f"loopback esp /{ISO_ESP_IMAGE}",
        f"echo 'Halcyon: loading {MULTIBOOT2_STAGE} and {len(modules)} modules'",
        f"multiboot2 (esp)/{BOOT_DIR}/{MULTIBOOT2_STAGE}",
    ]
    for name in modules:
        # A file missing from the image is left out here; the stage then reports it by name
        # ("cannot load a boot file"), as the UEFI loader does.
        if name.lower() not in stored:
            continue
        # --nounzip: the core gets each file's bytes as they are (GRUB would otherwise
        # decompress a gzip initrd on the way).
        lines.append(f"module2 --nounzip {grub_quote(f'(esp)/{BOOT_DIR}/{stored[name.lower()]}')}"
                     f" {grub_quote(name)}")
    lines += [
        "boot",
        "echo 'HALCYON BOOT FAILED: GRUB could not start the Multiboot2 stage (see above)'",
        "sleep 2",
        "halt",
    ]
    return "\n".join(lines) + "\n"


def build_iso(iso_path, scratch, files, stage, modules):
    for tool in ("grub-mkimage", "xorriso"):
        if not shutil.which(tool):
            raise ImageError(f"{tool} is missing (Debian packages grub-pc-bin, grub-common, "
                             "xorriso)")
    if not (GRUB_BIOS_DIR / "moddep.lst").is_file():
        raise ImageError(f"{GRUB_BIOS_DIR} is missing (Debian package grub-pc-bin)")
    root = scratch / "iso"
    (root / "boot/grub").mkdir(parents=True)
    esp_files = files + [(stage, MULTIBOOT2_STAGE)]
    esp = root / ISO_ESP_IMAGE
    build_esp(esp, esp_files, compact=True)
    (root / "boot/grub/grub.cfg").write_text(grub_config(modules, [n for _, n in files]))
    bios_image = root / "boot/grub/bios.img"
    run(["grub-mkimage", "-d", str(GRUB_BIOS_DIR), "-O", "i386-pc-eltorito", "-p", "/boot/grub",
         "-o", str(bios_image), *GRUB_MODULES])
    iso = scratch / "halcyon.iso"
    # GRUB's BIOS image as the default El Torito entry (and, via boot_hybrid.img in the MBR, for
    # USB sticks); the ESP image as the EFI entry and as a GPT/MBR partition for USB sticks.
    run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso), "-V", "HALCYON", "-r",
         "-b", "boot/grub/bios.img", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
         "--grub2-boot-info", "--grub2-mbr", str(GRUB_BIOS_DIR / "boot_hybrid.img"),
         "--efi-boot", ISO_ESP_IMAGE, "-efi-boot-part", "--efi-boot-image",
         "--protective-msdos-label", str(root)])
    iso_path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(iso, iso_path)
    return esp.stat().st_size


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
                        help="override a configuration key: a global one (on_ready=poweroff) or "
                        "one of a section (management.key=HEX)")
    parser.add_argument("--usb", type=pathlib.Path, help="GPT disk image to write")
    parser.add_argument("--pxe", type=pathlib.Path, help="TFTP root directory to write")
    parser.add_argument("--iso", type=pathlib.Path, help="hybrid BIOS/UEFI ISO image to write")
    parser.add_argument("--multiboot2", type=pathlib.Path,
                        help="halcyon-mb2.elf, the Multiboot2 stage (needed for --iso)")
    parser.add_argument("--cfg-tool", help="halcyon-cfg executable used to validate the config")
    parser.add_argument("--no-check", action="store_true",
                        help="skip validation (for tests that boot a deliberately bad config)")
    args = parser.parse_args()
    if not args.usb and not args.pxe and not args.iso:
        parser.error("nothing to do: give --usb, --pxe and/or --iso")
    if args.iso and not args.multiboot2:
        parser.error("--iso needs --multiboot2 (halcyon-mb2.elf)")

    try:
        for path in (args.loader, args.core, args.config, *([args.multiboot2] if args.iso else [])):
            if not path.is_file():
                raise ImageError(f"{path} is not a file")
        settings = []
        for setting in args.set:
            key, sep, value = setting.partition("=")
            if not sep or not re.fullmatch(r"([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*", key.strip()):
                raise ImageError(f"--set {setting}: expected KEY=VALUE or SECTION.KEY=VALUE")
            settings.append((key.strip(), value.strip()))

        output_dir = (args.usb or args.pxe or args.iso).resolve().parent
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
            if args.iso:
                modules = module_names(args.cfg_tool, config, [name for _, name in files[3:]])
                esp_size = build_iso(args.iso, scratch, files, args.multiboot2, modules)
                print(f"make-image: {args.iso} ({args.iso.stat().st_size // MIB} MiB hybrid ISO:"
                      f" UEFI from a {esp_size // MIB} MiB ESP image, BIOS through GRUB with "
                      f"{len(modules)} Multiboot2 modules)")
    except ImageError as error:
        print(f"make-image: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
