"""What a kubelet with CRI-O reports for a pod. Pure.

The shapes follow kubelet 1.34 (pkg/kubelet/kubelet_pods.go generateAPIPodStatus,
status/generate.go): conditions PodReadyToStartContainers, Initialized,
Ready, ContainersReady, PodScheduled; container statuses with running,
waiting (ContainerCreating while the sandbox cannot be created) or
terminated states.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from .constants import POD_COMPLETE_AFTER, POD_EXIT_CODE

Pod = dict[str, Any]


def _cid(pod: Pod, container: str, attempt: int = 0) -> str:
    uid = pod["metadata"].get("uid", "")
    return "cri-o://" + hashlib.sha256(f"{uid}/{container}/{attempt}".encode()).hexdigest()


def _image_id(image: str) -> str:
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def owner_kind(pod: Pod) -> str | None:
    for o in pod["metadata"].get("ownerReferences") or []:
        if o.get("controller"):
            return o.get("kind")
    return None


def is_daemonset_pod(pod: Pod) -> bool:
    return owner_kind(pod) == "DaemonSet"


def is_mirror_pod(pod: Pod) -> bool:
    return "kubernetes.io/config.mirror" in (pod["metadata"].get("annotations") or {})


def is_terminal(pod: Pod) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def evictable(pod: Pod) -> bool:
    """What the drain helper (IgnoreAllDaemonSets, Force, DeleteEmptyDirData) removes."""
    return not is_daemonset_pod(pod) and not is_mirror_pod(pod)


def completes_after(pod: Pod, job_pod_seconds: float) -> tuple[float, int] | None:
    """(seconds after start, exit code) if the pod's containers are to exit by themselves.

    A Job's pods finish after `job_pod_seconds`; any pod can ask for it with
    the annotations sim.sandboxed.containers/complete-after-seconds and
    sim.sandboxed.containers/exit-code.
    """
    ann = pod["metadata"].get("annotations") or {}
    code = 0
    try:
        code = int(ann.get(POD_EXIT_CODE, "0"))
    except ValueError:
        code = 1
    if POD_COMPLETE_AFTER in ann:
        try:
            return max(0.0, float(ann[POD_COMPLETE_AFTER])), code
        except ValueError:
            return 0.0, code
    if owner_kind(pod) == "Job":
        return job_pod_seconds, code
    return None


def allocate_ip(cidr: str, used: set[str]) -> str:
    """The first free address of the node's pod CIDR (skipping network and gateway)."""
    net = ipaddress.ip_network(cidr, strict=False)
    for i, addr in enumerate(net.hosts()):
        if i == 0:
            continue  # .1 is the node's gateway on OVN-Kubernetes
        if str(addr) not in used:
            return str(addr)
    raise RuntimeError(f"pod CIDR {cidr} is full")


def _cond(ctype: str, status: str, now: str, reason: str = "", message: str = "",
          old: dict | None = None) -> dict:
    prev = next((c for c in (old or {}).get("conditions") or [] if c.get("type") == ctype), None)
    ltt = prev.get("lastTransitionTime") if prev and prev.get("status") == status else now
    c = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": ltt}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _scheduled(pod: Pod, now: str) -> dict:
    old = pod.get("status") or {}
    prev = next((c for c in old.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
    return prev or _cond("PodScheduled", "True", now)


def _names(items: list[dict]) -> str:
    return "[" + " ".join(c["name"] for c in items) + "]"


def _base(pod: Pod, host_ip: str, now: str) -> dict:
    old = pod.get("status") or {}
    out = {"startTime": old.get("startTime") or now, "qosClass": old.get("qosClass") or "BestEffort"}
    if host_ip:  # a node registered without addresses has none
        out.update({"hostIP": host_ip, "hostIPs": [{"ip": host_ip}]})
    return out


def running(pod: Pod, host_ip: str, pod_ip: str, now: str) -> dict:
    """Every container started and ready; init containers completed."""
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    st = _base(pod, host_ip, now)
    started = st["startTime"]
    ip = host_ip if spec.get("hostNetwork") else pod_ip
    if ip:
        st.update({"podIP": ip, "podIPs": [{"ip": ip}]})
    st.update({
        "phase": "Running",
        "conditions": [
            _cond("PodReadyToStartContainers", "True", now, old=old),
            _cond("Initialized", "True", now, old=old),
            _cond("Ready", "True", now, old=old),
            _cond("ContainersReady", "True", now, old=old),
            _scheduled(pod, now),
        ],
        "containerStatuses": [{
            "name": c["name"], "image": c.get("image", ""), "imageID": _image_id(c.get("image", "")),
            "containerID": _cid(pod, c["name"]), "ready": True, "started": True, "restartCount": 0,
            "state": {"running": {"startedAt": started}}, "lastState": {},
        } for c in spec.get("containers") or []],
    })
    if spec.get("initContainers"):
        st["initContainerStatuses"] = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": _image_id(c.get("image", "")),
            "containerID": _cid(pod, c["name"]), "ready": True, "started": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                     "finishedAt": started, "containerID": _cid(pod, c["name"])}},
            "lastState": {},
        } for c in spec["initContainers"]]
    return st


