"""The kubeadm configuration each node receives, rendered from the roles' own Jinja2 templates.

The first control plane gets roles/kubeadm_init/templates/kubeadm-config.v1beta4.yaml.j2 (init),
every other node roles/kubeadm_join/templates/kubeadm-join.v1beta4.yaml.j2 (join). The variables are
those Ansible sees: the rendered inventory (host vars over group vars, read back from the YAML that
`render` writes), the role defaults, and the secrets only a run knows (bootstrap token, CA hash,
certificate key, encryption key), redacted unless given. The templates use plain Jinja2 plus the
one Ansible filter provided here (to_json), so the same file renders in both places.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.nativetypes import NativeEnvironment

from homelab_ctl.render import inventory
from homelab_ctl.spec import Loaded

INIT_TEMPLATE = "kubeadm_init/templates/kubeadm-config.v1beta4.yaml.j2"
JOIN_TEMPLATE = "kubeadm_join/templates/kubeadm-join.v1beta4.yaml.j2"
ENCRYPTION_TEMPLATE = "kubeadm_init/templates/encryption-config.yaml.j2"
ROLES = ("kubeadm_init", "kubeadm_join")
REDACTED = "REDACTED"


@dataclass(frozen=True)
class Secrets:
    """Values only a run knows. Defaults are placeholders: `render` never sees real secrets."""

    token: str = REDACTED
    ca_cert_hash: str = f"sha256:{REDACTED}"
    certificate_key: str = REDACTED
    encryption_key: str = REDACTED

    def variables(self) -> dict[str, str]:
        return {
            "_kubeadm_join_token": self.token,
            "_kubeadm_join_ca_cert_hash": self.ca_cert_hash,
            "_kubeadm_join_certificate_key": self.certificate_key,
            "kubeadm_init_encryption_key": self.encryption_key,
        }


def to_json(value: Any) -> str:
    """Ansible's to_json for the plain data of an inventory: json.dumps with its defaults."""
    return json.dumps(value)


def roles_dir() -> Path:
    from homelab_ctl.runner.paths import ansible_paths

    return ansible_paths().roles


def environment(roles: Path) -> jinja2.Environment:
    """Jinja2 configured like Ansible's template module (trim_blocks, no lstrip_blocks)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(roles)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=False,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["to_json"] = to_json
    return env


def inventory_vars(loaded: Loaded) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """hostvars (host vars over group_vars/all) and groups, as Ansible reads the rendered files."""
    files = inventory.files(loaded)
    group_vars: dict[str, Any] = {}
    for rel, text in sorted(files.items()):
        if rel.startswith("group_vars/all/"):
            group_vars.update(yaml.safe_load(text) or {})
    hosts_doc = yaml.safe_load(files["hosts.yml"])["all"]
    hostvars = {name: {**group_vars, **(own or {}), "inventory_hostname": name}
                for name, own in hosts_doc["hosts"].items()}
    groups: dict[str, list[str]] = {"all": list(hostvars)}

    def members(group: str) -> list[str]:
        entry = hosts_doc["children"][group] or {}
        names = list((entry.get("hosts") or {}).keys())
        for child in (entry.get("children") or {}):
            names += [n for n in members(child) if n not in names]
        return names

    for group in hosts_doc["children"]:
        groups[group] = members(group)
    return hostvars, groups


def resolve_defaults(raw: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Role defaults as Ansible would see them: templated strings are rendered natively, in several
    passes (a default may use another). A default that needs what only Ansible has (facts, its own
    filters, playbook_dir) is left out; a template that used it would fail loudly."""
    native = NativeEnvironment(undefined=jinja2.StrictUndefined)
    native.filters["to_json"] = to_json
    done = {k: v for k, v in raw.items() if not (isinstance(v, str) and "{{" in v)}
    pending = {k: v for k, v in raw.items() if k not in done}
    while pending:
        progress = False
        for key, value in list(pending.items()):
            try:
                done[key] = native.from_string(value).render({**context, **done})
            except jinja2.UndefinedError:
                continue
            except (jinja2.TemplateError, TypeError, ValueError):
                del pending[key]  # Ansible-only: not available here
                continue
            del pending[key]
            progress = True
        if not progress:
            break
    return done


