# SPDX-License-Identifier: GPL-2.0
#
# mqfuse top-level Makefile.
#   make            build the module(s), the helper programs and the test programs
#   make demo       the main job: boot the test VM, mount mqfuse, exercise it
#   make bench      mqfuse vs stock FUSE vs ext4 in the VM, on 6.1 and 6.12
#   make test       the whole test suite in the VM on 6.1 and 6.12 (installs its dependencies)
#   make test-debug the whole test suite on a lockdep + KASAN debug kernel
#   make test-recovery-load  kill -9 of mqfused every 0.5 s, then a takeover
#                   every second, 60 s each under load, on the ring and on
#                   the char device (RECOVERY_LOAD_S=600:
#                   the long run)
#   make sparse     run sparse (C=2) over the module
#   make module-all build + sparse for every installed 6.1 and 6.12 header tree
#   make deps       install build/test dependencies from Debian's packages
#   make dkms-install  sources to /usr/src/mqfuse_vN-x.y.z, dkms add + install
#                   for every kernel with headers (DKMS_KVERS=...), as root
#   make dkms-remove   dkms remove --all, sources removed from /usr/src
#   make test-dkms  the DKMS lifecycle test in a private Debian root (long;
#                   not part of make test): selftests/dkms/test.sh

# The kernel the tests boot (not the running kernel: the host cannot load modules).
KVER ?= $(shell ls -1 /lib/modules 2>/dev/null | grep '^6\.1\..*-amd64$$' | sort -V | tail -n1)
KDIR ?= /lib/modules/$(KVER)/build
# the selftests build test modules (selftests/kdelay) for the same kernel
export KVER KDIR
MQFUSE_GEN := $(shell sed -n 's/^\#define[[:space:]]*MQFUSE_GEN[[:space:]]*\([0-9][0-9]*\).*/\1/p' uapi/mqfuse.h)
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) W=1 KCFLAGS=-Werror

.PHONY: all module helper selftests sparse clean deps test test-lines demo bench soak check-kdir next-gen test-debug \
	test-recovery-load \
	module-all

all: module helper selftests

check-kdir:
	@test -d "$(KDIR)" || { echo "KDIR=$(KDIR) not found: run 'make deps' (needs linux-headers-amd64)"; exit 1; }

module: check-kdir
	$(KMAKE) modules

# The same sources with MQFUSE_GEN+1, built in build/next-gen: the tests load
# both generations side by side to show every name follows the generation.
NEXT_GEN := $(shell echo $$(( $(MQFUSE_GEN) + 1 )))
next-gen: check-kdir
	rm -rf build/next-gen && mkdir -p build/next-gen
	cp -r Kbuild uapi fs build/next-gen/
	sed -i 's/^\(#define[[:space:]]*MQFUSE_GEN[[:space:]]*\)[0-9][0-9]*/\1$(NEXT_GEN)/' build/next-gen/uapi/mqfuse.h
	$(MAKE) -C $(KDIR) M=$(CURDIR)/build/next-gen W=1 KCFLAGS=-Werror modules

sparse: check-kdir
	$(KMAKE) C=2 modules

# Both Debian 12 kernel lines, every installed header tree of each: W=1
# -Werror and sparse (C=2) in one pass, each in its own copy of the sources
# (build/kver/<release>) so the builds clobber neither each other nor the
# tree's own objects. Fails on any compiler, modpost or sparse warning.
KVERS_ALL ?= $(shell for k in $$(ls -1 /lib/modules 2>/dev/null | \
	grep -E '^6\.(1|12)\.[0-9].*-amd64$$' | sort -V); do \
	[ -d /lib/modules/$$k/build ] && echo $$k; done)
module-all:
	@test -n "$(KVERS_ALL)" || { echo "no 6.1 or 6.12 kernel headers installed"; exit 1; }
	@for k in $(KVERS_ALL); do \
		d=$(CURDIR)/build/kver/$$k; echo "== $$k ($$d)"; \
		rm -rf $$d && mkdir -p $$d && cp -r Kbuild uapi fs $$d/ || exit 1; \
		find $$d/fs \( -name '*.o' -o -name '.*.cmd' -o -name compat_probes.h \) -delete; \
		$(MAKE) -C /lib/modules/$$k/build M=$$d W=1 KCFLAGS=-Werror C=2 modules \
			>$$d/build.log 2>&1; rc=$$?; \
		grep -E 'warning|error' $$d/build.log && rc=1; \
		[ $$rc = 0 ] || { echo "FAIL $$k: see $$d/build.log"; exit 1; }; \
		echo "ok   $$k"; \
	done

