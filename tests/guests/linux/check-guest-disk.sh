#!/usr/bin/env bash
# Host-side check of a disk image the Linux test guest wrote (scripts/storage.sh): the image is
# consistent for qemu-img, its ext2 file system for e2fsck, the files hold exactly the bytes their
# seeds give, and the random-I/O region holds what the workload left.
#   check-guest-disk.sh DISKTEST IMAGE [FORMAT]
# DISKTEST is the (static, host-runnable) halcyon-disktest; FORMAT is qemu-img's (default vhdx).
# Needs qemu-img (qemu-utils) and e2fsck/debugfs (e2fsprogs).
set -euo pipefail
disktest="$1" image="$2" format="${3:-vhdx}"
for tool in qemu-img e2fsck debugfs; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
raw="$(mktemp "${TMPDIR:-/tmp}/guest-disk.XXXXXX.raw")"
trap 'rm -f "$raw"' EXIT
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

if qemu-img check -f "$format" "$image"; then
    echo "ok: qemu-img check"
else
    fail "qemu-img check $image"
fi
qemu-img convert -f "$format" -O raw "$image" "$raw"
# The file system covers the first 64 MiB (storage.sh); e2fsck checks just that part.
if e2fsck_output="$(e2fsck -f -n "$raw" 2>&1)"; then
    echo "ok: e2fsck -f -n: $(tail -n 1 <<<"$e2fsck_output")"
else
    echo "$e2fsck_output"
    fail "e2fsck found problems"
fi

# The files and their seeds, as storage.sh's test_files writes them.
while read -r name seed bytes; do
    expected="$("$disktest" fill "$seed" "$bytes" | sha256sum | cut -d' ' -f1)"
    got="$(debugfs -R "cat /$name" "$raw" 2>/dev/null | sha256sum | cut -d' ' -f1)"
    if [[ "$got" == "$expected" ]]; then
        echo "ok: $name $got"
    else
        fail "$name reads as $got on the host, expected $expected"
    fi
done < <(printf '%s\n' "small.bin 1 4096" "medium.bin 2 1048576" "large.bin 3 8388608")

read -r offset size ops jobs seed < <(debugfs -R "cat /IO-PARAMETERS" "$raw" 2>/dev/null) ||
    fail "no IO-PARAMETERS in the file system"
if [[ -n "${seed:-}" ]]; then
    result="$("$disktest" random-verify "$raw" "$offset" "$size" "$ops" "$jobs" "$seed")" || true
    case "$result" in
    *" OK "*) echo "ok: $result" ;;
    *) fail "$result" ;;
    esac
fi
[[ $failures -eq 0 ]] || { echo "$failures check(s) failed"; exit 1; }
echo "the guest's data is intact on the host"
