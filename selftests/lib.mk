# SPDX-License-Identifier: GPL-2.0
#
# Shared rules for the selftest suites, in the manner of the kernel's
# kselftests (Documentation/testing.rst, "kselftest layout").  A suite's
# Makefile names its files and includes this one before its own build rules:
#
#   TEST_PROGS      scripts run_tests runs, each one test program (guest.sh)
#   TEST_GEN_PROGS  programs built here that run_tests runs
#   TEST_GEN_FILES  programs built here that the suite's scripts start
#   TEST_FILES      files installed with the suite (config, min_tests, ...)
#
# Targets: all (default), clean, run_tests, install (INSTALL_PATH, default
# ../kselftest_install) and emit_tests (one "suite:program" line per test
# program, for kselftest-list.txt).

SUITE := $(notdir $(CURDIR))
SELFTESTS_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
INSTALL_PATH ?= $(SELFTESTS_DIR)/kselftest_install

# Every suite ships its kernel config fragment and the runner's inputs.
TEST_FILES += $(wildcard config min_tests timeout)

.PHONY: all clean run_tests install emit_tests

all: $(TEST_GEN_PROGS) $(TEST_GEN_FILES)

clean:
	$(RM) $(TEST_GEN_PROGS) $(TEST_GEN_FILES) $(EXTRA_CLEAN)

# The scripts read everything they need from the project tree: run them from
# here with MQ_ROOT pointing at it unless the caller already set it.
run_tests: all
ifneq ($(strip $(TEST_PROGS) $(TEST_GEN_PROGS)),)
	@MQ_ROOT=$${MQ_ROOT:-$(abspath $(SELFTESTS_DIR)/..)} \
		$(SELFTESTS_DIR)/ktap.sh $(CURDIR) $(TEST_PROGS) $(TEST_GEN_PROGS)
endif

install: all
	@test -n "$(INSTALL_PATH)" || { echo "install: INSTALL_PATH is empty"; exit 1; }
	@mkdir -p $(INSTALL_PATH)/$(SUITE)
	@for f in $(TEST_PROGS) $(TEST_GEN_PROGS) $(TEST_GEN_FILES) $(TEST_FILES); do \
		cp -p $$f $(INSTALL_PATH)/$(SUITE)/ || exit 1; \
	done

emit_tests:
	@for p in $(TEST_PROGS) $(TEST_GEN_PROGS); do echo "$(SUITE):$$p"; done
