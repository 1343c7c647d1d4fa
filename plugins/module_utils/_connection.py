# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Where the connection to the cluster comes from: one source, taken whole. Pure.

kubernetes.core (module_utils/k8s/client.py, `_create_auth_spec`, 6.x) takes each auth option from the task's
options, else from K8S_AUTH_<OPTION> in the environment, option by option; and `_create_configuration` does not
even load the kubeconfig once host and api_key are set. So a play that names cluster B's kubeconfig, run with
K8S_AUTH_HOST and K8S_AUTH_API_KEY of cluster A in the environment (as an AWX credential injects them), talks to
cluster A; and a token or a client certificate of one cluster can be sent to another.

The collection takes the connection whole from one source instead:

1. the play's variables (the task's options), when any of them is set;
2. else the K8S_AUTH_* environment;
3. else the default kubeconfig (KUBECONFIG or ~/.kube/config), or the pod's service account.

The collection's own modules build their client from that source alone. For kubernetes.core's modules, which
fall back to the environment per option, `explicit` gives a value for every option the environment could still
fill; where no value would leave the play's kubeconfig as it is (its credentials, its CA), the run is refused.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The play's variables (playbooks/*.yml module_defaults) -> the auth option of kubernetes.core they give.
PLAY_VARIABLES: dict[str, str] = {
    "kubeconfig": "sandboxed_containers_kubeconfig",
    "context": "sandboxed_containers_context",
    "host": "sandboxed_containers_api_host",
    "api_key": "sandboxed_containers_api_key",
    "ca_cert": "sandboxed_containers_ca_cert",
    "validate_certs": "sandboxed_containers_validate_certs",
}

# Every environment variable kubernetes.core 6.x reads for an auth option: K8S_AUTH_<option> or
# K8S_AUTH_<client name> (args_common.py AUTH_ARG_MAP; client.py _create_auth_spec and _create_headers).
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "kubeconfig": ("K8S_AUTH_KUBECONFIG",),
    "context": ("K8S_AUTH_CONTEXT",),
    "host": ("K8S_AUTH_HOST",),
    "api_key": ("K8S_AUTH_API_KEY",),
    "username": ("K8S_AUTH_USERNAME",),
    "password": ("K8S_AUTH_PASSWORD",),
    "validate_certs": ("K8S_AUTH_VALIDATE_CERTS", "K8S_AUTH_VERIFY_SSL"),
    "ca_cert": ("K8S_AUTH_CA_CERT", "K8S_AUTH_SSL_CA_CERT"),
    "client_cert": ("K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE"),
    "client_key": ("K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE"),
    "proxy": ("K8S_AUTH_PROXY",),
    "no_proxy": ("K8S_AUTH_NO_PROXY",),
    "proxy_headers": ("K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH", "K8S_AUTH_PROXY_HEADERS_BASIC_AUTH",
                      "K8S_AUTH_PROXY_HEADERS_USER_AGENT"),
    "persist_config": ("K8S_AUTH_PERSIST_CONFIG",),
    "impersonate_user": ("K8S_AUTH_IMPERSONATE_USER",),
    "impersonate_groups": ("K8S_AUTH_IMPERSONATE_GROUPS",),
}
OPTIONS = tuple(ENVIRONMENT)
_BOOLS = ("validate_certs", "persist_config")
_KUBECONFIG = ("kubeconfig", "context")  # a kubeconfig names the API server and carries the credentials
_CREDENTIALS = ("api_key", "username", "password", "client_cert", "client_key")

# Values that make kubernetes.core take nothing from the environment for an option, and change nothing else.
# With host and credentials (no kubeconfig is loaded), empty values are what the play means: no client
# certificate, the default CA bundle, no proxy, no impersonation.
_NEUTRAL_HOST: dict[str, object] = {
    "kubeconfig": "", "context": "", "api_key": "", "username": "", "password": "", "client_cert": "",
    "client_key": "", "ca_cert": "", "validate_certs": True, "proxy": "", "no_proxy": "", "proxy_headers": {},
    "persist_config": False, "impersonate_user": "", "impersonate_groups": [],
}
# With a kubeconfig, kubernetes.core loads it and then overwrites the client's settings with every option that is
# not None, "" included: host, api_key, ca_cert, client_cert, client_key, validate_certs and proxy have no value
# that leaves the kubeconfig's own (a token, a CA written to a temporary file), so the environment must not set
# them. An empty context would name no context; an empty kubeconfig (with a context) loads the default one.
_NEUTRAL_KUBECONFIG: dict[str, object] = {
    "kubeconfig": "", "username": "", "password": "", "proxy_headers": {}, "persist_config": False,
    "impersonate_user": "", "impersonate_groups": [],
}


class ConnectionSettingsError(ValueError):
    """The connection settings name more than one source, or an incomplete one; the message says how to fix it."""


@dataclass(frozen=True)
class Connection:
    """The one source of the connection and its options."""

    source: str  # "options" (the play's variables), "environment" or "default"
    options: dict = field(default_factory=dict)  # what the client is built from, nothing else
    explicit: dict = field(default_factory=dict)  # module options that leave kubernetes.core nothing to fill in
    given_by: tuple[str, ...] = ()  # the variables that gave it (names only, never values)
    ignored: tuple[str, ...] = ()  # K8S_AUTH_* variables set in the environment and not used

    def describe(self, labels: Mapping[str, str] | None = None) -> str:
        """Where the connection comes from, for the run's output (names only)."""
        if self.source == "options":
            names = ", ".join((labels or {}).get(n, n) for n in self.given_by)
            text = f"the play's variables ({names})"
        elif self.source == "environment":
            text = f"the environment ({', '.join(self.given_by)})"
        else:
            text = "the default kubeconfig (KUBECONFIG or ~/.kube/config), or the pod's service account"
        if self.ignored:
            text += f"; ignored from the environment: {', '.join(self.ignored)}"
        return text


def is_set(value: object) -> bool:
    """Empty means unset, as in kubernetes.core's environment ("" ) and Ansible's omitted options (None)."""
    if value is None or isinstance(value, bool):
        return value is not None
    if isinstance(value, (str, list)):
        return len(value) > 0
    if isinstance(value, Mapping):
        return any(is_set(v) for v in value.values())
    return True


def _env_bool(value: str) -> bool:
    return value.lower() not in ("0", "false", "no")  # as kubernetes.core reads K8S_AUTH_VERIFY_SSL


def from_environment(env: Mapping[str, str]) -> dict[str, tuple[tuple[str, ...], object]]:
    """The auth options the environment sets, as kubernetes.core reads them: option -> (variables, value)."""
    out: dict[str, tuple[tuple[str, ...], object]] = {}
    for option, names in ENVIRONMENT.items():
        present = tuple(n for n in names if env.get(n))
        if not present:
            continue
        if option == "proxy_headers":
            value: object = {n.removeprefix("K8S_AUTH_PROXY_HEADERS_").lower(): env[n] for n in present}
        elif option in _BOOLS:
            value = _env_bool(env[present[0]])
        elif option == "impersonate_groups":
            value = [g for g in env[present[0]].split(",") if g]
        else:
            value = env[present[0]]
        out[option] = (present, value)
    return out


def _check_whole(options: Mapping[str, object], label) -> None:
    """One cluster, named one way: a kubeconfig (and context), or an API server URL with its credentials."""
    kube = [k for k in _KUBECONFIG if k in options]
    creds = [k for k in ("host", *_CREDENTIALS) if k in options]
    if kube and creds:
        raise ConnectionSettingsError(
            f"{' and '.join(label(k) for k in kube)} and {', '.join(label(k) for k in creds)} both say where to "
            "connect: a kubeconfig carries its own API server and credentials, and mixing them would send one "
            "cluster's credentials to another. Give either a kubeconfig (and context), or an API server URL with "
            "its token"
        )
    for a, b in (("client_cert", "client_key"), ("username", "password")):
        if (a in options) != (b in options):
            have, missing = (a, b) if a in options else (b, a)
            raise ConnectionSettingsError(f"{label(have)} is set without {label(missing)}; give both, or neither")
    if not kube and "host" not in options:
        given = ", ".join(label(k) for k in options)
        raise ConnectionSettingsError(
            f"{given} name no cluster: give a kubeconfig ({label('kubeconfig')}), or an API server URL "
            f"({label('host')}) with a token ({label('api_key')}). Credentials without the API server would go to "
            "whatever cluster the default kubeconfig names"
        )
    if "host" in options and not any(k in options for k in _CREDENTIALS):
        raise ConnectionSettingsError(
            f"{label('host')} is set without credentials: give a token ({label('api_key')}) too, or a kubeconfig "
            f"instead; the default kubeconfig's credentials would otherwise be sent to {options['host']}"
        )


def resolve(given: Mapping[str, object], env: Mapping[str, str], labels: Mapping[str, str] | None = None
            ) -> Connection:
    """The one source of the connection, from the task's auth options and the process environment.

    `given`: auth option -> value, None where the task does not give it; an empty value given explicitly ("",
    [], {}) keeps kubernetes.core from reading that option's environment variable, without naming anything.
    `labels`: how to call the options in messages (the play's variable names); names only, never values.
    Raises ConnectionSettingsError when the source is incomplete or mixes two ways of naming a cluster, or when the
    environment would still fill what the play's kubeconfig must decide.
    """
    def label(option: str) -> str:
        return (labels or {}).get(option, option)

    # persist_config false is kubernetes.core's own default: it names nothing (the lookup passes it as neutral).
    chosen = {k: v for k, v in given.items()
              if k in ENVIRONMENT and is_set(v) and not (k == "persist_config" and v is False)}
    explicit = {k for k, v in given.items() if v is not None}
    environment = from_environment(env)
    present = tuple(sorted(n for names, _value in environment.values() for n in names))
    if chosen:
        _check_whole(chosen, label)
        neutral = _NEUTRAL_KUBECONFIG if any(k in chosen for k in _KUBECONFIG) else _NEUTRAL_HOST
        blocked = sorted(n for option, (names, _value) in environment.items()
                         if option not in explicit and option not in neutral for n in names)
        if blocked:
            raise ConnectionSettingsError(
                f"the play's variables name the cluster ({', '.join(label(k) for k in chosen)}), and the "
                f"environment also sets {', '.join(blocked)}, which kubernetes.core would apply on top of the "
                "play's kubeconfig, option by option, so the run could reach another cluster or send another "
                "cluster's credentials. The connection is taken whole from one source: unset those variables "
                "(in AWX/AAP, take the OpenShift credential off the job), or give the connection only through "
                "the environment"
            )
        return Connection("options", dict(chosen), {**{k: v for k, v in neutral.items() if k not in chosen}, **chosen},
                          tuple(label(k) for k in chosen), present)
    if environment:
        options = {k: v for k, (_names, v) in environment.items()}
        _check_whole(options, lambda k: "/".join(environment[k][0]) if k in environment else ENVIRONMENT[k][0])
        return Connection("environment", options, {}, present)
    return Connection("default")


def play_options(variables: Mapping[str, object]) -> dict[str, object]:
    """The auth options the play's variables give (None where unset)."""
    return {option: variables.get(name) for option, name in PLAY_VARIABLES.items()}


def normalized_url(url: str) -> str:
    """An API server URL for comparison: scheme and host lowercase, no trailing slash."""
    url = (url or "").strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.lower()
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}"


def same_clusters(identities: Mapping[str, Mapping[str, object]]) -> list[str]:
    """Pairs of inventory hosts that are one cluster (the same ClusterVersion clusterID, or the same API server
    URL), each as a sentence naming both hosts; `identities`: host -> {api_url, cluster_id}."""
    out = []
    hosts = sorted(identities)
    for i, a in enumerate(hosts):
        for b in hosts[i + 1:]:
            ia, ib = identities[a] or {}, identities[b] or {}
            if ia.get("cluster_id") and ia.get("cluster_id") == ib.get("cluster_id"):
                out.append(f"{a} and {b} are the same cluster (cluster ID {ia['cluster_id']})")
            elif ia.get("api_url") and normalized_url(str(ia["api_url"])) == normalized_url(str(ib.get("api_url"))):
                out.append(f"{a} and {b} are the same cluster (API server {normalized_url(str(ia['api_url']))})")
    return out
