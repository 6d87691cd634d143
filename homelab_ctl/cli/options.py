"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import click

spec_file = click.option(
    "-f",
    "--file",
    "spec_path",
    type=click.Path(path_type=Path),  # not a directory: load() says so in one line, as for any unreadable file
    default=Path("cluster.yaml"),
    show_default=True,
    help="The cluster spec.",
)
