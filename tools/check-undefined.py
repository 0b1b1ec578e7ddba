#!/usr/bin/python3
"""Checks that static libraries are self-contained.

Links the given archives into one relocatable object (ld.lld -r --whole-archive, so references
between them are resolved) and lists what is still undefined with llvm-nm. Fails unless that set
is exactly the --allow list: a missing symbol means the library needs something we do not
provide; an allowed symbol that is no longer needed means the list has gone stale.
"""
import argparse
import pathlib
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nm", required=True, help="llvm-nm")
    parser.add_argument("--ld", required=True, help="ld.lld")
    parser.add_argument("--work", required=True, help="directory for the combined object")
    parser.add_argument("--allow", default="", help="comma-separated symbols allowed to stay undefined")
    parser.add_argument("archives", nargs="+")
    args = parser.parse_args()

    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    combined = work / "combined.o"
    link = [args.ld, "-r", "-o", str(combined), "--whole-archive", *args.archives]
    result = subprocess.run(link, capture_output=True, text=True)
    if result.returncode != 0:
        print("relocatable link failed:", " ".join(link), result.stdout, result.stderr, sep="\n")
        return 1

    result = subprocess.run([args.nm, "--undefined-only", "--format=just-symbols", str(combined)],
                            capture_output=True, text=True, check=True)
    undefined = {line.strip() for line in result.stdout.splitlines() if line.strip()}
    allowed = {name for name in args.allow.split(",") if name}

    unexpected = sorted(undefined - allowed)
    unused = sorted(allowed - undefined)
    print(f"{len(args.archives)} archive(s), {len(undefined)} undefined symbol(s): "
          + (", ".join(sorted(undefined)) or "none"))
    if unexpected:
        print("FAIL: undefined and not allowed:", ", ".join(unexpected))
    if unused:
        print("FAIL: allowed but no longer needed (update the list):", ", ".join(unused))
    return 1 if unexpected or unused else 0


if __name__ == "__main__":
    sys.exit(main())
