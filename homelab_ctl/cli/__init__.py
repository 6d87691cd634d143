"""The homelab-ctl command line. Each command lives in its own module; heavy imports stay inside
the command functions so that `homelab-ctl --help` is fast."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from homelab_ctl import __version__
from homelab_ctl.cli import init as init_cmd
from homelab_ctl.cli import kubeconfig as kubeconfig_cmd
from homelab_ctl.cli import lab as lab_cmd
from homelab_ctl.cli import mirror as mirror_cmd
from homelab_ctl.cli import preflight as preflight_cmd
from homelab_ctl.cli import render as render_cmd
from homelab_ctl.cli import up as up_cmd
from homelab_ctl.cli import validate as validate_cmd
from homelab_ctl.errors import ExitCode, HomelabError, SpecError

log = logging.getLogger("homelab_ctl")


def log_path() -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "homelab-ctl" / "homelab-ctl.log"


def _setup_logging(debug: bool) -> None:
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # backslashreplace: a file name with undecodable bytes must not make logging print a traceback
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8", errors="backslashreplace")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if debug else logging.INFO)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="homelab-ctl")
@click.option("--debug", is_flag=True, help="Show tracebacks and the log file path on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Turn a handful of home machines into a highly-available kubeadm Kubernetes cluster.

    Describe the cluster once in a YAML spec (homelab-ctl init), check it (validate),
    and let homelab-ctl render the Ansible inventory and drive kubeadm.
    """
    ctx.obj = {"debug": debug}
    _setup_logging(debug)


cli.add_command(init_cmd.command)
cli.add_command(validate_cmd.command)
cli.add_command(render_cmd.command)
cli.add_command(kubeconfig_cmd.command)
cli.add_command(lab_cmd.command)
cli.add_command(mirror_cmd.command)
cli.add_command(preflight_cmd.command)
cli.add_command(up_cmd.command)


def _report(exc: HomelabError) -> None:
    from rich.markup import escape

    from homelab_ctl.console import err

    console = err()  # messages quote user input: escape() keeps "[/]" in a value from being read as markup
    if isinstance(exc, SpecError):
        for line in exc.problems:
            console.print(f"[red]error[/red] {escape(line)}", soft_wrap=True, markup=True, highlight=False)
        return
    console.print(f"[red]error[/red] {escape(exc.message)}", soft_wrap=True)
    if exc.hint:
        console.print(f"  hint: {escape(exc.hint)}", soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    code: int = ExitCode.OK
    try:
        # standalone_mode=False: click returns the code of ctx.exit() instead of raising it
        returned = cli.main(args=argv, prog_name="homelab-ctl", standalone_mode=False)
        if isinstance(returned, int):
            code = returned
    except click.exceptions.Abort:
        code = ExitCode.INTERRUPTED
        click.echo("interrupted", err=True)
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
        click.echo("interrupted: a re-run continues where this one stopped", err=True)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = ExitCode.SPEC
    except HomelabError as exc:
        log.error("%s", exc.message)
        _report(exc)
        code = exc.exit_code
        if debug:
            import traceback

            traceback.print_exc()
            click.echo(f"log: {log_path()}", err=True)
    except Exception as exc:  # a bug: one line, details with --debug
        log.exception("unexpected error")
        if debug:
            raise
        click.echo(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        code = ExitCode.FAILURE
    sys.exit(code)
