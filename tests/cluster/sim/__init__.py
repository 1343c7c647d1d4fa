"""A simulator of the Machine Config Operator, its daemons and the nodes' kubelets.

It runs beside the real control plane of the local cluster (tests/cluster/
localcluster) and behaves like the MCO as described in
../shared/reference/mco.md; see README.md in this folder. Pure logic lives in
ignition, render, pools, mcd, crio, podstatus, selectors, knobs and releases
(what differs between OpenShift 4.14 and 4.21); the
controllers that talk to the API server are in simulator, render_controller,
node_controller, daemon and kubelet; topology seeds a cluster; testing helps
tests drive it.
"""
