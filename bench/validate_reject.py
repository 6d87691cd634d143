#!/usr/bin/env python3
"""Print how long validate takes to reject hostile specs (target: each well under 1 s) and to accept
the 100-node spec (target: under 0.5 s). Times are of load() as `homelab-ctl validate` runs it,
after imports; each is the best of 3.

Usage: python bench/validate_reject.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, also when run from elsewhere

from bench.validate_render import spec_text


def cases(nodes: Callable[[int], str]) -> dict[str, bytes]:
    from homelab_ctl.spec.yamlfile import MAX_BYTES

    node = "    - {name: n0, address: 10.10.1.10, roles: [worker]}\n"
    head = nodes(3).encode()
    return {
        "10 MB spec (50,000+ nodes)": head + node.encode() * (10_000_000 // len(node)),
        "spec just under the size cap": head + b"#" * (MAX_BYTES - len(head) - 1) + b"\n",
        "list items under the size cap": head + b"    - x\n" * ((MAX_BYTES - len(head)) // 8),
        "1,600 nodes (just under the value cap)": nodes(1600).encode(),
        "deep nesting (100,000 levels)": b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
        "billion laughs (10^9 by aliases)": "\n".join(
            ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
            + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]).encode(),
        "binary (10 MB of zeros)": b"\0" * 10_000_000,
        "100-node spec (valid)": nodes(100).encode(),
    }


def best_of(runs: int, path: Path) -> tuple[float, str]:
    from homelab_ctl.errors import SpecError
    from homelab_ctl.spec import load

    best, outcome = float("inf"), ""
    for _ in range(runs):
        start = time.perf_counter()
        try:
            load(path, check_files=True)
            outcome = "valid"
        except SpecError as exc:
            outcome = f"rejected: {exc.problems[0][:70]}"
        best = min(best, time.perf_counter() - start)
    return best, outcome


def main() -> None:
    started = time.perf_counter()
    import homelab_ctl.spec  # noqa: F401 -- imports are not part of the numbers

    print(f"imports: {time.perf_counter() - started:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in cases(spec_text).items():
            path = Path(tmp) / "cluster.yaml"
            path.write_bytes(data)
            seconds, outcome = best_of(3, path)
            print(f"{name:<40} {len(data) / 1e6:7.2f} MB  {seconds:7.3f} s  {outcome}")
    print("targets: rejects well under 1 s; the 100-node spec under 0.5 s")


if __name__ == "__main__":
    main()
