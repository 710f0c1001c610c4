#!/usr/bin/env python3
"""Fails if a program on every push's path records a shared library it must
load only on demand.

The loader maps and relocates every library a program records (DT_NEEDED),
with everything those pull in, at each start; pushgate-shell and
pushgate-hook start on every push. libcurl (with its TLS, LDAP, Kerberos and
RTMP dependencies) costs each about 8 ms and serves only controller mode:
controller/http.cc loads it on the first request. libgit2 cost the hook
17 ms (10 of them parsing the CA bundle at its start-up); gitrepo/ asks git
itself instead, and it must not come back.

usage: check_push_path_libraries.py PROGRAM...
"""
import subprocess
import sys

ON_DEMAND = ("libcurl", "libgit2")


def needed(program):
    out = subprocess.run(["readelf", "-d", program], check=True, capture_output=True, text=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def main():
    failures = []
    for program in sys.argv[1:]:
        libs = needed(program)
        if not libs:
            failures.append(f"{program}: records no shared library at all; is it the program that was meant?")
        for lib in libs:
            if lib.startswith(ON_DEMAND):
                failures.append(f"{program} records {lib}, which it must load only when used")
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        return 1
    print(f"{len(sys.argv) - 1} programs record none of: {', '.join(ON_DEMAND)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
