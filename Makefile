# nodelab — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin/nodelab
ARTIFACTS ?= $(CURDIR)/_artifacts
FOCUS     ?=
LABELS    ?=
N         ?= 3
FRESH     ?=
RETAIN    ?=
GINKGO_FLAGS ?=
# A cold run (no images yet) builds the node image first (9.5 min of suite setup on
# the 2-core dev VM, twice that on slower VMs) and addon images while specs run:
# 25 min for the whole suite there. The timeout leaves room for slower machines.
E2E_TIMEOUT ?= 85m
# go test's own timeout must come later than ginkgo's (E2E_TIMEOUT), or it
# kills the binary before cleanup and ReportAfterSuite write JUnit: +10m
# when E2E_TIMEOUT is in minutes. CI sets both below its job timeout.
E2E_GO_TIMEOUT ?= $(if $(filter %m,$(E2E_TIMEOUT)),$(shell echo $$(( $(E2E_TIMEOUT:m=) + 10 )))m,$(E2E_TIMEOUT))
GOLANGCI_VERSION ?= v2.15.0
# actionlint checks the GitHub workflows. It runs shellcheck over run: scripts
# when a shellcheck binary is on PATH (GitHub's ubuntu runners have one; Debian:
# apt-get install shellcheck) and skips that rule when it is absent, so lint
# needs nothing beyond Go.
ACTIONLINT_VERSION ?= v1.7.12

export ARTIFACTS

.PHONY: help
help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  variables: FOCUS=<regexp> LABELS=<label filter> RETAIN=1 (keep the lab) ARTIFACTS=<dir> N=<runs> FRESH=1 (stability)"

.PHONY: build
build: ## build bin/nodelab
	$(GO) build -o $(BIN) ./cmd/nodelab

.PHONY: test
test: ## unit tests: hermetic, no Docker (-short skips the live doctor check), fast (includes a dry run of the e2e tree that checks its labels)
	$(GO) test -short ./cmd/... ./lab/... ./scenarios/... ./fixtures/... ./e2e/report/... ./hack/...
	$(GO) test ./e2e/ -count=1 -args -ginkgo.dry-run -ginkgo.v=false

.PHONY: e2e
e2e: host-deps ## e2e suite on a local kind lab (builds offline images when no registry is reachable)
	@mkdir -p $(ARTIFACTS)
	$(GO) test ./e2e/ -count=1 -timeout $(E2E_GO_TIMEOUT) -v -args \
		-ginkgo.v -ginkgo.timeout=$(E2E_TIMEOUT) \
		$(if $(FOCUS),-ginkgo.focus='$(FOCUS)') \
		$(if $(LABELS),-ginkgo.label-filter='$(LABELS)') \
		$(if $(RETAIN),-nodelab.retain) \
		-nodelab.artifacts=$(ARTIFACTS) $(GINKGO_FLAGS)
	@echo "JUnit: $(ARTIFACTS)/junit_e2e.xml"
	@echo "HTML report: $(ARTIFACTS)/report/index.html (failure bundles: $(ARTIFACTS)/<scenario>/<spec>/)"

.PHONY: stability
stability: ## run the selected specs N times (N=3, LABELS=..., FRESH=1: a new lab each run, else one retained lab) and write the verdict matrix to $(ARTIFACTS)/stability/matrix.md; fails when a verdict changes
	@rm -rf $(ARTIFACTS)/stability && mkdir -p $(ARTIFACTS)/stability
	@for i in $$(seq 1 $(N)); do \
	  echo "== stability run $$i of $(N) ($(if $(FRESH),fresh lab,retained lab))"; \
	  $(MAKE) --no-print-directory e2e ARTIFACTS=$(ARTIFACTS)/stability/run-$$i $(if $(FRESH),,RETAIN=1) > $(ARTIFACTS)/stability/run-$$i.log 2>&1; \
	  echo "   exit $$? ($$(grep -ao 'Ran [0-9]* of [0-9]* Specs.*' $(ARTIFACTS)/stability/run-$$i.log | tail -1)); log: $(ARTIFACTS)/stability/run-$$i.log"; \
	done; \
	$(if $(FRESH),,$(GO) run ./cmd/nodelab down;) \
	$(GO) run ./hack/stability -o $(ARTIFACTS)/stability/matrix.md $$(for i in $$(seq 1 $(N)); do echo $(ARTIFACTS)/stability/run-$$i; done)

.PHONY: report-sample
report-sample: ## write a sample report (two plots, a bundle) from the report package's test data to $(ARTIFACTS)/sample
	NODELAB_REPORT_SAMPLE=$(ARTIFACTS)/sample $(GO) test -count=1 -run '^TestWriteSampleReport$$' ./e2e/report/
	@echo "sample report: $(ARTIFACTS)/sample/report/index.html (check it: make report-check ARTIFACTS=$(ARTIFACTS)/sample)"

.PHONY: report-check
report-check: ## open $(ARTIFACTS)/report/index.html in headless Chromium (installed with apt if missing), screenshot it, check the plots are visible
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian package) for the report check"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: apt-get install chromium (as root)"; exit 1; fi; }
	$(GO) run ./hack/reportcheck -artifacts $(ARTIFACTS)

.PHONY: host-deps
host-deps: ## install what the offline image forge needs on a Debian/Ubuntu host (debootstrap), if missing
	@command -v debootstrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing debootstrap (needed to build forge images offline)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; \
	  else echo "note: debootstrap is missing; only needed when no registry is reachable (apt-get install debootstrap)"; fi; }

.PHONY: lint
lint: ## gofmt, go.mod tidy, go vet, golangci-lint and actionlint (both from the Go module proxy)
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	@# -diff (Go 1.23+) prints what tidy would change and exits 1, writing nothing.
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy (and commit the result)"; exit 1; }
	$(GO) vet ./...
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION) run ./...
	@# With no arguments actionlint checks every workflow in .github/workflows/.
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

.PHONY: clean
clean: ## delete every nodelab lab (never other kind clusters) and bin/
	-$(GO) run ./cmd/nodelab down --all
	rm -rf bin
