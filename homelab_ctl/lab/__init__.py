"""Local lab machines: privileged podman containers running systemd and sshd, reachable over SSH
on 127.0.0.1, for trying homelab-ctl and for its integration tests.

    image.ensure_image()              build the machine image once (debootstrap)
    machines.up(name, ...) -> Lab     start machines, write the SSH key, known_hosts and cluster.yaml
    machines.get(name) / down(name)   find / remove a lab
    machines.stop(m) / start(m)       stop and restart one machine (failure tests)
    podman.env()                      the environment every podman call needs (also for Molecule)
"""
