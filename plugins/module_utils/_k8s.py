# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Thin I/O on kubernetes.core's client: auth, discovery and server-side dry run come from there.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import json
import os
import traceback
from collections.abc import Callable, Iterator, Mapping

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.sandboxed.containers.plugins.module_utils._connection import (
    ENVIRONMENT,
    Connection,
    ConnectionSettingsError,
    resolve,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._ignition import files_of
from ansible_collections.sandboxed.containers.plugins.module_utils._names import FIELD_MANAGER

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.service import diff_objects

    HAS_KUBERNETES_COLLECTION = True
    K8S_COLLECTION_ERROR = None
except ImportError:  # pragma: no cover - reported by the module
    HAS_KUBERNETES_COLLECTION = False
    K8S_COLLECTION_ERROR = traceback.format_exc()
    AUTH_ARG_SPEC = {}
    AnsibleK8SModule = object  # type: ignore[assignment,misc]

try:
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError, ResourceNotFoundError
    from urllib3.exceptions import HTTPError as Urllib3HTTPError

    HAS_KUBERNETES = True
except ImportError:  # pragma: no cover - reported by missing_requirements()
    HAS_KUBERNETES = False

    # Stand-ins that are never raised: missing_requirements() stops the task before any request.
    class DynamicApiError(Exception):  # type: ignore[no-redef]
        pass

    class NotFoundError(DynamicApiError):  # type: ignore[no-redef]
        pass

    class ResourceNotFoundError(Exception):  # type: ignore[no-redef]
        pass

    class Urllib3HTTPError(Exception):  # type: ignore[no-redef]
        pass


# 6.3.0 is the first to keep an inline kubeconfig's secrets out of -vvv output (kubernetes.core PR 1014).
KUBERNETES_CORE = ">=6.3.0,<7.0.0"


class ClusterError(Exception):
    """A failure talking to the cluster, with a message fit for the user."""


class ApiUnreachable(ClusterError):
    """The API server cannot be reached just now (refused, reset, 5xx), as opposed to a refusal of the request."""


# Node label patches sent at once (the client's connection pool holds more connections than this).
LABEL_THREADS = 8


class ApiNotServed(ClusterError):
    """The API server does not serve a kind (an older OpenShift, or an operator that is not installed)."""


# While the API server restarts (an upgrade of the control plane, the reboot of a single-node cluster) requests are
# refused or answered 5xx: callers that wait retry those, and report any other error at once.
UNAVAILABLE_STATUS = (500, 502, 503, 504)


def unavailable(e: BaseException) -> bool:
    """Whether an error means the API server cannot be reached just now (as opposed to a refusal)."""
    if isinstance(e, (ApiUnreachable, OSError)):
        return True
    if getattr(e, "status", None) in UNAVAILABLE_STATUS:
        return True
    # urllib3's HTTPError family (MaxRetryError, ProtocolError...).
    return any(c.__module__.startswith("urllib3") for c in type(e).__mro__)


class Task:
    """What a module body needs of the task that runs it: its options, check and diff mode, the environment
    the connection may come from, and the warnings it gives. The same on the controller (plugin_utils/_action.py)
    and in a module process (run_module)."""

    def __init__(self, params: dict, check_mode: bool = False, diff: bool = False,
                 environ: Mapping[str, str] | None = None) -> None:
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.environ = os.environ if environ is None else environ
        self.warnings: list[str] = []

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


def argument_spec(extra: dict) -> dict:
    """kubernetes.core's auth options plus the module's own."""
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(extra)
    return spec


def describe_api_error(e: Exception) -> str:
    """The API server's own message when there is one, else the exception."""
    body = getattr(e, "body", None)
    if body:
        try:
            return json.loads(body).get("message") or str(body)
        except (ValueError, AttributeError):
            return str(body)
    return str(e)


def _strip(obj: dict) -> dict:
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"):
        meta.pop(key, None)
    return out


def without_managed_fields(obj: dict) -> dict:
    """An object as modules return it: managedFields are noise in task output."""
    out = dict(obj)
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return out


def readable(obj: dict) -> dict:
    """For diffs: a MachineConfig's file contents decoded from their data URLs."""
    out = _strip(obj)
    if out.get("kind") == "MachineConfig":
        decoded = files_of(out.get("spec") or {})
        for f in ((out.get("spec") or {}).get("config") or {}).get("storage", {}).get("files") or []:
            if f.get("path") in decoded:
                f["contents"] = {"decoded": decoded[f["path"]]}
    return out


class Cluster:
    """The one way the collection talks to the API server: kubernetes.core's client, built from one connection
    source, with every error turned into a ClusterError whose message says what to do. Writes are server-side dry
    runs in check mode."""

    def __init__(self, task: Task) -> None:
        self.task = task
        try:
            self.connection = resolve({k: task.params.get(k) for k in AUTH_ARG_SPEC}, task.environ)
        except ConnectionSettingsError as e:
            raise ClusterError(f"{e}. Nothing was changed.") from None
        self.host = str(self.connection.options.get("host") or "the API server")
        with self.errors("connecting"):
            try:
                self.client = connect(self.connection)  # reads /version and discovery: the first request
            except CoreException as e:
                raise ClusterError(f"{e}; check the kubeconfig, context, host and credentials") from None
        self.client.dry_run = task.check_mode  # server-side dry runs in check mode
        self.host = getattr(self.client.configuration, "host", self.host)

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turns what the client raises into a ClusterError: `doing` says which request was refused."""
        try:
            yield
        except ClusterError:
            raise
        except DynamicApiError as e:
            if getattr(e, "status", None) in UNAVAILABLE_STATUS:
                raise ApiUnreachable(self.unreachable(e)) from None
            raise ClusterError(f"{doing}: {describe_api_error(e)}") from None
        except (Urllib3HTTPError, OSError) as e:
            raise ApiUnreachable(self.unreachable(e)) from None

    def unreachable(self, e: Exception) -> str:
        reason = getattr(e, "reason", None) or e
        if hasattr(reason, "args") and "Failed to establish a new connection" in str(reason):
            reason = str(reason).rsplit(": ", 1)[-1].rstrip(")'\"")  # e.g. [Errno 111] Connection refused
        return (f"cannot reach the API server at {self.host}: {reason}. "
                "Check that the cluster is up and that the kubeconfig (or K8S_AUTH_HOST) points to it")

    def resource(self, api_version: str, kind: str):
        with self.errors(f"cannot discover {kind}"):
            try:
                return self.client.resource(kind, api_version)
            except ResourceNotFoundError:
                raise ApiNotServed(
                    f"the API server at {self.host} does not serve {kind} ({api_version}); "
                    "is this an OpenShift cluster with the Machine Config Operator?"
                ) from None

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether the API server serves the kind (from discovery, which the client caches)."""
        try:
            self.resource(api_version, kind)
        except ApiNotServed:
            return False
        return True

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        res = self.resource(api_version, kind)
        with self.errors(f"cannot read {kind} {name}"):
            try:
                return self.client.get(res, name=name, namespace=namespace).to_dict()
            except NotFoundError:
                return None

    def list(self, api_version: str, kind: str, **params) -> list[dict]:
        res = self.resource(api_version, kind)
        with self.errors(f"cannot list {kind}"):
            return self.client.get(res, **params).to_dict().get("items") or []

    def apply(self, definition: dict) -> tuple[bool, dict, dict]:
        """Server-side apply (dry run in check mode); returns changed, the object, and a readable diff."""
        kind = definition["kind"]
        name = definition["metadata"]["name"]
        namespace = definition["metadata"].get("namespace")
        res = self.resource(definition["apiVersion"], kind)
        existing = self.get(definition["apiVersion"], kind, name, namespace)
        with self.errors(f"the API server refused {kind} {name}"):
            after = self.client.apply(
                res, definition, namespace, server_side=True, field_manager=FIELD_MANAGER, force_conflicts=True,
                serialize=True,
            ).to_dict()
        before = readable(existing) if existing else {}
        unchanged, diff = diff_objects(before, readable(after))
        if existing is None:
            diff = {"before": {}, "after": readable(after)}
        return existing is None or not unchanged, without_managed_fields(after), diff

    def create(self, definition: dict) -> dict:
        """Creates an object (dry run in check mode)."""
        kind, name = definition["kind"], definition["metadata"]["name"]
        res = self.resource(definition["apiVersion"], kind)
        with self.errors(f"the API server refused {kind} {name}"):
            return self.client.create(res, definition, namespace=definition["metadata"].get("namespace")).to_dict()

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> tuple[bool, dict]:
        """Deletes if present (dry run in check mode); returns changed and the diff."""
        existing = self.get(api_version, kind, name, namespace)
        if existing is None:
            return False, {}
        res = self.resource(api_version, kind)
        with self.errors(f"cannot delete {kind} {name}"):
            try:
                self.client.delete(res, name=name, namespace=namespace)
            except NotFoundError:
                return False, {}
        return True, {"before": readable(existing), "after": {}}

    def patch(self, api_version: str, kind: str, name: str, body: dict, namespace: str | None = None) -> dict:
        """A JSON merge patch (dry run in check mode)."""
        res = self.resource(api_version, kind)
        with self.errors(f"cannot patch {kind} {name}"):
            return self.client.patch(res, body, name=name, namespace=namespace,
                                     content_type="application/merge-patch+json").to_dict()

    def label_exactly(self, key: str, value: str, names: list[str], annotations: dict[str, str] | None = None
                      ) -> tuple[list[str], list[str], list[str]]:
        """Makes `key=value` present on exactly the nodes `names` and `key` absent from every other node (merge
        patches of the labels only; dry runs in check mode). Returns (added, removed, nodes that had it).
        `annotations` go on with the label and off with it."""
        nodes = {n["metadata"]["name"]: n for n in self.list("v1", "Node")}
        missing = sorted(set(names) - set(nodes))
        if missing:
            raise ClusterError(f"no such nodes: {', '.join(missing)}; nothing was changed")
        having = sorted(n for n, obj in nodes.items() if key in (obj["metadata"].get("labels") or {}))
        want = sorted(set(names))
        add = [n for n in want if (nodes[n]["metadata"].get("labels") or {}).get(key) != value]
        remove = [n for n in having if n not in want]
        extra = annotations or {}
        patches = [(n, {"labels": {key: value}, **({"annotations": extra} if extra else {})}) for n in add] + [
            (n, {"labels": {key: None}, **({"annotations": dict.fromkeys(extra)} if extra else {})}) for n in remove]
        self.resource("v1", "Node")  # discovery once, before the threads
        # One request per node, LABEL_THREADS at a time: a hundred nodes one after the other took 1.9 s after
        # the rollout. The first error is raised once the patches under way have ended; a re-run finishes.
        with concurrent.futures.ThreadPoolExecutor(max_workers=LABEL_THREADS) as threads:
            list(threads.map(lambda nm: self.patch("v1", "Node", nm[0], {"metadata": nm[1]}), patches))
        return add, remove, having


def optional_list(cluster: Cluster, api_version: str, kind: str, **params) -> list[dict]:
    """Objects of a kind that only some clusters serve (an operator's API, a newer release's)."""
    try:
        return cluster.list(api_version, kind, **params)
    except ApiNotServed:
        return []


@contextlib.contextmanager
def without_auth_environment() -> Iterator[None]:
    """Hides the K8S_AUTH_* variables from kubernetes.core while a client is built, so that it takes nothing
    from the environment that the chosen source does not give (it falls back to them option by option)."""
    names = [n for names in ENVIRONMENT.values() for n in names]
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def check_kubeconfig(options: Mapping[str, object]) -> None:
    kubeconfig = options.get("kubeconfig")
    if isinstance(kubeconfig, str) and not os.path.exists(os.path.expanduser(kubeconfig)):
        raise ClusterError(
            f"the kubeconfig {kubeconfig} does not exist; set sandboxed_containers_kubeconfig (or "
            "K8S_AUTH_KUBECONFIG) to a readable kubeconfig, or give an API server and a token "
            "(sandboxed_containers_api_host and _api_key, or K8S_AUTH_HOST and K8S_AUTH_API_KEY)"
        )


def connect(connection: Connection):
    """kubernetes.core's client, built from the connection's one source and nothing else. Only Cluster calls
    this: it is the one place that creates API clients."""
    check_kubeconfig(connection.options)
    with without_auth_environment():
        return get_api_client(**connection.options)


def execute(task: Task, body: Callable[[Cluster], dict]) -> dict:
    """Runs a module body with a Cluster; returns its result, or failed and the message of a ClusterError. The
    diff is kept only in diff mode, and the task's warnings go with the result."""
    try:
        result = body(Cluster(task))
    except ClusterError as e:
        result = {"failed": True, "msg": str(e)}
    if not task.diff:
        result.pop("diff", None)
    if task.warnings:
        result["warnings"] = task.warnings
    return result


def missing_requirements() -> str | None:
    """Why a body cannot run here (kubernetes.core or the kubernetes library missing), or None."""
    if not HAS_KUBERNETES_COLLECTION:
        return missing_required_lib(f"the kubernetes.core collection ({KUBERNETES_CORE})")
    if not HAS_KUBERNETES:
        return missing_required_lib("kubernetes")
    return None


def run_module(spec: dict, body: Callable[[Cluster], dict], **kwargs) -> None:
    """A module's main(): the same body as the action plugin runs on the controller, in a module process (for
    ansible-doc, sanity tests, and a task that runs the module without the action)."""
    if not HAS_KUBERNETES_COLLECTION:  # pragma: no cover
        from ansible.module_utils.basic import AnsibleModule

        m = AnsibleModule(argument_spec={}, supports_check_mode=True, bypass_checks=True)
        m.fail_json(msg=missing_requirements(), exception=K8S_COLLECTION_ERROR)
    module = AnsibleK8SModule(argument_spec=argument_spec(spec), supports_check_mode=True, **kwargs)
    task = Task(module.params, check_mode=module.check_mode, diff=module._diff)
    result = execute(task, body)
    for w in result.pop("warnings", []):
        module.warn(w)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
