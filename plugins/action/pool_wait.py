# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Controller side of sandboxed.containers.pool_wait: the wait runs here so its progress shows live."""

from __future__ import annotations

import copy
import os
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.sandboxed.containers.plugins.module_utils._convergence import RENDERED, ROLLED_OUT
from ansible_collections.sandboxed.containers.plugins.module_utils._watch import (
    PoolWaiter,
    retry_while_unavailable,
    unavailable,
)

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

    from ansible_collections.sandboxed.containers.plugins.module_utils._connection import (
        ConnectionSettingsError,
        resolve,
    )
    from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import (
        KUBERNETES_CORE,
        ClusterError,
        connect,
    )
except ImportError as e:  # pragma: no cover
    AUTH_ARG_SPEC = None
    KUBERNETES_CORE = ">=6.3.0,<7.0.0"
    IMPORT_ERROR = e
else:
    IMPORT_ERROR = None

display = Display()

SPEC = {
    "pools": {"type": "list", "elements": "str", "required": True},
    "machine_config": {"type": "str"},
    "present": {"type": "bool", "default": True},
    "absent_from": {"type": "list", "elements": "str", "default": []},
    "phase": {"type": "str", "choices": [RENDERED, ROLLED_OUT], "default": ROLLED_OUT},
    "timeout": {"type": "int", "default": 0},
    "progress_interval": {"type": "int", "default": 60},
    "reboot_timeout": {"type": "int", "default": 900},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if IMPORT_ERROR is not None:
            raise AnsibleActionFail(
                f"pool_wait needs the kubernetes.core collection ({KUBERNETES_CORE}): {IMPORT_ERROR}")
        spec = copy.deepcopy(AUTH_ARG_SPEC)
        spec.update(SPEC)
        validated = ArgumentSpecValidator(spec).validate(self._task.args)
        if validated.error_messages:
            raise AnsibleActionFail("; ".join(validated.error_messages))
        args = validated.validated_parameters
        if self._play_context.check_mode:
            result.update(changed=False, skipped=True,
                          msg="check mode: not waiting for the MCO (nothing was changed to wait for)")
            return result

        # The connection whole from one source (the task's options, else K8S_AUTH_*, else the default kubeconfig),
        # as every module of the collection takes it: this runs in the controller's own process and environment.
        try:
            connection = resolve({k: args.get(k) for k in AUTH_ARG_SPEC}, os.environ)
        except ConnectionSettingsError as e:
            raise AnsibleActionFail(f"{e}. Nothing was changed.") from None
        api_host = str(connection.options.get("host") or "the API server")

        def progress(text: str) -> None:
            display.display(f"pool_wait: {text}")

        # The client's discovery is the first request: it is retried too while the API server is down.
        deadline = time.monotonic() + (args["timeout"] or 600)
        try:
            client = retry_while_unavailable(lambda: connect(connection), deadline, progress, "connecting")
        except ClusterError as e:
            raise AnsibleActionFail(str(e)) from None
        except CoreException as e:
            raise AnsibleActionFail(f"{e}; check the kubeconfig, context, host and credentials") from None
        except Exception as e:
            if unavailable(e):
                raise AnsibleActionFail(self._unreachable(api_host, e)) from None
            raise
        host = getattr(client.configuration, "host", "?")
        label = ", ".join(args["pools"] + args["absent_from"])
        waiter = PoolWaiter(client.client, args["pools"], machine_config=args["machine_config"],
                            present=args["present"], phase=args["phase"], absent_from=args["absent_from"],
                            reboot_timeout=args["reboot_timeout"] or None)

        try:
            outcome = waiter.wait(args["timeout"], progress, heartbeat=args["progress_interval"])
        except (LookupError, PermissionError) as e:
            raise AnsibleActionFail(str(e)) from None
        except Exception as e:
            if unavailable(e):
                raise AnsibleActionFail(self._unreachable(host, e)) from None
            raise
        summaries = {name: a.summary for name, a in outcome.assessments.items()}
        result.update(changed=False, pools=summaries, elapsed=round(outcome.elapsed, 2),
                      api_requests=outcome.requests, api_host=host, state=outcome.state)
        if outcome.state == "failed":
            result.update(failed=True, msg="the rollout failed: " + "; ".join(outcome.failures))
        elif outcome.state == "timeout":
            waiting = [w for a in outcome.assessments.values() for w in a.waiting_for]
            progress_text = "; ".join(a.progress for a in outcome.assessments.values())
            result.update(
                failed=True,
                msg=(f"timed out after {waiter.timeout or args['timeout']} s waiting for {label} "
                     f"({progress_text}); still waiting for: {'; '.join(waiting) or 'the first status'}. "
                     "The rollout goes on in the cluster: run again to keep waiting, or raise the timeout"),
            )
        else:
            result["msg"] = "; ".join(a.progress for a in outcome.assessments.values())
        return result

    @staticmethod
    def _unreachable(host: str, e: Exception) -> str:
        return (f"cannot reach the API server at {host} ({type(e).__name__}: {e}); it stayed unavailable until the "
                "timeout. The rollout goes on in the cluster: run again once the API server answers")
