# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The collection's version, stamped on every object it manages (kept equal to galaxy.yml by a test).

Private module_utils: may change at any time, even in bugfix releases.
"""

COLLECTION_VERSION = "1.0.0"
