#!/usr/bin/env python3
"""Print how long validating and rendering a 100-node spec takes (target: under 0.5 s).

Usage: python bench/validate_render.py [NODES]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def spec_text(nodes: int) -> str:
    lines = [
        "apiVersion: homelab-ctl/v1alpha1", "kind: Cluster", "metadata: {name: bench}", "spec:",
        "  kubernetes: {controlPlaneEndpoint: {vip: 10.10.0.5}}", "  network: {nodeCidr: 10.10.0.0/16}",
        "  addons: {metallb: {addresses: [10.10.250.0-10.10.250.50]}, kubevirt: {}, postgresOperator: {}}",
        "  nodes:",
    ]
    for i in range(nodes):
        role = "control-plane" if i < 3 else "worker"
        lines.append(f"    - {{name: n{i}, address: 10.10.{i // 200 + 1}.{i % 200 + 10}, roles: [{role}],"
                     f" labels: {{rack: r{i % 4}}}}}")
    return "\n".join(lines) + "\n"


def main() -> None:
    nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    start = time.perf_counter()
    from homelab_ctl.render import inventory
    from homelab_ctl.spec import load

    imported = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "cluster.yaml"
        spec.write_text(spec_text(nodes))
        t0 = time.perf_counter()
        loaded = load(spec)
        t1 = time.perf_counter()
        inventory.write(inventory.files(loaded), Path(tmp) / "inventory")
        t2 = time.perf_counter()
    print(f"nodes:                 {nodes}")
    print(f"imports:               {imported - start:.3f} s")
    print(f"validate:              {t1 - t0:.3f} s")
    print(f"render + write:        {t2 - t1:.3f} s")
    print(f"validate + render:     {t2 - t0:.3f} s (target < 0.5 s)")
    print(f"with imports:          {t2 - start:.3f} s")


if __name__ == "__main__":
    main()
