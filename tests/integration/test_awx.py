"""AWX/AAP: the pattern's job templates run through ansible-runner, the engine AWX runs them with.

AWX turns a job into a private data directory for ansible-runner: the project's checkout in project/, the
collections the project sync installed in requirements_collections/, the inventory in inventory/, the survey
answers and the template's extra variables in env/extravars, the credentials' environment in env/envvars (the
"OpenShift or Kubernetes API Bearer Token" credential injects K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL
and K8S_AUTH_SSL_CA_CERT, a file it writes in the directory), and `--check` in env/cmdline for a job of type
Check. It reads the outcome from artifacts/<ident>/: status, rc, stdout and the job events, whose
playbook_on_stats event carries the set_stats data (the job's artifacts). The token here is the automation
user's, bound only to the collection's least-privilege ClusterRole, as a real AWX credential's should be.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from sim import testing as st
from support import REPO, snapshot

PATTERN = REPO / "extensions" / "patterns" / "sandboxed_containers"
VENV_BIN = Path(sys.executable).parent
SELECTOR = {"matchLabels": {"sandboxed": "awx"}}
CHOSEN = ["worker-0", "worker-2"]
MASTERS = {"master-0": 0, "master-1": 0, "master-2": 0}


def job_templates() -> dict[str, dict]:
    """The pattern's job templates by playbook name (install, upgrade, uninstall, status)."""
    data = json.loads((PATTERN / "meta" / "pattern.json").read_text())
    return {t["playbook"].removesuffix(".yml"): t for t in data["aap_resources"]["controller_job_templates"]}


def survey_extra_vars(template: dict, answers: dict[str, object]) -> dict[str, object]:
    """The extra variables AWX makes of a survey: each answer or else the question's default, integers and floats
    as numbers, the rest as text; a question that is not required and left empty is left out."""
    out: dict[str, object] = {}
    for q in template["survey"]["spec"]:
        value = answers.get(q["variable"], q.get("default", ""))
        if value in ("", None):
            assert not q["required"], f"the survey requires {q['variable']}"
            continue
        if q["type"] == "integer":
            value = int(value)
        elif q["type"] == "float":
            value = float(value)
        elif q["type"] != "multiselect":
            value = str(value)
        out[q["variable"]] = value
    unknown = set(answers) - {q["variable"] for q in template["survey"]["spec"]}
    assert not unknown, f"not questions of the survey: {unknown}"
    return out


@dataclass
class Job:
    ident: str
    status: str
    rc: int
    stdout: str
    events: list[dict]
    artifacts: dict
    report_file: Path
    private_data_dir: Path
    raw_events: str = field(repr=False, default="")

    @property
    def report(self) -> dict:
        """The report the job published for the inventory's only host."""
        return self.artifacts["sandboxed_containers"]["localhost"]

    def __repr__(self) -> str:  # shown by pytest when an assertion on a job fails
        return f"job {self.ident}: {self.status}, rc={self.rc}\n{self.stdout[-6000:]}"


