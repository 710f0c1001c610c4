#!/usr/bin/env python3
"""docs/operations.md's troubleshooting table says what a pusher sees; every
message in its first column must be one a test sees, or the table drifts
from the code. Each message is cut at its placeholders (APP, N, myapp, ...)
and every remaining piece of some length must appear in a test source.

    check_troubleshooting.py SOURCE_DIR
"""
import pathlib
import re
import sys

PLACEHOLDER = re.compile(r"\.\.\.|\(\.\.\)|\b[A-Z]{1,4}\b|\bmyapp\b|\balice\b|\b\d[\w.]*\b")
MIN_PIECE = 12
# Rows whose words are not pushgate's: nothing of ours prints them.
NOT_OURS = {
    "User git not allowed because account is locked",  # sshd's own log line
}


def table_messages(operations):
    rows = []
    in_table = False
    for line in operations.splitlines():
        if line.startswith("## "):
            in_table = line.strip() == "## Troubleshooting"
            continue
        if in_table and line.startswith("| `"):
            first_cell = line.split(" | ")[0]
            rows.extend(re.findall(r"`([^`]+)`", first_cell))
    return rows


def main():
    root = pathlib.Path(sys.argv[1])
    messages = table_messages((root / "docs/operations.md").read_text())
    if len(messages) < 10:
        print(f"check_troubleshooting: found only {len(messages)} messages; did the table move?")
        return 1
    tests = [p for p in root.rglob("*.cc") if p.name.endswith("_test.cc") and "build" not in p.parts]
    corpus = "\n".join(p.read_text(errors="replace") for p in tests)
    missing = []
    for message in messages:
        if message in NOT_OURS:
            continue
        pieces = [piece.strip(" ,;:()[]") for piece in PLACEHOLDER.split(message)]
        for piece in pieces:
            if len(piece) >= MIN_PIECE and piece not in corpus:
                missing.append(f"{message!r}: no test sees {piece!r}")
    for problem in missing:
        print("check_troubleshooting:", problem)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
