"""Read-only facts about the nodes, gathered over SSH (paramiko) in parallel: HostFacts.

    from homelab_ctl.facts import Session, gather
    results = gather(loaded)                  # {node: HostFacts | Unreachable}
"""

from homelab_ctl.facts.gather import Result, Session, gather
from homelab_ctl.facts.models import HostFacts, HostKey, Interface, Listener, Unreachable
from homelab_ctl.facts.ssh import ConnectError, Target, target, targets

__all__ = ["ConnectError", "HostFacts", "HostKey", "Interface", "Listener", "Result", "Session", "Target",
           "Unreachable", "gather", "target", "targets"]
