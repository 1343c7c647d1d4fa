# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The CRI-O drop-in, written by a function rather than a template: keys checked by name, values as TOML literals
(documentation: crio_dropin.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sandboxed.containers.plugins.module_utils._crio import (
    OWN_KEYS,
    DropinError,
    render_dropin,
)


def crio_dropin(handler: object, extra_options: object = None, allow_non_vm_runtime: bool = False,
                **settings: object) -> str:
    unknown = sorted(set(settings) - set(OWN_KEYS))
    if unknown:
        raise AnsibleFilterError(f"crio_dropin: unknown settings {', '.join(unknown)}; its settings are "
                                 f"{', '.join(OWN_KEYS)}, extra_options and allow_non_vm_runtime")
    try:
        return render_dropin(handler, settings, extra_options, allow_non_vm_runtime=bool(allow_non_vm_runtime))
    except DropinError as e:
        raise AnsibleFilterError(f"{e}. Nothing was changed.") from None


class FilterModule:
    def filters(self) -> dict:
        return {"crio_dropin": crio_dropin}
