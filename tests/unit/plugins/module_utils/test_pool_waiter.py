"""PoolWaiter (_watch) driven by a fake client: the cases where a bug would otherwise first show on a cluster.

The fake has the three methods of kubernetes' DynamicClient that PoolWaiter uses (resources.get, request, watch)
and serves pools, nodes and MachineConfigs as the API server does: a LIST with its resourceVersion, then WATCH
streams the test feeds event by event, ends, expires (410) or breaks. The waiter runs in a thread; the test waits
for its progress lines (the wait's own account of what it saw) before the next step, so every check is about what
the wait did with each state, never about how long anything took.
"""

from __future__ import annotations

import copy
import json
import queue
import threading
import urllib.parse
from base64 import b64encode
from collections import Counter

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._watch import PoolWaiter, auto_timeout

MC = "50-sandboxed-containers"
DROPIN_PATH = "/etc/crio/crio.conf.d/51-sandboxed-containers"
DROPIN = '[crio.runtime.runtimes.kata]\nruntime_path = "/usr/bin/containerd-shim-kata-v2"\nruntime_type = "vm"\n'
OLD, NEW = "rendered-worker-0ld", "rendered-worker-n3w"
CURRENT = "machineconfiguration.openshift.io/currentConfig"
DESIRED = "machineconfiguration.openshift.io/desiredConfig"
STATE = "machineconfiguration.openshift.io/state"
REASON = "machineconfiguration.openshift.io/reason"
WORKERS = ("worker-0", "worker-1", "worker-2")
# Safety nets only: a step that does not happen within this fails the test with what the wait printed.
STEP = 30

# Our MachineConfig as the collection writes it (base64 data URL, Ignition 3.2) ...
OURS = {"extensions": ["sandboxed-containers"], "config": {"ignition": {"version": "3.2.0"}, "storage": {"files": [
    {"path": DROPIN_PATH, "mode": 420, "overwrite": True,
     "contents": {"source": "data:text/plain;charset=utf-8;base64," + b64encode(DROPIN.encode()).decode()}}]}}}
BASE_FILES = [{"path": "/etc/kubernetes/kubelet.conf", "mode": 420, "overwrite": True,
               "contents": {"source": "data:,kind%3A%20KubeletConfiguration%0A"}}]


def rendered(*files: dict, extensions: tuple[str, ...] = ()) -> dict:
    """A rendered config as the MCO merges it: Ignition 3.5, percent-encoded data URLs, other MCs' content."""
    return {"osImageURL": "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "a" * 64,
            "kernelArguments": ["systemd.unified_cgroup_hierarchy=1"], "extensions": ["usbguard", *extensions],
            "config": {"ignition": {"version": "3.5.0"}, "storage": {"files": [*BASE_FILES, *files]},
                       "systemd": {"units": [{"name": "kubelet.service", "enabled": True}]}}}


def dropin_file(text: str) -> dict:
    return {"path": DROPIN_PATH, "mode": 420, "overwrite": True, "contents": {"source": "data:," + urllib.parse.quote(
        text)}}


RENDERED = {
    OLD: rendered(),
    NEW: rendered(dropin_file(DROPIN), extensions=("sandboxed-containers",)),
}


def node(name: str, current: str, desired: str | None = None, state: str = "Done", reason: str = "") -> dict:
    ann = {CURRENT: current, DESIRED: desired or current, STATE: state}
    if reason:
        ann[REASON] = reason
    return {"metadata": {"name": name, "annotations": ann,
                         "labels": {"kubernetes.io/hostname": name, "node-role.kubernetes.io/worker": ""}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def worker_pool(target: str, *, with_mc: bool, generation: int = 2, observed: int = 2, status_config: str = "",
                updated: int = 3, updating: bool = False, degraded: tuple[str, str] | None = None,
                max_unavailable: int | str | None = None) -> dict:
    sources = ["00-worker", "01-worker-container-runtime", "01-worker-kubelet"] + ([MC] if with_mc else [])
    conds = {"Updated": "False" if updating or degraded else "True", "Updating": "True" if updating else "False",
             "Degraded": "True" if degraded else "False", "NodeDegraded": "True" if degraded else "False",
             "RenderDegraded": "False"}
    spec = {"machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": "worker"}},
            "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/worker": ""}},
            "configuration": {"name": target, "source": [
                {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig", "name": s}
                for s in sources]}}
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {"metadata": {"name": "worker", "generation": generation}, "spec": spec, "status": {
        "observedGeneration": observed, "configuration": {"name": status_config or target},
        "machineCount": 3, "updatedMachineCount": updated, "readyMachineCount": updated,
        "degradedMachineCount": 1 if degraded else 0, "unavailableMachineCount": 0,
        "conditions": [{"type": t, "status": s, "reason": degraded[0] if degraded and t == "NodeDegraded" else "",
                        "message": degraded[1] if degraded and t in ("NodeDegraded", "Degraded") else ""}
                       for t, s in conds.items()]}}


