"""What runs inside a simulated container: the kernel it sees and what its command prints. Pure.

A pod's sandbox is a VM when CRI-O runs its handler through a containerd shim
v2 (`runtime_type = "vm"`, internal/oci/runtime_vm.go); then its containers
see the guest kernel. Otherwise (`oci`, the default, and `pod`) runc or crun
start them on the node's own kernel (internal/oci/runtime_oci.go,
runtime_pod.go).

The guest kernel of OpenShift sandboxed containers is built from the node's:
the kata-containers RPM's kata-osbuilder.sh (run at its %post and by
kata-osbuilder-generate.service) takes `uname -r` of the node, links
/lib/modules/<that release>/vmlinuz as the guest kernel and builds the initrd
with dracut from the same release. So `uname -r` in a Kata pod names the
node's release; what differs is the running kernel itself, which
/proc/sys/kernel/random/boot_id tells apart: a random UUID the kernel draws at
boot (drivers/char/random.c), not namespaced, so a runc container reads the
node's (the kubelet reports the same one as status.nodeInfo.bootID, from
cAdvisor's machine info) and a VM reads its guest's.

A container's output is simulated for the few shell commands tests run
(`uname`, `cat` of the boot ID, `echo`); anything else prints nothing.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import uuid
from dataclasses import dataclass
from typing import Any

BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
SHELLS = ("sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash")


@dataclass(frozen=True)
class Kernel:
    """The kernel a container runs on, as it sees it."""

    release: str  # uname -r
    boot_id: str  # /proc/sys/kernel/random/boot_id
    vm: bool  # a guest kernel (a sandbox of a VM runtime)


def runs_in_vm(handler: dict[str, Any] | None) -> bool:
    """Whether CRI-O starts sandboxes of this (validated) handler in a VM."""
    return (handler or {}).get("runtime_type") == "vm"


def node_kernel(node: dict) -> Kernel:
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return Kernel(info.get("kernelVersion", ""), info.get("bootID", ""), vm=False)


def guest_kernel(node: dict, pod_uid: str) -> Kernel:
    """The guest kernel of one pod's VM: the node's release (kata-osbuilder), a boot ID of its own (stable for
    the pod, so that a restarted simulator reports the same one)."""
    boot = uuid.UUID(hashlib.sha256(f"guest-boot/{pod_uid}".encode()).hexdigest()[:32], version=4)
    return Kernel(node_kernel(node).release, str(boot), vm=True)


def _simple_commands(script: str) -> list[list[str]]:
    """A shell script split into simple commands at newlines, `;`, `&&` and `||` (no quoting across them)."""
    out = []
    for part in re.split(r"\n|;|&&|\|\|", script):
        try:
            words = shlex.split(part)
        except ValueError:
            continue
        if words:
            out.append(words)
    return out


def _print(words: list[str], kernel: Kernel) -> str | None:
    cmd, args = words[0].rsplit("/", 1)[-1], words[1:]
    if cmd == "uname":
        if args == ["-r"]:
            return kernel.release
        if not args or args == ["-s"]:
            return "Linux"
        return None
    if cmd == "cat" and args == [BOOT_ID_PATH]:
        return kernel.boot_id
    if cmd == "echo":
        return " ".join(a for a in args if a != "-n")
    return None


def container_output(container: dict, kernel: Kernel) -> str:
    """What the container's command writes to its log."""
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    if not argv:
        return ""  # the image's entrypoint: unknown here
    shell = argv[0] in SHELLS and len(argv) >= 3 and argv[1] == "-c"
    commands = _simple_commands(argv[2]) if shell else [argv]
    lines = [line for line in (_print(c, kernel) for c in commands) if line is not None]
    return "".join(line + "\n" for line in lines)
