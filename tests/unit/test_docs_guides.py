"""What the README and the guides tell a user to run agrees with the collection, without a cluster."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted(p.stem for p in (ROOT / "playbooks").glob("*.yml"))
REAL_CLUSTER = (ROOT / "docs" / "real-cluster.md").read_text()
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```$", re.M | re.S)


def section(text: str, title: str) -> str:
    """The Markdown section under the heading `title`, up to the next heading of the same or a higher level."""
    m = re.search(rf"^(#+) {re.escape(title)}\n", text, re.M)
    assert m, f"no section {title!r}"
    level = len(m.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, m.end())
    return text[m.end(): end.start() if end else len(text)]


def fences(text: str, lang: str) -> list[str]:
    return [re.sub(rf"^{m.group(1)}", "", m.group(3), flags=re.M) for m in FENCE.finditer(text) if m.group(2) == lang]


def commands(text: str) -> list[str]:
    """Every shell command of the text's sh fences, continuation lines joined, comments dropped."""
    result = []
    for block in fences(text, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                result.append(line)
    return result


def role_options() -> set[str]:
    names = set()
    for spec in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names |= set(entry.get("options") or {})
    return names


QUICK_START = section(REAL_CLUSTER, "From nothing to a verified install")
README_REAL = section(README, "Use it on a real cluster")


# ---- the playbooks ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_every_playbook_is_listed(playbook):
    assert f"`{playbook}.yml`" in README
    assert f"`sandboxed.containers.{playbook}`" in section(REAL_CLUSTER, "The playbooks")


def test_the_listed_playbooks_exist():
    listed = set(re.findall(r"^- `(\w+)\.yml`: ", README, re.M))
    assert listed == set(PLAYBOOKS)
    table = set(re.findall(r"^\| `sandboxed\.containers\.(\w+)` \|", REAL_CLUSTER, re.M))
    assert table == set(PLAYBOOKS)


# ---- the real-cluster sequence ------------------------------------------------------------------------------------

def vars_file() -> dict:
    [block] = [b for b in fences(QUICK_START, "yaml") if b.startswith("# sandboxed.yml")]
    return yaml.safe_load(block)


def test_the_vars_file_parses_and_sets_only_role_options():
    settings = vars_file()
    assert settings and set(settings) <= role_options(), set(settings) - role_options()
    assert settings["sandboxed_containers_node_selector"]["matchLabels"]


def test_verify_is_given_a_fully_qualified_image_by_digest():
    image = vars_file()["sandboxed_containers_verify_image"]
    host, rest = image.split("/", 1)
    assert "." in host and host.endswith("example.com"), "a registry host, and only an example one"
    assert re.fullmatch(r"[\w./-]+@sha256:\S+", rest)


@pytest.mark.parametrize(("name", "text"), [("docs/real-cluster.md", QUICK_START), ("README.md", README_REAL)])
def test_every_run_takes_the_vars_file_and_the_plan_comes_first(name, text):
    runs = [c for c in commands(text) if c.startswith("ansible-playbook ")]
    assert runs, name
    for run in runs:
        assert "-e @sandboxed.yml" in run, f"{name}: {run}"
    installs = [i for i, c in enumerate(runs) if c.startswith("ansible-playbook sandboxed.containers.install")]
    assert "--check --diff" in runs[installs[0]] and not any("--check" in runs[i] for i in installs[1:])
    played = [c.split()[1] for c in runs]
    assert played.index("sandboxed.containers.install") < played.index("sandboxed.containers.verify")
    assert "sandboxed.containers.status" in played


@pytest.mark.parametrize(("name", "text"), [("docs/real-cluster.md", QUICK_START), ("README.md", README_REAL)])
def test_the_collection_is_built_and_installed_outside_the_checkout(name, text):
    cmds = commands(text)
    build = next(i for i, c in enumerate(cmds) if c.startswith("ansible-galaxy collection build "))
    install = next(i for i, c in enumerate(cmds) if c.startswith("ansible-galaxy collection install -r "))
    first_run = next(i for i, c in enumerate(cmds) if c.startswith("ansible-playbook "))
    assert build < install < first_run
    # Run from a directory of one's own: the checkout's ansible.cfg would hide the installed collection.
    assert any(c.startswith("mkdir ") and " cd " in c for c in cmds[:build]) or name == "docs/real-cluster.md"
    assert "ansible.cfg" in text and "outside the checkout" in text
    assert any(c.startswith("pip install ") and "ansible-core>=2.20" in c and "requirements.txt" in c for c in cmds)


def test_the_requirements_file_names_the_built_tarball_and_the_supported_kubernetes_core():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    [block] = [b for b in fences(QUICK_START, "yaml") if b.startswith("collections:")]
    wanted = {c["name"]: c for c in yaml.safe_load(block)["collections"]}
    assert wanted["kubernetes.core"]["version"] == galaxy["dependencies"]["kubernetes.core"]
    tarball = f"./sandboxed-containers-{galaxy['version']}.tar.gz"
    assert wanted[tarball]["type"] == "file"
    assert tarball in README_REAL
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.20.0"


def test_what_it_is_tested_against_is_what_the_tests_run():
    tested = section(REAL_CLUSTER, "What it is tested against")
    cluster = (ROOT / "tests/cluster/localcluster/cluster.py").read_text()
    versions = re.search(r"SUPPORTED_VERSIONS = \(([^)]*)\)", cluster).group(1)
    supported = re.findall(r'"(4\.\d+)"', versions)
    default = re.search(r'DEFAULT_VERSION = "([\d.]+)"', cluster).group(1)
    matrix = re.search(r"^MATRIX_OPENSHIFT_VERSION \?= ([\d.]+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    kubernetes = re.search(r"k8s\.io/kubernetes v1\.(\d+)\.", (ROOT / "tests/cluster/wrapper/go.mod").read_text())
    assert f"OpenShift {supported[0]} to {supported[-1]}" in tested
    assert f"`make test`\nruns {default} (the newest)" in tested or f"`make test` runs {default} (the newest)" in tested
    assert f"`make test-matrix` the install, upgrade and\nuninstall paths on {matrix}" in tested
    assert f"Kubernetes 1.{kubernetes.group(1)}" in tested
    assert "simulated" in tested and "No test runs on a real OpenShift" in tested
    assert f"OpenShift {supported[0]} to {supported[-1]}" in README_REAL


# ---- other commands -------------------------------------------------------------------------------------------------

def test_no_guide_uses_oc_logs_with_a_field_selector():
    for guide in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for cmd in commands(guide.read_text()):
            if cmd.startswith("oc logs"):
                outer = re.sub(r"\$\([^)]*\)", "", cmd)
                assert "--field-selector" not in outer, f"{guide.name}: {cmd}"


# ---- the policy role: when the install applies it ------------------------------------------------------------------

def install_sequences() -> dict[str, list[dict]]:
    """The install's tasks in order for each transition: apply.yml's block with the transition's file in place."""
    block = yaml.safe_load((ROOT / "roles/install/tasks/apply.yml").read_text())[0]["block"]
    at = next(i for i, t in enumerate(block) if "ansible.builtin.include_tasks" in t)
    out = {}
    for path in sorted((ROOT / "roles/install/tasks/transitions").glob("*.yml")):
        out[path.stem] = block[:at] + yaml.safe_load(path.read_text()) + block[at + 1:]
    return out


@pytest.mark.parametrize("transition", sorted(install_sequences()))
def test_the_policy_role_says_when_the_install_applies_it(transition):
    tasks = install_sequences()[transition]

    def index(pred, last=False):
        found = [i for i, t in enumerate(tasks) if pred(t)]
        assert found
        return found[-1] if last else found[0]

    def policy(task):
        return (task.get("ansible.builtin.include_role") or {}).get("name") == "sandboxed.containers.policy"

    first_policy, last_policy = index(policy), index(policy, last=True)
    first_wait = index(lambda t: "sandboxed.containers.pool_wait" in t)
    rollout_wait = index(lambda t: "sandboxed.containers.pool_wait" in t, last=True)
    runtime_class = index(lambda t: "sandboxed.containers.runtime_class" in t and
                          t["sandboxed.containers.runtime_class"].get("state") != "absent")
    first_write = index(lambda t: "sandboxed.containers.machine_config" in t or
                        "sandboxed.containers.machine_config_pool" in t)
    # The RuntimeClass, and the policy's record on it, come before the rollout's wait: pods wait Pending for the
    # first ready node (the wait labels each node as it becomes ready).
    assert first_write < first_policy < first_wait and first_policy < runtime_class < last_policy < rollout_wait
    assert tasks[rollout_wait]["sandboxed.containers.pool_wait"].get("label_ready")

    readme = " ".join((ROOT / "roles/policy/README.md").read_text().split())
    spec = yaml.safe_load((ROOT / "roles/policy/meta/argument_specs.yml").read_text())
    description = " ".join(" ".join(spec["argument_specs"]["main"]["description"]).split())
    for text in (readme, description):
        assert "First before the first wait" in text
        assert "so it is in force before the RuntimeClass exists" in text
        assert ("right after the RuntimeClass is created, before the wait for the rollout, to record the settings "
                "on it") in text
        assert "run it after the RuntimeClass" not in text
