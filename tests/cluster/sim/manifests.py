"""Day-0 manifests: objects created as the installer's cluster-bootstrap creates them.

openshift-install puts its `manifests/` and `openshift/` directories on the
bootstrap node, where cluster-bootstrap creates every object in path order
with a plain create; an object that already exists counts as created and is
never updated (openshift/library-go pkg/assets/create/creater.go, `create`).
The real one retries refused objects until the install times out; here a
refusal is an error at once, with the API server's message.
"""

from __future__ import annotations

from collections.abc import Iterable

from .kube import ApiError, Kube


class ManifestError(ValueError):
    """An object that cannot be created: no such kind, or no name."""


def describe(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {ns}{meta.get('name')}"


class Mapper:
    """apiVersion + kind -> the collection path, from the API server's discovery (one list per group version)."""

    def __init__(self, k: Kube) -> None:
        self.k = k
        self._lists: dict[str, list[dict]] = {}

    def _resources(self, api_version: str) -> list[dict]:
        if api_version not in self._lists:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                self._lists[api_version] = self.k.get(base).get("resources") or []
            except ApiError as e:
                if not e.not_found:
                    raise
                self._lists[api_version] = []
        return self._lists[api_version]

    def path(self, obj: dict) -> str:
        api_version, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
        meta = obj.get("metadata") or {}
        if not api_version or not kind or not meta.get("name"):
            raise ManifestError(f"{describe(obj)}: an object needs apiVersion, kind and metadata.name")
        res = next((r for r in self._resources(api_version) if r.get("kind") == kind and "/" not in r["name"]), None)
        if res is None:
            raise ManifestError(f"{describe(obj)}: the API server serves no {kind} in {api_version}")
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if res.get("namespaced"):
            if not meta.get("namespace"):
                # cluster-bootstrap sends it without one; the API server never accepts that
                raise ManifestError(f"{describe(obj)}: a {kind} needs metadata.namespace")
            return f"{base}/namespaces/{meta['namespace']}/{res['name']}"
        return f"{base}/{res['name']}"


def create(k: Kube, obj: dict, mapper: Mapper | None = None) -> bool:
    """Creates one object; False if it already existed (left as it is). ApiError if refused."""
    path = (mapper or Mapper(k)).path(obj)
    try:
        k.create(path, obj)
    except ApiError as e:
        if e.exists:
            return False
        raise
    return True


def create_all(k: Kube, objs: Iterable[dict]) -> list[dict]:
    """Creates the objects in order; returns them. ManifestError or ApiError on the first one refused."""
    mapper = Mapper(k)
    out = []
    for obj in objs:
        create(k, obj, mapper)
        out.append(obj)
    return out
