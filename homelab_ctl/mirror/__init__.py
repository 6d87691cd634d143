"""The offline mirror: Kubernetes packages, the containerd release, container images and add-on
manifests in one directory, so that `up --artifacts DIR` installs a cluster without internet.

`homelab-ctl mirror build` makes one from published Go modules and Debian packages (recipes/ holds
the project's go.mod files and Containerfiles, never upstream source); `layout` is the contract
between the builder, the roles and the add-on installer.
"""
