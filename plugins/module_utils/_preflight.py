# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Preflight: from the user's settings and the cluster as it is, the target and the plan, or a clear refusal.

Everything here is pure: the preflight module reads the cluster into Facts and calls decide() (install and
upgrade) or decide_uninstall(); each lists its steps in its docstring, and they follow it in that order.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ansible_collections.sandboxed.containers.plugins.module_utils import _drain
from ansible_collections.sandboxed.containers.plugins.module_utils._crio import (
    DropinError,
    check_crio_dropin,
    crio_version,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._ignition import files_of
from ansible_collections.sandboxed.containers.plugins.module_utils._image import image_problem
from ansible_collections.sandboxed.containers.plugins.module_utils._membership import pool_members, primary_pool
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    ADOPT_SETTING,
    DEFAULT_HANDLER,
    DEFAULT_POOL_NAME,
    DEFAULT_RUNTIME_CLASS,
    KATA_EXTENSIONS,
    MACHINE_CONFIG_NAME,
    ROLE_LABEL,
    node_role_label,
    role_of,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    NOT_CREATED,
    custom_pool,
    is_managed,
    machine_config,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._plan import plan
from ansible_collections.sandboxed.containers.plugins.module_utils._platform import (
    EXTENSION_ARCHITECTURES,
    FIRST_ADMISSION_POLICY_RELEASE,
    NFD_KATA,
    VIRT_FEATURES,
    Release,
    UnsupportedOS,
    extension_for,
    node_arch,
    node_os,
    release_text,
    virtualization_capable,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import settings as policy_settings
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import (
    MaxUnavailableError,
    conditions,
    is_paused,
    parse_max_unavailable,
    paused_by_collection,
    paused_message,
    rolling_out,
    waiting_nodes,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._quantity import QuantityError, validate_overhead
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import (
    SelectorError,
    is_empty,
    matches,
    to_string,
    validate,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._status import pod_ref, pods_using
from ansible_collections.sandboxed.containers.plugins.module_utils._waves import (
    CANARY_SETTING,
    WAVE_SIZE_SETTING,
    WaveError,
    check_counts,
    describe,
    parse_canary,
    parse_wave_size,
    plan_waves,
    requested,
)

WORKER_LABEL = node_role_label("worker")
# Labels NFD (and the sandboxed containers operator's rule) set on nodes that can run Kata VMs, on x86 and IBM Z.
VIRT_LABELS = (*(label for labels in VIRT_FEATURES.values() for label in labels), NFD_KATA)
# What the OpenShift sandboxed containers operator leaves behind (its controllers/openshift_controller.go).
OPERATOR_MACHINE_CONFIG = "50-enable-sandboxed-containers-extension"
OPERATOR_CRIO_CONFIG = "kata-crio-config"
# kata-deploy's node label and RuntimeClass label (kata-containers tools/packaging/kata-deploy).
KATA_DEPLOY_NODE_LABEL = "katacontainers.io/kata-runtime"
KATA_DEPLOY_MANAGED_BY = "kata-deploy"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class PreflightError(ValueError):
    """A reason not to change anything; the message says what is wrong and how to fix it."""


@dataclass
class Settings:
    node_selector: object = None
    pool_name: str = DEFAULT_POOL_NAME
    runtime_class_name: str = DEFAULT_RUNTIME_CLASS
    handler: str = DEFAULT_HANDLER
    overhead: object = field(default_factory=lambda: {"cpu": "250m", "memory": "350Mi"})
    crio_dropin: str | None = None
    max_unavailable: object = None
    virtualization_check: str = "fail"  # fail, warn or ignore
    unsupported_architecture: str = "fail"  # fail, or exclude (custom pool only)
    policy_requested: bool = False  # an admission policy with at least one rule
    adopt: bool = False  # take over objects of the collection's names that it did not create
    canary: object = 0  # nodes that move into the custom pool first (0: no canary)
    wave_size: object = None  # nodes (or a percentage of the chosen) per wave after the canary; None: all at once
    canary_verify: bool = False  # the verify pod on the canary nodes before the waves
    verify_image: str | None = None  # its image (sandboxed_containers_verify_image)
    rollout: str = "now"  # now, or staged: the pools paused, nothing reboots until a later run resumes them
    drain_blockers: str = "stop"  # stop, or warn: what a held or lossy drain of a rebooting node does to the run


@dataclass
class Facts:
    """What preflight read from the cluster."""

    nodes: list[dict]
    pools: list[dict]
    machine_configs: list[dict] = field(default_factory=list)  # every non-rendered MachineConfig
    current_mc: dict | None = None
    kataconfigs: list[str] = field(default_factory=list)
    release: Release | None = None  # from the ClusterVersion; None when it cannot be read
    serves_admission_policy: bool = True
    machine_os_configs: list[dict] = field(default_factory=list)
    runtime_classes: list[dict] = field(default_factory=list)
    container_runtime_configs: list[dict] = field(default_factory=list)
    # The admission policies and bindings of the collection's names that exist.
    policy_objects: list[dict] = field(default_factory=list)
    # Every pod; read only when the plan needs them (a renamed runtime class).
    pods: list[dict] = field(default_factory=list)


@dataclass
class Decision:
    topology: str  # standard, compact or sno
    target_pool: str
    custom_pool: bool
    role: str  # the role label of our MachineConfig
    chosen_nodes: list[str]
    plan: dict
    warnings: list[str]
    messages: list[str]
    transition: str = "apply"
    extension: str = "sandboxed-containers"
    release: str | None = None
    # The collection's RuntimeClasses under an earlier name, which the install deletes.
    stale_runtime_classes: list[str] = field(default_factory=list)
    # Canary, then waves (_waves.plan_waves); [] moves every chosen node at once.
    waves: list[dict] = field(default_factory=list)
    window: dict = field(default_factory=lambda: {"pause": [], "resume": [], "staged": {}})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Target:
    topology: str
    pool: str
    custom: bool
    role: str
    chosen: list[str]


def decide(settings: Settings, facts: Facts, *, operation: str = "install") -> Decision:
    """The target pool, the chosen nodes and the plan; raises PreflightError before anything changes.

    The steps, each a function below, in this order:

    1. validate_settings: the settings alone;
    2. refuse_kataconfigs, check_neighbours: the operator, another installer of Kata, or what they left behind;
    3. check_pools, check_ownership, check_rename: the MCO's pools; objects of the collection's names that it did
       not create; its runtime class under an earlier name;
    4. choose_target: the target pool and the chosen nodes;
    5. check_nodes: their operating system (the extension's name), architecture and virtualization;
    6. check_dropin_on_nodes: the CRI-O drop-in against the CRI-O the chosen nodes run;
    7. check_policy_served: the admission policy against the release;
    8. check_role_change, plan_change, transition: the plan, and how to get there with one reboot per node;
    9. plan_window, check_pools_needed: the pools to pause (staged) or resume, then layering and health of every
       pool the change touches;
    10. rollout_waves: the canary and the waves, checked against the chosen nodes.
    """
    selector, _overhead, max_unavailable = validate_settings(settings)
    refuse_kataconfigs(facts.kataconfigs)
    check_neighbours(settings, facts)
    existing_custom = check_pools(settings, facts.pools)
    warnings: list[str] = []
    messages: list[str] = []
    check_ownership(settings, facts, messages)
    stale = check_rename(settings, facts, messages)
    target = choose_target(settings, selector, facts, existing_custom, warnings, messages)
    extension = check_nodes(settings, target, facts, warnings)
    check_dropin_on_nodes(settings, target, facts)
    check_policy_served(settings, facts)
    current_role = check_role_change(settings, target, facts.current_mc)
    change = plan_change(settings, facts, target, extension, existing_custom, max_unavailable)
    move = transition(current_role, target.role, target.custom)
    window = plan_window(settings.rollout, facts, target, change, move)
    check_pools_needed(facts, pools_needed(target, change, move))
    messages += inheriting_message(target, change) + window_messages(window)
    waves = rollout_waves(settings, target, facts, move, change, messages)
    return Decision(target.topology, target.pool, target.custom, target.role, target.chosen, change, warnings,
                    messages, transition=move, extension=extension,
                    release=facts.release.text if facts.release else None, stale_runtime_classes=stale, waves=waves,
                    window=window)


def validate_settings(s: Settings) -> tuple[dict, dict, object]:
    """Checks what needs no cluster; returns (selector, overhead, max_unavailable)."""
    try:
        selector = validate(s.node_selector, "sandboxed_containers_node_selector")
    except SelectorError as e:
        raise PreflightError(str(e)) from None
    if not isinstance(s.pool_name, str) or not _DNS_LABEL.match(s.pool_name) or len(s.pool_name) > 63:
        raise PreflightError(
            f"sandboxed_containers_pool_name {s.pool_name!r} must be a DNS label (lowercase letters, digits and "
            "'-', at most 63 characters), for example kata-oc"
        )
    if s.pool_name in ("master", "worker", "arbiter"):
        raise PreflightError(
            f"sandboxed_containers_pool_name {s.pool_name!r} is a pool of the MCO; choose a custom pool name "
            "such as kata-oc (or leave sandboxed_containers_node_selector empty to use the worker pool)"
        )
    for what, value in (("sandboxed_containers_runtime_class_name", s.runtime_class_name),
                        ("sandboxed_containers_handler", s.handler)):
        if not isinstance(value, str) or not _DNS_LABEL.match(value):
            raise PreflightError(f"{what} {value!r} must be a DNS label (lowercase letters, digits and '-')")
    try:
        overhead = validate_overhead(s.overhead)
    except QuantityError as e:
        raise PreflightError(f"sandboxed_containers_overhead: {e}") from None
    try:
        mu = parse_max_unavailable(s.max_unavailable)
    except MaxUnavailableError as e:
        raise PreflightError(f"sandboxed_containers_max_unavailable {e}") from None
    if s.crio_dropin is not None:
        check_dropin(s.crio_dropin, s.handler, None)
    if s.virtualization_check not in ("fail", "warn", "ignore"):
        raise PreflightError("sandboxed_containers_virtualization_check must be fail, warn or ignore")
    if s.unsupported_architecture not in ("fail", "exclude"):
        raise PreflightError("sandboxed_containers_unsupported_architecture must be fail or exclude")
    canary, wave_size = wave_settings(s)
    if s.canary_verify:
        check_canary_verify(canary, s.verify_image)
    if s.rollout not in ("now", "staged"):
        raise PreflightError(f"sandboxed_containers_rollout {s.rollout!r} must be now (roll out and wait) or staged "
                             "(pause the pool and stage the change for a maintenance window)")
    if s.rollout == "staged" and (canary or wave_size is not None):
        # A paused pool updates no node: the canary would never finish, and every wave would wait for it.
        raise PreflightError(f"sandboxed_containers_rollout staged cannot go with {CANARY_SETTING} {canary} or "
                             f"sandboxed_containers_wave_size {wave_size!r}: a paused pool updates no node, so no wave "
                             "would finish. Stage without a canary and waves, or roll out now in waves")
    if s.drain_blockers not in ("stop", "warn"):
        raise PreflightError(f"sandboxed_containers_drain_blockers {s.drain_blockers!r} must be stop (refuse before "
                             "any change) or warn (go on and say so)")
    return selector, overhead, mu


def check_offline(s: Settings, *, allow_non_vm_runtime: bool, policy: dict | None) -> tuple[dict, dict, object]:
    """Every check of the settings that needs no cluster, as the preflight makes them before it reads the cluster
    and the render makes them instead; returns validate_settings' (selector, overhead, max_unavailable). Raises
    PreflightError, or PolicyError for the admission policy (applied later in a run: a mistake in it stops it here)."""
    out = validate_settings(s)
    check_dropin_runtime(s.crio_dropin, s.handler, allow_non_vm_runtime)
    if policy is not None:
        policy_settings(policy)
    return out


def wave_settings(s: Settings) -> tuple[int, int | str | None]:
    """The canary count and the wave size, checked alone (against the chosen nodes: rollout_waves)."""
    try:
        return parse_canary(s.canary), parse_wave_size(s.wave_size)
    except WaveError as e:
        raise PreflightError(str(e)) from None


def check_canary_verify(canary: int, image: str | None) -> None:
    """The verify pod on the canary needs a canary, and an image it can run (refused here, not after the canary
    moved)."""
    if canary == 0:
        raise PreflightError(f"sandboxed_containers_canary_verify runs the verify pod on the canary nodes, but "
                             f"{CANARY_SETTING} is 0 (no canary): set it to 1 or more, or set "
                             "sandboxed_containers_canary_verify to false")
    problem = image_problem(image or "")
    if problem:
        raise PreflightError(f"sandboxed_containers_canary_verify: {problem}")


def check_dropin(content: str, handler: str, crio: tuple[int, int, int] | None) -> dict:
    """The drop-in checked against CRI-O `crio` (None: any release), as a PreflightError that names the settings."""
    try:
        return check_crio_dropin(content, handler, crio)
    except DropinError as e:
        raise PreflightError(f"{e} (check sandboxed_containers_crio_* and the drop-in template)") from None


def check_dropin_runtime(dropin: str | None, handler: str, allow_non_vm_runtime: bool) -> None:
    """A handler that runs without a VM would make the runtime class a sandbox in name only."""
    if dropin is None:
        return
    try:
        check_crio_dropin(dropin, handler, None, require_vm=not allow_non_vm_runtime)
    except DropinError as e:
        raise PreflightError(f"{e} (check sandboxed_containers_crio_*)") from None


@dataclass(frozen=True)
class Neighbour:
    """Another installer of Kata, or what it left: the object, what is wrong, and what to do."""

    subject: str
    evidence: str
    fix: str
    joiner: str = ". "

    @property
    def text(self) -> str:
        return self.evidence + self.joiner + self.fix


def refuse_kataconfigs(kataconfigs: list[str]) -> None:
    problem = kataconfig_problem(kataconfigs)
    if problem:
        raise PreflightError(problem.text)


def kataconfig_problem(kataconfigs: list[str]) -> Neighbour | None:
    """The operator manages the cluster when a KataConfig exists."""
    if not kataconfigs:
        return None
    return Neighbour(
        f"KataConfig {', '.join(kataconfigs)}",
        f"the OpenShift sandboxed containers operator manages this cluster (KataConfig {', '.join(kataconfigs)}); "
        "this collection would fight it",
        "Manage Kata through the operator, or delete the KataConfig and let the operator uninstall first")


def check_neighbours(settings: Settings, facts: Facts) -> None:
    """Refuses the first of neighbour_problems()."""
    problems = neighbour_problems(settings.handler, facts)
    if problems:
        raise PreflightError(problems[0].text)


def _machine_config_neighbours(handler: str, mc: dict) -> list[Neighbour]:
    name = mc["metadata"]["name"]
    found = []
    exts = [e for e in (mc.get("spec") or {}).get("extensions") or [] if e in KATA_EXTENSIONS]
    role = (mc["metadata"].get("labels") or {}).get(ROLE_LABEL, "?")
    if exts:
        origin = (" (left by the OpenShift sandboxed containers operator, which no longer manages this cluster: "
                  "there is no KataConfig)" if name == OPERATOR_MACHINE_CONFIG else "")
        found.append(Neighbour(
            f"MachineConfig {name}",
            f"MachineConfig {name}{origin} already installs the {exts[0]} extension on the {role} pool; a second "
            "MachineConfig with it would duplicate the extension in the rendered config, and removing either "
            "later would leave the other half in place",
            f"Delete it first (oc delete machineconfig {name}; the nodes of the {role} pool reboot once), then run "
            "the install"))
    for path, text in files_of(mc.get("spec") or {}).items():
        if path.startswith("/etc/crio/crio.conf.d/") and f"[crio.runtime.runtimes.{handler}]" in (text or ""):
            found.append(Neighbour(
                f"MachineConfig {name}",
                f"MachineConfig {name} (role {role}) already defines the CRI-O handler {handler} in {path}; CRI-O "
                "would take one of the two tables depending on the file names",
                f"Delete it (oc delete machineconfig {name}) or choose another sandboxed_containers_handler"))
    return found


def neighbour_problems(handler: str, facts: Facts) -> list[Neighbour]:
    """Other installers of Kata, and what they left behind: each named, with what to do (the preflight refuses the
    first, the doctor reports them all)."""
    others = [mc for mc in facts.machine_configs
              if not (is_managed(mc) or mc["metadata"]["name"] == MACHINE_CONFIG_NAME)]
    problems = [n for mc in others for n in _machine_config_neighbours(handler, mc)]
    for crc in facts.container_runtime_configs:
        if crc["metadata"]["name"] == OPERATOR_CRIO_CONFIG:
            problems.append(Neighbour(
                f"ContainerRuntimeConfig {OPERATOR_CRIO_CONFIG}",
                f"the ContainerRuntimeConfig {OPERATOR_CRIO_CONFIG} left by the OpenShift sandboxed containers "
                "operator selects the pools labelled pools.operator.machineconfiguration.openshift.io/kata-oc and "
                "would change the CRI-O settings of the collection's pool",
                f"delete it first (oc delete containerruntimeconfig {OPERATOR_CRIO_CONFIG})", "; "))
    deployed = sorted(n["metadata"]["name"] for n in facts.nodes
                      if KATA_DEPLOY_NODE_LABEL in (n["metadata"].get("labels") or {}))
    classes = sorted(rc["metadata"]["name"] for rc in facts.runtime_classes
                     if (rc["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by")
                     == KATA_DEPLOY_MANAGED_BY)
    if deployed or classes:
        where = (f"on nodes {', '.join(deployed)} (label {KATA_DEPLOY_NODE_LABEL})" if deployed
                 else f"through RuntimeClasses {', '.join(classes)}")
        problems.append(Neighbour(
            "kata-deploy",
            f"kata-deploy manages Kata Containers {where}; it writes its own CRI-O drop-in on the nodes and the two "
            "installations would fight over CRI-O's configuration",
            "Remove kata-deploy first (its cleanup removes the drop-in and the node label), then run the install"))
    return problems


def check_pools(settings: Settings, pools: list[dict]) -> dict | None:
    """The MCO's pools exist; returns the existing pool of our name (check_ownership decides whether it is ours)."""
    by_name = {pool["metadata"]["name"]: pool for pool in pools}
    for required in ("master", "worker"):
        if required not in by_name:
            raise PreflightError(f"the cluster has no {required} MachineConfigPool; is the MCO running?")
    return by_name.get(settings.pool_name)


def _foreign_objects(settings: Settings, facts: Facts) -> list[tuple[str, str, str]]:
    """(kind, name, the setting that chooses another name) of each object of the collection's names that the
    collection did not create: the operator's, an administrator's, another tool's."""
    found = []
    rc = next((x for x in facts.runtime_classes if x["metadata"]["name"] == settings.runtime_class_name), None)
    if rc is not None and not is_managed(rc):
        found.append(("RuntimeClass", settings.runtime_class_name, "sandboxed_containers_runtime_class_name"))
    pool = next((x for x in facts.pools if x["metadata"]["name"] == settings.pool_name), None)
    if pool is not None and not is_managed(pool):
        found.append(("MachineConfigPool", settings.pool_name, "sandboxed_containers_pool_name"))
    if facts.current_mc is not None and not is_managed(facts.current_mc):
        found.append(("MachineConfig", facts.current_mc["metadata"]["name"], ""))
    for obj in facts.policy_objects:
        if not is_managed(obj):
            found.append((obj.get("kind") or "ValidatingAdmissionPolicy", obj["metadata"]["name"], ""))
    return found


def check_ownership(settings: Settings, facts: Facts, messages: list[str]) -> None:
    """The collection acts only on objects it created (its label): others of its names are refused, naming each,
    unless the user adopts them explicitly; the install then labels them as its own."""
    found = _foreign_objects(settings, facts)
    if not found:
        return
    listed = "; ".join(f"{kind} {name} exists and {NOT_CREATED}" for kind, name, _setting in found)
    if settings.adopt:
        messages.append(f"{ADOPT_SETTING}: taking over what the collection did not create: {listed}. The install "
                        "labels them as its own, and the uninstall will delete them")
        return
    renames = sorted({setting for _kind, _name, setting in found if setting})
    rename = f", choose another name ({', '.join(renames)})" if renames else ""
    raise PreflightError(
        f"{listed}. Perhaps the sandboxed containers operator's or an administrator's: the collection does not take "
        f"over objects it did not create. Delete them{rename}, or set {ADOPT_SETTING}: true to take them over (the "
        "install then labels them as its own)"
    )


def managed_runtime_classes(facts: Facts) -> list[str]:
    """The names of the collection's RuntimeClasses, found by its label: the current one and any earlier names."""
    return sorted(rc["metadata"]["name"] for rc in facts.runtime_classes if is_managed(rc))


def _active_pods(pods: list[dict], classes: set[str]) -> dict[str, list[str]]:
    """runtime class -> namespace/name of the pods that use it and may still run (Pending, Running, Unknown)."""
    out: dict[str, list[str]] = {}
    for pod in pods_using(pods, classes, active=True):
        out.setdefault(pod["spec"]["runtimeClassName"], []).append(pod_ref(pod))
    return {k: sorted(v) for k, v in sorted(out.items())}


def check_rename(settings: Settings, facts: Facts, messages: list[str]) -> list[str]:
    """The collection's RuntimeClasses under an earlier name, which the install deletes; refused while pods use
    them, since they would lose their runtime class under them."""
    # Nothing would gate an earlier name once the policy follows the new one.
    stale = [n for n in managed_runtime_classes(facts) if n != settings.runtime_class_name]
    if not stale:
        return []
    used = _active_pods(facts.pods, set(stale))
    if used:
        raise PreflightError("; ".join(
            f"{len(pods)} pods in namespaces {', '.join(sorted({x.split('/', 1)[0] for x in pods}))} use the runtime "
            f"class {rc}, which the collection made under its earlier name"
            for rc, pods in used.items()
        ) + f". Renaming it to {settings.runtime_class_name} deletes it (an old class would be left ungated): move "
            f"those pods to runtime class {settings.runtime_class_name} (or delete them) first, or keep "
            f"sandboxed_containers_runtime_class_name: {next(iter(used))}")
    messages.append(f"the runtime class is now {settings.runtime_class_name}: the collection deletes its "
                    f"RuntimeClasses under an earlier name ({', '.join(stale)})")
    return stale


def choose_target(settings: Settings, selector: dict, facts: Facts, existing_custom: dict | None,
                  warnings: list[str], messages: list[str]) -> Target:
    """The target pool and the chosen nodes: the worker pool, a custom pool, or master on compact clusters."""
    nodes, pools = facts.nodes, facts.pools
    membership = {n["metadata"]["name"]: primary_pool(n["metadata"]["name"], n["metadata"].get("labels"), pools).pool
                  for n in nodes}
    # Dedicated workers: worker-role nodes the master pool does not own (schedulable control-plane nodes carry the
    # worker label too, but the MCO keeps them in the master pool).
    workers = sorted(n["metadata"]["name"] for n in nodes
                     if WORKER_LABEL in (n["metadata"].get("labels") or {})
                     and membership[n["metadata"]["name"]] != "master")
    if not workers:
        return master_target(settings, selector, len(nodes), membership, messages)
    masters_with_worker_role = sorted(n for n, pool in membership.items() if pool == "master" and WORKER_LABEL in (
        next(x for x in nodes if x["metadata"]["name"] == n)["metadata"].get("labels") or {}))
    if is_empty(selector) and requested(*wave_settings(settings)):
        # The worker pool updates all its nodes as soon as its render changes: only a custom pool can hold the
        # later waves back, so every worker is chosen through it.
        messages.append(f"{CANARY_SETTING} and {WAVE_SIZE_SETTING} need a custom pool: every worker "
                        f"({', '.join(workers)}) is chosen through pool {settings.pool_name}, as a "
                        "sandboxed_containers_node_selector that matches every worker would")
        return Target("standard", settings.pool_name, True, settings.pool_name, workers)
    if is_empty(selector):
        chosen = sorted(n for n, pool in membership.items() if pool == "worker")
        if existing_custom is not None:
            # Back from a custom pool to all workers: every node of it returns to worker.
            chosen = sorted(set(chosen) | {n for n, pool in membership.items() if pool == settings.pool_name})
        if masters_with_worker_role:
            messages.append(
                f"control-plane nodes {', '.join(masters_with_worker_role)} are schedulable workers too, but the MCO "
                "keeps them in the master pool: they do not get sandboxed containers, and the RuntimeClass does not "
                "schedule sandboxed pods onto them")
        if settings.max_unavailable not in (None, ""):
            warnings.append("sandboxed_containers_max_unavailable applies to the custom pool only; the worker pool's "
                            "own maxUnavailable is left as it is")
        return Target("standard", "worker", False, "worker", chosen)
    labels = {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in nodes}
    chosen = sorted(w for w in workers if matches(selector, labels[w]))
    masters = sorted(n for n, pool in membership.items() if pool == "master" and matches(selector, labels[n]))
    if masters:
        warnings.append(f"the selector also matches control-plane nodes {', '.join(masters)}; the MCO keeps them in "
                        "the master pool, so they are left alone")
    if not chosen:
        hint = (" To take sandboxed containers off every node, run playbooks/uninstall.yml instead"
                if facts.current_mc is not None else "")
        raise PreflightError(
            f"sandboxed_containers_node_selector ({to_string(selector)}) matches no worker node; the workers are "
            f"{', '.join(workers)}. Fix the selector, or label the nodes you want (oc label node <name> "
            f"<key>=<value>).{hint}"
        )
    return Target("standard", settings.pool_name, True, settings.pool_name, chosen)


def master_target(settings: Settings, selector: dict, count: int, membership: dict[str, str | None],
                  messages: list[str]) -> Target:
    """Compact and single-node clusters: the master pool, every node of it; no subset, so no waves either."""
    topology = "sno" if count == 1 else "compact"
    kind = "single-node" if topology == "sno" else "compact"
    if not is_empty(selector):
        raise PreflightError(
            f"this is a {kind} cluster: its workers are control-plane nodes, which the MCO keeps in the master "
            "pool, so no subset of nodes can be chosen; leave sandboxed_containers_node_selector empty to "
            "install on every node (each reboots once)"
        )
    canary, wave_size = wave_settings(settings)
    if requested(canary, wave_size):
        raise PreflightError(
            f"this is a {kind} cluster: every node is in the master pool, which the MCO updates as a whole, so no "
            f"node can move first; {CANARY_SETTING} {canary} and {WAVE_SIZE_SETTING} {wave_size!r} are not "
            "allowed here: leave them at 0 and null")
    chosen = sorted(n for n, pool in membership.items() if pool == "master")
    messages.append(f"{kind} cluster: the worker pool has no machines, so the master pool is the target and "
                    f"every node of it ({', '.join(chosen)}) gets sandboxed containers")
    return Target(topology, "master", False, "master", chosen)


def rollout_waves(settings: Settings, target: Target, facts: Facts, move: str, change: dict,
                  messages: list[str]) -> list[dict]:
    """The canary and the waves into the custom pool, refused when larger than the chosen nodes."""
    canary, wave_size = wave_settings(settings)
    if not requested(canary, wave_size):
        return []
    try:
        check_counts(canary, wave_size, target.chosen)
    except WaveError as e:
        raise PreflightError(str(e)) from None
    if move != "apply":
        # to_custom: the nodes move with no content change (the pool inherits the worker MachineConfig), so no
        # node reboots as it moves and there is nothing for a canary to try first.
        messages.append(f"the nodes move into pool {target.pool} without a reboot, so they move at once, with no "
                        "canary or waves")
        return []
    label = node_role_label(target.pool)
    in_pool = [n["metadata"]["name"] for n in facts.nodes if label in (n["metadata"].get("labels") or {})]
    waves = plan_waves(target.chosen, in_pool, canary, wave_size)
    messages.append(describe(waves, target.pool))
    if all(w["moved"] for w in waves) and change["reboot"]:
        # Waves hold nodes out of the pool; a change under nodes already in it rolls out as the MCO updates them.
        messages.append(f"every chosen node is in pool {target.pool} already, so this change reaches them "
                        "maxUnavailable at a time (sandboxed_containers_max_unavailable), not in waves")
    return waves


def check_nodes(settings: Settings, target: Target, facts: Facts, warnings: list[str]) -> str:
    """The chosen nodes' operating system, architecture and virtualization; returns the extension's name for
    their operating system. Refuses when no node is left."""
    by_name = {n["metadata"]["name"]: n for n in facts.nodes}
    extension, os_id = choose_extension(target.chosen, by_name, facts.release)
    check_architectures(settings, target, by_name, os_id, warnings)
    check_virtualization(settings, target.chosen, by_name, warnings)
    if not target.chosen:
        raise PreflightError("no node would get sandboxed containers; check sandboxed_containers_node_selector")
    return extension


def choose_extension(chosen: list[str], by_name: dict[str, dict], release: Release | None) -> tuple[str, str]:
    """The extension name for the chosen nodes' operating system, and that os_id; all must agree."""
    names: dict[str, list[str]] = {}
    os_ids = set()
    for n in chosen:
        os_id, image = node_os(by_name[n])
        try:
            names.setdefault(extension_for(os_id, image, release), []).append(n)
        except UnsupportedOS as e:
            raise PreflightError(f"node {n} {e}; choose other nodes with sandboxed_containers_node_selector") from None
        os_ids.add(os_id or "rhcos")
    if len(names) > 1:
        detail = "; ".join(f"{ext}: {', '.join(ns)}" for ext, ns in sorted(names.items()))
        raise PreflightError(f"the chosen nodes run operating systems that name the extension differently ({detail}); "
                             "choose nodes of one operating system with sandboxed_containers_node_selector")
    return next(iter(names)), (os_ids.pop() if len(os_ids) == 1 else "rhcos")


def check_architectures(settings: Settings, target: Target, by_name: dict[str, dict], os_id: str,
                        warnings: list[str]) -> None:
    """The extension exists for x86_64 and s390x only: refuse other chosen nodes, or leave them out."""
    supported = EXTENSION_ARCHITECTURES.get(os_id or "rhcos", ("amd64", "s390x"))
    bad = {n: node_arch(by_name[n]) for n in target.chosen if node_arch(by_name[n]) not in supported}
    if not bad:
        return
    listed = ", ".join(f"{n} ({a})" for n, a in sorted(bad.items()))
    why = (f"the sandboxed-containers extension is built for {' and '.join(supported)} only, so the MCO would drain "
           f"{'them' if len(bad) > 1 else 'it'} and fail to install it")
    if settings.unsupported_architecture == "exclude" and target.custom:
        target.chosen = [n for n in target.chosen if n not in bad]
        warnings.append(f"left out {listed}: {why}")
        if not target.chosen:
            raise PreflightError(f"no chosen node is left: {listed} cannot run the extension; {why}")
        return
    fix = ("exclude them with sandboxed_containers_node_selector (e.g. a matchExpressions on kubernetes.io/arch In "
           f"[{', '.join(supported)}]), or set sandboxed_containers_unsupported_architecture: exclude to leave them "
           "out" if target.custom else
           "choose the nodes with sandboxed_containers_node_selector, e.g. matchExpressions: [{key: "
           f"kubernetes.io/arch, operator: In, values: [{', '.join(supported)}]}}] (the worker pool gives every "
           "worker the extension, so no node can be left out of it)")
    raise PreflightError(f"chosen nodes {listed} cannot run sandboxed containers: {why}; {fix}")


def check_virtualization(settings: Settings, chosen: list[str], by_name: dict[str, dict],
                         warnings: list[str]) -> None:
    if settings.virtualization_check == "ignore":
        return
    not_capable = [n for n in chosen if virtualization_capable(by_name[n]) is False]
    unknown = [n for n in chosen if virtualization_capable(by_name[n]) is None]
    if not_capable:
        msg = (f"nodes {', '.join(not_capable)} are not virtualization-capable according to their Node Feature "
               f"Discovery labels (none of {', '.join(VIRT_LABELS)} is \"true\"), so Kata VMs cannot start there; "
               "exclude them with sandboxed_containers_node_selector, or set "
               "sandboxed_containers_virtualization_check to warn")
        if settings.virtualization_check == "fail":
            raise PreflightError(msg)
        warnings.append(msg)
    if unknown:
        warnings.append(f"{len(unknown)} chosen nodes have no Node Feature Discovery label for their architecture's "
                        "virtualization support; it was not checked")


def check_dropin_on_nodes(settings: Settings, target: Target, facts: Facts) -> None:
    """The drop-in as the oldest CRI-O of the chosen nodes reads it."""
    if settings.crio_dropin is None:
        raise PreflightError("the CRI-O drop-in is needed to plan the change (crio_dropin)")
    by_name = {n["metadata"]["name"]: n for n in facts.nodes}
    check_dropin(settings.crio_dropin, settings.handler,
                 crio_version([by_name[n] for n in target.chosen], facts.release))


def check_policy_served(settings: Settings, facts: Facts) -> None:
    if settings.policy_requested and not facts.serves_admission_policy:
        runs = f"this cluster runs OpenShift {facts.release.text}" if facts.release else \
            "this cluster does not serve it"
        raise PreflightError(
            "the admission policy (sandboxed_containers_policy) needs ValidatingAdmissionPolicy in "
            "admissionregistration.k8s.io/v1, which OpenShift serves from "
            f"{release_text(FIRST_ADMISSION_POLICY_RELEASE)} (Kubernetes 1.30); {runs}. Upgrade the cluster to "
            f"{release_text(FIRST_ADMISSION_POLICY_RELEASE)} or later, or leave sandboxed_containers_policy unset"
        )


def check_role_change(settings: Settings, target: Target, current_mc: dict | None) -> str | None:
    """The installed MachineConfig's role, refused when it is a custom pool other than ours (a renamed pool)."""
    current_role = role_of(current_mc)
    if current_role not in (None, "worker", "master", target.role) and current_role != settings.pool_name:
        raise PreflightError(
            f"the installed MachineConfig targets pool {current_role}, not {target.role}; renaming the custom pool is "
            f"not supported. Set sandboxed_containers_pool_name to {current_role}, or run playbooks/uninstall.yml first"
        )
    return current_role


def plan_change(settings: Settings, facts: Facts, target: Target, extension: str, existing_custom: dict | None,
                max_unavailable: int | str | None) -> dict:
    """The plan (as a dict) from the cluster as it is to the desired MachineConfig and pool; refused when a node
    would match two custom pools, which the MCO does not roll out to."""
    desired_custom = custom_pool(settings.pool_name, max_unavailable=max_unavailable) if target.custom else None
    desired_mc = machine_config(target.role, settings.crio_dropin, extensions=[extension])
    change = plan(facts.nodes, facts.pools, machine_configs=facts.machine_configs, current_mc=facts.current_mc,
                  desired_mc=desired_mc, custom_pool=desired_custom if target.custom else existing_custom,
                  chosen=set(target.chosen) if target.custom else (set() if existing_custom is not None else None),
                  remove_custom_pool=not target.custom and existing_custom is not None,
                  release=facts.release)
    if change.errors:
        raise PreflightError("; ".join(change.errors)
                             + "; fix the node labels so each node matches at most one custom pool")
    return change.as_dict()


def transition(current_role: str | None, role: str, custom: bool) -> str:
    """How to move from the installed MachineConfig role to the desired one with one reboot per node.

    apply: create or update in place (MachineConfig, pool, wait for its render, node labels, wait).
    to_custom: from the worker pool to a custom pool: the pool first (it inherits the worker MachineConfig),
    then the nodes move with no content change, then the MachineConfig leaves the worker role.
    to_worker: from a custom pool to the worker pool: the MachineConfig takes the worker role first (the
    custom pool keeps inheriting it), then the nodes move back with no content change, then the pool goes.
    """
    if current_role == "worker" and custom:
        return "to_custom"
    if current_role not in (None, "worker", "master") and role == "worker":
        return "to_worker"
    return "apply"


def pools_needed(target: Target, change: dict, move: str) -> dict[str, str]:
    """Every pool the change touches -> what the run needs it for ("" for the target itself)."""
    needs: dict[str, str] = {target.pool: ""}
    if target.custom or move == "to_worker":
        needs.setdefault("worker", "the chosen nodes move between it and the custom pool")
    for name in change["pools"]:
        needs.setdefault(name, "it inherits the MachineConfig")
    for name in change["pools_losing"]:
        needs.setdefault(name, "it loses the MachineConfig")
    return needs


def check_pools_needed(facts: Facts, needs: dict[str, str]) -> None:
    """No pool the change touches is layered, paused or degraded."""
    check_layering(facts, set(needs))
    by_pool = {x["metadata"]["name"]: x for x in facts.pools}
    for name, why in needs.items():
        if name in by_pool:
            problem = pool_health(by_pool[name], why)
            if problem:
                raise PreflightError(problem)


def check_layering(facts: Facts, pools: set[str]) -> None:
    """Pools built with on-cluster image layering: the wait does not follow images, and nodes leaving such a
    pool would leave its image."""
    for moc in facts.machine_os_configs:
        pool = ((moc.get("spec") or {}).get("machineConfigPool") or {}).get("name")
        if pool in pools:
            raise PreflightError(
                f"pool {pool} is built with on-cluster image layering (MachineOSConfig {moc['metadata']['name']}): "
                "its nodes run an image the MCO builds, which this collection does not follow, and nodes moved out "
                "of it would leave that image. Choose nodes in a pool without a MachineOSConfig, or remove the "
                f"MachineOSConfig (oc delete machineosconfig {moc['metadata']['name']}) first"
            )


def pool_health(pool: dict, why: str = "") -> str | None:
    """Why a pool cannot take a rollout now, or None. `why` says what the run needs the pool for."""
    name = pool["metadata"]["name"]
    role = f" ({why})" if why else ""
    # A pool the collection paused is its own to resume (rollout now) or to keep paused (staged).
    if is_paused(pool) and not paused_by_collection(pool):
        return paused_message(name, why)
    for kind in ("RenderDegraded", "NodeDegraded", "Degraded"):
        c = conditions(pool).get(kind) or {}
        if c.get("status") == "True":
            detail = " ".join(x for x in (c.get("reason"), c.get("message")) if x)
            return (f"pool {name}{role} is {kind}{': ' + detail if detail else ''}; fix it first "
                    f"(oc describe mcp/{name}), then run again")
    return None


def plan_window(rollout: str, facts: Facts, target: Target, change: dict, move: str) -> dict:
    """The maintenance window: {pause, resume, staged}. Staged, the pools whose nodes the change reaches are paused
    (the MCO renders for a paused pool but updates none of its nodes) and staged maps each to the nodes that update
    when it resumes; refused for a pool already rolling out for someone else, whose nodes would take both changes
    at an unknown moment. Now, every pool the collection paused is resumed, and staged says who updates then."""
    by_name = {p["metadata"]["name"]: p for p in facts.pools}
    ours = sorted(n for n, p in by_name.items() if paused_by_collection(p))
    if rollout != "staged":
        return {"pause": [], "resume": ours, "staged": waiting(facts, ours)}
    if move != "apply":
        raise PreflightError(
            f"sandboxed_containers_rollout: staged cannot move nodes between pools (this change moves them "
            f"{'into the custom pool' if move == 'to_custom' else 'back to the worker pool'}), since a node of a "
            "paused pool does not move to its new pool's config. Run it with sandboxed_containers_rollout: now")
    pause = sorted({target.pool} | set(change["pools"]) | set(change["pools_losing"]))
    for name in pause:
        busy = rolling_out(by_name[name]) if name in by_name and name not in ours else None
        if busy:
            raise PreflightError(
                f"pool {name} is {busy} for another change; pausing it now would stop that rollout half way and "
                "put both changes on its nodes at the next resume. Wait until it has finished (oc get mcp/"
                f"{name}), then run with sandboxed_containers_rollout: staged again. Nothing was changed")
    already = waiting(facts, [n for n in pause if n in ours])
    staged = {name: sorted((set(change["reboot"]) & set(change["pools"].get(name, []))) | set(already.get(name, [])))
              for name in pause}
    return {"pause": pause, "resume": [], "staged": {name: nodes for name, nodes in staged.items() if nodes}}


def waiting(facts: Facts, pools: list[str]) -> dict[str, list[str]]:
    """For each of `pools`, its nodes not yet on the rendered config it targets (they update once it resumes)."""
    by_name = {p["metadata"]["name"]: p for p in facts.pools}
    out = {name: waiting_nodes(by_name[name], pool_members(name, facts.nodes, facts.pools)) for name in pools}
    return {name: nodes for name, nodes in out.items() if nodes}


def window_messages(window: dict) -> list[str]:
    """The window in words: what stays staged, what resumes and who updates then (each once)."""
    out = []
    for name, nodes in window["staged"].items():
        if window["pause"]:
            out.append(f"staged, pool paused: the collection pauses pool {name} and stages the change; nothing "
                       f"reboots now. {', '.join(nodes)} reboot once when pool {name} resumes, with every change "
                       "staged beside it (run the install again with sandboxed_containers_rollout: now, or resume "
                       "it in your maintenance window)")
        else:
            out.append(f"the install resumes pool {name}, which the collection paused to stage a change: "
                       f"{', '.join(nodes)} update once to its rendered config")
    for name in sorted(set(window["resume"]) - set(window["staged"])):
        out.append(f"the install resumes pool {name}, which the collection paused; its nodes are up to date")
    return out


def inheriting_message(target: Target, change: dict) -> list[str]:
    """Pools other than the target that inherit its MachineConfigs, and so get sandboxed containers too."""
    inheriting = sorted(set(change["pools"]) - {target.pool})
    if not inheriting:
        return []
    return [f"pools {', '.join(inheriting)} inherit the {target.role} MachineConfigs, so their nodes "
            f"({', '.join(n for pool in inheriting for n in change['pools'][pool])}) get sandboxed containers too"]


def parse_version(v: str | None) -> tuple[int, ...] | None:
    """1.2.3 -> (1, 2, 3); pre-release and build parts are ignored; None when absent or not a version."""
    if not v:
        return None
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", v)
    return tuple(int(x) for x in m.groups()) if m else None


def check_versions(installed: dict[str, str | None], ours: str, allow_downgrade: bool) -> list[str]:
    """Refuses to go back to an older collection; returns what moves forward (kind name: old -> new)."""
    mine = parse_version(ours)
    newer = {k: v for k, v in installed.items() if v and parse_version(v) and mine and parse_version(v) > mine}
    if newer and not allow_downgrade:
        raise PreflightError(
            "a newer version of sandboxed.containers installed this cluster ("
            + ", ".join(f"{k} {v}" for k, v in sorted(newer.items()))
            + f"); this is {ours}. Use that version or newer, or set sandboxed_containers_allow_downgrade: true "
            "to go back to this version's configuration"
        )
    return [f"{k}: {v or 'unknown'} -> {ours}" for k, v in sorted(installed.items()) if v != ours]


@dataclass
class Removal:
    path: str  # custom, worker, master or none
    custom_pool: bool  # our custom pool exists
    unlabel: list[str]
    plan: dict
    messages: list[str]
    # The collection's RuntimeClasses to delete (every one with its label, whatever its name).
    runtime_classes: list[str] = field(default_factory=list)
    # Whether the MachineConfig of our name is the collection's to delete (False when absent or someone else's).
    machine_config: bool = False
    # Objects of the collection's names that it did not create, left alone: "kind name".
    left_alone: list[str] = field(default_factory=list)
    # The pools the collection paused to stage a change: resumed before anything is removed.
    resume: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def decide_uninstall(facts: Facts, *, pool_name: str, runtime_class: str, pods: list[dict],
                     force: bool, handler: str = DEFAULT_HANDLER) -> Removal:
    """What to remove and which nodes reboot; refuses while pods use a runtime class that goes or loses its handler,
    unless forced. Objects of the collection's names that it did not create are left alone, and named.

    The steps: refuse_kataconfigs; _collection_objects (which MachineConfig and pool are the collection's);
    _left_alone_messages; _refuse_active_pods; _removal_path (custom, worker, master or none, and the nodes to
    unlabel); the plan; the RuntimeClasses to delete, the current name first.
    """
    refuse_kataconfigs(facts.kataconfigs)
    current_mc, ours, left_alone = _collection_objects(facts, pool_name)
    # The collection's MachineConfig carries the handler: while it goes, pods of another class with the handler
    # lose their runtime too.
    with_handler = ({rc["metadata"]["name"] for rc in facts.runtime_classes if rc.get("handler") == handler}
                    if current_mc is not None else set())
    messages = _left_alone_messages(facts, runtime_class, handler, with_handler, left_alone)
    managed = managed_runtime_classes(facts)
    messages += _refuse_active_pods(pods, set(managed) | with_handler, force)
    path, labelled = _removal_path(facts, pool_name, ours, current_mc)
    change = plan(facts.nodes, facts.pools, machine_configs=facts.machine_configs, current_mc=current_mc,
                  desired_mc=None, custom_pool=ours, chosen=set() if path == "custom" else None,
                  remove_custom_pool=ours is not None, release=facts.release)
    if path == "none":
        messages.append("sandboxed containers are not installed by this collection here; nothing to remove")
    resume = check_paused_for_removal(facts, change.as_dict(), ours)
    messages += [f"the uninstall resumes pool {name}, which the collection paused to stage a change, once the "
                 "MachineConfig is gone (a node that never took it does not reboot)" for name in resume]
    # The current name first: from then on no new sandboxed pod is admitted.
    order = sorted(managed, key=lambda n: (n != runtime_class, n))
    return Removal(path, ours is not None, labelled if path == "custom" else [], change.as_dict(), messages,
                   runtime_classes=order, machine_config=current_mc is not None, left_alone=left_alone,
                   resume=resume)


def check_paused_for_removal(facts: Facts, change: dict, ours: dict | None) -> list[str]:
    """The pools the collection paused (resumed once the MachineConfig is gone, so that the removal rolls out);
    refuses for a pool the
    removal touches that someone else paused, since its nodes would keep the handler until they resume it."""
    touched = set(change["pools_losing"]) | set(change["pools_without"]) | set(change["pools"])
    if ours is not None:
        touched |= {ours["metadata"]["name"], "worker"}
    for pool in facts.pools:
        name = pool["metadata"]["name"]
        if name in touched and is_paused(pool) and not paused_by_collection(pool):
            raise PreflightError(paused_message(name, "the uninstall rolls out to it") + "; then run the uninstall "
                                 "again (the collection resumes only the pools it paused)")
    return sorted(p["metadata"]["name"] for p in facts.pools if paused_by_collection(p))


def _collection_objects(facts: Facts, pool_name: str) -> tuple[dict | None, dict | None, list[str]]:
    """The collection's MachineConfig and custom pool (None when absent or someone else's), and the others of its
    names, which the uninstall leaves alone ("kind name")."""
    left_alone: list[str] = []
    current_mc = facts.current_mc if is_managed(facts.current_mc) else None
    if facts.current_mc is not None and current_mc is None:
        left_alone.append(f"MachineConfig {facts.current_mc['metadata']['name']}")
    ours = next((x for x in facts.pools if x["metadata"]["name"] == pool_name), None)
    if ours is not None and not is_managed(ours):
        left_alone.append(f"MachineConfigPool {pool_name}")
        ours = None
    return current_mc, ours, left_alone


def _left_alone_messages(facts: Facts, runtime_class: str, handler: str, with_handler: set[str],
                         left_alone: list[str]) -> list[str]:
    """What the uninstall leaves alone, each named: RuntimeClasses of its name or handler that it did not create
    (with the hint to delete one that loses its handler), the MachineConfig and pool, the admission policies."""
    messages = []
    for rc in sorted(facts.runtime_classes, key=lambda x: x["metadata"]["name"]):
        name = rc["metadata"]["name"]
        if is_managed(rc) or not (name == runtime_class or rc.get("handler") == handler):
            continue
        hint = (f"; it uses the handler {handler}, which the uninstall takes off the nodes: delete it too "
                f"(oc delete runtimeclass {name})" if name in with_handler else "")
        messages.append(f"RuntimeClass {name} {NOT_CREATED}: the uninstall leaves it alone{hint}")
    for what in left_alone:
        messages.append(f"{what} {NOT_CREATED}: the uninstall leaves it alone")
    for obj in facts.policy_objects:
        if not is_managed(obj):
            messages.append(f"{obj.get('kind') or 'ValidatingAdmissionPolicy'} {obj['metadata']['name']} "
                            f"{NOT_CREATED}: the uninstall leaves it alone")
    return messages


def _refuse_active_pods(pods: list[dict], classes: set[str], force: bool) -> list[str]:
    """Refuses while pods of `classes` may still run, since they would lose their runtime; forced, says so."""
    used = _active_pods(pods, classes)
    active = sorted(x for v in used.values() for x in v)
    if not active:
        return []
    names = ", ".join(used)
    shown = ", ".join(active[:20]) + (f" and {len(active) - 20} more" if len(active) > 20 else "")
    if not force:
        raise PreflightError(
            f"{len(active)} pods use the runtime class {names} (Pending, Running or Unknown): {shown}. "
            "Delete them (or move them to another runtime class), or set sandboxed_containers_force: true to "
            "uninstall anyway; they would lose their runtime"
        )
    return [f"forced: {len(active)} pods still use the runtime class {names}: {shown}"]


def _removal_path(facts: Facts, pool_name: str, ours: dict | None, current_mc: dict | None) -> tuple[str, list[str]]:
    """custom, worker, master or none; and the nodes that carry the custom pool's node-role label."""
    foreign_pool = ours is None and any(x["metadata"]["name"] == pool_name for x in facts.pools)
    if foreign_pool:
        labelled = []  # its nodes are its own, not the collection's to move
    else:
        label = node_role_label(pool_name)
        labelled = sorted(n["metadata"]["name"] for n in facts.nodes if label in (n["metadata"].get("labels") or {}))
    role = role_of(current_mc)
    custom = ours is not None or bool(labelled) or role not in (None, "worker", "master")
    return ("custom" if custom else (role or "none")), labelled


def check_drain(settings: Settings, reboot: list[str], pods: list[dict], budgets: list[dict]
                ) -> tuple[list[dict], list[str]]:
    """The drain preview of each node that reboots (_drain.preview), and its blockers as warnings; with
    drain_blockers stop, blockers refuse the run before any change, naming node, pod and budget, and the fixes."""
    previews = [_drain.preview(node, pods, budgets) for node in reboot]
    found = _drain.blockers(previews)
    if found and settings.drain_blockers == "stop":
        raise PreflightError(
            "the MCO's drain of the nodes that reboot would not finish, or would lose pods: " + "; ".join(found)
            + ". Scale the workload up or relax its PodDisruptionBudget so that it allows a disruption, move or "
            "delete the pods without a controller (or give them one), or set sandboxed_containers_drain_blockers: "
            "warn to go on anyway (the drain then waits until the budget allows the eviction)")
    return previews, [f"drain: {b}" for b in found]


def object_changes(*, current_mc: dict | None, desired_mc: dict, current_pool: dict | None,
                   desired_pool: dict | None, current_rc: dict | None, desired_rc: dict,
                   stale_runtime_classes: list[str] | None = None) -> list[str]:
    """In words, each managed object the change creates, alters or deletes (for the plan of check mode)."""
    out = [f"RuntimeClass {name}: deleted (the runtime class under an earlier name)"
           for name in stale_runtime_classes or []]
    name = desired_mc["metadata"]["name"]
    if current_mc is None:
        out.append(f"MachineConfig {name}: created (role {role_of(desired_mc)}, extension "
                   f"{', '.join(desired_mc['spec']['extensions'])})")
    else:
        cur, new = current_mc.get("spec") or {}, desired_mc["spec"]
        if files_of(cur) != files_of(new):
            out.append(f"MachineConfig {name}: the CRI-O drop-in changes")
        if (cur.get("extensions") or []) != new["extensions"]:
            out.append(f"MachineConfig {name}: extensions {cur.get('extensions') or []} -> {new['extensions']}")
        if role_of(current_mc) != role_of(desired_mc):
            out.append(f"MachineConfig {name}: role {role_of(current_mc)} -> {role_of(desired_mc)}")
    if desired_pool is not None:
        pname = desired_pool["metadata"]["name"]
        if current_pool is None:
            out.append(f"MachineConfigPool {pname}: created")
        elif (current_pool.get("spec") or {}).get("maxUnavailable") != desired_pool["spec"].get("maxUnavailable"):
            out.append(f"MachineConfigPool {pname}: maxUnavailable "
                       f"{(current_pool.get('spec') or {}).get('maxUnavailable')} -> "
                       f"{desired_pool['spec'].get('maxUnavailable')}")
    elif current_pool is not None:
        out.append(f"MachineConfigPool {current_pool['metadata']['name']}: deleted")
    rname = desired_rc["metadata"]["name"]
    if current_rc is None:
        out.append(f"RuntimeClass {rname}: created")
    else:
        for key in ("handler", "overhead", "scheduling"):
            if current_rc.get(key) != desired_rc.get(key):
                out.append(f"RuntimeClass {rname}: {key} {current_rc.get(key)} -> {desired_rc.get(key)}")
    return out
