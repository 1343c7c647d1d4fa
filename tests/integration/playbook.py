"""ansible-playbook from this checkout, run as a user of the collection runs it, and its result."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


VERIFY_IMAGE = "registry.invalid/ubi9/ubi-minimal@sha256:" + "0" * 64
WAIT_TIMEOUT = 300  # s; the simulated rollouts of the tests take seconds


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    report: dict | None
    elapsed: float
    recap: dict[str, int] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def text(self) -> str:
        """The output with whitespace collapsed (the yaml callback folds long messages)."""
        return " ".join(self.output.split())

    @property
    def changed(self) -> int:
        return self.recap.get("changed", -1)

    def __repr__(self) -> str:  # shown by pytest when an assertion on a result fails
        return f"rc={self.rc}\n{self.output[-6000:]}"


def parse_recap(stdout: str) -> dict[str, int]:
    m = re.search(r"^\S+\s*:\s*(ok=.*)$", stdout.split("PLAY RECAP", 1)[-1], re.M)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))} if m else {}


class Ansible:
    """ansible-playbook from this checkout, as a user of the collection runs it."""

    def __init__(self, cluster, tmp: Path) -> None:
        self.cluster = cluster
        self.tmp = tmp
        self.runs = 0

    def env(self, user: str = "admin", **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "ANSIBLE_"))}
        env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1",
                   PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}")
        env.update(self.cluster.env(user))
        env.update(extra)
        return env

    def command(self, playbook: str, *, extra_vars: dict | None = None, check: bool = False, diff: bool = False,
                verbosity: int = 0, report: bool = True) -> tuple[list[str], Path | None]:
        self.runs += 1
        path = self.tmp / f"report-{self.runs}.json" if report else None
        ev = dict(extra_vars or {})
        if path:
            ev.setdefault("sandboxed_containers_report_path", str(path))
        # Shorter than the subprocess timeout of run(): a rollout that never finishes ends with the
        # wait's own message (what it still waits for) instead of a killed process.
        ev.setdefault("sandboxed_containers_wait_timeout", WAIT_TIMEOUT)
        if playbook == "verify":  # verify needs a fully qualified image; the simulated kubelets pull nothing
            ev.setdefault("sandboxed_containers_verify_image", VERIFY_IMAGE)
        argv = [str(VENV_BIN / "ansible-playbook"), str(REPO / "playbooks" / f"{playbook}.yml"), "-e", json.dumps(ev)]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        if verbosity:
            argv.append("-" + "v" * verbosity)
        return argv, path

    def run(self, playbook: str, *, user: str = "admin", env: dict | None = None, timeout: float = 600,
            **kw) -> Result:
        argv, path = self.command(playbook, **kw)
        t0 = time.monotonic()
        proc = subprocess.run(argv, env={**self.env(user), **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, cwd=REPO, check=False)
        report = json.loads(path.read_text()) if path and path.exists() else None
        return Result(proc.returncode, proc.stdout, proc.stderr, report, time.monotonic() - t0,
                      parse_recap(proc.stdout))

    def module(self, name: str, args: dict, *, user: str = "admin", timeout: float = 600) -> Result:
        """One module of the collection, run ad hoc on localhost."""
        argv = [str(VENV_BIN / "ansible"), "localhost", "-m", f"sandboxed.containers.{name}", "-a", json.dumps(args)]
        t0 = time.monotonic()
        proc = subprocess.run(argv, env=self.env(user), capture_output=True, text=True, timeout=timeout, cwd=REPO,
                              check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr, None, time.monotonic() - t0)

    def start(self, playbook: str, *, user: str = "admin", **kw) -> subprocess.Popen:
        argv, _report = self.command(playbook, **kw)
        # Its own session, so a test can kill the playbook with its worker processes (by this pid only).
        return subprocess.Popen(argv, env=self.env(user), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=REPO, start_new_session=True)
