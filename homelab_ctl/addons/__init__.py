"""Add-ons deployed through the Kubernetes API after the cluster is up."""