helper:
	$(MAKE) -C helper all tests/unit_test

selftests:
	@if [ -f selftests/Makefile ]; then $(MAKE) -C selftests; \
	else for d in selftests/*/; do [ ! -f $$d/Makefile ] || $(MAKE) -C $$d || exit 1; done; fi

clean:
	-@test -d "$(KDIR)" && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-@if [ -f helper/Makefile ]; then $(MAKE) -C helper clean; fi
	-@if [ -f selftests/Makefile ]; then $(MAKE) -C selftests clean; fi

deps:
	selftests/vm/install-deps.sh

# The suite on both Debian 12 kernel lines, one after the other: the newest
# installed 6.1 (KVER) and 6.12 (KVER_612); make deps installs a 6.12 kernel
# if there is none. TEST_KVERS="..." picks others; the last line sums them.
KVER_612 ?= $(shell ls -1 /lib/modules 2>/dev/null | grep '^6\.12\..*+deb12-amd64$$' | sort -V | tail -n1)
TEST_KVERS ?= $(or $(KVER),no-6.1-kernel) $(or $(KVER_612),no-6.12-kernel)
# (a sub-make: the kernels are looked up after deps installed them)
test: deps
	$(MAKE) test-lines
test-lines:
	selftests/vm/test-lines.sh $(TEST_KVERS)

# Every suite (or SUITES="a b") on a lockdep + KASAN + DEBUG_ATOMIC_SLEEP kernel
# built from linux-source-6.1, once, in build/debug-kernel (30-60 min; see
# selftests/vm/debug-kernel.sh and Documentation/testing.rst).
DEBUG_TIMEOUT ?= 14400
DEBUG_TIMEOUT_SCALE ?= 3
test-debug: deps
	$(MAKE) all
	selftests/vm/debug-kernel.sh
	selftests/vm/run.sh --kernel build/debug-kernel/bzImage --modules build/debug-kernel/guest \
		--env kasan_multi_shot=1 --env MQ_TIMEOUT_SCALE=$(DEBUG_TIMEOUT_SCALE) \
		--timeout $(DEBUG_TIMEOUT) test $(SUITES)

# Crash recovery and hot upgrade under load, 60 s each (make test runs
# 20 s): kill -9 of mqfused every 0.5 s, then a takeover every second,
# under fio verify and namespace storms, on each transport of
# RECOVERY_TRANSPORTS (ring: mqfused's default; dev: --transport=dev);
# RECOVERY_MODES="takeover" runs one mode.
RECOVERY_LOAD_S ?= 60
RECOVERY_TRANSPORTS ?= ring dev
RECOVERY_MODES ?= kill takeover
test-recovery-load: deps
	$(MAKE) all
	selftests/vm/run.sh --kver $(KVER) --timeout $$(( ($(RECOVERY_LOAD_S) * 3 + 150) * $(words $(RECOVERY_TRANSPORTS)) * $(words $(RECOVERY_MODES)) )) \
		shell 'export MQ_RECOVERY_LOAD_S=$(RECOVERY_LOAD_S); rc=0; for t in $(RECOVERY_TRANSPORTS); do for m in $(RECOVERY_MODES); do echo "# ==== load.sh $$m $$t"; bash $$MQ_ROOT/selftests/recovery/load.sh $$m $$t || rc=1; done; done; exit $$rc'

# The 10-minute mixed soak (the test suite runs a 60 s one).
soak: deps
	$(MAKE) all
	selftests/vm/run.sh --kver $(KVER) --env MQ_SOAK_SECONDS=600 test soak

demo: deps
	$(MAKE) all
	selftests/vm/run.sh --kver $(KVER) demo

# Side-by-side benchmark (mqfuse, stock FUSE + same daemon, stock FUSE +
# libfuse, native ext4) on both kernel lines, one after the other: for each
# kernel in BENCH_KVERS (default the newest 6.1 (KVER) and 6.12 (KVER_612);
# KVER=/KVER_612=/BENCH_KVERS="..." override) bench.sh builds the tree for it
# and boots one guest on it; one report with columns per kernel, ratios only
# within one kernel's run. The tree is left built for KVER. BENCH_MODE=icount
# for instruction-driven guest time, BENCH_QUICK=1 for a short development
# run. Report in build/bench/.
BENCH_KVERS ?= $(or $(KVER),no-6.1-kernel) $(or $(KVER_612),no-6.12-kernel)
# '+': bench.sh runs make for each kernel; keep the jobserver for it.
bench:
	+BENCH_KVERS="$(BENCH_KVERS)" selftests/bench/bench.sh

# DKMS (Documentation/admin-guide.rst, "DKMS"). The package is mqfuse_v<GEN>
# at the release version from uapi/mqfuse.h; only what a module build needs
# is copied (no objects, no generated fs/compat_probes.h).
MQFUSE_VERSION := $(shell for f in MAJOR MINOR PATCH; do sed -n "s/^\#define[[:space:]]*MQFUSE_VERSION_$$f[[:space:]]*\([0-9][0-9]*\).*/\1/p" uapi/mqfuse.h; done | paste -sd.)
DKMS_NAME := mqfuse_v$(MQFUSE_GEN)
DKMS_SRC = $(DESTDIR)/usr/src/$(DKMS_NAME)-$(MQFUSE_VERSION)
# Every kernel whose headers are installed; dkms.conf's BUILD_EXCLUSIVE_KERNEL
# decides which of them are supported (the others are reported and skipped).
DKMS_KVERS ?= $(shell for k in $$(ls -1 /lib/modules 2>/dev/null); do \
	[ -e /lib/modules/$$k/build/include ] && echo $$k; done)

