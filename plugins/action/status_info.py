# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Runs sandboxed.containers.status_info on the controller (see plugin_utils/_action.py for why)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import ClusterError
from ansible_collections.sandboxed.containers.plugins.modules import status_info
from ansible_collections.sandboxed.containers.plugins.plugin_utils._action import ClusterAction


class ActionModule(ClusterAction):
    spec = status_info.ARGUMENT_SPEC

    body = staticmethod(status_info.report)

    def run(self, tmp=None, task_vars=None):
        # A rendered directory that is missing or holds nothing of the collection's fails the task before it
        # connects: the message is about the directory, not about a cluster that may not be reachable.
        rendered_dir = self.arguments().get("rendered_dir")
        if rendered_dir:
            try:
                status_info.rendered_objects(rendered_dir)
            except ClusterError as e:
                result = ActionBase.run(self, tmp, task_vars)
                result.update({"failed": True, "msg": str(e)})
                return result
        return super().run(tmp, task_vars)
