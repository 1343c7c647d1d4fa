# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Drift: the cluster's objects against a rendered directory (playbooks/render.yml), with the "musthave" semantics
of an Advanced Cluster Management ConfigurationPolicy: what the directory says must be in the cluster, what the
cluster adds (the API server's defaults, the MCO's fields) is left alone. And "installed at day 0": whether a node's
first boot already had the collection's MachineConfig. No I/O.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core requires PyYAML; ansible-test's import test runs without it
    yaml = None

from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    ACM_API,
    CRIO_DROPIN_PATH,
    KATA_EXTENSIONS,
    MANAGED_BY_TEXT,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import is_managed
from ansible_collections.sandboxed.containers.plugins.module_utils._quantity import QuantityError
from ansible_collections.sandboxed.containers.plugins.module_utils._quantity import parse as parse_quantity

# The kinds the collection writes; an object of these with its label and not in the directory is extra.
KINDS = ("MachineConfig", "MachineConfigPool", "RuntimeClass", "ValidatingAdmissionPolicy",
         "ValidatingAdmissionPolicyBinding")
STATES = ("missing", "changed", "extra")
# The MCO's annotation naming the rendered config a node first booted (pkg/server/server.go getNodeAnnotation,
# written from release-4.22 on; 4.14-4.21 write only currentConfig, desiredConfig and state).
FIRST_PIVOT_CONFIG = "machineconfiguration.openshift.io/firstPivotConfig"


class DriftError(Exception):
    """A rendered directory that cannot be compared; the message says what is wrong and how to fix it."""


def _documents(name: str, text: str) -> list[object]:
    try:
        if name.endswith(".json") or yaml is None:
            return [json.loads(text)]
        return list(yaml.safe_load_all(text))
    except (ValueError, getattr(yaml, "YAMLError", ValueError)) as e:
        raise DriftError(f"{name} is neither YAML nor JSON ({str(e).splitlines()[0]})") from None


def _unwrap(obj: dict) -> list[object]:
    """An ACM Policy's objects: spec.policy-templates[].objectDefinition (a ConfigurationPolicy) ->
    spec.object-templates[].objectDefinition; any other object as it is."""
    if obj.get("kind") != "Policy" or obj.get("apiVersion") != ACM_API:
        return [obj]
    out: list[object] = []
    for tpl in (obj.get("spec") or {}).get("policy-templates") or []:
        definition = (tpl or {}).get("objectDefinition") or {}
        for ot in (definition.get("spec") or {}).get("object-templates") or []:
            out.append((ot or {}).get("objectDefinition"))
    return out


def load(texts: Mapping[str, str]) -> tuple[list[dict], list[str]]:
    """The collection's objects in the files (name -> text): multi-document YAML or JSON, an ACM Policy unwrapped
    to its objects; documents that are no object, or lack the collection's label, are skipped (an
    openshift-install directory holds the installer's own manifests too). Returns the objects, by kind and name
    (the last file wins), and the problems of files that could not be read (as warnings)."""
    found: dict[tuple[str, str], dict] = {}
    problems = []
    for name in sorted(texts):
        try:
            docs = _documents(name, texts[name])
        except DriftError as e:
            problems.append(str(e))
            continue
        for doc in docs:
            if not (isinstance(doc, dict) and is_managed(doc)):
                continue
            for obj in _unwrap(doc):
                if isinstance(obj, dict) and is_managed(obj) and obj.get("kind") in KINDS \
                        and (obj.get("metadata") or {}).get("name"):
                    found[(obj["kind"], obj["metadata"]["name"])] = obj
    return [found[k] for k in sorted(found, key=lambda k: (KINDS.index(k[0]), k[1]))], problems


def no_objects_message(where: str) -> str:
    return (f"sandboxed_containers_render_dir {where} holds no object of the collection's (no YAML or JSON object "
            f"with the label {MANAGED_BY_TEXT}); run playbooks/render.yml with the same "
            "sandboxed_containers_render_dir first, or point it at the directory it wrote")


def _quantity_equal(path: str, a: object, b: object) -> bool:
    # The API server stores a quantity in its canonical form (0.5 -> 500m): compared by value.
    if not path.startswith("overhead.podFixed.") or not isinstance(a, (str, int, float)) \
            or not isinstance(b, (str, int, float)):
        return False
    try:
        return parse_quantity(a) == parse_quantity(b)
    except QuantityError:
        return False


