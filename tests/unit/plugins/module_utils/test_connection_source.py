"""Where the connection comes from: one source, taken whole, never mixed (issue 12 item 10)."""

from __future__ import annotations

import pytest
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import _create_auth_spec, _create_headers

from ansible_collections.sandboxed.containers.plugins.module_utils._connection import (
    ENVIRONMENT,
    PLAY_VARIABLES,
    ConnectionSettingsError,
    from_environment,
    is_set,
    play_options,
    resolve,
    same_clusters,
)

TOKEN_A = "sha256~token-of-cluster-a"
# What AWX's "OpenShift or Kubernetes API Bearer Token" credential injects, here for cluster A.
AWX_A = {"K8S_AUTH_HOST": "https://api.a.example:6443", "K8S_AUTH_API_KEY": TOKEN_A,
         "K8S_AUTH_VERIFY_SSL": "True", "K8S_AUTH_SSL_CA_CERT": "/runner/env/ca-a.crt"}


def play(**variables: object) -> dict:
    return play_options({PLAY_VARIABLES[k]: v for k, v in variables.items()})


class FakeModule:
    """What kubernetes.core's _create_auth_spec reads of a module: its params, every auth option present."""

    def __init__(self, params: dict) -> None:
        self.params = {k: None for k in AUTH_ARG_SPEC} | params


