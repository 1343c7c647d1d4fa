"""`make cluster-status`: what runs, where, and the state of nodes and pools."""

from __future__ import annotations

import json
import ssl
import urllib.request

from .cluster import LocalCluster


def _version(cluster: LocalCluster) -> str:
    ctx = ssl.create_default_context(cafile=str(cluster.pki.ca_cert))
    with urllib.request.urlopen(f"{cluster.server}/version", timeout=3, context=ctx) as r:
        return json.loads(r.read())["gitVersion"]


def status(cluster: LocalCluster) -> int:
    """Prints the status; exit code 0 when every component runs, 1 otherwise."""
    state = cluster.state()
    running = cluster.running()
    if not state:
        print(f"no local cluster at {cluster.dir} (make cluster-up starts one)")
        return 1
    print(f"cluster directory: {cluster.dir}")
    for comp, pid in running.items():
        port = state["ports"].get(comp)
        where = f" port {port}" if port else ""
        print(f"  {comp:<24} {'running pid ' + str(pid) if pid else 'stopped'}{where}")
    ok = all(running.values())
    if not running.get("kube-apiserver"):
        return 1
    try:
        print(f"API server: {cluster.server} ({_version(cluster)})")
    except OSError as e:
        print(f"API server: {cluster.server} not answering ({e})")
        return 1
    settings = cluster.settings(state)
    print(f"OpenShift {settings.openshift_version} (the release the API server and the simulator play), "
          f"{settings.topology} topology")
    print(f"admin kubeconfig: {cluster.kubeconfig}")
    print(f"user kubeconfigs: {cluster.dir / 'users'}/{{admin,automation,developer,tenant}}.kubeconfig")
    from kubernetes import client, config
    from kubernetes.dynamic import DynamicClient

    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        nodes = client.CoreV1Api(api).list_node().items
        print(f"nodes: {len(nodes)}")
        for n in nodes:
            roles = sorted(k.split("/", 1)[1] for k in n.metadata.labels or {}
                           if k.startswith("node-role.kubernetes.io/"))
            ann = n.metadata.annotations or {}
            st = ann.get("machineconfiguration.openshift.io/state", "-")
            print(f"  {n.metadata.name:<12} {','.join(roles):<24} {st}")
        pools = DynamicClient(api).resources.get(
            api_version="machineconfiguration.openshift.io/v1", kind="MachineConfigPool").get().items
        print("pools:")
        for p in pools:
            s = p.to_dict().get("status") or {}
            conds = {c["type"]: c["status"] for c in s.get("conditions") or []}
            print(f"  {p.metadata.name:<12} config={(s.get('configuration') or {}).get('name', '-')} "
                  f"machines={s.get('machineCount', '-')} updated={s.get('updatedMachineCount', '-')} "
                  f"Updated={conds.get('Updated', '-')} Degraded={conds.get('Degraded', '-')}")
    finally:
        api.close()
    return 0 if ok else 1
