"""python -m sim run --kubeconfig=FILE [--ready-file=FILE] [--egress-socket=PATH]: the MCO, daemons and kubelets
simulator."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sim", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the simulator until SIGTERM")
    run.add_argument("--kubeconfig", required=True, help="kubeconfig of the simulator's identity")
    run.add_argument("--ready-file", help="written once the watches are established")
    run.add_argument("--workers", type=int, default=8, help="worker threads (default 8)")
    run.add_argument("--egress-socket", help="unix socket the API server's egress selector dials to reach the "
                                             "kubelets (HTTP CONNECT); without it pods/log is not served")
    run.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    from .kube import Kube
    from .releases import release
    from .simulator import Simulator, user_agent

    # the knob ConfigMap's openshiftVersion changes it once read
    kube = Kube.from_kubeconfig(args.kubeconfig, user_agent=user_agent(release(None)))
    sim = Simulator(kube, workers=args.workers, egress_socket=args.egress_socket)
    ready = Path(args.ready_file) if args.ready_file else None

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("sim").info("signal %d: stopping", signum)
        sim.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        # run() blocks on an Event; signals are delivered to the main thread meanwhile.
        runner = threading.Thread(target=sim.run, args=(ready,), name="simulator", daemon=True)
        runner.start()
        while runner.is_alive() and not sim.stop_event.is_set():
            runner.join(0.2)
    finally:
        if ready is not None:
            ready.unlink(missing_ok=True)
    logging.getLogger("sim").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
