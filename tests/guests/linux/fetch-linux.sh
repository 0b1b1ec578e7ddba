#!/usr/bin/env bash
# Test assets for Linux guests: Debian 12's stock kernel and a busybox initramfs.
#
#   tests/guests/linux/fetch-linux.sh OUTDIR [DISKTEST]
#
# writes OUTDIR/vmlinuz (the bzImage of the kernel package linux-image-amd64 depends on) and
# OUTDIR/initramfs.cpio.gz: busybox-static, tests/guests/linux/init, the kernel modules named in
# tests/guests/linux/modules.txt with their dependencies (kernel_modules.py, from the same kernel
# package), the test scripts of tests/guests/linux/scripts/ as /tests/ and, when given, the static
# program DISKTEST as /bin/halcyon-disktest, and the KVP daemon hv_kvp_daemon (Debian's
# hyperv-daemons built from the same kernel source, with the dynamic loader and libc.so.6 of
# libc6 it needs; scripts/common.sh starts it). Only apt talks to the network (the Debian mirror of
# this machine's sources.list): the .deb files are fetched with `apt-get download` into a cache
# next to the Debian source packages of cmake/Deps.cmake (.deps/debs/, override with
# HALCYON_DEPS_DEBS) and reused from there, so a second run works offline and always yields the
# same kernel. HALCYON_LINUX_REFRESH=1 asks apt again for the newest kernel package. Every .deb,
# downloaded or cached, is checked against the SHA-256 apt's signed index lists for its version
# (apt-get download checks a fresh download the same way); a version apt no longer lists (an
# older security update) is used unchecked with a warning.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../../.." && pwd)"
cache="${HALCYON_DEPS_DEBS:-$repo_root/.deps/debs}"

die() {
    echo "fetch-linux.sh: $*" >&2
    exit 1
}

[[ $# -eq 1 || $# -eq 2 ]] || die "usage: fetch-linux.sh OUTDIR [DISKTEST]"
outdir="$1" disktest="${2:-}"
[[ -z "$disktest" || -x "$disktest" ]] || die "$disktest is not an executable"
for tool in apt-get apt-cache dpkg-deb tar python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian packages apt, dpkg, tar, python3)"
done
mkdir -p "$cache" "$outdir"

# The newest cached .deb whose package name matches the glob, or nothing.
cached_deb() {
    local glob="$1"
    find "$cache" -maxdepth 1 -name "${glob}_*_amd64.deb" | sort -V | tail -n 1
}

# Downloads PACKAGE into the cache unless a .deb of it is there already; prints its path.
fetch_deb() {
    local package="$1" deb
    deb="$(cached_deb "$package")"
    if [[ -z "$deb" ]]; then
        echo "fetch-linux.sh: apt-get download $package -> $cache" >&2
        # Sandbox user root: apt's _apt user may not be able to write into the work tree.
        local sandbox=()
        [[ $(id -u) -eq 0 ]] && sandbox=(-o APT::Sandbox::User=root)
        (cd "$cache" && apt-get download -qq "${sandbox[@]}" "$package" </dev/null) ||
            die "apt-get download $package failed (run 'apt-get update'?)"
        deb="$(cached_deb "$package")"
        [[ -n "$deb" ]] || die "apt-get download $package left no .deb in $cache"
    fi
    echo "$deb"
}

# Downloads PACKAGE at exactly VERSION into the cache unless it is there already; prints its path,
# or nothing when apt does not offer that version (any more).
fetch_deb_version() {
    local package="$1" version="$2" deb
    deb="$cache/${package}_${version//:/%3a}_amd64.deb"
    if [[ ! -f "$deb" ]]; then
        apt-cache show "$package=$version" >/dev/null 2>&1 || return 0
        echo "fetch-linux.sh: apt-get download $package=$version -> $cache" >&2
        local sandbox=()
        [[ $(id -u) -eq 0 ]] && sandbox=(-o APT::Sandbox::User=root)
        (cd "$cache" && apt-get download -qq "${sandbox[@]}" "$package=$version" </dev/null) ||
            die "apt-get download $package=$version failed"
        [[ -f "$deb" ]] || die "apt-get download $package=$version left no $deb"
    fi
    echo "$deb"
}

# Checks DEB against the SHA256 field apt's index gives for its package and version.
verify_deb() {
    local deb="$1" package version expected actual
    package="$(dpkg-deb -f "$deb" Package)" || die "$deb is not a .deb"
    version="$(dpkg-deb -f "$deb" Version)"
    expected="$(apt-cache show "$package=$version" 2>/dev/null | sed -n 's/^SHA256: //p' |
        sort -u)"
    if [[ -z "$expected" ]]; then
        echo "fetch-linux.sh: warning: apt does not list $package $version: $(basename "$deb")" \
            "is used without a checksum check" >&2
        return 0
    fi
    actual="$(sha256sum "$deb" | cut -d ' ' -f 1)"
    [[ "$expected" == *"$actual"* ]] ||
        die "$deb: SHA-256 $actual, apt's index says $expected (delete it to download it again)"
}

