"""homelab-ctl render: write the Ansible inventory for a spec."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ctl.cli.options import spec_file


@click.command("render")
@spec_file
@click.option("-o", "--output", "outdir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory to write hosts.yml and group_vars/ into.")
@click.option("--kubeadm-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where to write the kubeadm configuration of each node, for review (secrets redacted). "
                   "[default: DIR/.kubeadm, hidden so that Ansible does not read it as inventory]")
def command(spec_path: Path, outdir: Path, kubeadm_dir: Path | None) -> None:
    """Render the Ansible inventory (hosts.yml, group_vars/all/*.yml) and, for review, the kubeadm
    configuration each node will receive (from the same templates the roles use).

    The same spec always gives byte-identical files; the result works with plain
    ansible-playbook -i DIR playbooks/site.yml.
    """
    from homelab_ctl.console import err, out
    from homelab_ctl.render import inventory, kubeadm
    from homelab_ctl.spec import load

    loaded = load(spec_path)
    for warning in loaded.warnings:
        err().print(f"[yellow]warning[/yellow] {warning}", soft_wrap=True)
    contents = inventory.files(loaded)
    review = kubeadm.files(loaded)  # rendered before anything is written: a template error writes nothing
    changed = inventory.write(contents, outdir)
    review_dir = kubeadm_dir or outdir / ".kubeadm"
    inventory.write(review, review_dir)
    out().print(f"rendered {len(contents)} files into {outdir} ({len(changed)} changed)", soft_wrap=True)
    out().print(f"kubeadm configuration per node (secrets redacted): {review_dir / 'kubeadm'}", soft_wrap=True)