class AWX:
    """Launches the pattern's job templates as AWX does, one private data directory per job."""

    def __init__(self, base: Path, kubeconfig: Path) -> None:
        self.base = base
        self.jobs = 0
        kc = yaml.safe_load(kubeconfig.read_text())
        # The credential's inputs, as an administrator would fill them in.
        self.credential = {
            "host": kc["clusters"][0]["cluster"]["server"],
            "bearer_token": kc["users"][0]["user"]["token"],
            "verify_ssl": True,
            "ssl_ca_cert": base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]).decode(),
        }

    def _credential_env(self, private_data_dir: Path) -> dict[str, str]:
        """What AWX's injector for the OpenShift or Kubernetes API Bearer Token credential puts in the env."""
        ca = private_data_dir / "env" / "tmp-ssl-ca-cert"
        ca.write_text(self.credential["ssl_ca_cert"])
        ca.chmod(0o600)
        return {"K8S_AUTH_HOST": self.credential["host"], "K8S_AUTH_API_KEY": self.credential["bearer_token"],
                "K8S_AUTH_VERIFY_SSL": "True", "K8S_AUTH_SSL_CA_CERT": str(ca)}

    def launch(self, op: str, answers: dict[str, object] | None = None, *, job_type: str = "run") -> Job:
        self.jobs += 1
        ident = str(self.jobs)
        template = job_templates()[op]
        pdd = self.base / f"job-{ident}"
        (pdd / "env").mkdir(parents=True)
        (pdd / "inventory").mkdir()
        (pdd / "project").symlink_to(REPO)  # the project's checkout
        installed = pdd / "requirements_collections" / "ansible_collections" / "sandboxed"
        installed.mkdir(parents=True)
        (installed / "containers").symlink_to(REPO)  # what the project sync installs from requirements
        # AWX's Demo Inventory: localhost, run by the EE's own Python.
        (pdd / "inventory" / "hosts").write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}))
        report_file = pdd / "report.json"
        extra_vars = {
            **survey_extra_vars(template, answers or {}),
            # The template's own extra variables, and what AWX adds to every job.
            "sandboxed_containers_report_path": str(report_file),
            "awx_job_id": int(ident), "awx_job_template_name": template["name"], "awx_job_launch_type": "manual",
            "awx_user_name": "admin", "tower_job_id": int(ident),
        }
        (pdd / "env" / "extravars").write_text(json.dumps(extra_vars))
        envvars = {**self._credential_env(pdd), "JOB_ID": ident, "AWX_HOST": "https://awx.invalid",
                   "ANSIBLE_COLLECTIONS_PATH": f"{pdd / 'requirements_collections'}",
                   "ANSIBLE_FORCE_COLOR": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False"}
        (pdd / "env" / "envvars").write_text(json.dumps(envvars))
        if job_type == "check":
            (pdd / "env" / "cmdline").write_text("--check")
        playbook = f"extensions/patterns/sandboxed_containers/playbooks/{template['playbook']}"
        # A clean environment, as in an execution environment: no kubeconfig, no K8S_AUTH_*, no ANSIBLE_*.
        home = self.base / "home"
        home.mkdir(exist_ok=True)
        env = {"PATH": f"{VENV_BIN}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(home), "LANG": "C.UTF-8"}
        subprocess.run([str(VENV_BIN / "ansible-runner"), "run", str(pdd), "-p", playbook, "--ident", ident],
                       env=env, capture_output=True, text=True, timeout=600, check=False)
        art = pdd / "artifacts" / ident
        files = sorted((art / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0]))
        raw = [p.read_text() for p in files]
        events = [json.loads(x) for x in raw]
        stats = [e for e in events if e["event"] == "playbook_on_stats"]
        return Job(ident, (art / "status").read_text().strip(), int((art / "rc").read_text()),
                   (art / "stdout").read_text(), events,
                   stats[0]["event_data"].get("artifact_data") or {} if stats else {}, report_file, pdd,
                   "\n".join(raw))


@pytest.fixture(scope="module")
def awx(cluster, ansible, tmp_path_factory) -> AWX:
    """The automation user bound to the least-privilege ClusterRole, and its token in an AWX credential."""
    r = ansible.run("automation_access", extra_vars={
        "sandboxed_containers_automation_subjects": [{"kind": "User", "name": "automation"}]})
    assert r.rc == 0, r
    auto = st.kube(cluster.api("automation"))
    st.wait_for(lambda: _can(auto, "/apis/machineconfiguration.openshift.io/v1/machineconfigpools"), 30,
                what="the binding to take effect")
    return AWX(tmp_path_factory.mktemp("awx"), cluster.users["automation"])


def _can(kube, path: str) -> bool:
    try:
        kube.get(path)
        return True
    except Exception:
        return False


@pytest.fixture
def fresh(fresh):
    """The integration tests' fresh cluster, with worker-0 and worker-2 labelled for the selector."""
    for node in CHOSEN:
        st.label_node(fresh, node, {"sandboxed": "awx"})
    return fresh


def _no_secret_in(job: Job, token: str) -> None:
    """What docs/awx.md promises: the token is in no output, no job event and not in the set_stats data (what AWX
    shows as the job's artifacts). It is in ansible-runner's artifacts/<ident>/command, which records the process
    environment the credential injected: that file is its owner's only, in a directory that is too (docs/awx.md
    says how to keep it private)."""
    for what, text in (("stdout", job.stdout), ("job events", job.raw_events),
                       ("set_stats artifacts", json.dumps(job.artifacts))):
        assert token not in text, f"the credential's token is in the job's {what}"
    art = job.private_data_dir / "artifacts" / job.ident
    command = art / "command"
    assert token in command.read_text(), "docs/awx.md says the token is in artifacts/<ident>/command"
    assert stat.S_IMODE(command.stat().st_mode) == 0o600
    assert stat.S_IMODE(art.stat().st_mode) & 0o077 == 0


def test_a_check_job_publishes_the_plan_and_changes_nothing(awx, fresh):
    api = fresh
    before = snapshot(api)
    job = awx.launch("install", {"sandboxed_containers_node_selector": json.dumps(SELECTOR)}, job_type="check")
    assert (job.status, job.rc) == ("successful", 0), job
    report = job.report
    assert report["operation"] == "install"
    assert report["check_mode"] is True
    assert report["installed"] is False
    assert report["target_pool"] == "kata-oc"
    assert sorted(report["plan"]["reboot"]) == CHOSEN
    assert "Would install on worker-0, worker-2 through pool kata-oc (extension" in " ".join(job.stdout.split())
    assert snapshot(api) == before
    _no_secret_in(job, awx.credential["bearer_token"])


def test_install_and_status_jobs_with_a_least_privilege_bearer_token(awx, fresh):
    api = fresh
    gate = {"sandboxed_containers_status_fail_when_not_installed": "true"}

    # A workflow's gate before the install: the status job fails, and still publishes its report.
    before = awx.launch("status", gate)
    assert (before.status, before.rc) == ("failed", 2), before
    assert "sandboxed containers are not fully installed" in " ".join(before.stdout.split())
    assert before.report["installed"] is False

    # A survey answer that is not JSON is refused by the first play, before anything reaches the cluster.
    bad = awx.launch("install", {"sandboxed_containers_node_selector": "sandboxed=awx"})
    assert (bad.status, bad.rc) == ("failed", 2), bad
    assert "Validating arguments against arg spec install" in bad.stdout
    assert "sandboxed_containers_node_selector" in bad.stdout
    assert not bad.artifacts

    job = awx.launch("install", {"sandboxed_containers_node_selector": json.dumps(SELECTOR),
                                 "sandboxed_containers_wait_timeout": 600})
    assert (job.status, job.rc) == ("successful", 0), job
    report = job.report
    assert report["operation"] == "install"
    assert report["check_mode"] is False
    assert report["installed"] is True
    assert report["cluster"] == "localhost"
    assert report["api_host"] == awx.credential["host"]
    assert report["target_pool"] == "kata-oc"
    assert {n["name"]: n["state"] for n in report["nodes"] if n["name"].startswith("worker")} == {
        "worker-0": "installed", "worker-1": "not installed", "worker-2": "installed"}
    assert report["runtime_class"]["handler"] == "kata"
    # The JSON report written during the job (its owner's only) is the artifact, with the pods' names; the artifact
    # has their count.
    written = json.loads(job.report_file.read_text())
    assert stat.S_IMODE(job.report_file.stat().st_mode) == 0o600
    assert {k: v for k, v in written.items() if k != "pods"} == report
    assert "pods" not in report and report["pod_count"] == len(written["pods"])
    assert report["cluster_id"] == st.kube(api).get(
        "/apis/config.openshift.io/v1/clusterversions/version")["spec"]["clusterID"]
    assert report["connection"]["source"] == "environment"
    assert report["connection"]["given_by"] == ["K8S_AUTH_API_KEY", "K8S_AUTH_HOST", "K8S_AUTH_SSL_CA_CERT",
                                                "K8S_AUTH_VERIFY_SSL"]
    assert st.reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 0, "worker-2": 1}

    after = awx.launch("status", gate)
    assert (after.status, after.rc) == ("successful", 0), after
    assert after.report["operation"] == "status"
    assert after.report["installed"] is True
    assert after.report["counts"]["installed"] == 2
    for j in (before, bad, job, after):
        _no_secret_in(j, awx.credential["bearer_token"])
