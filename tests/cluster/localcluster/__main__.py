"""Command line: python -m localcluster up|down|status|restart COMPONENT."""

from __future__ import annotations

import argparse
import sys

from .cluster import ClusterError, LocalCluster, Settings
from .status import status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster", description=__doc__)
    parser.add_argument("--dir", help="cluster directory (default: .cluster, or SANDBOXED_CONTAINERS_CLUSTER_DIR)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up", help="build if needed and start what is not running")
    sub.add_parser("down", help="stop every process of the cluster")
    sub.add_parser("status", help="components, API server, nodes and pools")
    r = sub.add_parser("restart", help="restart one component, the rest keeps running")
    r.add_argument("component")
    args = parser.parse_args(argv)
    from pathlib import Path

    cluster = LocalCluster(Path(args.dir) if args.dir else None)
    try:
        if args.cmd == "up":
            cluster.up(Settings.from_env())
        elif args.cmd == "down":
            stopped = cluster.down()
            print(f"stopped {', '.join(stopped)}" if stopped else "no process of the local cluster was running")
        elif args.cmd == "status":
            return status(cluster)
        elif args.cmd == "restart":
            cluster.restart(args.component)
            print(f"restarted {args.component}")
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
