"""The render module's writing: what it writes, check mode, and where it stopped when it cannot write."""

from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._render import RenderError
from ansible_collections.sandboxed.containers.plugins.modules import render
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN


class FakeModule:
    """What run() uses of AnsibleModule."""

    def __init__(self, params: dict, check_mode: bool = False) -> None:
        self.params = {k: v.get("default") for k, v in render.ARGUMENT_SPEC.items()} | params
        self.check_mode, self._diff, self.warnings = check_mode, True, []

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


def test_check_mode_writes_nothing_and_a_real_run_writes_every_file(tmp_path):
    dest = tmp_path / "openshift"
    planned = render.run(FakeModule({"dest": str(dest), "crio_dropin": DROPIN}, check_mode=True))
    assert planned["changed"] and not dest.exists()
    assert [d["after_header"] for d in planned["diff"]] == [str(dest / n) for n in planned["written"]]
    done = render.run(FakeModule({"dest": str(dest), "crio_dropin": DROPIN}))
    assert sorted(p.name for p in dest.iterdir()) == done["files"] == planned["files"]
    again = render.run(FakeModule({"dest": str(dest), "crio_dropin": DROPIN}))
    assert not again["changed"] and again["written"] == []


def test_a_directory_it_cannot_write_says_what_was_done_before(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(RenderError, match=r"cannot write .*Not a directory.*Done before it: nothing.*run again"):
        render.run(FakeModule({"dest": str(blocker / "openshift"), "crio_dropin": DROPIN}))
