"""homelab-ctl kubeconfig: merge the cluster's admin kubeconfig into ~/.kube/config."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ctl.cli.options import spec_file


@click.command("kubeconfig")
@spec_file
@click.option("--kubeconfig", "target", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The kubeconfig to merge into.  [default: ~/.kube/config]")
@click.option("--switch/--no-switch", default=True, show_default=True,
              help="Make the cluster's context the current one.")
def command(spec_path: Path, target: Path | None, switch: bool) -> None:
    """Merge the cluster's admin credentials into your kubeconfig.

    Cluster, user and context are named after the cluster (metadata.name); the server is the
    control-plane endpoint. Entries for other clusters are kept; the file is written with mode 0600.
    """
    from homelab_ctl.console import out
    from homelab_ctl.kube.kubeconfig import merge_admin_kubeconfig
    from homelab_ctl.spec import load

    merged = merge_admin_kubeconfig(load(spec_path), target, set_current=switch)
    verb = "updated" if merged.replaced else "added"
    current = "; it is the current context" if merged.current else ""
    out().print(f"{verb} context {merged.context} (server {merged.server}) in {merged.path}{current}",
                soft_wrap=True, markup=False, highlight=False)