def sandbox_failed(pod: Pod, host_ip: str, now: str) -> dict:
    """Pending, as the kubelet shows a pod whose sandbox cannot be created."""
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    st = _base(pod, host_ip, now)
    containers = spec.get("containers") or []
    inits = spec.get("initContainers") or []
    conds = [_cond("PodReadyToStartContainers", "False", now, old=old)]
    if inits:
        conds.append(_cond("Initialized", "False", now, "ContainersNotInitialized",
                           f"containers with incomplete status: {_names(inits)}", old))
    else:
        conds.append(_cond("Initialized", "True", now, old=old))
    msg = f"containers with unready status: {_names(containers)}"
    conds += [_cond("Ready", "False", now, "ContainersNotReady", msg, old),
              _cond("ContainersReady", "False", now, "ContainersNotReady", msg, old),
              _scheduled(pod, now)]
    waiting = "PodInitializing" if inits else "ContainerCreating"
    st.update({
        "phase": "Pending",
        "conditions": conds,
        "containerStatuses": [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "started": False,
            "restartCount": 0, "state": {"waiting": {"reason": waiting}}, "lastState": {},
        } for c in containers],
    })
    if inits:
        st["initContainerStatuses"] = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "started": False,
            "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}, "lastState": {},
        } for c in inits]
    return st


def terminated(pod: Pod, host_ip: str, now: str, exit_code: int) -> dict:
    """Succeeded (exit code 0) or Failed: every container exited."""
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    st = _base(pod, host_ip, now)
    reason = "Completed" if exit_code == 0 else "Error"
    started = st["startTime"]
    for k in ("podIP", "podIPs"):
        if old.get(k):
            st[k] = old[k]
    st.update({
        "phase": "Succeeded" if exit_code == 0 else "Failed",
        "conditions": [
            _cond("PodReadyToStartContainers", "False", now, old=old),
            _cond("Initialized", "True", now, old=old),
            _cond("Ready", "False", now, "PodCompleted" if exit_code == 0 else "PodFailed", "", old),
            _cond("ContainersReady", "False", now, "PodCompleted" if exit_code == 0 else "PodFailed", "", old),
            _scheduled(pod, now),
        ],
        "containerStatuses": [{
            "name": c["name"], "image": c.get("image", ""), "imageID": _image_id(c.get("image", "")),
            "containerID": _cid(pod, c["name"]), "ready": False, "started": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": started,
                                     "finishedAt": now, "containerID": _cid(pod, c["name"])}},
            "lastState": {},
        } for c in spec.get("containers") or []],
    })
    return st


def sandbox_event_message(err: str) -> str:
    """The kubelet's FailedCreatePodSandBox message around CRI-O's gRPC error."""
    return f"Failed to create pod sandbox: rpc error: code = Unknown desc = {err}"


# -- runAsNonRoot (pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot) ------------

MAX_INT32 = 2**31 - 1


