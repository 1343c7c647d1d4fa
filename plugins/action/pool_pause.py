# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Runs sandboxed.containers.pool_pause on the controller (see plugin_utils/_action.py for why)."""

from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.modules import pool_pause
from ansible_collections.sandboxed.containers.plugins.plugin_utils._action import ClusterAction


class ActionModule(ClusterAction):
    spec = pool_pause.ARGUMENT_SPEC

    body = staticmethod(pool_pause.ensure)
