"""homelab-ctl render: write the Ansible inventory for a spec."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ctl.cli.options import spec_file


@click.command("render")
@spec_file
@click.option("-o", "--output", "outdir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory to write hosts.yml and group_vars/ into.")
def command(spec_path: Path, outdir: Path) -> None:
    """Render the Ansible inventory (hosts.yml, group_vars/all/*.yml) for the spec.

    The same spec always gives byte-identical files; the result works with plain
    ansible-playbook -i DIR playbooks/site.yml.
    """
    from homelab_ctl.console import err, out
    from homelab_ctl.render import inventory
    from homelab_ctl.spec import load

    loaded = load(spec_path)
    for warning in loaded.warnings:
        err().print(f"[yellow]warning[/yellow] {warning}", soft_wrap=True)
    contents = inventory.files(loaded)
    changed = inventory.write(contents, outdir)
    out().print(f"rendered {len(contents)} files into {outdir} ({len(changed)} changed)", soft_wrap=True)
