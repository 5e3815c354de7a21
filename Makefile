# ostal: `make image` builds images/utzqanil.yaml, `make test` runs every test.
GO      ?= go
BIN     := build/bin/ostal
SPEC    ?= images/utzqanil.yaml
COMMIT  := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/ostal/ostal/internal/buildinfo.Version=$(VERSION) -X github.com/ostal/ostal/internal/buildinfo.Commit=$(COMMIT)

# Host packages: building needs mmdebstrap and apt's tools (every other
# tool comes locked from Debian, see builders/builder.go); the boot tests
# need QEMU with both firmwares, a local ACME CA (pebble) for the
# services' certificates, Chromium for the sites' screenshots, and sshd for
# the deployer's qemu+ssh:// tests; the unit tests run the guest's
# firewall scripts with nft in a network namespace of their own.
BUILD_PACKAGES := mmdebstrap apt-utils debian-archive-keyring ca-certificates
TEST_PACKAGES  := qemu-system-x86 qemu-utils ovmf seabios libvirt-daemon-system libvirt-clients e2fsprogs pebble chromium openssh-server nftables

.PHONY: update image test unit integration boottest deploytest imagetest lint bench clean host-packages test-packages libvirtd

# Both binaries are rebuilt when any Go source changes.
GO_SOURCES := $(shell find . -name '*.go' -not -path './build/*') go.mod go.sum

$(BIN): $(GO_SOURCES)
	$(GO) build -ldflags '$(LDFLAGS)' -o $@ ./cmd/ostal

# ostal's builder as a Packer plugin (images/utzqanil.pkr.hcl says how to
# use it); tests/build's acceptance test runs it under Packer 1.9.4.
build/bin/packer-plugin-ostal: $(GO_SOURCES)
	$(GO) build -ldflags '$(LDFLAGS)' -o $@ ./cmd/packer-plugin-ostal

host-packages:
	@./.ci/host-packages $(BUILD_PACKAGES)

test-packages:
	@./.ci/host-packages $(BUILD_PACKAGES) $(TEST_PACKAGES)

image: host-packages $(BIN)
	$(BIN) build $(SPEC)

libvirtd: test-packages
	@./.ci/start-libvirtd

# Every test: fast unit tests, the build tests, the boot tests, the
# deployer's tests, then the full image is built and boot-tested once.
# Each target's time is printed at the end (.ci/timed), pass or fail.
TEST_TARGETS := lint unit integration boottest deploytest imagetest
test:
	@MAKE='$(MAKE)' ./.ci/timed $(TEST_TARGETS)

unit: test-packages
	$(GO) test -count=1 ./images/... ./builders/... ./internal/... ./cmd/... ./provision/... ./deploy/... ./tests/checks/ ./tests/harness/ ./tests/bench/

integration: test-packages
	$(GO) test -count=1 -timeout 60m -v ./tests/build/

boottest: libvirtd
	$(GO) test -count=1 -timeout 60m -v ./tests/boot/

# ostal deploy against this machine's libvirtd, through qemu:///system and
# qemu+ssh:// to an sshd the tests start on loopback.
deploytest: libvirtd
	$(GO) test -count=1 -timeout 60m -v ./tests/deploy/

# The full image, built by `make image`, boot-tested with every check,
# swapping to a rebuild of it with one more file (another digest, the same
# packages, so the cached tree makes it quick): data and SSH host keys
# written before the swap must be there after it.
IMAGE ?= build/$(basename $(notdir $(SPEC))).qcow2
NEXT  := build/next/$(basename $(notdir $(SPEC)))-next
IMAGE_TEST_FLAGS ?= --ready-timeout 15m
imagetest: image libvirtd
	@mkdir -p build/next
	sed -e 's/^name: \(.*\)/name: \1-next/' $(SPEC) > $(NEXT).yaml
	printf 'files:\n  - source: tests/variant\n    dest: /etc/ostal-test-variant\n' >> $(NEXT).yaml
	cp $(basename $(SPEC)).lock $(NEXT).lock
	$(BIN) build --provision provision --output build/next $(NEXT).yaml
	$(BIN) test $(IMAGE_TEST_FLAGS) --swap-image $(NEXT).qcow2 $(IMAGE)

# The weekly chain (README, "Security updates"): take the archives' new
# versions into the lock, build, boot-test with every check, commit the
# lock (its message names the CVEs fixed) and push the image, so that
# `ostal deploy swap $(ENV) --in-window` has only the swap left to do.
# An update whose build or test failed stays uncommitted, and the next
# run stops until someone has looked at it.
ENV        ?= tetaneutral
LOCK       := $(basename $(SPEC)).lock
UPDATE_MSG := build/update-message.txt
update: libvirtd $(BIN)
	@if ! git diff --quiet -- $(LOCK); then \
	  echo "$(LOCK) has changes not committed (a previous update whose build or test failed?): see $(UPDATE_MSG) and build/reports;"; \
	  echo "fix it and run make update again, or git checkout $(LOCK) to start over"; exit 1; fi
	@mkdir -p build
	$(BIN) lock --update --message $(UPDATE_MSG) $(SPEC)
	@if [ ! -f $(UPDATE_MSG) ]; then echo "no update: nothing to build"; exit 0; fi; \
	  set -ex; \
	  $(BIN) build $(SPEC); \
	  $(BIN) test $(IMAGE_TEST_FLAGS) $(IMAGE); \
	  git commit -F $(UPDATE_MSG) -- $(LOCK); \
	  rm $(UPDATE_MSG); \
	  $(BIN) deploy push $(ENV) $(IMAGE); \
	  echo "staged: ostal deploy swap $(ENV) --in-window $(IMAGE) swaps to it in the next window"

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt: $$bad"; exit 1; fi
	$(GO) vet ./...

# The bench's peer, trixie's mkosi, runs from a trixie tree the bench makes
# with mmdebstrap (tests/bench/mkosi_tools.go): nothing more to install.
bench: test-packages $(BIN)
	$(GO) run ./tests/bench

clean:
	rm -rf build
