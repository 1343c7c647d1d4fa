# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Stand-in for the pip bootstrap script that ansible-test downloads from a host outside the package index.

ansible-test creates its virtual environments without pip and runs this script in them with the pip version
it wants (and options for get-pip). This installs the bundled pip with ensurepip, then that pip version from
the package index, which is all the real script does. tools/ansible-test.sh puts it where ansible-test
looks for its cached copy.
"""

from __future__ import annotations

import subprocess
import sys

# get-pip options that pip install does not know.
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")


def main() -> None:
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", *args], check=True)


if __name__ == "__main__":
    main()
