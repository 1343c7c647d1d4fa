# sandboxed.containers: development, tests and the local cluster.
# `make demo` and `make test` are all a newcomer needs (see README.md).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# Python 3.12 for the venv: python3.12 on PATH, else the newest 3.12 pyenv has.
PYTHON312 ?= $(shell command -v python3.12 >/dev/null 2>&1 && python3.12 -c '' 2>/dev/null && command -v python3.12 || \
	(command -v pyenv >/dev/null 2>&1 && PYENV_VERSION=$$(pyenv latest 3.12 2>/dev/null) pyenv which python3.12 2>/dev/null))
COLLECTIONS := .collections/ansible_collections
# The local cluster's directory (credentials, logs, pids); several clusters can run side by side.
CLUSTER_DIR ?= $(CURDIR)/.cluster
export SANDBOXED_CONTAINERS_CLUSTER_DIR := $(CLUSTER_DIR)
CLUSTER := PYTHONPATH=tests/cluster $(PY) -m localcluster

export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

# The venvs are built once in ~/.cache/sandboxed-containers/venv (keyed by the requirements and the Python version)
# and linked here, so that a fresh clone does not install them again; a .venv directory of your own is kept as it is.
$(VENV)/.stamp: requirements-dev.txt tools/venv.sh
	@test -n "$(PYTHON312)" || { echo "error: Python 3.12 not found: install it (e.g. pyenv install 3.12) or pass PYTHON312=/path/to/python3.12" >&2; exit 1; }
	@tools/venv.sh $(VENV) requirements-dev.txt $(PYTHON312)
	@touch $@

.PHONY: venv
venv: $(VENV)/.stamp ## create .venv (Python 3.12, pinned tools)

$(COLLECTIONS)/sandboxed/containers:
	@mkdir -p $(COLLECTIONS)/sandboxed
	@ln -sfn ../../.. $@

.PHONY: collection
collection: $(COLLECTIONS)/sandboxed/containers ## make the checkout importable as sandboxed.containers

.PHONY: cluster-build
cluster-build: ## build (or find cached) etcd and the Kubernetes control plane
	@bash tests/cluster/build.sh >/dev/null

.PHONY: cluster-up
cluster-up: venv ## start the local cluster (CLUSTER_TOPOLOGY, CLUSTER_WORKERS, CLUSTER_MANIFESTS_DIR, SIM_* knobs)
	@$(CLUSTER) up

.PHONY: cluster-down
cluster-down: ## stop every process of the local cluster
	@if [ -x $(PY) ]; then $(CLUSTER) down; else echo "no local cluster (no .venv)"; fi

.PHONY: cluster-status
cluster-status: venv ## show components, nodes and pools of the local cluster
	@$(CLUSTER) status

# pytest exits 5 when it collected no test: that is a failure too.
PYTEST = run_pytest() { $(PY) -m pytest "$$@"; rc=$$?; if [ $$rc -eq 5 ]; then echo "error: no tests were collected" >&2; return 1; fi; return $$rc; }; run_pytest

.PHONY: test-unit
test-unit: venv collection ## unit tests (pure logic, no cluster)
	@$(PYTEST) tests/unit

.PHONY: test-cluster
test-cluster: venv ## tests of the local cluster and its simulators
	@$(PYTEST) tests/cluster/tests

.PHONY: test-integration
test-integration: venv collection ## ansible-playbook against the local cluster
	@$(PYTEST) tests/integration

.PHONY: ruff
ruff: venv ## Python lint
	$(VENV)/bin/ruff check plugins tests bench

# The tests run in TEST_WORKERS pytest-xdist workers, each with a local cluster of its own; a file's tests stay on one
# worker (their module fixtures hold one cluster's state). The long integration files go first, so that no long file
# starts last. TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile,)

# After the main session, galaxy-import alone: galaxy-importer gives ansible-lint a fixed 180 s (loaders/collection.py),
# which two cores shared with three clusters did not always leave it. Then the other ecosystem checks and the three
# runs with a cluster of their own go side by side (each mostly waits for its simulated nodes); make prints each
# one's output whole when it ends.
.PHONY: test
test: venv collection ruff ## everything CI runs (.ci/run)
	@$(PYTEST) $(XDIST) --durations=25 tests/integration tests/cluster/tests tests/bench tests/unit
	@$(MAKE) --no-print-directory galaxy-import
	@$(MAKE) --no-print-directory -j4 --output-sync=target $(filter-out galaxy-import,$(ANSIBLE_CHECKS)) \
		test-matrix test-compat molecule

