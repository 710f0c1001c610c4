#!/usr/bin/env python3
"""The keys helper's hit path stays lean, checked against what the build
really compiles and links, not against a list of files.

Fails if pushgate-keys could load libcurl, libgit2, libssh or the other heavy
libraries, contains their code, or runs iostream's static initializer; and if
any object linked into it (its own, and those of every library it links, as
ninja records them) was compiled from a file that includes their headers.

usage: check_keys_lean.py BUILD_DIR TARGET_PATH   (TARGET_PATH as ninja names it)
"""
import os
import re
import subprocess
import sys

HEAVY_HEADER = re.compile(r"/(curl|git2|libssh|openssl)/|/(archive|archive_entry|git2)\.h$|/c\+\+/[^/]+/iostream$")
ALLOWED_LIBRARIES = re.compile(
    r"^(linux-vdso\.so|/lib64/ld-linux|libc\.so|libm\.so|libstdc\+\+\.so|libgcc_s\.so|liblmdb\.so|"
    r"libasan\.so|libubsan\.so|libdl\.so|libpthread\.so|librt\.so)")
HEAVY_SYMBOL = re.compile(r" [TtWw] (curl_|git_libgit2|git_repository_|ssh_pki_|ssh_new|archive_write|EVP_)")


def ninja(build_dir, *args):
    return subprocess.run(["ninja", "-C", build_dir, *args], check=True, capture_output=True, text=True).stdout


def inputs(build_dir, target):
    """The explicit and implicit inputs of `target` (objects and archives)."""
    found = []
    in_inputs = False
    for line in ninja(build_dir, "-t", "query", target).splitlines():
        if line.startswith("  input:"):
            in_inputs = True
        elif line.startswith("  outputs:"):
            in_inputs = False
        elif in_inputs:
            item = line.strip()
            if item.startswith("||"):
                continue  # order-only: built first, not linked
            found.append(item.lstrip("| ").strip())
    return found


def linked_objects(build_dir, target):
    """Every object file the link of `target` takes, through our archives."""
    objects, seen = [], set()
    pending = [target]
    while pending:
        item = pending.pop()
        if item in seen:
            continue
        seen.add(item)
        if item.endswith(".o"):
            objects.append(item)
        elif item == target or (item.endswith(".a") and not os.path.isabs(item)):
            pending.extend(inputs(build_dir, item))
    return objects


def main():
    build_dir, target = sys.argv[1], sys.argv[2]
    binary = os.path.join(build_dir, target)
    name = os.path.basename(target)
    problems = []

    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if ldd.returncode == 0:
        # Dynamic (sanitizer builds): only the C/C++ runtime, LMDB and the sanitizer runtimes.
        for line in ldd.stdout.splitlines():
            library = line.split()[0] if line.split() else ""
            if library and not ALLOWED_LIBRARIES.match(library):
                problems.append(name + " loads " + library)
    else:
        print(name + " is statically linked")

    symbols = subprocess.run(["nm", binary], capture_output=True, text=True).stdout
    if any(HEAVY_SYMBOL.search(line) for line in symbols.splitlines()):
        problems.append(name + " contains libcurl/libgit2/libssh/libarchive/libcrypto code")
    demangled = subprocess.run(["nm", "-C", binary], capture_output=True, text=True).stdout
    if "ios_base::Init::Init" in demangled:
        problems.append(name + " runs iostream's static initializer")

    objects = linked_objects(build_dir, target)
    if not objects:
        problems.append("found no objects for " + target + ": is this a ninja build directory?")
    for obj in objects:
        deps = ninja(build_dir, "-t", "deps", obj).splitlines()
        source = deps[1].strip() if len(deps) > 1 else obj
        for header in (d.strip() for d in deps[1:]):
            if HEAVY_HEADER.search(header):
                problems.append(f"{source} (linked into {name}) includes {header}")
    print(f"checked {len(objects)} objects linked into {target}")

    for p in problems:
        print(p)
    if problems:
        return 1
    print(name + " is lean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
