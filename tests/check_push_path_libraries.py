#!/usr/bin/env python3
"""Fails if a program on every push's path records a shared library it must
load only on demand, or not at all.

The loader maps and relocates every library a program records (DT_NEEDED),
with everything those pull in, at each start; pushgate-shell and
pushgate-hook start on every push. libcurl (with its TLS, LDAP, Kerberos and
RTMP dependencies) cost each about 8 ms and serves only controller mode:
controller/http.cc loads it on the first request. libssh (with Kerberos)
serves only the parsing of keys, which a standalone push does not do:
sshkey/sshkey.cc loads it on the first key. libcrypto cost the hook 3 to 4
ms at each start and hashes only source archives larger than 256 KiB:
source-archive/sha256.cc loads it then. libgit2 cost the hook 17 ms (10
of them parsing the CA bundle at its start-up); gitrepo/ asks git itself.

--forbid-symbol names symbols the programs must not import: iostream's
static initialiser (std::ios_base::Init), which CLI11 brings; with CLI11's
own start-up it cost each program 1 to 2 ms here (program/flags.h).

usage: check_push_path_libraries.py --forbid LIB[,LIB...] [--forbid-symbol SYM[,SYM...]] PROGRAM...
"""
import argparse
import subprocess
import sys


def needed(program):
    out = subprocess.run(["readelf", "-d", program], check=True, capture_output=True, text=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def imported(program):
    out = subprocess.run(["nm", "-D", "--undefined-only", program], check=True, capture_output=True, text=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--forbid", required=True, help="comma-separated library name prefixes")
    parser.add_argument("--forbid-symbol", default="", help="comma-separated symbol names")
    parser.add_argument("programs", nargs="+")
    args = parser.parse_args()
    forbidden = tuple(args.forbid.split(","))
    forbidden_symbols = [s for s in args.forbid_symbol.split(",") if s]
    failures = []
    for program in args.programs:
        symbols = imported(program)
        for symbol in forbidden_symbols:
            if symbol in symbols:
                failures.append(f"{program} imports {symbol}, which a program every push starts must not")
        libs = needed(program)
        if not libs:
            failures.append(f"{program}: records no shared library at all; is it the program that was meant?")
        for lib in libs:
            if lib.startswith(forbidden):
                failures.append(f"{program} records {lib}, which it must load only when used (or not at all)")
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        return 1
    print(f"{len(args.programs)} programs record none of: {', '.join(forbidden)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
