"""Every MachineConfig the collection writes passes Ignition's own validation.

The Machine Config Operator parses spec.config with Ignition's parser for the
config's spec version and refuses to render a pool when it reports an error
(the render controller's ValidateMachineConfig). ignition-validate (a small Go
program, tests/cluster/ignition-validate) runs that parser, from
github.com/coreos/ignition/v2 v2.24.0. No cluster needed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.sandboxed.containers.plugins.module_utils import _objects as o
from ansible_collections.sandboxed.containers.plugins.module_utils._crio import OWN_KEYS, dropin_text
from ansible_collections.sandboxed.containers.plugins.module_utils._ignition import IGNITION_VERSION
from localcluster.cluster import HERE, REPO
from sim import topology

ROLE_DEFAULTS = REPO / "roles" / "settings" / "defaults" / "main.yml"


@pytest.fixture(scope="module")
def validator() -> Path:
    proc = subprocess.run(["bash", str(HERE / "ignition-validate" / "build.sh")], stdout=subprocess.PIPE,
                          text=True, check=False, timeout=600)
    assert proc.returncode == 0, "building ignition-validate failed (its reason is printed above)"
    return Path(proc.stdout.strip().splitlines()[-1])


def validate(validator: Path, objects: list[dict]) -> tuple[int, list[dict]]:
    proc = subprocess.run([str(validator)], input=json.dumps({"kind": "List", "items": objects}),
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def dropin(**overrides) -> str:
    """The role's CRI-O drop-in, written by the function the role's crio_dropin filter uses (its structure only:
    these cases check Ignition, not CRI-O's rules)."""
    v = yaml.safe_load(ROLE_DEFAULTS.read_text()) | overrides
    return dropin_text(v["sandboxed_containers_handler"],
                       {k: v[f"sandboxed_containers_crio_{k}"] for k in OWN_KEYS},
                       v["sandboxed_containers_crio_extra_options"])


CASES = {
    "worker": lambda: o.machine_config("worker", dropin()),
    "custom-role": lambda: o.machine_config("kata-oc", dropin()),
    "master-role": lambda: o.machine_config("master", dropin()),
    "annotations-and-options": lambda: o.machine_config("kata-oc", dropin(
        sandboxed_containers_crio_allowed_annotations=["io.katacontainers.config.hypervisor.default_memory",
                                                       "io.katacontainers.config.hypervisor.default_vcpus"],
        sandboxed_containers_crio_runtime_config_path="/etc/kata-containers/configuration.toml",
        sandboxed_containers_crio_extra_options={"container_min_memory": "256MiB",
                                                 "runtime_pull_image": False})),
    "other-handler": lambda: o.machine_config("worker", dropin(sandboxed_containers_handler="kata-qemu")),
    "no-extension": lambda: o.machine_config("worker", dropin(), extensions=[]),
}


def test_collection_machine_configs_are_valid(validator):
    mcs = []
    for case, build in CASES.items():
        mc = build()
        mc["metadata"]["name"] = f"{mc['metadata']['name']}-{case}"
        mcs.append(mc)
    rc, results = validate(validator, mcs)
    assert [r["name"] for r in results] == [mc["metadata"]["name"] for mc in mcs]
    for r in results:
        assert r["ignitionVersion"] == IGNITION_VERSION
        assert (r["errors"], r["warnings"]) == ([], []), r
    assert rc == 0


def test_simulator_base_machine_configs_are_valid(validator):
    mcs = [mc for role in ("master", "worker") for mc in topology.base_machine_configs(role)]
    rc, results = validate(validator, mcs)
    assert len(results) == len(mcs)
    for r in results:
        assert (r["errors"], r["warnings"]) == ([], []), r
    assert rc == 0


def test_bad_path_and_mode_are_reported(validator):
    mc = o.machine_config("worker", dropin())
    files = mc["spec"]["config"]["storage"]["files"]
    files.append(dict(files[0], path="etc/crio/crio.conf.d/51-relative"))
    files.append(dict(files[0], path="/etc/crio/crio.conf.d/52-bad-mode", mode=0o100644))
    files.append(dict(files[0], path="/etc/crio/crio.conf.d/53-setuid", mode=0o4755))
    rc, [r] = validate(validator, [mc])
    assert rc == 1 and not r["valid"]
    assert [(e["path"], e["message"]) for e in r["errors"]] == [
        ("$.storage.files.1.path", "path not absolute"),
        ("$.storage.files.2.mode", "illegal file mode"),
    ]
    assert ("$.storage.files.3.mode",
            "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0") in [
        (w["path"], w["message"]) for w in r["warnings"]]


def test_unknown_version_and_yaml_input(validator, tmp_path):
    mc = o.machine_config("worker", dropin())
    mc["spec"]["config"]["ignition"]["version"] = "3.9.0"
    f = tmp_path / "mcs.yaml"
    f.write_text(yaml.safe_dump_all([mc, o.machine_config("worker", dropin())]))
    proc = subprocess.run([str(validator), str(f)], capture_output=True, text=True, check=False, timeout=60)
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert proc.returncode == 1
    assert first["errors"][0]["message"] == "unsupported config version 3.9.0"
    assert second["valid"] and second["ignitionVersion"] == "3.2.0"
