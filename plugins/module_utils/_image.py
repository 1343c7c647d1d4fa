# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The verify pods' image: checked by verify, and by the preflight when the install verifies its canary.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations


def image_problem(image: str) -> str | None:
    """Why an image reference is not fully qualified (containers/image's rule: the first path component is a
    registry host when it has a dot or a port, or is localhost), or None."""
    first, sep, rest = image.partition("/")
    if not image:
        return ("set the verify image (sandboxed_containers_verify_image) to a fully qualified image the cluster "
                "can pull, with sh, uname and cat, pinned by digest: <registry>/ubi9/ubi-minimal@sha256:<digest>")
    if not sep or not rest or not ("." in first or ":" in first or first == "localhost") or any(
            c.isspace() for c in image):
        return (f"the verify image {image!r} is not fully qualified; name its registry host too "
                "(<registry>/<repository>@sha256:<digest>), so that no node resolves a short name through its own "
                "registries.conf")
    return None
