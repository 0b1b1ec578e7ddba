#!/usr/bin/python3
"""tools/make-datastore.py against independent tools (CTest label interop):

  make_datastore_test.py EXFAT_TOOL

For each layout (GPT partition, whole device) and formatter (our exfat-tool, exfatprogs'
mkfs.exfat): the image is made from a file and a directory tree; sgdisk --verify accepts the GPT,
fsck.exfat -n (exfatprogs) finds the volume clean and labelled HALCYON-DS, and every file reads
back byte for byte (exfat-tool get). Prints "N passed, N failed". Needs sgdisk (gdisk) and
exfatprogs.
"""
import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[3]
MIB = 1 << 20


def run(command, check=True):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))}: {result.returncode}\n"
                             f"{result.stdout}{result.stderr}")
    return result


def case(exfat_tool, work, layout, mkfs):
    source = work / "source"
    (source / "tree" / "sub").mkdir(parents=True, exist_ok=True)
    blob = os.urandom(3 * MIB + 123)
    (source / "disk.vhdx").write_bytes(blob)
    (source / "tree" / "a.txt").write_text("alpha\n")
    (source / "tree" / "sub" / "b.bin").write_bytes(os.urandom(70000))
    image = work / f"{layout}-{'mkfs' if mkfs else 'ours'}.img"
    command = [sys.executable, ROOT / "tools/make-datastore.py", "--exfat-tool", exfat_tool, image,
               f"{source / 'disk.vhdx'}=/vms/web/disk.vhdx", f"{source / 'tree'}=/data",
               "--size", "80M", "--layout", layout]
    if mkfs:
        command.append("--mkfs")
    run(command)
    where = []
    volume = image
    if layout == "gpt":
        run(["sgdisk", "--verify", image])
        info = run(["sgdisk", "-i", "1", image]).stdout
        assert "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" in info, info
        where = ["--offset", str(MIB), "--length", str(78 * MIB)]
        volume = work / "volume.img"
        with open(image, "rb") as src, open(volume, "wb") as dst:
            src.seek(MIB)
            dst.write(src.read(78 * MIB))
    fsck = run(["fsck.exfat", "-n", volume], check=False)
    assert fsck.returncode == 0 and "clean" in fsck.stdout, fsck.stdout + fsck.stderr
    label = run(["exfatlabel", volume], check=False)
    if label.returncode == 0:
        assert "HALCYON-DS" in label.stdout + label.stderr, label.stdout + label.stderr
    for path, expected in [("/vms/web/disk.vhdx", blob),
                           ("/data/a.txt", b"alpha\n"),
                           ("/data/sub/b.bin", (source / "tree" / "sub" / "b.bin").read_bytes())]:
        got = subprocess.run([str(exfat_tool), *where, "get", str(image), path, "-"],
                             capture_output=True, check=True).stdout
        assert hashlib.sha256(got).digest() == hashlib.sha256(expected).digest(), path


def main():
    exfat_tool = pathlib.Path(sys.argv[1])
    passed = failed = 0
    with tempfile.TemporaryDirectory() as temp:
        for layout in ("gpt", "whole"):
            for mkfs in (False, True):
                name = f"{layout} layout, {'mkfs.exfat' if mkfs else 'exfat-tool'}"
                work = pathlib.Path(temp) / f"{layout}-{mkfs}"
                work.mkdir()
                try:
                    case(exfat_tool, work, layout, mkfs)
                    print(f"PASS: {name}")
                    passed += 1
                except AssertionError as error:
                    print(f"FAIL: {name}: {error}")
                    failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
