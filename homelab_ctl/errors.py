"""Known errors and the exit codes they map to (one table, documented in the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # unexpected error (a bug): run with --debug for the traceback
    SPEC = 2  # the spec (or the command line) is invalid; nothing was executed
    CONNECTION = 3  # a machine could not be reached over SSH
    PREFLIGHT = 4  # preflight found errors on the machines
    PLAYBOOK = 5  # an Ansible playbook failed
    KUBERNETES = 6  # the Kubernetes API refused or timed out
    LAB = 7  # the local lab (podman machines) could not be built, started or removed
    INTERRUPTED = 130  # Ctrl-C


class HomelabError(Exception):
    """An error the user can act on: printed as one line without a traceback."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class SpecError(HomelabError):
    """The spec is invalid. `problems` holds one line per problem, each starting with its path."""

    exit_code = ExitCode.SPEC

    def __init__(self, source: str, problems: list[str]) -> None:
        count = len(problems)
        super().__init__(f"{source}: {count} problem{'s' if count != 1 else ''} in the cluster spec")
        self.source = source
        self.problems = problems


class UsageError(HomelabError):
    exit_code = ExitCode.SPEC


class ConnectionFailed(HomelabError):
    exit_code = ExitCode.CONNECTION


class PreflightFailed(HomelabError):
    exit_code = ExitCode.PREFLIGHT


class PlaybookFailed(HomelabError):
    exit_code = ExitCode.PLAYBOOK


class KubernetesError(HomelabError):
    exit_code = ExitCode.KUBERNETES


class LabError(HomelabError):
    exit_code = ExitCode.LAB
