# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Controller side of sandboxed.containers.pool_wait: the wait runs here so its progress shows live."""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import (
    ApiUnreachable,
    Cluster,
    ClusterError,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._names import HANDLER_LABEL, READY_SINCE_ANNOTATION
from ansible_collections.sandboxed.containers.plugins.module_utils._watch import (
    Outcome,
    PoolWaiter,
    retry_while_unavailable,
)
from ansible_collections.sandboxed.containers.plugins.modules import pool_wait
from ansible_collections.sandboxed.containers.plugins.plugin_utils._action import ClusterAction

display = Display()


def progress(text: str) -> None:
    display.display(f"pool_wait: {text}")


def label_ready(cluster: Cluster, handler: str, nodes: list[str]) -> dict[str, str]:
    """Labels nodes that have just become ready for sandboxed pods, with the time as an annotation."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for name in nodes:
        cluster.patch("v1", "Node", name, {"metadata": {"labels": {HANDLER_LABEL: handler},
                                                        "annotations": {READY_SINCE_ANNOTATION: since}}})
    progress(f"ready for sandboxed pods: {', '.join(nodes)} (labelled {HANDLER_LABEL}={handler})")
    return dict.fromkeys(nodes, since)


class ActionModule(ClusterAction):
    spec = pool_wait.ARGUMENT_SPEC

    def run(self, tmp=None, task_vars=None):
        result = ActionBase.run(self, tmp, task_vars)
        args = self.arguments()
        if args["label_ready"] and not args["handler"]:
            raise AnsibleActionFail("label_ready needs the handler: set handler to the CRI-O runtime handler")
        if self._task.check_mode:
            result.update(changed=False, skipped=True,
                          msg="check mode: not waiting for the MCO (nothing was changed to wait for)")
            return result
        # The client's discovery is the first request: it is retried too while the API server is down.
        deadline = time.monotonic() + (args["timeout"] or 600)
        try:
            cluster = retry_while_unavailable(lambda: Cluster(self.task(args)), deadline, progress, "connecting")
        except ClusterError as e:
            raise AnsibleActionFail(str(e)) from None
        ready: dict[str, str] = {}
        waiter = PoolWaiter(cluster.client.client, args["pools"], machine_config=args["machine_config"],
                            present=args["present"], phase=args["phase"], absent_from=args["absent_from"],
                            reboot_timeout=args["reboot_timeout"] or None, handler=args["handler"],
                            candidates=args["label_ready"],
                            on_ready=lambda nodes: ready.update(label_ready(cluster, args["handler"], nodes)))
        try:
            with cluster.errors("cannot wait for the pools"):
                outcome = waiter.wait(args["timeout"], progress, heartbeat=args["progress_interval"])
        except ApiUnreachable as e:
            raise AnsibleActionFail(f"{e}. It stayed unavailable until the timeout; the rollout goes on in the "
                                    "cluster: run again once the API server answers") from None
        except (ClusterError, LookupError, PermissionError) as e:
            raise AnsibleActionFail(str(e)) from None
        result.update(self.summary(outcome, waiter, args, cluster.host))
        result.update(ready_nodes=ready, changed=bool(ready))
        return result

    @staticmethod
    def summary(outcome: Outcome, waiter: PoolWaiter, args: dict, host: str) -> dict:
        out: dict = {
            "changed": False, "pools": {name: a.summary for name, a in outcome.assessments.items()},
            "elapsed": round(outcome.elapsed, 2), "api_requests": outcome.requests, "api_host": host,
            "state": outcome.state,
        }
        if outcome.state == "failed":
            out.update(failed=True, msg="the rollout failed: " + "; ".join(outcome.failures))
        elif outcome.state == "timeout":
            label = ", ".join(args["pools"] + args["absent_from"])
            waiting = [w for a in outcome.assessments.values() for w in a.waiting_for]
            progress_text = "; ".join(a.progress for a in outcome.assessments.values())
            out.update(
                failed=True,
                msg=(f"timed out after {waiter.timeout or args['timeout']} s waiting for {label} "
                     f"({progress_text}); still waiting for: {'; '.join(waiting) or 'the first status'}. "
                     "The rollout goes on in the cluster: run again to keep waiting, or raise the timeout"),
            )
        else:
            out["msg"] = "; ".join(a.progress for a in outcome.assessments.values())
        return out
