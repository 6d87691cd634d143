"""The README matches the code: the example spec, the exit codes and the command list."""

from __future__ import annotations

import re
from pathlib import Path

import click

from homelab_ctl.cli import cli
from homelab_ctl.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def test_example_spec_is_what_init_writes() -> None:
    example = (REPO / "homelab_ctl" / "spec" / "example.yaml").read_text()
    assert f"```yaml\n{example}```" in README


def test_exit_code_table_matches() -> None:
    section = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.M)}
    assert documented == {int(code) for code in ExitCode}


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix}{name} ")
        else:
            names.append(prefix + name)
    return names


def test_every_command_and_option_is_documented() -> None:
    table = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z ]+?)(?: \[| -o|`)[^\n]*", table, flags=re.M)}
    group = cli
    for name in _commands(group):
        assert name in rows, f"README does not document `{name}`"
        command = group
        for part in name.split():
            assert isinstance(command, click.Group)
            command = command.commands[part]  # type: ignore[assignment]
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert any(opt in rows[name] for opt in param.opts), f"`{name}` option {param.opts} not in README"
