"""What a simulated container prints, and on which kernel (sim/workload.py)."""

from __future__ import annotations

from sim import crio, workload

NODE = {"status": {"nodeInfo": {"kernelVersion": "5.14.0-570.70.1.el9_6.x86_64",
                                "bootID": "7c808571-e00e-48a6-989b-8b32fff48948"}}}


def test_only_a_vm_handler_gets_a_guest_kernel():
    assert workload.runs_in_vm({"runtime_type": "vm", "runtime_path": "/usr/bin/containerd-shim-kata-v2"})
    for handler in ({"runtime_type": "oci"}, {"runtime_type": "pod"}, {}, None):
        assert not workload.runs_in_vm(handler)
    # The kata table of the RPM's drop-in, as CRI-O loads it.
    conf = crio.load({}, ["kata-containers"])
    assert workload.runs_in_vm(conf.runtimes["kata"]) and not workload.runs_in_vm(conf.runtimes["crun"])


def test_the_guest_kernel_has_the_node_release_and_a_boot_id_per_pod():
    a, b = workload.guest_kernel(NODE, "uid-a"), workload.guest_kernel(NODE, "uid-b")
    assert a.release == b.release == "5.14.0-570.70.1.el9_6.x86_64"  # built from the node's (kata-osbuilder)
    assert len({a.boot_id, b.boot_id, NODE["status"]["nodeInfo"]["bootID"]}) == 3
    assert a == workload.guest_kernel(NODE, "uid-a")  # stable: a restarted simulator reports the same
    assert a.vm and not workload.node_kernel(NODE).vm


def test_what_a_container_prints():
    k = workload.Kernel("6.1.0", "1d4ae0ac-5ea1-4dd3-9c6b-6c3c0d6c7a53", vm=True)
    script = {"command": ["sh", "-c", "uname -r; cat /proc/sys/kernel/random/boot_id && echo done; sleep 30"]}
    assert workload.container_output(script, k) == "6.1.0\n1d4ae0ac-5ea1-4dd3-9c6b-6c3c0d6c7a53\ndone\n"
    assert workload.container_output({"command": ["uname", "-r"]}, k) == "6.1.0\n"
    assert workload.container_output({"command": ["/bin/sh"], "args": ["-c", "uname"]}, k) == "Linux\n"
    assert workload.container_output({"command": ["sleep", "infinity"]}, k) == ""
    assert workload.container_output({}, k) == ""  # the image's entrypoint: unknown
