"""homelab-ctl: a highly-available kubeadm cluster on home machines from one declarative spec."""

__version__ = "0.1.0"
