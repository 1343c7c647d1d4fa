# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The controller side of the collection's modules: each runs its module's body here, with no module process.

ansible-core's linear strategy loads a task's action class in the main process before it forks the worker
(lib/ansible/plugins/strategy/linear.py, action_loader.get(..., class_only=True)), so the imports below, the
kubernetes library above all, are paid once per run instead of once per task; a module process pays them every
time. The module file keeps the documentation, the argument spec and the body; this base class validates the
task's arguments against that spec (ansible-core's validate_argument_spec, so the spec the documentation is tested
against is the one enforced), builds a Cluster, and runs the body as the module's main() would.

Private plugin_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import (
    Cluster,
    Task,
    argument_spec,
    execute,
    missing_requirements,
)


class ClusterAction(ActionBase):
    """Runs `body` (a module's body) on the controller with the task's arguments checked against `spec`."""

    TRANSFERS_FILES = False
    _requires_connection = False

    spec: dict = {}  # the module's own options (its ARGUMENT_SPEC); kubernetes.core's auth options are added
    validation: dict = {}  # required_if and the like, as the module's main() passes them
    body: Callable[[Cluster], dict]

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(execute(self.task(self.arguments()), type(self).body))
        return result

    def arguments(self) -> dict:
        """The task's arguments, checked against the module's spec; fails first when a requirement is missing."""
        missing = missing_requirements()
        if missing:
            raise AnsibleActionFail(missing)
        return self.validate_argument_spec(argument_spec=argument_spec(self.spec), **self.validation)[1]

    def task(self, args: dict) -> Task:
        """The Task a body sees: the validated arguments, check and diff mode, and the environment a module
        would run with (the controller's, with the task's `environment:` on top), where K8S_AUTH_* may come from."""
        environ = dict(os.environ)
        environments = self._task.environment or []
        for env in environments if isinstance(environments, list) else [environments]:
            if env:
                environ.update({str(k): str(v) for k, v in self._templar.template(env).items()})
        return Task(args, check_mode=bool(self._task.check_mode), diff=bool(self._task.diff), environ=environ)