# test-matrix and test-compat run a chosen few tests, named one by one, and check first that pytest collects exactly
# as many as they expect: a test renamed or removed, or a parameter dropped, fails the target instead of silently
# shrinking what it runs; so do a collection error and a run that collects nothing (pytest's exit code 5).
# $(call PYTEST_EXACTLY,python,expected count,tests)
PYTEST_EXACTLY = collected=$$($(1) -m pytest --collect-only -q -p no:cacheprovider $(3) 2>&1); status=$$?; \
	count=$$(grep -oE '^[0-9]+ tests? collected' <<<"$$collected" | grep -oE '^[0-9]+'); \
	if [ $$status -ne 0 ] || [ "$$count" != "$(2)" ]; then echo "$$collected" >&2; \
		echo "error: the selection collects $${count:-no} tests, not $(2) (pytest exit code $$status)" >&2; exit 1; fi; \
	$(1) -m pytest -q $(3); status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: no tests were collected" >&2; exit 1; fi; exit $$status

# The oldest supported OpenShift (MATRIX_OPENSHIFT_VERSION, default 4.14) in a local cluster of its own: install,
# upgrade and uninstall (the round trip on a custom pool), uninstall on the worker-pool path, and the release-aware
# tests. The session above runs the newest release, and a 4.16 cluster in tests/integration/test_openshift_releases.py.
MATRIX_OPENSHIFT_VERSION ?= 4.14
MATRIX_CLUSTER_DIR ?= $(CURDIR)/.cluster-matrix
MATRIX_TESTS := tests/integration/test_install.py::test_install_on_every_worker \
	tests/integration/test_lifecycle.py::test_install_upgrade_uninstall_leaves_the_cluster_as_it_was \
	tests/integration/test_lifecycle.py::test_uninstall_worker_pool_path \
	tests/integration/test_real_openshift.py::test_the_extension_is_named_for_the_nodes_operating_system \
	tests/integration/test_real_openshift.py::test_with_an_extension_carrying_worker_config_check_mode_predicts_every_reboot
# How many tests that is: the extension's name is checked for two operating systems.
MATRIX_COUNT := 6

.PHONY: test-matrix
test-matrix: venv collection ## install, upgrade and uninstall on the oldest supported OpenShift (4.14)
	@export CLUSTER_OPENSHIFT_VERSION=$(MATRIX_OPENSHIFT_VERSION) \
		SANDBOXED_CONTAINERS_TEST_CLUSTER_DIR=$(MATRIX_CLUSTER_DIR); \
		$(call PYTEST_EXACTLY,$(PY),$(MATRIX_COUNT),$(MATRIX_TESTS))

# The oldest supported stack (requirements-compat.txt): ansible-core 2.20 with kubernetes.core 6.3.0.
COMPAT_VENV := .venv-compat
$(COMPAT_VENV)/.stamp: requirements-compat.txt tools/venv.sh
	@test -n "$(PYTHON312)" || { echo "error: Python 3.12 not found" >&2; exit 1; }
	@tools/venv.sh $(COMPAT_VENV) requirements-compat.txt $(PYTHON312)
	@touch $@

# Install (on every worker, on a subset, moving between them), the round trip (install, upgrade, uninstall on a custom
# pool) and the uninstall of the worker-pool path.
COMPAT_TESTS := tests/integration/test_install.py::test_install_on_every_worker \
	"tests/integration/test_install.py::test_install_on_two_of_three_workers[matchExpressions]" \
	tests/integration/test_lifecycle.py::test_from_every_worker_to_a_subset_and_back \
	tests/integration/test_lifecycle.py::test_install_upgrade_uninstall_leaves_the_cluster_as_it_was \
	tests/integration/test_lifecycle.py::test_uninstall_worker_pool_path
COMPAT_COUNT := 5

.PHONY: test-compat
test-compat: $(COMPAT_VENV)/.stamp collection ## install, upgrade and uninstall on the oldest supported Ansible stack
	@$(call PYTEST_EXACTLY,$(COMPAT_VENV)/bin/python,$(COMPAT_COUNT),$(COMPAT_TESTS))

.PHONY: demo
demo: venv collection cluster-up ## start the local cluster, install sandboxed containers on it, show the status
	K8S_AUTH_KUBECONFIG=$(CLUSTER_DIR)/kubeconfig $(VENV)/bin/ansible-playbook playbooks/install.yml
	K8S_AUTH_KUBECONFIG=$(CLUSTER_DIR)/kubeconfig $(VENV)/bin/ansible-playbook playbooks/status.yml

# The benchmark (docs/performance.md): its own cluster in BENCH_DIR; BENCH_ARGS passes options (python -m bench -h).
BENCH_DIR ?= $(CURDIR)/.cluster-bench
BENCH = PYTHONPATH=tests/cluster $(PY) -m bench --cluster-dir $(BENCH_DIR)
BENCH_DAY0 = PYTHONPATH=tests/cluster $(PY) -m bench.day0 --cluster-dir $(BENCH_DIR)

