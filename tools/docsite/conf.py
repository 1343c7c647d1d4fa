# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Sphinx settings of the documentation site that make docs builds (tools/docs.sh), from antsibull-docs sphinx-init.

The build has no network, so there is no intersphinx: references to the Ansible documentation that the generated
pages make (common return values, configuration settings, other collections' plugins) link to the published
Ansible documentation through missing_reference below. Any other unresolved reference stays a warning, and the
build treats warnings as errors.
"""

from __future__ import annotations

import re

from docutils import nodes

project = "sandboxed.containers"
copyright = "sandboxed.containers contributors"  # pylint: disable=redefined-builtin
title = "sandboxed.containers"
html_short_title = "sandboxed.containers"

extensions = ["sphinx_antsibull_ext"]
pygments_style = "ansible"
highlight_language = "YAML+Jinja"
html_theme = "sphinx_ansible_theme"
# The theme's logo links to "/", which is outside this site wherever it is served: the Ansible documentation.
html_theme_options = {"documentation_home_url": "https://docs.ansible.com/"}
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
default_role = "any"
nitpicky = True

ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
# Labels of the Ansible documentation that antsibull-docs' pages refer to.
ANSIBLE_LABELS = {
    "common_return_values": "reference_appendices/common_return_values.html",
    "ansible_configuration_settings": "reference_appendices/config.html",
    "action_plugins": "plugins/action.html",
}
# A plugin of another collection: ansible_collections.<namespace>.<name>.<plugin>_<type>
COLLECTION_PLUGIN = re.compile(r"^ansible_collections\.(\w+)\.(\w+)\.(\w+)$")


def missing_reference(app, env, node, contnode):
    """Link the Ansible documentation labels that only an intersphinx inventory would resolve."""
    if node.get("refdomain") != "std" or node.get("reftype") != "ref":
        return None
    target = node.get("reftarget", "")
    if target in ANSIBLE_LABELS:
        uri = ANSIBLE_DOCS + ANSIBLE_LABELS[target]
    else:
        m = COLLECTION_PLUGIN.match(target)
        if not m or m.group(1, 2) == ("sandboxed", "containers"):
            return None
        uri = f"{ANSIBLE_DOCS}collections/{m.group(1)}/{m.group(2)}/{m.group(3)}.html"
    ref = nodes.reference("", "", internal=False, refuri=uri)
    if node.get("refexplicit"):
        ref.append(contnode)
    else:
        ref.append(nodes.inline("", target))
    return ref


def setup(app):
    app.connect("missing-reference", missing_reference)
