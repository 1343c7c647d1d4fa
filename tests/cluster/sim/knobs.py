"""The simulator's knobs: a ConfigMap's data turned into typed settings.

The ConfigMap `machine-config-simulator` in openshift-machine-config-operator
is seeded from the cluster settings (environment) by topology.seed and watched
by the running simulator, so tests change timings or the extension allow-list
without a restart. Pure: no I/O here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields

log = logging.getLogger(__name__)

# SupportedExtensions() of MCO release-4.21 (the version the local cluster
# reports): wasm is still there, it went away in 4.22 (mco.md 2.5).
SUPPORTED_EXTENSIONS_4_21: dict[str, tuple[str, ...]] = {
    "two-node-ha": ("pacemaker", "pcs", "fence-agents-all"),
    "wasm": ("crun-wasm",),
    "ipsec": ("NetworkManager-libreswan", "libreswan"),
    "usbguard": ("usbguard",),
    "kerberos": ("krb5-workstation", "libkadm5"),
    "kernel-devel": ("kernel-devel", "kernel-headers"),
    "sandboxed-containers": ("kata-containers",),
    "sysstat": ("sysstat",),
}

# Where the MCO checks extensions (mco.md 2.5): "ignition" = release-4.18 and
# later (render time, only MCs that carry spec.config); "always" = 4.16/4.17
# (render time, every MC); "daemon" = 4.15 and older (only the daemon, after
# the node was drained).
EXTENSION_VALIDATION_MODES = ("ignition", "always", "daemon")
TOPOLOGIES = ("standard", "compact", "sno")

# ConfigMap key -> attribute.
KEYS = {
    "renderDelaySeconds": "render_delay",
    "nodeUpdateSeconds": "node_update",
    "supportedExtensions": "supported_extensions",
    "extensionValidation": "extension_validation",
    "topology": "topology",
    "heartbeatSeconds": "heartbeat",
    "jobPodSeconds": "job_pod_seconds",
    "drainRetrySeconds": "drain_retry",
    "drainTimeoutSeconds": "drain_timeout",
}


@dataclass(frozen=True)
class Knobs:
    render_delay: float = 5.0  # renderDelay of the render controller
    node_update: float = 3.0  # one node's update, drain to uncordon
    supported_extensions: tuple[str, ...] = tuple(SUPPORTED_EXTENSIONS_4_21)
    extension_validation: str = "ignition"
    topology: str = "standard"
    heartbeat: float = 30.0  # node Ready heartbeat and Lease renewal
    job_pod_seconds: float = 2.0  # a Job's pod runs this long, then Succeeded
    drain_retry: float = 5.0  # retry a drain blocked by a PodDisruptionBudget
    drain_timeout: float = 3600.0  # MCD: "failed to drain node ... after 1 hour"

    @property
    def control_plane_topology(self) -> str:
        return "SingleReplica" if self.topology == "sno" else "HighlyAvailable"

    @classmethod
    def from_data(cls, data: dict[str, str] | None) -> Knobs:
        """Knobs from ConfigMap data; a bad value is logged and the default kept."""
        base = cls()
        values: dict[str, object] = {}
        for key, raw in (data or {}).items():
            attr = KEYS.get(key)
            if attr is None:
                continue
            try:
                values[attr] = _parse(attr, raw)
            except ValueError as e:
                log.warning("knob %s=%r ignored: %s", key, raw, e)
        return cls(**{f.name: values.get(f.name, getattr(base, f.name)) for f in fields(cls)})

    def to_data(self) -> dict[str, str]:
        out = {}
        for key, attr in KEYS.items():
            v = getattr(self, attr)
            out[key] = ",".join(v) if isinstance(v, tuple) else _fmt(v)
        return out


def _fmt(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _parse(attr: str, raw: str) -> object:
    raw = str(raw).strip()
    if attr == "supported_extensions":
        return tuple(x for x in raw.replace(",", " ").split() if x)
    if attr == "extension_validation":
        if raw not in EXTENSION_VALIDATION_MODES:
            raise ValueError(f"one of {', '.join(EXTENSION_VALIDATION_MODES)}")
        return raw
    if attr == "topology":
        if raw not in TOPOLOGIES:
            raise ValueError(f"one of {', '.join(TOPOLOGIES)}")
        return raw
    v = float(raw)
    if v < 0 or math.isnan(v):
        raise ValueError("must be a non-negative number")
    return v
