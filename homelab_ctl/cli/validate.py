"""homelab-ctl validate: check a spec and summarize it, or list every problem."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ctl.cli.options import spec_file


@click.command("validate")
@spec_file
@click.option("--show-defaults", is_flag=True, help="Print the spec with every default filled in.")
def command(spec_path: Path, show_defaults: bool) -> None:
    """Validate the cluster spec and the files it points at: every problem is listed with its path;
    exit code 2 if any."""
    from rich.markup import escape

    from homelab_ctl.cli.output import closed_pipe_ok, print_warnings
    from homelab_ctl.console import out
    from homelab_ctl.spec import load
    from homelab_ctl.spec.show import path as show_path
    from homelab_ctl.spec.summary import summary_lines

    loaded = load(spec_path, check_files=True)
    print_warnings(loaded)
    with closed_pipe_ok():
        if show_defaults:
            import yaml

            data = loaded.cluster.model_dump(mode="json", by_alias=True)
            out().print(yaml.safe_dump(data, sort_keys=False), end="", soft_wrap=True, markup=False)
            return
        out().print(f"[green]valid[/green] {escape(show_path(spec_path))}", soft_wrap=True)
        for label, value in summary_lines(loaded.cluster):
            out().print(f"  {label:<10} {value}", soft_wrap=True, markup=False)
