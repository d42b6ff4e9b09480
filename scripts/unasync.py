#!/usr/bin/env python3
"""Generate the blocking client (`rescp_client/_sync`) from the asyncio one (`_async`).

The client's logic is written once, for asyncio; this script rewrites each module of
`_async` token by token (in the spirit of httpcore's scripts/unasync.py): `async def` -> `def`,
`await x` -> `x`, `AsyncClient` -> `Client`, `grpc.aio.` -> `grpc.`, `Awaitable[T]` -> `T`,
`__anext__`/`anext(`/`aclose` -> `__next__`/`next(`/`close` ...
What genuinely differs between the flavours lives in the hand-written `_backend.py` of each,
which this script never touches. Every rule must fire at least once, so no rule outlives its
use. `--check` writes nothing and exits 1 when the committed `_sync` differs from what it
would generate (CI runs it, so an edit of `_async` without a regeneration cannot land).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "clients" / "python" / "rescp_client"
SOURCE, TARGET = PACKAGE / "_async", PACKAGE / "_sync"
HAND_WRITTEN = frozenset({"_backend.py"})
HEADER = "# Generated from rescp_client/_async/{name} by scripts/unasync.py; do not edit.\n"

SUBS = [
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\banext\(", "next("),
    (r"\baclose\b", "close"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"\bcall_async\b", "call"),
    (r"\bgrpc\.aio\.", "grpc."),
    (r"\bAwaitable\[([\w.]+)\]", r"\1"),
    (r"\bAwaitable, ", ""),
]
COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in SUBS]


def unasync(text: str, used: set[int]) -> str:
    """The blocking twin of one module's text; records which rules fired in `used`."""
    for index, (pattern, replacement) in enumerate(COMPILED):
        text, count = pattern.subn(replacement, text)
        if count:
            used.add(index)
    return text


def generate() -> tuple[dict[str, str], list[str]]:
    """The generated `_sync` files by name, and the rules that never fired."""
    used: set[int] = set()
    files = {
        source.name: HEADER.format(name=source.name) + unasync(source.read_text(), used)
        for source in sorted(SOURCE.glob("*.py")) if source.name not in HAND_WRITTEN
    }
    unused = [SUBS[i][0] for i in range(len(SUBS)) if i not in used]
    return files, unused


def stale(files: dict[str, str]) -> list[str]:
    """Names of `_sync` files that differ from `files`, are missing, or are left over."""
    committed = {p.name for p in TARGET.glob("*.py")} - HAND_WRITTEN
    names = sorted(committed | set(files))
    return [name for name in names
            if name not in files or name not in committed
            or (TARGET / name).read_text() != files[name]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the committed _sync files are stale")
    args = parser.parse_args()
    files, unused = generate()
    if unused:
        print("unasync rules that never fired (remove them):", *unused, sep="\n  ")
        return 1
    names = stale(files)
    if args.check:
        for name in names:
            old = (TARGET / name).read_text().splitlines(keepends=True) \
                if (TARGET / name).exists() else []
            sys.stdout.writelines(difflib.unified_diff(
                old, files.get(name, "").splitlines(keepends=True),
                f"committed/_sync/{name}", f"generated/_sync/{name}"))
        if names:
            print("_sync is stale; run `python scripts/unasync.py`:", *names, sep="\n  ")
        return 1 if names else 0
    for name in names:
        if name in files:
            (TARGET / name).write_text(files[name])
        else:
            (TARGET / name).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