def kubernetes_core_auth(explicit: dict, env: dict, monkeypatch) -> dict:
    """What kubernetes.core 6.x builds its client from, given these module options in this environment."""
    for names in ENVIRONMENT.values():
        for n in names:
            monkeypatch.delenv(n, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    params = dict(explicit)
    if isinstance(params.get("proxy_headers"), dict):  # Ansible fills a dict option's sub-options
        params["proxy_headers"] = {"proxy_basic_auth": None, "basic_auth": None, "user_agent": None}
    return _create_auth_spec(FakeModule(params))


def test_the_reported_mix_is_refused_naming_the_variables_never_their_values():
    # Play: cluster B's kubeconfig. Environment: cluster A's host and token. kubernetes.core would skip the
    # kubeconfig altogether (host and api_key set) and talk to A.
    with pytest.raises(ConnectionSettingsError) as e:
        resolve(play(kubeconfig="/b/kubeconfig"), AWX_A, labels=PLAY_VARIABLES)
    text = str(e.value)
    assert "sandboxed_containers_kubeconfig" in text
    for name in AWX_A:
        assert name in text
    assert TOKEN_A not in text and "/b/kubeconfig" not in text and "api.a.example" not in text


def test_the_plays_kubeconfig_wins_whole_over_the_environments_kubeconfig(monkeypatch):
    env = {"K8S_AUTH_KUBECONFIG": "/a/kubeconfig", "K8S_AUTH_IMPERSONATE_USER": "someone"}
    conn = resolve(play(kubeconfig="/b/kubeconfig", context="b"), env, labels=PLAY_VARIABLES)
    assert conn.source == "options"
    assert conn.options == {"kubeconfig": "/b/kubeconfig", "context": "b"}
    assert conn.ignored == ("K8S_AUTH_IMPERSONATE_USER", "K8S_AUTH_KUBECONFIG")
    assert conn.given_by == ("sandboxed_containers_kubeconfig", "sandboxed_containers_context")
    # kubernetes.core, given the explicit options, takes nothing from the environment.
    auth = kubernetes_core_auth(conn.explicit, env, monkeypatch)
    assert auth["kubeconfig"] == "/b/kubeconfig" and auth["context"] == "b"
    assert "host" not in auth and "api_key" not in auth
    assert {k: v for k, v in auth.items() if k not in ("kubeconfig", "context") and is_set(v)} == {
        "persist_config": False}
    assert _create_headers(FakeModule(conn.explicit)) == {}  # no impersonation from K8S_AUTH_IMPERSONATE_USER


def test_the_plays_host_and_token_win_whole_over_an_awx_credential(monkeypatch):
    conn = resolve(play(host="https://api.b.example:6443", api_key="token-b"), AWX_A, labels=PLAY_VARIABLES)
    assert conn.source == "options"
    assert conn.options == {"host": "https://api.b.example:6443", "api_key": "token-b"}
    auth = kubernetes_core_auth(conn.explicit, AWX_A, monkeypatch)
    assert auth["host"] == "https://api.b.example:6443" and auth["api_key"] == "token-b"
    # Cluster A's CA and verify setting do not apply to B: the default CA bundle, certificates verified.
    assert auth["ssl_ca_cert"] == "" and auth["verify_ssl"] is True
    assert TOKEN_A not in repr(auth) and "ca-a" not in repr(auth)


def test_without_play_variables_the_environment_is_the_one_source(monkeypatch):
    conn = resolve(play(), AWX_A)
    assert conn.source == "environment"
    assert conn.options == {"host": AWX_A["K8S_AUTH_HOST"], "api_key": TOKEN_A, "validate_certs": True,
                            "ca_cert": "/runner/env/ca-a.crt"}
    assert conn.explicit == {}  # kubernetes.core reads the environment itself
    assert conn.given_by == tuple(sorted(AWX_A))


def test_without_either_the_default_kubeconfig():
    conn = resolve(play(), {"K8S_AUTH_KUBECONFIG": "", "HOME": "/home/x"})
    assert (conn.source, conn.options, conn.explicit) == ("default", {}, {})
    assert "default kubeconfig" in conn.describe()


@pytest.mark.parametrize(("variables", "env", "message"), [
    ({"api_key": "t"}, {}, "sandboxed_containers_api_key name no cluster"),
    ({"host": "https://x:6443"}, {}, "sandboxed_containers_api_host is set without credentials"),
    ({"kubeconfig": "/k", "host": "https://x:6443", "api_key": "t"}, {},
     "sandboxed_containers_kubeconfig and sandboxed_containers_api_host, sandboxed_containers_api_key both say"),
    ({"validate_certs": False}, {}, "sandboxed_containers_validate_certs name no cluster"),
    ({"kubeconfig": "/k"}, {"K8S_AUTH_CONTEXT": "a"}, "the environment also sets K8S_AUTH_CONTEXT"),
    ({"kubeconfig": "/k"}, {"K8S_AUTH_HOST": "https://a:6443"}, "the environment also sets K8S_AUTH_HOST"),
    ({"context": "b"}, {"K8S_AUTH_CERT_FILE": "/a.crt", "K8S_AUTH_KEY_FILE": "/a.key"},
     "also sets K8S_AUTH_CERT_FILE, K8S_AUTH_KEY_FILE"),
    ({}, {"K8S_AUTH_API_KEY": "t"}, "K8S_AUTH_API_KEY name no cluster"),
    ({}, {"K8S_AUTH_HOST": "https://a:6443"}, "K8S_AUTH_HOST is set without credentials"),
    ({}, {"K8S_AUTH_KUBECONFIG": "/k", "K8S_AUTH_HOST": "https://a:6443", "K8S_AUTH_API_KEY": "t"},
     "K8S_AUTH_KUBECONFIG and K8S_AUTH_HOST, K8S_AUTH_API_KEY both say where to connect"),
    ({}, {"K8S_AUTH_HOST": "https://a:6443", "K8S_AUTH_CLIENT_CERT": "/c"}, "K8S_AUTH_CLIENT_CERT is set without"),
])
def test_incomplete_or_mixed_sources_are_refused(variables, env, message):
    with pytest.raises(ConnectionSettingsError, match=message):
        resolve(play(**variables), env, labels=PLAY_VARIABLES)


def test_empty_means_unset_on_both_sides():
    assert resolve(play(kubeconfig=""), {"K8S_AUTH_HOST": ""}).source == "default"
    assert not is_set({"proxy_basic_auth": None}) and not is_set([]) and is_set(False)
    assert from_environment({"K8S_AUTH_VERIFY_SSL": "no", "K8S_AUTH_IMPERSONATE_GROUPS": "a,b,"}) == {
        "validate_certs": (("K8S_AUTH_VERIFY_SSL",), False),
        "impersonate_groups": (("K8S_AUTH_IMPERSONATE_GROUPS",), ["a", "b"])}


def test_a_module_given_the_explicit_options_resolves_to_the_same_connection():
    # What the lookup passes through module_defaults, resolved again inside the module, in the same environment.
    env = {"K8S_AUTH_KUBECONFIG": "/a/kubeconfig", "K8S_AUTH_PROXY_HEADERS_USER_AGENT": "x"}
    first = resolve(play(kubeconfig="/b/kubeconfig"), env)
    again = resolve({k: first.explicit.get(k) for k in ENVIRONMENT}, env)
    assert (again.source, again.options) == ("options", {"kubeconfig": "/b/kubeconfig"})


def test_same_clusters_names_both_hosts():
    ids = {"cluster-a": {"api_url": "https://API.a.example:6443/", "cluster_id": "1"},
           "cluster-b": {"api_url": "https://api.a.example:6443", "cluster_id": None},
           "cluster-c": {"api_url": "https://api-int.a.example:6443", "cluster_id": "1"},
           "cluster-d": {"api_url": "https://api.d.example:6443", "cluster_id": "4"},
           "unreachable": {"failed": True, "msg": "cannot reach"}}
    assert same_clusters(ids) == [
        "cluster-a and cluster-b are the same cluster (API server https://api.a.example:6443)",
        "cluster-a and cluster-c are the same cluster (cluster ID 1)",
    ]
    assert same_clusters({"a": ids["cluster-a"], "d": ids["cluster-d"]}) == []
