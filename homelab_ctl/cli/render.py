"""homelab-ctl render: write the Ansible inventory for a spec."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ctl.cli.options import spec_file


@click.command("render")
@spec_file
@click.option("-o", "--output", "outdir", type=click.Path(path_type=Path), required=True,
              help="Directory to write hosts.yml and group_vars/ into; replaced whole on every render.")
@click.option("--kubeadm-dir", type=click.Path(path_type=Path), default=None,
              help="Where to write the kubeadm configuration of each node, for review (secrets redacted). "
                   "[default: DIR/.kubeadm, hidden so that Ansible does not read it as inventory]")
@click.option("--force", is_flag=True,
              help="Replace an output directory that render did not write (its files are deleted).")
def command(spec_path: Path, outdir: Path, kubeadm_dir: Path | None, force: bool) -> None:
    """Render the Ansible inventory (hosts.yml, group_vars/all/*.yml) and, for review, the kubeadm
    configuration each node will receive (from the same templates the roles use).

    The same spec always gives byte-identical files; the result works with plain
    ansible-playbook -i DIR playbooks/site.yml. DIR is render's own: it is replaced whole (no stale
    file survives), and a directory render did not write is refused unless --force.
    """
    from homelab_ctl.cli.output import closed_pipe_ok, print_warnings
    from homelab_ctl.console import out
    from homelab_ctl.errors import UsageError
    from homelab_ctl.render import inventory, kubeadm, output
    from homelab_ctl.spec import load
    from homelab_ctl.spec.show import path as show_path

    loaded = load(spec_path, check_files=True)
    print_warnings(loaded)
    contents = inventory.files(loaded)
    review = kubeadm.files(loaded)  # rendered before anything is written: a template error writes nothing
    target = output.check(outdir, "-o", force=force, keep=(spec_path,))
    review_target = None
    if kubeadm_dir is None:
        contents.update({f".kubeadm/{rel}": text for rel, text in review.items()})
    else:
        review_target = output.check(kubeadm_dir, "--kubeadm-dir", force=force, keep=(spec_path,))
        if review_target.is_relative_to(target):
            inside = review_target.relative_to(target)
            contents.update({str(inside / rel): text for rel, text in review.items()})
            review_target = None
        elif target.is_relative_to(review_target):
            raise UsageError(f"--kubeadm-dir {show_path(kubeadm_dir)}: must not contain -o {show_path(outdir)}")
    result = output.replace(target, contents, f"-o {show_path(outdir)}")
    if review_target is not None and kubeadm_dir is not None:
        output.replace(review_target, review, f"--kubeadm-dir {show_path(kubeadm_dir)}")
    review_dir = kubeadm_dir or outdir / ".kubeadm"
    removed = f", {len(result.removed)} stale removed" if result.removed else ""
    with closed_pipe_ok():
        out().print(f"rendered {result.written} files into {show_path(outdir)} "
                    f"({len(result.changed)} changed{removed})", soft_wrap=True, markup=False)
        out().print(f"kubeadm configuration per node (secrets redacted): {show_path(review_dir / 'kubeadm')}",
                    soft_wrap=True, markup=False)
