#!/bin/bash
# What kubeadm join has done on this host (role kubeadm_join, tasks/probe.yml).
#   usage: join-state.sh MARKER NODE_NAME control-plane|worker [REQUEST_TIMEOUT]
# Prints one item per line:
#   kubelet.conf       /etc/kubernetes/kubelet.conf: the kubelet finished its TLS bootstrap
#   etcd.yaml          the etcd static pod a control plane join writes (etcd-join phase)
#   marker             MARKER: the roles write it after kubeadm init or a control plane join succeeded
#   labelled           a control plane with kubelet.conf and etcd.yaml but no marker (joined before the
#                      marker existed): the API lists its Node with the control-plane label, set by the
#   unlabelled         last step of the join (mark-control-plane) -- or not,
#   unknown            or the API cannot be asked (no kubectl, no answer)
#   leftover PATH      what a started join leaves and the next join's preflight refuses
#                      (kubeadm reset -f removes it)
# HOMELAB_PROBE_ROOT (tests only) prefixes every path.
set -u
root=${HOMELAB_PROBE_ROOT:-}
marker=$1
node=$2
role=$3
timeout=${4:-10s}
k=$root/etc/kubernetes

[ -e "$k/kubelet.conf" ] && echo kubelet.conf
[ -e "$k/manifests/etcd.yaml" ] && echo etcd.yaml
[ -e "$root$marker" ] && echo marker
for p in /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/pki/ca.crt \
         /var/lib/kubelet/config.yaml /etc/kubernetes/admin.conf /etc/kubernetes/manifests/kube-apiserver.yaml \
         /etc/kubernetes/manifests/kube-controller-manager.yaml /etc/kubernetes/manifests/kube-scheduler.yaml \
         /etc/kubernetes/manifests/etcd.yaml /var/lib/etcd/member "$marker"; do
  [ -e "$root$p" ] && echo "leftover $p"
done
if [ "$role" = control-plane ] && [ -e "$k/kubelet.conf" ] && [ -e "$k/manifests/etcd.yaml" ] \
   && [ ! -e "$root$marker" ]; then
  if ! command -v kubectl >/dev/null 2>&1 || [ ! -e "$k/admin.conf" ]; then
    echo unknown
  else
    out=$(kubectl --kubeconfig "$k/admin.conf" --request-timeout "$timeout" get nodes \
          -l node-role.kubernetes.io/control-plane --field-selector "metadata.name=$node" -o name 2>/dev/null)
    rc=$?
    if [ "$rc" -ne 0 ]; then echo unknown
    elif [ "$out" = "node/$node" ]; then echo labelled
    else echo unlabelled
    fi
  fi
fi
exit 0
