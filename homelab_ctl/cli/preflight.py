"""homelab-ctl preflight: check every machine over SSH before anything is installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from homelab_ctl.cli.options import spec_file

if TYPE_CHECKING:
    from rich.console import Console

    from homelab_ctl.preflight import Report

_STYLE = {"error": "[red]error[/red]", "warning": "[yellow]warning[/yellow]", "ok": "[green]ok[/green]"}


@click.command("preflight")
@spec_file
@click.option("--accept-new-host-keys", is_flag=True,
              help="Record the host key of machines not yet in known_hosts (like ssh's "
                   "StrictHostKeyChecking=accept-new). A CHANGED key is never accepted.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings and a facts summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Show only errors and warnings.")
def command(spec_path: Path, accept_new_host_keys: bool, as_json: bool, quiet: bool) -> None:
    """Check the machines of the spec over SSH (read-only): OS, hardware, identity, network, ports.

    Connects to every node in parallel, verifying host keys against known_hosts. After a run
    without identity errors, each node's identity (product_uuid, machine-id, MACs, host key) is
    recorded in the cluster's state dir so that a later run can tell what changed.

    Exit codes: 0 no errors (warnings allowed); 4 errors found; 3 when the only errors are
    machines that could not be reached or logged into over SSH (timeout, refused, authentication,
    host key): the machines that answered were checked and nothing else is known to be wrong.
    """
    from homelab_ctl.console import err, out
    from homelab_ctl.preflight import run
    from homelab_ctl.spec import load

    loaded = load(spec_path, check_files=True)
    for warning in loaded.warnings:
        err().print(f"[yellow]warning[/yellow] {warning}", soft_wrap=True)
    nodes = len(loaded.cluster.spec.nodes)
    if as_json:
        report = run(loaded, accept_new_host_keys=accept_new_host_keys)
        # Plain JSON (never rich's print_json: FORCE_COLOR or a terminal would add colour codes).
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        report = run_with_progress(loaded, accept_new_host_keys, nodes, err())
        print_report(report, out(), quiet)
    fail_on_errors(report)


def fail_on_errors(report: Report) -> None:
    """Errors end the command through HomelabError: main() maps it to the exit code."""
    from homelab_ctl.errors import ConnectionFailed, ExitCode, PreflightFailed

    if not report.errors:
        return
    hosts = sorted({f.host for f in report.errors})
    count = len(report.errors)
    message = f"preflight: {count} error{'s' if count != 1 else ''} on {', '.join(hosts)}"
    if report.exit_code == ExitCode.CONNECTION:
        raise ConnectionFailed(message + " (unreachable)", hint="the other machines were checked; re-run once "
                                                                "the unreachable ones answer")
    raise PreflightFailed(message)


def run_with_progress(loaded: object, accept: bool, nodes: int, console: Console) -> Report:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from homelab_ctl.facts import Result
    from homelab_ctl.preflight import run
    from homelab_ctl.spec import Loaded

    assert isinstance(loaded, Loaded)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task(f"checking {nodes} machine{'s' if nodes != 1 else ''} over SSH", total=nodes)

        def done(result: Result) -> None:
            progress.advance(task)

        return run(loaded, accept_new_host_keys=accept, on_result=done)


def print_report(report: Report, console: Console, quiet: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", expand=False, show_lines=False, pad_edge=False)
    table.add_column("host", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail / fix", overflow="fold")
    for node in report.results:
        rows = [f for f in report.for_host(node) if not (quiet and f.severity == "ok")]
        if not rows:
            continue
        label = f"[bold]{escape(node)}[/bold]"
        for i, f in enumerate(rows):
            text = escape(f.detail) + (f"\n[cyan]fix:[/cyan] {escape(f.fix)}" if f.fix and f.severity != "ok" else "")
            table.add_row(label if i == 0 else "", f.check, _STYLE[f.severity], text)
        table.add_section()
    if table.row_count:
        console.print(table)
    errors, warnings = len(report.errors), len(report.warnings)
    summary = (f"{len(report.facts)}/{len(report.results)} machines checked in {report.seconds:.1f} s: "
               f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}")
    if report.recorded:
        summary += f"; identity recorded for {', '.join(report.recorded)}"
    colour = "red" if errors else "yellow" if warnings else "green"
    console.print(f"[{colour}]{escape(summary)}[/{colour}]", soft_wrap=True)
