# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: connection
short_description: The connection options of a play, taken whole from one source
version_added: 1.0.0
description:
  - Returns the auth options to give every module of the play through C(module_defaults), taken whole from
    one source, never mixed. That is the play's variables when any of them is set, else the C(K8S_AUTH_*)
    environment, else the default kubeconfig.
  - "The play's variables are V(sandboxed_containers_kubeconfig), V(sandboxed_containers_context),
    V(sandboxed_containers_api_host), V(sandboxed_containers_api_key), V(sandboxed_containers_ca_cert) and
    V(sandboxed_containers_validate_certs)."
  - kubernetes.core's modules read every option the task does not give from the environment, option by option.
    When the play's variables name the connection, the result therefore gives a value to every option the
    environment could still fill. The lookup fails, before any task runs, when that cannot be done without
    changing the play's connection (the environment sets credentials, a CA or a proxy while the play names a
    kubeconfig), and when a source is incomplete (a token without an API server, an API server without a token,
    both a kubeconfig and an API server).
  - In the environment and default cases the result is empty, so the modules read the environment or the
    default kubeconfig themselves.
  - Never returns or prints anything but the play's own values; the token stays in C(api_key), which every
    module of the collection and kubernetes.core mark C(no_log).
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options: {}
notes:
  - "The collection's playbooks give it to C(group/sandboxed.containers.sandboxed_containers) in C(module_defaults),
    see the example."
"""

EXAMPLES = r"""
- name: Install with the connection taken from one source
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/sandboxed.containers.sandboxed_containers: "{{ lookup('sandboxed.containers.connection') }}"
  roles:
    - role: sandboxed.containers.install
"""

RETURN = r"""
_raw:
  description: The auth options for C(module_defaults); empty when the connection comes from the environment or
    the default kubeconfig.
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.sandboxed.containers.plugins.module_utils._connection import (
    PLAY_VARIABLES,
    ConnectionSettingsError,
    play_options,
    resolve,
)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        found = {name: self._templar.template(variables[name]) for name in PLAY_VARIABLES.values()
                 if name in (variables or {})}
        try:
            # Modules run on the controller (connection: local), in this process's environment.
            conn = resolve(play_options(found), os.environ, labels=PLAY_VARIABLES)
        except ConnectionSettingsError as e:
            raise AnsibleLookupError(f"{e}. Nothing was changed.") from None
        return [conn.explicit]