def _contains(rendered: object, cluster: object) -> bool:
    """musthave: a dict's keys that the rendered one has, a list element by element with the same length."""
    if isinstance(rendered, dict):
        return isinstance(cluster, dict) and all(k in cluster and _contains(v, cluster[k])
                                                 for k, v in rendered.items())
    if isinstance(rendered, list):
        # The API server fills in defaults inside list items (a ValidatingAdmissionPolicy's resourceRules get
        # scope "*"): an item matches when it has the rendered item's fields.
        return isinstance(cluster, list) and len(rendered) == len(cluster) \
            and all(_contains(r, c) for r, c in zip(rendered, cluster, strict=True))
    return rendered == cluster


def _fields(rendered: object, cluster: object, path: str) -> list[dict]:
    if isinstance(rendered, dict) and isinstance(cluster, dict):
        out = []
        for key, value in rendered.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in cluster:
                out.append({"path": sub, "rendered": value, "cluster": None})
            else:
                out += _fields(value, cluster[key], sub)
        return out
    if _contains(rendered, cluster) or _quantity_equal(path, rendered, cluster):
        return []
    return [{"path": path, "rendered": rendered, "cluster": cluster}]  # a list, a scalar: whole


def changed_fields(rendered: dict, cluster: dict) -> list[dict]:
    """Each field of `rendered` the cluster's object lacks or has otherwise: {path, rendered, cluster}. In metadata
    only the labels and annotations `rendered` has; apiVersion, kind and status are not compared."""
    out = []
    for key, value in rendered.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            meta = cluster.get("metadata") or {}
            for part in ("labels", "annotations"):
                if (value or {}).get(part):
                    out += _fields(value[part], meta.get(part) or {}, f"metadata.{part}")
            continue
        out += _fields(value, cluster[key], key) if key in cluster else \
            [{"path": key, "rendered": value, "cluster": None}]
    return out


def findings(rendered: Iterable[dict], cluster: Mapping[tuple[str, str], dict | None],
             labelled: Iterable[dict]) -> list[dict]:
    """The drift: each rendered object missing in the cluster or changed (cluster: (kind, name) -> the cluster's
    object or None), and each of `labelled` (the cluster's objects of KINDS with the collection's label) that the
    directory does not have, extra. Each finding: {kind, name, state, fields}."""
    out = []
    names = set()
    for obj in rendered:
        kind, name = obj["kind"], obj["metadata"]["name"]
        names.add((kind, name))
        have = cluster.get((kind, name))
        if have is None:
            out.append({"kind": kind, "name": name, "state": "missing", "fields": []})
            continue
        fields = changed_fields(obj, have)
        if fields:
            out.append({"kind": kind, "name": name, "state": "changed", "fields": fields})
    for obj in labelled:
        kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name")
        if kind in KINDS and is_managed(obj) and (kind, name) not in names:
            out.append({"kind": kind, "name": name, "state": "extra", "fields": []})
            names.add((kind, name))
    return out


