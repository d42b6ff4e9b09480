#!/usr/bin/env python3
"""Generate the Python protobuf modules for the server and the client from protos/.

One script, two destinations: the server (`rescp/_proto`) and the standalone client
(`clients/python/rescp_client/_proto`) each carry their own copy, so the client installs without
the server. protoc writes `from rescp.v1 import x_pb2`; that import is rewritten to the
destination package. `--check` regenerates into a temporary folder and fails when the committed
files differ (CI runs it, so a proto edit without `make proto` cannot land).
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
TARGETS = {
    ROOT / "rescp" / "_proto": "rescp._proto",
    ROOT / "clients" / "python" / "rescp_client" / "_proto": "rescp_client._proto",
}
HEADER = '"""Generated from protos/rescp/v1 by scripts/gen_proto.py; do not edit."""\n'


def generate(into: Path) -> None:
    """Run protoc once into `into`/raw, then write one rewritten copy per target package."""
    raw = into / "raw"
    raw.mkdir(parents=True)
    protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}",
           f"--python_out={raw}", f"--pyi_out={raw}", *protos]
    subprocess.run(cmd, check=True, cwd=PROTOS)
    for package in TARGETS.values():
        out = into / package
        out.mkdir()
        (out / "__init__.py").write_text(HEADER)
        for source in sorted((raw / "rescp" / "v1").iterdir()):
            text = re.sub(r"^from rescp\.v1 import", f"from {package} import",
                          source.read_text(), flags=re.M)
            (out / source.name).write_text(text)


def differs(fresh: Path, committed: Path) -> list[str]:
    """Names of generated files that are missing, extra or different in `committed`."""
    def names(folder: Path) -> set[str]:
        return {p.name for p in folder.glob("*.py*")} if folder.exists() else set()

    return sorted(n for n in names(fresh) | names(committed)
                  if not (fresh / n).exists() or not (committed / n).exists()
                  or not filecmp.cmp(fresh / n, committed / n, shallow=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="fail if the committed files are stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = []
        for target, package in TARGETS.items():
            fresh = Path(tmp) / package
            if args.check:
                stale += [f"{target.relative_to(ROOT)}/{n}" for n in differs(fresh, target)]
            else:
                if target.exists():
                    shutil.rmtree(target)
                shutil.copytree(fresh, target)
    if stale:
        print("generated code is stale; run `make proto`:", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
