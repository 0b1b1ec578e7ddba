#!/usr/bin/env python3
"""Picks kernel modules for the Halcyon Linux test guest's initramfs out of Debian's kernel package.

    kernel_modules.py --deb linux-image-<abi>-amd64_<version>_amd64.deb --list modules.txt --out DIR

The list (modules.txt) names module GROUPs and their modules; DIR receives, under
lib/modules/<kernel release>/, every listed module plus everything it needs (a file tree for
mkinitramfs.py --tree):

    kernel/<path>.ko        the package's files, unchanged (still signed: no taint on insmod)
    modules.dep             the dependencies in depmod's format, for busybox modprobe
    halcyon-<GROUP>.load    "NAME PATH" lines in load order: each module after its dependencies

Debian's package ships no modules.dep (its postinst runs depmod), so the dependencies come from
each module's own .modinfo section: the "depends=" field modpost writes from the symbols the
module imports - what depmod would derive. Soft dependencies ("softdep=pre: NAME", e.g. ext4's
crc32c, which it cannot mount without) name a module or an alias; there is no modprobe in the
guest to pick a provider, so modules.txt must list one, and it is then loaded first. The package is read twice as a stream (dpkg-deb
--fsys-tarfile): first every module's .modinfo, then the chosen modules' bytes, so nothing but the
chosen files is ever written. Standard library only; the output is deterministic."""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tarfile

MODULES_PREFIX = "./lib/modules/"


def fail(message):
    sys.exit(f"kernel_modules.py: {message}")


def modinfo(elf, path):
    """The key=value strings of an ELF64 module's .modinfo section."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        fail(f"{path} is not a little-endian ELF64 file")
    section_offset, = struct.unpack_from("<Q", elf, 0x28)
    entry_size, count, names_index = struct.unpack_from("<HHH", elf, 0x3A)

    def section(index):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size
        fields = struct.unpack_from("<IIQQQQ", elf, section_offset + index * entry_size)
        return fields[0], fields[4], fields[5]

    _, names_offset, names_size = section(names_index)
    names = elf[names_offset:names_offset + names_size]
    for index in range(count):
        name_offset, offset, size = section(index)
        if names[name_offset:names.index(b"\0", name_offset)] == b".modinfo":
            info = {}
            for entry in elf[offset:offset + size].split(b"\0"):
                key, sep, value = entry.decode("utf-8", "replace").partition("=")
                if sep:
                    info.setdefault(key, []).append(value)
            return info
    fail(f"{path} has no .modinfo section")


def normalize(name):
    # Module names use '_' where file names (and "depends=") may use '-' (crc-t10dif).
    return name.replace("-", "_")


def kernel_members(deb):
    """Yields (tarinfo, tar) for the package's files, streaming `dpkg-deb --fsys-tarfile`."""
    process = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=process.stdout, mode="r|") as tar:
            for member in tar:
                yield member, tar
    finally:
        process.stdout.close()
        if process.wait() != 0:
            fail(f"dpkg-deb --fsys-tarfile {deb} failed")


class Module:
    def __init__(self, path, info):
        self.path = path  # relative to lib/modules/<release>/
        self.depends = [normalize(d) for d in info.get("depends", "").split(",") if d]
        self.aliases = set(info.get("alias", []))
        # "pre: a b post: c": only "pre" matters (modules to load before this one).
        self.soft_pre, pre = [], False
        for word in " ".join(info.get("softdep", [])).split():
            if word.endswith(":"):
                pre = word == "pre:"
            elif pre:
                self.soft_pre.append(word)


def scan(deb):
    """Every module of the package as {name: Module}, the kernel release, the built-ins."""
    modules, release, builtin = {}, None, set()
    for member, tar in kernel_members(deb):
        if not member.name.startswith(MODULES_PREFIX) or not member.isfile():
            continue
        parts = member.name[len(MODULES_PREFIX):].split("/")
        if release is None:
            release = parts[0]
        if parts[1:] == ["modules.builtin"]:
            text = tar.extractfile(member).read().decode()
            builtin = {normalize(os.path.basename(line)[:-3]) for line in text.split()}
        elif member.name.endswith(".ko"):
            info = modinfo(tar.extractfile(member).read(), member.name)
            for key in ("name", "depends"):
                info[key] = info.get(key, [""])[0]
            name = normalize(info["name"] or os.path.basename(member.name)[:-3])
            modules[name] = Module("/".join(parts[1:]), info)
    if release is None or not modules:
        fail(f"{deb} holds no kernel modules")
    return modules, release, builtin