def _value(v: object) -> str:
    if v is None:
        return "absent"
    text = v if isinstance(v, str) and v else json.dumps(v, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def line(finding: dict, where: str = "the directory") -> str:
    """One readable line, e.g. "RuntimeClass kata changed: overhead.podFixed.memory is 500Mi in the cluster,
    350Mi rendered"."""
    what = f"{finding['kind']} {finding['name']}"
    if finding["state"] == "missing":
        return f"{what} missing: rendered in {where}, not in the cluster"
    if finding["state"] == "extra":
        return f"{what} extra: in the cluster with the collection's label, not rendered in {where}"
    return f"{what} changed: " + "; ".join(
        f"{f['path']} is {_value(f['cluster'])} in the cluster, {_value(f['rendered'])} rendered"
        for f in finding["fields"])


# -- installed at day 0 ----------------------------------------------------------------------------------------


def carries(rendered_config: dict, extensions: Iterable[str]) -> bool:
    """Whether a rendered MachineConfig carries the collection's content: one of `extensions` in spec.extensions
    and the CRI-O drop-in in spec.config.storage.files. The render controller's rendered config is the merge of its
    sources' specs (render_controller.go generateRenderedMachineConfig -> ctrlcommon.MergeMachineConfigs,
    release-4.16): extensions appended, Ignition files merged by path; tests/cluster/sim/render.py does the same."""
    spec = rendered_config.get("spec") or {}
    config = spec.get("config") or {}
    if isinstance(config, str):  # a raw Ignition config, as some clients return a RawExtension
        try:
            config = json.loads(config)
        except ValueError:
            config = {}
    files = ((config.get("storage") or {}).get("files") or []) if isinstance(config, dict) else []
    return bool(set(spec.get("extensions") or []) & set(extensions)) \
        and any(isinstance(f, dict) and f.get("path") == CRIO_DROPIN_PATH for f in files)


def _created(obj: dict | None) -> datetime | None:
    raw = ((obj or {}).get("metadata") or {}).get("creationTimestamp")
    if isinstance(raw, datetime):  # the client's objects may carry parsed timestamps
        return raw
    try:
        return datetime.strptime(str(raw), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if raw else None
    except ValueError:
        return None


def day0(node: dict, configs: Mapping[str, dict | None], extensions: Iterable[str] = KATA_EXTENSIONS,
         machine_config: dict | None = None) -> dict:
    """Whether a node was installed at first boot: {installed_at_day0: True, False or None (unknown), reason}.
    configs: rendered config name -> the object, None when it no longer exists.

    From OpenShift 4.22 the Machine Config Server writes the rendered config a node first booted into its initial
    annotations (firstPivotConfig, pkg/server/server.go getNodeAnnotation on main); that config either carries the
    collection's content or not. Releases 4.14 to 4.21 write only currentConfig, desiredConfig and state
    (release-4.21 server.go), so there the evidence is the order of creation: a node registers (its Node object is
    created) only after its first boot, so one registered after our MachineConfig existed booted a config rendered
    with it; on day 0 the installer's bootstrap creates the MachineConfig before any node exists. A node that was
    already booting when a day-1 install wrote the MachineConfig would be counted too: the MCO then updates it (one
    reboot), which this cannot see."""
    first = ((node.get("metadata") or {}).get("annotations") or {}).get(FIRST_PIVOT_CONFIG)
    if not first:
        node_at, mc_at = _created(node), _created(machine_config)
        if node_at is None or mc_at is None:
            return {"installed_at_day0": None, "first_boot_config": None,
                    "day0_reason": f"unknown: no {FIRST_PIVOT_CONFIG} annotation (the MCO writes it from OpenShift "
                                   "4.22) and no creation time to compare"}
        yes = node_at >= mc_at
        return {"installed_at_day0": yes, "first_boot_config": None,
                "day0_reason": f"registered {node_at:%Y-%m-%dT%H:%M:%SZ}, "
                               + ("after" if yes else "before")
                               + f" the MachineConfig was created ({mc_at:%Y-%m-%dT%H:%M:%SZ}): its first boot "
                               + ("had it" if yes else "did not have it; it came in an update")}
    mc = configs.get(first)
    if mc is None:
        return {"installed_at_day0": None, "first_boot_config": first,
                "day0_reason": f"unknown: {first}, the rendered config the node first booted, no longer exists"}
    yes = carries(mc, extensions)
    return {"installed_at_day0": yes, "first_boot_config": first,
            "day0_reason": f"its first boot config {first} " + ("carries" if yes else "lacks")
                           + " the collection's extension and CRI-O drop-in"}


def day0_summary(entries: list[dict], version: str | None) -> dict:
    """installed_at_day0 for the chosen nodes' entries of day0(): True when every one was, False when one was
    not, None when none was not but one is unknown (or there is no chosen node); with the MachineConfig's
    version."""
    values = [e["installed_at_day0"] for e in entries]
    overall: bool | None = False
    if not values or (False not in values and None in values):
        overall = None
    elif False not in values:
        overall = True
    return {"installed_at_day0": overall, "version": version,
            "nodes": sorted(e["name"] for e in entries if e["installed_at_day0"]),
            "unknown": sorted(e["name"] for e in entries if e["installed_at_day0"] is None)}