# The kernel: the package linux-image-amd64 depends on (linux-image-<abi>-amd64). A cached one
# wins unless a refresh is asked for, so the kernel under test only changes on purpose.
kernel_deb="$(cached_deb 'linux-image-[0-9]*-amd64')"
if [[ -z "$kernel_deb" || "${HALCYON_LINUX_REFRESH:-0}" == 1 ]]; then
    kernel_package="$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)"
    [[ -n "$kernel_package" ]] ||
        die "apt does not know linux-image-amd64's kernel package (run 'apt-get update')"
    kernel_deb="$(fetch_deb "$kernel_package")"
fi
busybox_deb="$(fetch_deb busybox-static)"
# hv_kvp_daemon talks to the kernel's hv_utils through /dev/vmbus/hv_kvp: take it from the
# hyperv-daemons package of the kernel's own version (both are built from Debian's linux source),
# or the newest one apt offers when that version is gone from the index.
kernel_version="$(dpkg-deb -f "$kernel_deb" Version)"
daemons_deb="$(fetch_deb_version hyperv-daemons "$kernel_version")"
if [[ -z "$daemons_deb" ]]; then
    echo "fetch-linux.sh: warning: no hyperv-daemons $kernel_version; taking the newest" >&2
    daemons_deb="$(fetch_deb hyperv-daemons)"
fi
libc_deb="$(fetch_deb libc6)"
for deb in "$kernel_deb" "$busybox_deb" "$daemons_deb" "$libc_deb"; do
    verify_deb "$deb"
done

# Extracts one member of a .deb's data archive to a file (the kernel package is large: only the
# one member is written, nothing else is unpacked to disk).
extract_member() {
    local deb="$1" pattern="$2" output="$3"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards "$pattern" >"$output.tmp" ||
        die "no $pattern in $deb"
    [[ -s "$output.tmp" ]] || die "$pattern in $deb is empty"
    mv "$output.tmp" "$output"
}

extract_member "$kernel_deb" './boot/vmlinuz-*' "$outdir/vmlinuz"
extract_member "$busybox_deb" './bin/busybox' "$outdir/busybox"
tree="$outdir/initramfs-tree"
python3 "$script_dir/kernel_modules.py" --deb "$kernel_deb" --list "$script_dir/modules.txt" \
    --out "$tree"
mkdir -p "$tree/tests"
cp "$script_dir"/scripts/*.sh "$tree/tests/"
# The KVP daemon (dynamically linked: it needs only libc.so.6 and the loader its PT_INTERP names,
# /lib64/ld-linux-x86-64.so.2; the loader finds libc in /lib/x86_64-linux-gnu without a cache).
# Its helper scripts (hv_get_dhcp_info, hv_get_dns_info: bash, for GET_IP_INFO) are left out:
# Halcyon never asks for per-adapter IP information.
mkdir -p "$tree/usr/sbin" "$tree/lib64" "$tree/lib/x86_64-linux-gnu"
extract_member "$daemons_deb" './usr/sbin/hv_kvp_daemon' "$tree/usr/sbin/hv_kvp_daemon"
extract_member "$libc_deb" './lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' \
    "$tree/lib64/ld-linux-x86-64.so.2"
extract_member "$libc_deb" './lib/x86_64-linux-gnu/libc.so.6' "$tree/lib/x86_64-linux-gnu/libc.so.6"
chmod 755 "$tree/usr/sbin/hv_kvp_daemon" "$tree/lib64/ld-linux-x86-64.so.2" \
    "$tree/lib/x86_64-linux-gnu/libc.so.6"
if [[ -n "$disktest" ]]; then
    mkdir -p "$tree/bin"
    cp "$disktest" "$tree/bin/halcyon-disktest"
    chmod 755 "$tree/bin/halcyon-disktest"
fi
python3 "$script_dir/mkinitramfs.py" --busybox "$outdir/busybox" --init "$script_dir/init" \
    --tree "$tree" --output "$outdir/initramfs.cpio.gz"
rm -rf "$outdir/busybox" "$tree"
echo "fetch-linux.sh: $(basename "$kernel_deb") -> $outdir/vmlinuz" >&2
echo "fetch-linux.sh: $(basename "$busybox_deb") $(basename "$daemons_deb")" \
    "$(basename "$libc_deb") -> $outdir/initramfs.cpio.gz" >&2
