"""The simulator's knobs: a ConfigMap's data turned into typed settings.

The ConfigMap `machine-config-simulator` in openshift-machine-config-operator
is seeded from the cluster settings (environment) by topology.seed and watched
by the running simulator, so tests change timings, the release the simulator
plays, the extension allow-list or images' users without a restart. Pure: no
I/O here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields

from . import releases

log = logging.getLogger(__name__)

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
    "openshiftVersion": "openshift_version",
    "supportedExtensions": "supported_extensions",
    "extensionValidation": "extension_validation",
    "topology": "topology",
    "heartbeatSeconds": "heartbeat",
    "jobPodSeconds": "job_pod_seconds",
    "drainRetrySeconds": "drain_retry",
    "drainTimeoutSeconds": "drain_timeout",
    "drainHelperTimeoutSeconds": "drain_helper_timeout",
    "drainRequeueSeconds": "drain_requeue",
    "drainRequeueFailingThresholdSeconds": "drain_requeue_failing_threshold",
    "drainRequeueFailingSeconds": "drain_requeue_failing",
    "imageUsers": "image_users",
    "defaultImageUser": "default_image_user",
}


@dataclass(frozen=True)
class Knobs:
    render_delay: float = 5.0  # renderDelay of the render controller
    node_update: float = 3.0  # one node's update, drain to uncordon
    openshift_version: str = releases.DEFAULT  # the release the simulator behaves as
    supported_extensions: tuple[str, ...] | None = None  # None: the release's allow-list
    extension_validation: str | None = None  # None: where the release validates
    topology: str = "standard"
    heartbeat: float = 30.0  # node Ready heartbeat and Lease renewal
    job_pod_seconds: float = 2.0  # a Job's pod runs this long, then Succeeded
    drain_retry: float = 5.0  # the drain helper retries an eviction a PodDisruptionBudget refused
    drain_timeout: float = 3600.0  # MCD: "failed to drain node ... after 1 hour"; the controller: DrainFailed
    drain_helper_timeout: float = 90.0  # DrainHelperTimeout: one helper run, then "global timeout reached"
    drain_requeue: float = 60.0  # DrainRequeueDelay: the next run after a failed one
    drain_requeue_failing_threshold: float = 600.0  # DrainRequeueFailingThreshold
    drain_requeue_failing: float = 300.0  # DrainRequeueFailingDelay: the next run once failing that long
    image_users: tuple[tuple[str, str], ...] = ()  # image -> the USER of its config (kubelet runAsNonRoot)
    default_image_user: str = "0"  # most images (ubi9/ubi-minimal ...) run as root

    @property
    def release(self) -> releases.Release:
        return releases.release(self.openshift_version)

    @property
    def extensions(self) -> tuple[str, ...]:
        """The allow-list in force: the knob, else the release's."""
        if self.supported_extensions is not None:
            return self.supported_extensions
        return tuple(self.release.supported_extensions)

    @property
    def validation(self) -> str:
        return self.extension_validation or self.release.extension_validation

    def image_user(self, image: str) -> str:
        """The user an image's config says it runs as (the knob's imageUsers, else defaultImageUser)."""
        users = dict(self.image_users)
        if image in users:
            return users[image]
        # an image named without tag or digest in the knob matches any tag or digest of it
        repo = image.split("@", 1)[0]
        last = repo.rsplit("/", 1)[-1]
        if ":" in last:
            repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
        return users.get(repo, self.default_image_user)

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
        """ConfigMap data; knobs left to the release (None) are not written."""
        out = {}
        for key, attr in KEYS.items():
            v = getattr(self, attr)
            if v is None:
                continue
            if attr == "image_users":
                out[key] = ",".join(f"{i}={u}" for i, u in v)
            else:
                out[key] = ",".join(v) if isinstance(v, tuple) else _fmt(v)
        return out


def _fmt(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _parse(attr: str, raw: str) -> object:
    raw = str(raw).strip()
    if attr == "openshift_version":
        return releases.release(raw).version
    if attr == "image_users":
        pairs = []
        for item in raw.replace("\n", ",").split(","):
            if not item.strip():
                continue
            image, sep, user = item.strip().rpartition("=")
            if not sep or not image:
                raise ValueError(f"{item!r} is not image=user")
            pairs.append((image.strip(), user.strip()))
        return tuple(pairs)
    if attr == "default_image_user":
        return raw
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
