# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Runs sandboxed.containers.machine_config on the controller (see plugin_utils/_action.py for why)."""

from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.modules import machine_config
from ansible_collections.sandboxed.containers.plugins.plugin_utils._action import ClusterAction


class ActionModule(ClusterAction):
    spec = machine_config.ARGUMENT_SPEC
    validation = machine_config.VALIDATION
    body = staticmethod(machine_config.ensure)
