"""The TypeScript client's guarded no-op call, against the benchmark server of this run.

`clients/node/bench/guard.mjs` times a guarded no-op (`client.guard`) and the same Allow then
Record made with the bare generated grpc-js stubs, alternating rounds (ABBA), one call in flight,
and prints the medians as JSON; this runs it (node on PATH, the package built by `make bench`)
and formats the figures. The ratio is the bare pair's time over the guarded call's: 1.0 means
the client adds nothing measurable (its Record goes out in the background, but the next Allow
on the breaker waits for it, so a run of guarded calls costs the same two round trips).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

NODE_CLIENT = Path(__file__).resolve().parents[1] / "clients" / "node"


class NodeGuard(NamedTuple):
    """Median microseconds per call: the bare Allow+Record pair, and a guarded no-op."""

    bare_us: float
    guarded_us: float
    calls: int


def measure(target: str, rounds: int, seconds: float) -> NodeGuard | str:
    """The TypeScript client's figures, or why there are none."""
    if shutil.which("node") is None:
        return "node not found"
    if not (NODE_CLIENT / "dist" / "esm" / "index.js").exists():
        return "clients/node is not built (make bench builds it)"
    done = subprocess.run(
        ["node", "bench/guard.mjs", "--target", target, "--rounds", str(rounds),
         "--round-s", str(seconds)],
        cwd=NODE_CLIENT, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        return f"guard.mjs failed: {done.stderr.strip()[-300:]}"
    figures = json.loads(done.stdout)
    return NodeGuard(figures["bare_us"], figures["guarded_us"], figures["calls"])


def lines(figures: NodeGuard | str) -> list[str]:
    """The ratio line and the detail line of the report."""
    if isinstance(figures, str):
        return [f"  node guard: skipped ({figures})"]
    return [f"  {'node guard vs bare Allow+Record':<38} "
            f"{figures.bare_us / figures.guarded_us:5.2f}x  [>= 0.9]",
            f"  node     guarded {figures.guarded_us:8.0f}   bare Allow+Record "
            f"{figures.bare_us:8.0f}   ({figures.calls} calls, median us per call)"]