def _defaults(roles: Path) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for role in ROLES:
        raw.update(yaml.safe_load((roles / role / "defaults" / "main.yml").read_text()) or {})
    return raw


def host_context(loaded: Loaded, host: str, secrets: Secrets | None = None,
                 roles: Path | None = None, extra_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every variable the templates may use for one host; extra_vars as `up -e` gives them."""
    roles = roles or roles_dir()
    hostvars, groups = inventory_vars(loaded)
    base = {**hostvars[host], "groups": groups, "hostvars": hostvars, "inventory_hostname": host,
            **(extra_vars or {})}
    return {**resolve_defaults(_defaults(roles), base), **base, **(secrets or Secrets()).variables()}


PATCH_TARGETS = "etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubeletconfiguration, corednsdeployment"


def check_patches(extra_vars: dict[str, Any], roles: Path | None = None) -> None:
    """`-e homelab_kubeadm_patches` before anything runs: a mapping of kubeadm patch file names (the
    pattern kube_packages asserts, read from its defaults) to patches (json: a list, else a mapping)."""
    from homelab_ctl.errors import UsageError

    patches = extra_vars.get("homelab_kubeadm_patches")
    if patches is None:
        return
    where = "--extra-vars homelab_kubeadm_patches"
    if not isinstance(patches, dict):
        raise UsageError(f"{where}: expected a mapping of kubeadm patch file name -> patch")
    defaults = yaml.safe_load(((roles or roles_dir()) / "kube_packages/defaults/main.yml").read_text())
    pattern = defaults["kube_packages_kubeadm_patch_name_pattern"]
    for name, patch in patches.items():
        if not re.fullmatch(pattern, str(name)):
            raise UsageError(f"{where}: {str(name)[:80]!r} is not a kubeadm patch file name "
                             f"(target[suffix][+strategic|+merge|+json].yaml|.json; targets: {PATCH_TARGETS})")
        expected = list if str(name).split(".")[0].endswith("+json") else dict
        if not isinstance(patch, expected):
            raise UsageError(f"{where}: {name}: expected a {'list of operations' if expected is list else 'mapping'}")


def first_control_plane(loaded: Loaded) -> str:
    return loaded.cluster.spec.control_planes[0].name


def node_config(loaded: Loaded, host: str, secrets: Secrets | None = None, roles: Path | None = None,
                extra_vars: dict[str, Any] | None = None) -> str:
    """The kubeadm configuration file `host` receives: init for the first control plane, else join."""
    roles = roles or roles_dir()
    template = INIT_TEMPLATE if host == first_control_plane(loaded) else JOIN_TEMPLATE
    context = host_context(loaded, host, secrets, roles, extra_vars)
    return environment(roles).get_template(template).render(context)


def encryption_config(loaded: Loaded, secrets: Secrets | None = None, roles: Path | None = None) -> str | None:
    """The EncryptionConfiguration of the control planes; None when Secrets are not encrypted."""
    if not loaded.cluster.spec.kubernetes.encrypt_secrets:
        return None
    roles = roles or roles_dir()
    context = host_context(loaded, first_control_plane(loaded), secrets, roles)
    return environment(roles).get_template(ENCRYPTION_TEMPLATE).render(context)


def files(loaded: Loaded, secrets: Secrets | None = None) -> dict[str, str]:
    """Relative path -> content: kubeadm/<node>.yaml per node, kubeadm/encryption-config.yaml."""
    roles = roles_dir()
    out = {f"kubeadm/{n.name}.yaml": node_config(loaded, n.name, secrets, roles) for n in loaded.cluster.spec.nodes}
    encryption = encryption_config(loaded, secrets, roles)
    if encryption is not None:
        out["kubeadm/encryption-config.yaml"] = encryption
    return out
