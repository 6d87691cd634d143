"""The cluster spec: models, loading and validation."""

from homelab_ctl.spec.load import Loaded, load, parse
from homelab_ctl.spec.models import API_VERSION, Cluster, ClusterSpec, Node
from homelab_ctl.spec.problems import Problem

__all__ = ["API_VERSION", "Cluster", "ClusterSpec", "Loaded", "Node", "Problem", "load", "parse"]
