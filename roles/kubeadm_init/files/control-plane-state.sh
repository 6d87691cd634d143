#!/bin/bash
# Whether kubeadm init (or a control plane join) finished on this control plane. The same script is
# in roles kubeadm_init, kube_vip and kubeadm_join (files/control-plane-state.sh; a unit test keeps the
# copies identical), so that they agree on which control planes run the cluster.
#   usage: control-plane-state.sh MARKER [REQUEST_TIMEOUT]
# kubeadm writes admin.conf in its third phase, long before init is done: admin.conf alone proves
# nothing. Prints one line:
#   absent                    no admin.conf: kubeadm never got that far here
#   complete marker           MARKER exists: the roles write it only after kubeadm init/join succeeded
#   complete configmap        no marker, but the API answers admin.conf with the kubeadm-config
#                             ConfigMap (written by init's upload-config): a cluster made before the marker
#   unfinished no-configmap   admin.conf, no marker, the API answers: kubeadm-config does not exist
#   unfinished forbidden      admin.conf, no marker, the API refuses admin.conf (its rights come last)
#   unknown no-kubectl        admin.conf, no marker, and no kubectl to ask the API
#   unknown unreachable       admin.conf, no marker, and the API does not answer (retry later)
# HOMELAB_PROBE_ROOT (tests only) prefixes every path.
set -u
root=${HOMELAB_PROBE_ROOT:-}
marker=$1
timeout=${2:-10s}
admin_conf=$root/etc/kubernetes/admin.conf

if [ ! -e "$admin_conf" ]; then echo absent; exit 0; fi
if [ -e "$root$marker" ]; then echo complete marker; exit 0; fi
if ! command -v kubectl >/dev/null 2>&1; then echo unknown no-kubectl; exit 0; fi
out=$(kubectl --kubeconfig "$admin_conf" --request-timeout "$timeout" -n kube-system \
      get configmap kubeadm-config -o name 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && [ "$out" = configmap/kubeadm-config ]; then
  echo complete configmap
elif printf '%s\n' "$out" | grep -q '(NotFound)'; then
  echo unfinished no-configmap
elif printf '%s\n' "$out" | grep -q '(Forbidden)'; then
  echo unfinished forbidden
else
  echo unknown unreachable
fi
