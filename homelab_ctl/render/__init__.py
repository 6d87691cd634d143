"""Spec -> files Ansible reads (inventory, group_vars) and files users review."""