MASTER_POOL = {"metadata": {"name": "master", "generation": 1}, "spec": {
    "machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": "master"}},
    "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/master": ""}},
    "configuration": {"name": "rendered-master-1", "source": [{"name": "00-master"}]}},
    "status": {"observedGeneration": 1, "configuration": {"name": "rendered-master-1"}, "machineCount": 1,
               "updatedMachineCount": 1, "readyMachineCount": 1, "degradedMachineCount": 0,
               "conditions": [{"type": "Updated", "status": "True"}, {"type": "Updating", "status": "False"},
                              {"type": "Degraded", "status": "False"}]}}
MASTER_NODE = {"metadata": {"name": "master-0", "labels": {"node-role.kubernetes.io/master": ""}, "annotations": {
    CURRENT: "rendered-master-1", DESIRED: "rendered-master-1", STATE: "Done"}},
    "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


# -- the fake client ---------------------------------------------------------------------------------------------

class ApiError(Exception):
    """What kubernetes' client raises for an HTTP error: the status is what the waiter looks at."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(f"({status}) {reason}")
        self.status, self.reason = status, reason


END = object()  # the server ends the watch (its timeoutSeconds passed)


class Resource:
    def __init__(self, kind: str, base: str) -> None:
        self.kind, self.base = kind, base

    def path(self, name: str | None = None) -> str:
        return f"{self.base}/{name}" if name else self.base


class Response:
    def __init__(self, obj: dict) -> None:
        self._obj = obj
        self.data = json.dumps(obj).encode()

    def to_dict(self) -> dict:
        return copy.deepcopy(self._obj)


class FakeCluster:
    """resources.get, request and watch of a DynamicClient, over pools, nodes and MachineConfigs held here."""

    KINDS = {"MachineConfigPool": ("pool", "/apis/machineconfiguration.openshift.io/v1/machineconfigpools"),
             "Node": ("node", "/api/v1/nodes"),
             "MachineConfig": ("mc", "/apis/machineconfiguration.openshift.io/v1/machineconfigs")}

    def __init__(self, pools: list[dict], nodes: list[dict], machine_configs: dict[str, dict]) -> None:
        self.rv = 100
        self.store: dict[str, dict[str, dict]] = {"pool": {}, "node": {}, "mc": {}}
        for kind, objs in (("pool", pools), ("node", nodes)):
            for o in objs:
                self._put(kind, o)
        for name, spec in machine_configs.items():
            self._put("mc", {"metadata": {"name": name}, "spec": spec})
        self.streams: dict[str, queue.Queue] = {"pool": queue.Queue(), "node": queue.Queue()}
        self.lists: Counter[str] = Counter()
        self.gets: list[str] = []
        self.watches: dict[str, list[str]] = {"pool": [], "node": []}  # the resourceVersion of each WATCH
        self.refuse: dict[str, ApiError] = {}  # kind -> the error its LIST and WATCH get
        self.pods: list[dict] = []  # served by LIST only (the wait looks at a pending drain's pods and budgets)
        self.budgets: list[dict] = []
        self.resources = self  # dyn.resources.get(...)
        self._closed = threading.Event()

    def _put(self, kind: str, obj: dict) -> dict:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.store[kind][obj["metadata"]["name"]] = obj
        return obj

    # DynamicClient ---------------------------------------------------------------------------------------------
    def get(self, *, api_version: str, kind: str, prefix: str | None = None) -> Resource:
        short, base = self.KINDS[kind]
        return Resource(short, base)

    def request(self, method: str, path: str, serialize: bool = True, field_selector: str | None = None) -> Response:
        assert method == "get", method
        if path == "/api/v1/pods":
            self.lists["pods"] += 1
            node_name = (field_selector or "").removeprefix("spec.nodeName=")
            return Response({"items": [p for p in self.pods if p["spec"]["nodeName"] == node_name]})
        if path == "/apis/policy/v1/poddisruptionbudgets":
            self.lists["budgets"] += 1
            return Response({"items": self.budgets})
        for short, base in self.KINDS.values():
            if path == base:
                self.lists[short] += 1
                if short in self.refuse:
                    raise self.refuse[short]
                return Response({"items": [copy.deepcopy(o) for o in self.store[short].values()],
                                 "metadata": {"resourceVersion": str(self.rv)}})
            if path.startswith(base + "/"):
                name = path[len(base) + 1:]
                self.gets.append(name)
                if name not in self.store[short]:
                    raise ApiError(404, "Not Found")
                return Response(self.store[short][name])
        raise AssertionError(f"unexpected request {method} {path}")

    def watch(self, resource: Resource, resource_version: str | None = None, timeout: int | None = None,
              allow_watch_bookmarks: bool = False):
        self.watches[resource.kind].append(resource_version)
        if resource.kind in self.refuse:
            raise self.refuse[resource.kind]
        return self._stream(self.streams[resource.kind])

    def _stream(self, stream: queue.Queue):
        while not self._closed.is_set():
            try:
                item = stream.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    # What the test does --------------------------------------------------------------------------------------------
    def modify(self, kind: str, obj: dict) -> None:
        """A change the watch delivers (MODIFIED)."""
        self.streams[kind].put({"type": "MODIFIED", "raw_object": self._put(kind, obj)})

    def change_unseen(self, kind: str, obj: dict) -> None:
        """A change made while no watch is open: only a new LIST shows it."""
        self._put(kind, obj)

    def end_watch(self, kind: str) -> None:
        self.streams[kind].put(END)

    def bookmark(self, kind: str) -> str:
        self.rv += 1
        self.streams[kind].put({"type": "BOOKMARK", "raw_object": {"metadata": {"resourceVersion": str(self.rv)}}})
        return str(self.rv)

    def expire(self, kind: str) -> None:
        """The resourceVersion the watch resumes from is too old: an ERROR event with code 410, and the end."""
        self.streams[kind].put({"type": "ERROR", "raw_object": {"kind": "Status", "code": 410, "reason": "Expired"}})

    def break_connection(self, kind: str) -> None:
        self.streams[kind].put(ConnectionResetError(104, "Connection reset by peer"))

    def close(self) -> None:
        self._closed.set()

    @property
    def requests(self) -> int:
        return sum(self.lists.values()) + len(self.gets) + sum(len(w) for w in self.watches.values())


class Run:
    """PoolWaiter.wait in a thread, with its progress lines."""

    def __init__(self, waiter: PoolWaiter, timeout: float | None) -> None:
        self.waiter = waiter
        self.lines: list[str] = []
        self.outcome = None
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(timeout,), daemon=True)
        self._thread.start()

    def _progress(self, text: str) -> None:
        with self._cond:
            self.lines.append(text)
            self._cond.notify_all()

    def _run(self, timeout: float | None) -> None:
        try:
            self.outcome = self.waiter.wait(timeout, self._progress)
        except BaseException as e:
            self.error = e
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def saw(self, line: str) -> None:
        """Returns once the wait printed `line`; fails if it ended before, or never printed it."""
        with self._cond:
            self._cond.wait_for(lambda: line in self.lines or self._done, STEP)
            assert line in self.lines, (line, self.lines, self.outcome, self.error)
            assert not self._done, f"the wait ended before the next step: {self.outcome or self.error}"

    def result(self):
        with self._cond:
            assert self._cond.wait_for(lambda: self._done, STEP), f"the wait did not end: {self.lines}"
        if self.error is not None:
            raise self.error
        return self.outcome


@pytest.fixture
def make():
    """make(pools, nodes) -> (fake, Run) of a wait for MC on the worker pool; the fake closed afterwards."""
    fakes = []

    def make_run(pools: list[dict], nodes: list[dict], *, timeout: float | None = 120,
                 renders: dict[str, dict] | None = None) -> tuple[FakeCluster, Run]:
        fake = FakeCluster([*pools, MASTER_POOL], [*nodes, MASTER_NODE], {MC: OURS, **RENDERED, **(renders or {})})
        fakes.append(fake)
        return fake, Run(PoolWaiter(fake, ["worker"], machine_config=MC), timeout)

    yield make_run
    for f in fakes:
        f.close()


def in_order(lines: list[str], expected: list[str]) -> bool:
    """Whether `expected` appear in `lines` in this order (other lines may come between them)."""
    it = iter(lines)
    return all(any(line == e for line in it) for e in expected)


def stale() -> tuple[list[dict], list[dict]]:
    """The pool right after our MachineConfig is written: it still targets the old render, which lacks it, and says
    Updated=True with every count done and observedGeneration equal to its generation."""
    return [worker_pool(OLD, with_mc=False)], [node(n, OLD) for n in WORKERS]


def roll_out(fake: FakeCluster, run: Run) -> None:
    """The MCO renders our MachineConfig and updates the nodes one by one, each step seen by the wait."""
    fake.modify("pool", worker_pool(NEW, with_mc=True, generation=3, observed=2, status_config=OLD))
    run.saw("worker: 0/3 updated")
    fake.modify("pool", worker_pool(NEW, with_mc=True, generation=3, observed=3, status_config=OLD, updated=0,
                                    updating=True))
    for i, name in enumerate(WORKERS):
        fake.modify("node", node(name, OLD, NEW, "Working"))
        run.saw(f"worker: {i}/3 updated; {name} Working")
        fake.modify("node", node(name, NEW))
    run.saw("worker: 3/3 updated")
    fake.modify("pool", worker_pool(NEW, with_mc=True, generation=3, observed=3))


# -- the stale Updated=True window -------------------------------------------------------------------------------

def test_a_wait_that_begins_in_the_stale_updated_window_waits_for_the_render_and_every_node(make):
    fake, run = make(*stale())
    # Its first account of the cluster is the stale pool, and it is not fooled by it.
    run.saw(f"worker: waiting for the MCO to render {MC}")
    assert run.lines[0] == f"worker: waiting for the MCO to render {MC}", run.lines
    roll_out(fake, run)
    outcome = run.result()
    assert outcome.state == "converged", outcome
    assert outcome.assessments["worker"].summary["rendered_config"] == NEW
    assert outcome.assessments["worker"].summary["updated_nodes"] == 3
    assert in_order(run.lines, [f"worker: waiting for the MCO to render {MC}", "worker: 0/3 updated",
                                "worker: 0/3 updated; worker-0 Working", "worker: 1/3 updated; worker-1 Working",
                                "worker: 2/3 updated; worker-2 Working", "worker: 3/3 updated",
                                f"worker: 3/3 updated, converged on {NEW}"]), run.lines
    assert [line for line in run.lines if "converged" in line] == [run.lines[-1]]
    # Our MachineConfig and the new render were read, to compare their content.
    assert MC in fake.gets and NEW in fake.gets


def test_a_pool_that_lists_our_machine_config_but_renders_its_old_content_is_not_converged(make):
    # An upgrade: the pool targets a render that lists our MachineConfig, made from its previous content, and says
    # Updated=True with every node on it.
    previous = "rendered-worker-pr3v"
    fake, run = make([worker_pool(previous, with_mc=True)], [node(n, previous) for n in WORKERS], renders={
        previous: rendered(dropin_file(DROPIN.replace('"vm"', '"oci"')), extensions=("sandboxed-containers",))})
    run.saw("worker: 3/3 updated")  # every node on the target, and yet not converged: its content is not ours
    roll_out(fake, run)
    outcome = run.result()
    assert outcome.state == "converged", outcome
    assert outcome.assessments["worker"].summary["rendered_config"] == NEW


# -- failure and timeout ---------------------------------------------------------------------------------------

def test_a_degraded_node_fails_the_wait_at_once_naming_the_node_and_the_mco_reason(make):
    reason = "error running rpm-ostree update: exit status 1"
    fake, run = make([worker_pool(NEW, with_mc=True, status_config=OLD, updated=1, updating=True)],
                     [node("worker-0", NEW), node("worker-1", OLD, NEW, "Working"), node("worker-2", OLD)])
    run.saw("worker: 1/3 updated; worker-1 Working")
    fake.modify("node", node("worker-1", OLD, NEW, "Degraded", reason))
    outcome = run.result()  # its timeout is 120 s: it returns on the failure, not on the timeout
    assert outcome.state == "failed", outcome
    assert outcome.failures == [f"node worker-1 is Degraded: {reason}"]
    assert run.lines[-1] == "worker: failed"


def test_a_pool_that_reports_a_degraded_node_fails_the_wait_with_the_mco_message(make):
    # The pool's NodeDegraded can come before the node's own event (two watches): it fails the wait as well.
    reason = "error running rpm-ostree update: exit status 1"
    fake, run = make([worker_pool(NEW, with_mc=True, status_config=OLD, updated=1, updating=True)],
                     [node("worker-0", NEW), node("worker-1", OLD, NEW, "Working"), node("worker-2", OLD)])
    run.saw("worker: 1/3 updated; worker-1 Working")
    fake.modify("pool", worker_pool(NEW, with_mc=True, status_config=OLD, updated=1, degraded=(
        "1 nodes are reporting degraded status on sync", f'Node worker-1 is reporting: "{reason}"')))
    outcome = run.result()
    assert outcome.state == "failed", outcome
    assert outcome.failures == ["pool worker is NodeDegraded: 1 nodes are reporting degraded status on sync "
                                f'Node worker-1 is reporting: "{reason}"']


def test_a_timeout_says_which_nodes_it_still_waits_for(make):
    _fake, run = make([worker_pool(NEW, with_mc=True, status_config=OLD, updated=2, updating=True)],
                      [node("worker-0", NEW), node("worker-1", OLD, NEW, "Working"), node("worker-2", NEW)],
                      timeout=2)
    run.saw("worker: 2/3 updated; worker-1 Working")
    outcome = run.result()  # nothing more happens: worker-1 hangs in its update
    assert outcome.state == "timeout", outcome
    a = outcome.assessments["worker"]
    assert a.progress == "worker: 2/3 updated; worker-1 Working"
    assert f"1 nodes of worker to run {NEW}" in a.waiting_for, a.waiting_for
    assert a.summary["working_nodes"] == ["worker-1"]


@pytest.mark.parametrize(("max_unavailable", "seconds"), [
    (None, 600 + 900 * 3),  # the MCO's default, 1: three batches
    (2, 600 + 900 * 2),
    ("50%", 600 + 900 * 3),  # 1.5 rounded down
    ("100%", 600 + 900 * 1),
])
def test_the_automatic_timeout_grows_with_the_batches_of_the_largest_pool(max_unavailable, seconds):
    pools = [worker_pool(NEW, with_mc=True, max_unavailable=max_unavailable), MASTER_POOL]
    nodes = [node(n, NEW) for n in WORKERS] + [MASTER_NODE]
    assert auto_timeout(pools, nodes, ["worker"]) == seconds
    assert auto_timeout(pools, nodes, ["master"]) == 600 + 900  # the pools waited for only


# -- the watches -------------------------------------------------------------------------------------------------

def test_a_watch_the_server_ends_is_re_established_from_the_last_resource_version_without_a_new_list(make):
    fake, run = make(*stale(), timeout=0)
    run.saw(f"worker: waiting for the MCO to render {MC}")
    fake.modify("pool", worker_pool(NEW, with_mc=True, generation=3, observed=2, status_config=OLD))
    run.saw("worker: 0/3 updated")
    last_pool_event = fake.store["pool"]["worker"]["metadata"]["resourceVersion"]
    fake.end_watch("pool")
    bookmark = fake.bookmark("node")  # a BOOKMARK moves the resourceVersion on, and is no change
    fake.end_watch("node")
    # The rest of the rollout comes on the new watches.
    fake.modify("pool", worker_pool(NEW, with_mc=True, generation=3, observed=3, status_config=OLD, updated=0,
                                    updating=True))
    for name in WORKERS:
        fake.modify("node", node(name, OLD, NEW, "Working"))
        fake.modify("node", node(name, NEW))
    fake.modify("pool", worker_pool(NEW, with_mc=True, generation=3, observed=3))
    outcome = run.result()
    assert outcome.state == "converged", (outcome, run.lines)
    assert fake.lists == {"pool": 1, "node": 1}, fake.lists  # never listed again
    assert fake.watches["pool"][1] == last_pool_event, fake.watches
    assert fake.watches["node"][1] == bookmark, fake.watches
    assert len(fake.watches["pool"]) == len(fake.watches["node"]) == 2, fake.watches
    assert outcome.requests == fake.requests  # what it counted is what the server was asked
    assert run.waiter.timeout == 600 + 900 * 3  # timeout 0: sized from the pool once the caches synced


@pytest.mark.parametrize("gap", ["410 Gone", "connection reset"])
def test_after_an_expired_or_broken_watch_it_lists_again_and_sees_what_it_missed(make, gap):
    fake, run = make([worker_pool(NEW, with_mc=True, status_config=OLD, updated=2, updating=True)],
                     [node("worker-0", NEW), node("worker-1", NEW), node("worker-2", OLD, NEW, "Working")])
    run.saw("worker: 2/3 updated; worker-2 Working")
    # While its node watch is gone, worker-2 finishes and the pool says so: no event carries either change.
    fake.change_unseen("node", node("worker-2", NEW))
    missed = fake.store["node"]["worker-2"]["metadata"]["resourceVersion"]
    if gap == "410 Gone":
        fake.expire("node")
    else:
        fake.break_connection("node")
    fake.modify("pool", worker_pool(NEW, with_mc=True))
    outcome = run.result()
    assert outcome.state == "converged", (outcome, run.lines)
    assert fake.lists == {"pool": 1, "node": 2}, fake.lists  # the new LIST is what showed worker-2 Done
    assert len(fake.watches["node"]) == 2, fake.watches
    assert int(fake.watches["node"][1]) >= int(missed), fake.watches  # and it watches on from there
    assert outcome.requests == fake.requests


def test_a_watch_the_server_refuses_fails_the_wait_saying_so():
    fake = FakeCluster([worker_pool(NEW, with_mc=True)], [node(n, NEW) for n in WORKERS], {MC: OURS, **RENDERED})
    fake.refuse["node"] = ApiError(403, 'nodes is forbidden: User "automation" cannot list resource "nodes"')
    try:
        run = Run(PoolWaiter(fake, ["worker"], machine_config=MC), 120)
        with pytest.raises(PermissionError, match=r"the API server refused to let us watch nodes: nodes is forbidden"):
            run.result()
        assert fake.lists["node"] == 1  # refused once: not retried as an outage would be
    finally:
        fake.close()


def test_our_machine_config_missing_is_said_before_any_watch():
    fake = FakeCluster(*stale(), {**RENDERED})
    try:
        with pytest.raises(LookupError, match=f"MachineConfig {MC} does not exist; nothing to wait for"):
            PoolWaiter(fake, ["worker"], machine_config=MC).wait(120)
        assert fake.watches == {"pool": [], "node": []} and not fake.lists
    finally:
        fake.close()


# -- node by node: each node labelled as soon as it is ready --------------------------------------------------------

def test_each_node_is_handed_over_as_soon_as_it_is_ready_while_the_others_still_update():
    fake = FakeCluster([*stale()[0], MASTER_POOL], [*stale()[1], MASTER_NODE], {MC: OURS, **RENDERED})
    handed: list[list[str]] = []
    waiter = PoolWaiter(fake, ["worker"], machine_config=MC, handler="kata", candidates=list(WORKERS),
                        on_ready=handed.append)
    run = Run(waiter, 120)
    try:
        run.saw(f"worker: waiting for the MCO to render {MC}")
        assert handed == []  # the nodes run the old render, which lacks our MachineConfig
        fake.modify("pool", worker_pool(NEW, with_mc=True, generation=3, observed=3, status_config=OLD, updated=0,
                                        updating=True))
        fake.modify("node", node("worker-0", OLD, NEW, "Working"))
        run.saw("worker: 0/3 updated; worker-0 Working")
        fake.modify("node", node("worker-0", NEW))
        fake.modify("node", node("worker-1", OLD, NEW, "Working"))
        run.saw("worker: 1/3 updated; worker-1 Working")
        # worker-0 is ready while worker-1 updates and worker-2 waits its turn.
        assert handed == [["worker-0"]]
        fake.modify("node", node("worker-1", NEW))
        fake.modify("node", node("worker-2", OLD, NEW, "Working"))
        run.saw("worker: 2/3 updated; worker-2 Working")
        fake.modify("node", node("worker-2", NEW))
        fake.modify("pool", worker_pool(NEW, with_mc=True, generation=3, observed=3))
        assert run.result().state == "converged"
        assert handed == [["worker-0"], ["worker-1"], ["worker-2"]]  # once each
    finally:
        fake.close()


def test_a_node_labelled_by_an_earlier_run_is_not_handed_over_again_and_a_ready_one_is_at_once():
    labelled = node("worker-0", NEW)
    labelled["metadata"]["labels"]["sandboxed.containers/handler"] = "kata"
    nodes = [labelled, node("worker-1", NEW), node("worker-2", OLD, NEW, "Working")]
    fake = FakeCluster([worker_pool(NEW, with_mc=True, updated=2, updating=True), MASTER_POOL],
                       [*nodes, MASTER_NODE], {MC: OURS, **RENDERED})
    handed: list[list[str]] = []
    run = Run(PoolWaiter(fake, ["worker"], machine_config=MC, handler="kata", candidates=list(WORKERS),
                         on_ready=handed.append), 120)
    try:
        run.saw("worker: 2/3 updated; worker-2 Working")
        assert handed == [["worker-1"]]  # a re-run after a killed one: the ready node is labelled at once
        fake.modify("node", node("worker-2", NEW))
        fake.modify("pool", worker_pool(NEW, with_mc=True))
        assert run.result().state == "converged"
        assert handed == [["worker-1"], ["worker-2"]]
    finally:
        fake.close()


# -- a drain a PodDisruptionBudget holds --------------------------------------------------------------------------

DESIRED_DRAIN = "machineconfiguration.openshift.io/desiredDrain"
LAST_DRAIN = "machineconfiguration.openshift.io/lastAppliedDrain"


def draining(name: str, done: bool = False) -> dict:
    n = node(name, OLD, NEW, "Working")
    n["metadata"]["annotations"].update({DESIRED_DRAIN: f"drain-{NEW}",
                                         LAST_DRAIN: f"drain-{NEW}" if done else f"uncordon-{OLD}"})
    n["spec"] = {"unschedulable": True}
    return n


def test_a_held_drain_is_named_in_the_progress_and_the_timeout_and_nothing_is_read_without_one(make):
    fake, run = make([worker_pool(NEW, with_mc=True, generation=3, observed=3, status_config=OLD, updated=0,
                                  updating=True)], [node(n, OLD, NEW) for n in WORKERS], timeout=8)
    fake.pods = [{"metadata": {"name": "web-1", "namespace": "app", "labels": {"app": "web"},
                               "ownerReferences": [{"kind": "ReplicaSet", "name": "web", "controller": True}]},
                  "spec": {"nodeName": "worker-0"}, "status": {"phase": "Running"}}]
    fake.budgets = [{"metadata": {"name": "web", "namespace": "app"},
                     "spec": {"selector": {"matchLabels": {"app": "web"}}}, "status": {"disruptionsAllowed": 0}}]
    fake.modify("node", node("worker-0", OLD, NEW, "Working"))
    run.saw("worker: 0/3 updated; worker-0 Working")
    assert fake.lists["pods"] == fake.lists["budgets"] == 0  # no drain pending: nothing read
    fake.modify("node", draining("worker-0"))
    held = "the drain of worker-0 is held by app/web-1 (PodDisruptionBudget web)"
    run.saw(f"worker: 0/3 updated; worker-0 Working: {held}")
    outcome = run.result()
    assert outcome.state == "timeout"
    assert held in outcome.assessments["worker"].waiting_for
    # Looked at after 2 s, then every 5 s: at most two looks in the 8 s wait, two lists each.
    assert 1 <= fake.lists["pods"] == fake.lists["budgets"] <= 2


def test_a_drain_no_longer_held_is_no_longer_named(make):
    fake, run = make([worker_pool(NEW, with_mc=True, generation=3, observed=3, status_config=OLD, updated=0,
                                  updating=True)], [node(n, OLD, NEW) for n in WORKERS])
    fake.pods = [{"metadata": {"name": "web-1", "namespace": "app", "labels": {"app": "web"}},
                  "spec": {"nodeName": "worker-0"}, "status": {"phase": "Running"}}]
    fake.budgets = [{"metadata": {"name": "web", "namespace": "app"},
                     "spec": {"selector": {}}, "status": {"disruptionsAllowed": 0}}]
    fake.modify("node", draining("worker-0"))
    run.saw("worker: 0/3 updated; worker-0 Working: the drain of worker-0 is held by app/web-1 "
            "(PodDisruptionBudget web)")
    fake.modify("node", draining("worker-0", done=True))
    run.saw("worker: 0/3 updated; worker-0 Working")
