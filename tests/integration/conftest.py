"""Fixtures of the integration tests: ansible-playbook against the local cluster (playbook.py), clean clusters."""

from __future__ import annotations

import pytest

from playbook import Ansible
from sim import testing as st
from support import FAST, clean_up


@pytest.fixture(scope="session")
def ansible(cluster, tmp_path_factory) -> Ansible:
    return Ansible(cluster, tmp_path_factory.mktemp("ansible"))


@pytest.fixture
def fresh(cluster):
    """A freshly installed standard cluster (3 masters, 3 workers) with quick simulated nodes."""
    api = cluster.api()
    clean_up(api)
    st.reset(api, topology="standard", workers=3, **FAST)
    yield api
    clean_up(api)