.PHONY: dkms-install dkms-remove test-dkms
dkms-install:
	@command -v dkms >/dev/null || { echo "dkms not installed (apt-get install dkms)"; exit 1; }
	@test -n "$(MQFUSE_GEN)" && test -n "$(MQFUSE_VERSION)" || { echo "no generation/version in uapi/mqfuse.h"; exit 1; }
	@if dkms status -m $(DKMS_NAME) -v $(MQFUSE_VERSION) | grep -q .; then \
		echo "== $(DKMS_NAME)/$(MQFUSE_VERSION) already added: removing it first"; \
		dkms remove -m $(DKMS_NAME) -v $(MQFUSE_VERSION) --all || exit 1; fi
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/uapi $(DKMS_SRC)/fs/probes
	install -m 0644 dkms.conf Kbuild $(DKMS_SRC)/
	install -m 0644 uapi/*.h $(DKMS_SRC)/uapi/
	install -m 0644 $(filter-out fs/compat_probes.h,$(wildcard fs/*.c fs/*.h)) $(DKMS_SRC)/fs/
	install -m 0644 fs/probes/*.c $(DKMS_SRC)/fs/probes/
	install -m 0755 fs/probes/probe.sh $(DKMS_SRC)/fs/probes/
	dkms add -m $(DKMS_NAME) -v $(MQFUSE_VERSION)
	@test -n "$(DKMS_KVERS)" || { echo "no kernel headers installed (apt-get install linux-headers-amd64)"; exit 1; }
	@for k in $(DKMS_KVERS); do \
		echo "== dkms install $(DKMS_NAME)/$(MQFUSE_VERSION) for $$k"; \
		dkms install -m $(DKMS_NAME) -v $(MQFUSE_VERSION) -k $$k; rc=$$?; \
		if [ $$rc = 77 ]; then echo "== $$k: not a supported kernel line (dkms.conf BUILD_EXCLUSIVE_KERNEL), skipped"; \
		elif [ $$rc != 0 ]; then echo "== $$k: dkms install failed ($$rc)"; exit 1; fi; \
	done
	dkms status -m $(DKMS_NAME)

dkms-remove:
	@command -v dkms >/dev/null || { echo "dkms not installed"; exit 1; }
	@if dkms status -m $(DKMS_NAME) -v $(MQFUSE_VERSION) | grep -q .; then \
		echo "dkms remove -m $(DKMS_NAME) -v $(MQFUSE_VERSION) --all"; \
		dkms remove -m $(DKMS_NAME) -v $(MQFUSE_VERSION) --all || exit 1; \
	else echo "== $(DKMS_NAME)/$(MQFUSE_VERSION) is not in the DKMS tree"; fi
	rm -rf $(DKMS_SRC)

# The whole DKMS lifecycle in a private debootstrap'd Debian 12 root under
# build/dkms-root (cached) and QEMU guests booting that root's own kernels:
# install for 6.1, modprobe + mount, upgrade to 6.12 through the kernel
# packages' hooks, modprobe + mount + POSIX subset, kernel removal, dkms-remove.
# 3-5 minutes with the cached root, about 6 from scratch (debootstrap); needs root.
test-dkms:
	selftests/dkms/test.sh