def read_list(path):
    """[(group, module)] from the list file: "GROUP MODULE" lines, '#' comments."""
    entries = []
    with open(path) as lines:
        for number, line in enumerate(lines, 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) != 2:
                fail(f"{path}:{number}: expected 'GROUP MODULE'")
            entries.append((words[0], normalize(words[1])))
    return entries


def closure(roots, modules):
    """The roots and everything they depend on (hard dependencies)."""
    chosen, pending = set(), list(roots)
    while pending:
        name = pending.pop()
        if name in chosen:
            continue
        if name not in modules:
            fail(f"module {name} is not in the kernel package")
        chosen.add(name)
        pending += modules[name].depends
    return chosen


def edges(chosen, modules):
    """{name: modules to load before it}: its dependencies, then the chosen providers of its soft
    dependencies (a module of that name, or with that alias)."""
    before = {}
    for name in chosen:
        module = modules[name]
        before[name] = list(module.depends)
        for wanted in module.soft_pre:
            providers = sorted(n for n in chosen
                               if n == normalize(wanted) or wanted in modules[n].aliases)
            if not providers:
                fail(f"{name} wants '{wanted}' loaded first (softdep): add a module that "
                     "provides it to the list")
            before[name] += [p for p in providers if p != name]
    return before


def load_order(roots, before):
    """The roots and what they need, each module after everything in before[module]."""
    order, state = [], {}

    def visit(name, chain):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            fail("dependency cycle: " + " -> ".join(chain + [name]))
        state[name] = "visiting"
        for dependency in before[name]:
            visit(dependency, chain + [name])
        state[name] = "done"
        order.append(name)

    for root in roots:
        visit(root, [])
    return order


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb", required=True, help="the linux-image-*-amd64 package")
    parser.add_argument("--list", required=True, help="GROUP MODULE lines (modules.txt)")
    parser.add_argument("--out", required=True, help="directory for the file tree (replaced)")
    args = parser.parse_args()

    entries = read_list(args.list)
    modules, release, builtin = scan(args.deb)
    groups = {}
    for group, module in entries:
        if module in builtin:
            fail(f"{module} is built into this kernel: drop it from {args.list}")
        groups.setdefault(group, []).append(module)
    chosen = closure([module for _, module in entries], modules)
    before = edges(chosen, modules)
    orders = {group: load_order(roots, before) for group, roots in groups.items()}
    wanted = {modules[name].path: name for name in chosen}

    root = os.path.join(args.out, "lib", "modules", release)
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(root)
    for member, tar in kernel_members(args.deb):
        relative = member.name[len(MODULES_PREFIX) + len(release) + 1:]
        if member.name.startswith(MODULES_PREFIX + release + "/") and relative in wanted:
            target = os.path.join(root, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as out:
                out.write(tar.extractfile(member).read())
            del wanted[relative]
    if wanted:
        fail("not extracted: " + ", ".join(sorted(wanted)))

    # depmod's format: a module's dependencies, all of them, the ones to load first last.
    with open(os.path.join(root, "modules.dep"), "w") as dep:
        for name in sorted(chosen, key=lambda n: modules[n].path):
            needed = sorted(n for n in closure([name], modules) if n != name)
            needed = load_order(needed, {n: modules[n].depends for n in chosen})
            paths = " ".join(modules[n].path for n in reversed(needed))
            dep.write(f"{modules[name].path}: {paths}".rstrip() + "\n")
    for group, order in orders.items():
        with open(os.path.join(root, f"halcyon-{group}.load"), "w") as load:
            for name in order:
                load.write(f"{name} {modules[name].path}\n")
    total = sum(os.path.getsize(os.path.join(root, modules[n].path)) for n in chosen)
    print(f"kernel_modules.py: {len(chosen)} modules of {release} ({total // 1024} KiB): "
          + "; ".join(f"{group}: {' '.join(order)}" for group, order in orders.items()),
          file=sys.stderr)


if __name__ == "__main__":
    main()
