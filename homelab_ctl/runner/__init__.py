"""Drive ansible-playbook through ansible-runner: live progress, a redacted log file per stage,
a per-host result, and PlaybookFailed (exit 5) naming host, task and log on failure.

    run_playbook("prepare.yml", inventory_dir, stage="prepare", state_dir=..., secrets=[...])
"""

from homelab_ctl.runner.paths import AnsiblePaths, ansible_paths
from homelab_ctl.runner.redact import MASK, Redactor
from homelab_ctl.runner.result import Failure, HostStats, PlaybookResult, PlaybookStageFailed
from homelab_ctl.runner.run import run_playbook

__all__ = ["MASK", "AnsiblePaths", "Failure", "HostStats", "PlaybookResult", "PlaybookStageFailed", "Redactor",
           "ansible_paths", "run_playbook"]
