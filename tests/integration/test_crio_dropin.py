"""Configuration injected into the CRI-O drop-in (issue 12 item 4), tried through playbooks/install.yml as a user
would: refused before any change, nothing written to the API server (its audit log), the cluster unchanged."""

from __future__ import annotations

import json
import time

import pytest

from support import snapshot

WRITES = ("create", "patch", "update", "delete", "deletecollection")


def writes(cluster, start: int) -> list[tuple[str, str, str]]:
    """(verb, resource, name) of the admin's writes since line `start` of the audit log, dry runs included."""
    out = []
    for line in (cluster.dir / "logs" / "audit.log").read_text().splitlines()[start:]:
        e = json.loads(line)
        if e["user"]["username"] == "admin" and e["stage"] == "ResponseComplete" and e["verb"] in WRITES:
            ref = e.get("objectRef") or {}
            out.append((e["verb"], ref.get("resource", ""), ref.get("name", "")))
    return out


@pytest.mark.parametrize(("extra_vars", "message"), [
    # The reported injection: a key that ends the handler's table and sets CRI-O's default runtime, so that every
    # pod of the nodes would run in Kata, past the admission policy.
    ({"sandboxed_containers_crio_extra_options": {"a = 1\n[crio.runtime]\ndefault_runtime": "kata"}},
     "sandboxed_containers_crio_extra_options has the key 'a = 1\\n[crio.runtime]\\ndefault_runtime', which CRI-O "
     "does not know"),
    # A value cannot end its line either: it is a TOML literal; and no CRI-O setting takes a newline.
    ({"sandboxed_containers_crio_runtime_root": '/run/vc"\n[crio.image]\nsignature_policy = "/tmp/accept-all'},
     "runtime_root '/run/vc\"\\n[crio.image]\\nsignature_policy = \"/tmp/accept-all' has a control character"),
    # A handler with brackets would name another table.
    ({"sandboxed_containers_handler": "k[a]ta"},
     "sandboxed_containers_handler 'k[a]ta' must be a DNS label"),
    # A "kata" class that runs plain runc: refused unless a documented setting says so.
    ({"sandboxed_containers_crio_runtime_type": "oci", "sandboxed_containers_crio_runtime_path": "/usr/bin/crun"},
     "runtime_type 'oci' would run the runtime class's pods as plain containers on the host's kernel"),
], ids=["key-with-newline", "value-with-newline", "handler-with-brackets", "runc-handler"])
def test_injection_into_the_crio_dropin_is_refused_before_any_change(cluster, ansible, fresh, extra_vars, message):
    api = fresh
    before = snapshot(api)
    time.sleep(0.5)  # the audit log is written after the response
    start = len((cluster.dir / "logs" / "audit.log").read_text().splitlines())
    r = ansible.run("install", extra_vars=extra_vars)
    assert r.rc != 0, r
    text = r.text.replace("''", "'")  # the yaml callback doubles quotes in single-quoted strings
    assert message in text, r
    assert "Nothing was changed" in text, r
    time.sleep(0.5)
    assert writes(cluster, start) == [], "nothing may be written, not even as a dry run"
    assert snapshot(api) == before


def test_a_mistake_in_the_crio_settings_does_not_stop_status(ansible, fresh):
    """The drop-in is rendered where it is used: status (and uninstall) run whatever the CRI-O settings say."""
    r = ansible.run("status", extra_vars={"sandboxed_containers_crio_extra_options": {"no such key": "x"}})
    assert r.rc == 0, r
