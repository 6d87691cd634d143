"""homelab-ctl mirror: build an offline mirror (packages, containerd, images, manifests)."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ctl.addons import catalog


def default_dir() -> Path:
    from homelab_ctl.lab import paths

    return paths.labs_dir().parent / "mirror"


def _echo(line: str) -> None:
    from homelab_ctl.console import out

    out().print(line, soft_wrap=True, markup=False)


@click.group("mirror")
def command() -> None:
    """Offline mirror for `up --artifacts DIR`: Kubernetes .debs, containerd, images, manifests."""


@command.command("build")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Mirror directory. [default: ~/.local/share/homelab-ctl/mirror]")
@click.option("--kubernetes", "kubernetes", default=catalog.DEFAULT_KUBERNETES_VERSION, show_default=True,
              help="Kubernetes version to build (k8s.io/kubernetes module version without the v).")
@click.option("--cache", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Build cache. [default: ~/.cache/homelab-ctl/mirror-build]")
def build_cmd(out: Path | None, kubernetes: str, cache: Path | None) -> None:
    """Build the mirror from published Go modules and Debian packages (needs Go, podman, root).

    The first build compiles Kubernetes (about an hour on 2 cores); a second run with the same
    versions builds nothing and takes seconds.
    """
    from homelab_ctl.mirror import build

    result = build.build(out or default_dir(), kubernetes, cache, echo=_echo)
    what = ", ".join(result.built) if result.built else "nothing (everything was cached)"
    _echo(f"built: {what}")
    _echo(f"mirror {result.directory}: {result.size / 2**20:.0f} MiB, {len(result.images)} images, "
          f"in {result.seconds:.0f} s")
    _echo(f"use:   homelab-ctl up -f SPEC --artifacts {result.directory}")
