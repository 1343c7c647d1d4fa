"""The verify module's pure parts: the pod and namespace it creates, which namespace it refuses, how it reads a
pod's kernel and decides whether the pod ran in a VM."""

from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.modules import verify

PARAMS = {"namespace": "sandboxed-containers-verify", "runtime_class_name": "kata",
          "image": "mirror.example.com/ubi9/ubi-minimal@sha256:" + "0" * 64 + ""}
NODE_BOOT = "7c808571-e00e-48a6-989b-8b32fff48948"
GUEST_BOOT = "1d4ae0ac-5ea1-4dd3-9c6b-6c3c0d6c7a53"
RHCOS = "5.14.0-570.70.1.el9_6.x86_64"


def test_the_pod_mounts_no_token_and_fits_the_restricted_profile():
    p = verify.pod("worker-0", PARAMS)
    spec = p["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert not spec.get("volumes")
    (c,) = spec["containers"]
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert not c.get("volumeMounts")
    # It prints what the module compares: the kernel release, then the boot ID.
    assert c["command"] == ["sh", "-c", "uname -r; cat /proc/sys/kernel/random/boot_id; sleep 30"]
    assert spec["nodeSelector"] == {"kubernetes.io/hostname": "worker-0"}
    assert p["metadata"]["annotations"] == {"openshift.io/required-scc": "restricted-v2"}


def test_the_image_is_required_and_fully_qualified():
    spec = verify.DOCUMENTATION.split("  image:", 1)[1].split("  timeout:", 1)[0]
    assert "required: true" in spec and "default:" not in spec  # the collection names no registry
    assert "@sha256:" in spec  # the documentation recommends a digest
    assert "sandboxed_containers_verify_image" in verify.image_problem("")
    for short in ("ubi9/ubi-minimal:latest", "ubi-minimal", "library/busybox@sha256:" + "0" * 64,
                  "mirror.example.com", "mirror.example.com/ubi9/ubi minimal"):
        assert "not fully qualified" in verify.image_problem(short), short
    for full in ("mirror.example.com/ubi9/ubi-minimal@sha256:" + "0" * 64, "localhost/ubi:9",
                 "mirror:5000/ubi9/ubi-minimal:latest"):
        assert verify.image_problem(full) is None, full


def test_the_namespace_carries_verify_labels_and_the_restricted_profile():
    ns = verify.namespace("sandboxed-containers-verify")
    assert ns["metadata"]["labels"] == {
        "sandboxed.containers/verify": "true",
        "app.kubernetes.io/managed-by": "sandboxed.containers",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }


@pytest.mark.parametrize("labels", [
    None,
    {"kubernetes.io/metadata.name": "sandboxed-containers-verify"},  # a project a tenant requested
    {"sandboxed.containers/verify": "true"},
    {"app.kubernetes.io/managed-by": "sandboxed.containers"},
    {"sandboxed.containers/verify": "yes", "app.kubernetes.io/managed-by": "sandboxed.containers"},
])
def test_a_namespace_without_both_labels_is_foreign(labels):
    why = verify.foreign_namespace("sandboxed-containers-verify", labels)
    assert why is not None
    assert why.startswith("namespace sandboxed-containers-verify exists but sandboxed.containers did not create it")
    assert "oc delete namespace sandboxed-containers-verify" in why
    assert "automation_access" in why


def test_a_namespace_with_both_labels_is_verify_own():
    labels = {"sandboxed.containers/verify": "true", "app.kubernetes.io/managed-by": "sandboxed.containers",
              "kubernetes.io/metadata.name": "x"}
    assert verify.foreign_namespace("x", labels) is None


@pytest.mark.parametrize(("log", "want"), [
    (f"{RHCOS}\n{GUEST_BOOT}\n", {"release": RHCOS, "boot_id": GUEST_BOOT}),
    (f"{RHCOS}\r\n{GUEST_BOOT.upper()}\r\n", {"release": RHCOS, "boot_id": GUEST_BOOT}),
    (f"{RHCOS}\n", None),  # not yet printed
    ("", None),
    (f"{RHCOS}\ncat: /proc/sys/kernel/random/boot_id: No such file or directory\n", None),
])
def test_the_kernel_is_read_from_the_log(log, want):
    assert verify.parse_kernel(log) == want


def _node(release: str = RHCOS, boot: str = NODE_BOOT) -> dict:
    return {"status": {"nodeInfo": {"kernelVersion": release, "bootID": boot}}}


def test_a_pod_on_the_node_kernel_did_not_run_in_a_vm():
    why = verify.isolation_problem({"release": RHCOS, "boot_id": NODE_BOOT}, verify.node_kernel(_node()))
    assert why is not None and "ran on the node's own kernel" in why and "not in a VM" in why


def test_a_guest_with_the_node_release_but_its_own_boot_is_a_vm():
    # OpenShift sandboxed containers boots a guest kernel built from the node's: same release, another kernel.
    assert verify.isolation_problem({"release": RHCOS, "boot_id": GUEST_BOOT}, verify.node_kernel(_node())) is None


def test_a_guest_with_its_own_release_is_a_vm():
    assert verify.isolation_problem({"release": "6.12.28-kata", "boot_id": GUEST_BOOT},
                                    verify.node_kernel(_node())) is None


def test_a_node_without_a_boot_id_cannot_be_told_apart():
    why = verify.isolation_problem({"release": RHCOS, "boot_id": GUEST_BOOT}, verify.node_kernel(_node(boot="")))
    assert why is not None and "status.nodeInfo.bootID" in why


def test_pod_names_are_valid_and_bounded():
    assert verify.pod_name("Worker_0.example.com") == "verify-worker-0-example-com"
    assert len(verify.pod_name("n" * 100)) <= 63