.PHONY: bench
bench: venv collection ## benchmark: install time over the rollout floor, reboots, API requests, beside a baseline
	@$(BENCH) $(BENCH_ARGS)

.PHONY: bench-day0
bench-day0: venv collection ## day 0 (the rendered manifests before the nodes) beside day 1, at 3, 20, 100 workers
	@$(BENCH_DAY0) $(BENCH_ARGS)

.PHONY: bench-quick
bench-quick: venv collection ## the benchmark at 3 workers, once per tool (a couple of minutes; writes bench/out/)
	@$(BENCH) --workers 3 --max-unavailable 1 --repeat 1 --growth-workers 0 \
		--out bench/out/quick.json --plot bench/out/quick.png $(BENCH_ARGS)

# ---- AWX/AAP, pipelines and molecule (docs/awx.md, docs/pipelines.md) -------------------------------------------
# The AWX test (ansible-runner, tests/integration/test_awx.py) and the fleet test (two local clusters,
# tests/integration/test_fleet.py) are part of test-integration; test-ecosystem runs them alone.
# `make molecule`: the scenario extensions/molecule/default (default driver, no containers) against a local
# cluster of its own in MOLECULE_CLUSTER_DIR, started before and stopped after, whatever the outcome.
MOLECULE_CLUSTER_DIR ?= $(CURDIR)/.cluster-molecule
MOLECULE_CLUSTER = PYTHONPATH=tests/cluster $(PY) -m localcluster --dir $(MOLECULE_CLUSTER_DIR)

.PHONY: molecule
molecule: venv collection ## molecule test (converge, idempotence, verify, uninstall) on a local cluster of its own
	@$(MOLECULE_CLUSTER) down >/dev/null
	@SIM_RENDER_DELAY_SECONDS=$${SIM_RENDER_DELAY_SECONDS:-1} SIM_NODE_UPDATE_SECONDS=$${SIM_NODE_UPDATE_SECONDS:-0.4} \
		$(MOLECULE_CLUSTER) up
	@status=0; PATH="$(abspath $(VENV))/bin:$$PATH" K8S_AUTH_KUBECONFIG=$(MOLECULE_CLUSTER_DIR)/kubeconfig \
		$(VENV)/bin/molecule test || status=$$?; \
	$(MOLECULE_CLUSTER) down >/dev/null; \
	if [ $$status -ne 0 ]; then echo "error: molecule test failed (exit code $$status)" >&2; fi; exit $$status

.PHONY: test-ecosystem
test-ecosystem: venv collection ## the AWX (ansible-runner) and fleet tests, and the pattern's unit tests
	@$(PYTEST) tests/unit/test_awx_assets.py tests/integration/test_awx.py tests/integration/test_fleet.py
# ---- end of AWX/AAP, pipelines and molecule -------------------------------------------------------------------------

# ---- Ansible ecosystem checks: sanity, lint, galaxy-import, docs, changelog, execution environment ----------------
# Tools pinned in requirements-dev.txt, scripts in tools/; none needs containers, a cluster or Galaxy.
# They check the files git tracks: `git add` (or `git add -N`) new files first.
.PHONY: sanity
sanity: venv ## ansible-test sanity --venv on a copy of the tracked files (ignores: tests/sanity/ignore-2.21.txt)
	@tools/ansible-test.sh sanity

.PHONY: units
units: venv ## the unit tests through ansible-test units (test-unit runs them with pytest)
	@tools/ansible-test.sh units

.PHONY: lint
lint: venv collection ## ansible-lint --profile production (.ansible-lint), the collection found through .collections
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/ansible-lint --nocolor -q
	@echo "ansible-lint: the production profile passed"

.PHONY: galaxy-import
galaxy-import: venv ## build the collection tarball (build/) and import it with galaxy-importer: no warning, no error
	@tools/galaxy-import.sh

.PHONY: docs
docs: venv ## documentation site with the guides (antsibull-docs, Sphinx, warnings are errors, no link out) in docs/build/html
	@tools/docs.sh

.PHONY: changelog-lint
changelog-lint: venv ## antsibull-changelog lint of changelogs/ (fragments and changelog.yaml)
	@$(VENV)/bin/antsibull-changelog lint
	@$(VENV)/bin/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	@echo "changelogs: no problem found"

.PHONY: ee
ee: venv ## execution environment: build context (ansible-builder create) in build/ee/context, and introspect
	@tools/ee.sh

.PHONY: ansible-checks
ANSIBLE_CHECKS = sanity units lint galaxy-import docs changelog-lint ee
ansible-checks: $(ANSIBLE_CHECKS) ## every check above
# ---- end of the Ansible ecosystem checks -----------------------------------------------------------------------------
