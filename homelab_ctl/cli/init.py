"""homelab-ctl init: write a commented example spec."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

from homelab_ctl.errors import UsageError


@click.command("init")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=Path("cluster.yaml"),
              show_default=True, help="Where to write the example spec.")
def command(output: Path) -> None:
    """Write a commented example cluster spec to edit (never overwrites a file)."""
    text = resources.files("homelab_ctl.spec").joinpath("example.yaml").read_text(encoding="utf-8")
    try:
        with output.open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise UsageError(f"{output} already exists: not overwriting it (choose another path with -o)") from None
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror}") from None
    click.echo(f"wrote {output}: edit it, then run: homelab-ctl validate -f {output}")
