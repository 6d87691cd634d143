"""homelab-ctl up: from validated, preflighted machines to a Ready highly-available cluster."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from homelab_ctl.cli.options import spec_file


def _extra_vars(values: tuple[str, ...]) -> dict[str, Any]:
    """-e KEY=VALUE (VALUE parsed as YAML, like ansible-playbook's key=value) or -e @FILE.yml."""
    import yaml

    from homelab_ctl.errors import UsageError

    out: dict[str, Any] = {}
    for value in values:
        if value.startswith("@"):
            try:
                data = yaml.safe_load(Path(value[1:]).read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise UsageError(f"--extra-vars {value}: cannot read: {exc}") from None
            if not isinstance(data, dict):
                raise UsageError(f"--extra-vars {value}: expected a mapping of variables")
            out.update(data)
        elif "=" in value:
            key, raw = value.split("=", 1)
            out[key] = yaml.safe_load(raw) if raw else ""
        else:
            raise UsageError(f"--extra-vars {value!r}: expected KEY=VALUE or @FILE")
    return out


LAB_NAME = "lab"


def _lab(artifacts: Path | None) -> tuple[Path, Path]:
    """The spec and mirror of the local lab `up --lab` uses, made (or reused) first."""
    from homelab_ctl.cli.lab import _echo
    from homelab_ctl.cli.mirror import default_dir
    from homelab_ctl.lab import machines
    from homelab_ctl.mirror import build

    mirror = build.build(artifacts or default_dir(), echo=_echo).directory
    if machines.exists(LAB_NAME):
        lab = machines.get(LAB_NAME)
        _echo(f"using lab {LAB_NAME} ({len(lab.machines)} machines): {lab.spec_path}")
    else:
        lab = machines.up(LAB_NAME, 3, 1, echo=_echo, mirror=mirror)
    return lab.spec_path, mirror


def _check_options(artifacts: Path | None, api_server: str | None) -> None:
    """Options are checked before the spec is loaded and before any machine is contacted."""
    import re
    from urllib.parse import urlsplit

    from homelab_ctl.errors import UsageError
    from homelab_ctl.spec import files
    from homelab_ctl.spec.show import path as show_path
    from homelab_ctl.spec.show import quote

    if artifacts is not None:
        why = files.problem(artifacts, "dir")
        if why:
            raise UsageError(f"--artifacts {show_path(artifacts)}: {why} (expected the offline mirror directory)")
    if api_server is not None:
        try:
            url = urlsplit(api_server)
            url.port  # noqa: B018 -- raises ValueError on a bad port
        except ValueError:
            url = None
        bad = url is None or url.scheme not in ("https", "http") or not url.hostname
        if bad or re.search(r"[\s\x00-\x1f\x7f]", api_server):
            raise UsageError(f"--api-server {quote(api_server)}: not a URL like https://127.0.0.1:6443")


@click.command("up")
@spec_file
@click.option("--dry-run", is_flag=True, help="Validate, preflight and print the plan; change nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation before changing machines.")
@click.option("--accept-new-host-keys", is_flag=True,
              help="Record the host key of machines not yet in known_hosts (a changed key is never accepted).")
@click.option("-e", "--extra-vars", "extra_vars", multiple=True, metavar="KEY=VALUE|@FILE",
              help="Extra Ansible variables for every playbook (repeatable), as with ansible-playbook -e.")
@click.option("--artifacts", type=click.Path(path_type=Path), default=None,
              help="Offline mirror of manifests and packages (overrides spec.artifacts.dir).")
@click.option("--api-server", metavar="URL", default=None,
              help="Reach the Kubernetes API here instead of the endpoint in admin.conf (e.g. an SSH tunnel "
                   "when the VIP is not routable from this machine).")
@click.option("--lab", "use_lab", is_flag=True,
              help="No machines yet? Build or reuse the offline mirror, start a local lab (3 control planes + "
                   "1 worker, podman) and bring a real cluster up on it; implies --yes, ignores -f.")
def command(spec_path: Path, dry_run: bool, yes: bool, accept_new_host_keys: bool, extra_vars: tuple[str, ...],
            artifacts: Path | None, api_server: str | None, use_lab: bool) -> None:
    """Bring the cluster to the spec: validate -> preflight -> plan -> prepare hosts -> control
    planes -> workers -> Flannel -> wait until every node is Ready.

    Safe to run again at any time: nodes already in the cluster are left as they are, a failed or
    interrupted run continues where it stopped, and on a converged cluster nothing changes.
    The full Ansible output of each stage goes to .homelab-ctl/<cluster>/logs/.
    """
    from rich.markup import escape

    from homelab_ctl.actions.up import converge
    from homelab_ctl.cli.output import print_warnings
    from homelab_ctl.cli.preflight import fail_on_errors, print_report, run_with_progress
    from homelab_ctl.console import err, out
    from homelab_ctl.errors import UsageError
    from homelab_ctl.plan import make_plan
    from homelab_ctl.spec import load
    from homelab_ctl.spec.summary import summary_lines

    # with --lab the mirror directory is made by the build, so only the URL is checked first
    _check_options(None if use_lab else artifacts, api_server)
    variables = _extra_vars(extra_vars)
    if use_lab:
        spec_path, artifacts = _lab(artifacts)
        yes = True
    loaded = load(spec_path, check_files=True)
    print_warnings(loaded)
    console = out()
    for label, value in summary_lines(loaded.cluster):
        console.print(f"  {label:<10} {escape(value)}", soft_wrap=True)

    report = run_with_progress(loaded, accept_new_host_keys, len(loaded.cluster.spec.nodes), err())
    print_report(report, console, quiet=True)
    fail_on_errors(report)

    plan = make_plan(loaded.cluster, report.facts)
    console.print("[bold]plan[/bold]")
    for line in plan.lines():
        console.print(f"  - {escape(line)}", soft_wrap=True)
    if dry_run:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("not a terminal: pass --yes to proceed without confirmation")
        if not click.confirm("Proceed?", default=False):
            raise click.exceptions.Abort()

    summary = converge(loaded, plan, extra_vars=variables, artifacts=artifacts, api_server=api_server)

    console.print("[bold]summary[/bold]")
    for stage in summary.stages:
        console.print(f"  {stage.name:<14} {stage.seconds:6.1f} s  {escape(stage.detail)}", soft_wrap=True)
    if plan.converged and summary.changed == 0:
        console.print("[green]nothing to do: the cluster already matches the spec[/green]")
    else:
        console.print(f"[green]cluster {loaded.cluster.name} is up[/green]: {summary.changed} change(s)")
    console.print(f"  admin kubeconfig: {summary.kubeconfig} (merge it with: homelab-ctl kubeconfig -f {spec_path})",
                  soft_wrap=True)
    if use_lab:
        console.print(f"  try it:  kubectl --kubeconfig {summary.kubeconfig} get nodes\n"
                      f"  stop it: homelab-ctl lab down --name {LAB_NAME}", soft_wrap=True, markup=False)