def effective_security(pod: Pod, container: dict) -> dict:
    """DetermineEffectiveSecurityContext, for runAsNonRoot and runAsUser: the container's win."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    out = {}
    for k in ("runAsNonRoot", "runAsUser"):
        if csc.get(k) is not None:
            out[k] = csc[k]
        elif psc.get(k) is not None:
            out[k] = psc[k]
    return out


def image_uid(user: str) -> tuple[int | None, str]:
    """CRI-O's getUserFromImage (server/image_status.go) then the kubelet's getImageUser: "a:b" is
    user a; a number is a uid; a name is a username; no user at all is uid 0 ("treat it as root")."""
    user = (user or "").split(":", 1)[0]
    if user == "":
        return 0, ""
    if user.isdigit():
        return int(user), ""
    return None, user


def pod_desc(pod: Pod) -> str:
    """format.Pod: name_namespace(uid)."""
    md = pod["metadata"]
    return f"{md.get('name')}_{md.get('namespace')}({md.get('uid', '')})"


def verify_run_as_non_root(pod: Pod, container: dict, image_user: str, kube_minor: int = 34) -> str | None:
    """The kubelet's error for a container that would run as root against runAsNonRoot, or None."""
    sc = effective_security(pod, container)
    if not sc.get("runAsNonRoot"):
        return None
    desc = f'(pod: "{pod_desc(pod)}", container: {container.get("name")})'
    if sc.get("runAsUser") is not None:
        return f"container's runAsUser breaks non-root policy {desc}" if sc["runAsUser"] == 0 else None
    uid, username = image_uid(image_user)
    if uid is None:
        return (f"container has runAsNonRoot and image has non-numeric user ({username}), cannot verify user is "
                f"non-root {desc}")
    if uid == 0:
        return f"container has runAsNonRoot and image will run as root {desc}"
    if uid > MAX_INT32 and kube_minor >= 34:  # IsValidUserID; not in 1.30.14, in 1.34.4
        return (f"container has runAsNonRoot and image has an invalid user id ({uid}). (Must be 1-({MAX_INT32})): "
                f"must be between 0 and {MAX_INT32}, inclusive {desc}")
    return None


def config_error(pod: Pod, host_ip: str, pod_ip: str, now: str, errors: dict[str, str]) -> dict:
    """The status of a pod whose sandbox runs but some containers fail generateContainerConfig:
    those wait with CreateContainerConfigError and the error as message (kubelet_pods.go); an
    init container failing holds every app container in PodInitializing."""
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    st = running(pod, host_ip, pod_ip, now)
    inits = spec.get("initContainers") or []
    init_failed = any(c["name"] in errors for c in inits)

    def waiting(c: dict, reason: str, message: str = "") -> dict:
        state = {"reason": reason, **({"message": message} if message else {})}
        return {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "started": False,
                "restartCount": 0, "state": {"waiting": state}, "lastState": {}}

    containers = spec.get("containers") or []
    if init_failed:
        st["initContainerStatuses"] = [waiting(c, "CreateContainerConfigError", errors[c["name"]])
                                       if c["name"] in errors else waiting(c, "PodInitializing") for c in inits]
        st["containerStatuses"] = [waiting(c, "PodInitializing") for c in containers]
        not_ready = containers
    else:
        st["containerStatuses"] = [waiting(c, "CreateContainerConfigError", errors[c["name"]])
                                   if c["name"] in errors else s
                                   for c, s in zip(containers, st["containerStatuses"], strict=True)]
        not_ready = [c for c in containers if c["name"] in errors]
    msg = f"containers with unready status: {_names(not_ready)}"
    conds = [_cond("PodReadyToStartContainers", "True", now, old=old)]
    if init_failed:
        conds.append(_cond("Initialized", "False", now, "ContainersNotInitialized",
                           f"containers with incomplete status: {_names([c for c in inits if c['name'] in errors])}",
                           old))
    else:
        conds.append(_cond("Initialized", "True", now, old=old))
    conds += [_cond("Ready", "False", now, "ContainersNotReady", msg, old),
              _cond("ContainersReady", "False", now, "ContainersNotReady", msg, old),
              _scheduled(pod, now)]
    st["phase"] = "Pending"
    st["conditions"] = conds
    return st
