# tests/mount/mount.mk - helper programs of the mount suites and their long
# runs (included by the top-level Makefile).
#
#   make fsx          the random-operation exerciser (tests/mount/fsx.c) on a
#                     real pmfs mount, FSX_OPS operations (default 1000000)
#                     on one file, then two processes on two files at once
#   make fsx FSX_OPS=200000 FSX_SEED=7
#
# The bounded runs are part of make check (tests/mount/test_fsx.c), which
# finds the helper at $(BUILD)/tests/mount/fsx: it is built with the suites.

FSX := $(BUILD)/tests/mount/fsx
FSX_OPS ?= 1000000
FSX_SEED ?= 1

$(FSX): tests/mount/fsx.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

# The suites need it: built with them and before check-unit runs them.
tests: $(FSX)
check-unit: $(FSX)
$(BUILD)/tests/mount/test_fsx: $(FSX) tests/mount/mnt.h

.PHONY: fsx
fsx: tools $(FSX) $(BUILD)/tests/mount/test_fsx
	PMFS_BUILD=$(BUILD) PMFS_FSX_OPS=$(FSX_OPS) PMFS_FSX_SEED=$(FSX_SEED) \
		$(BUILD)/tests/mount/test_fsx --filter 'fsx/*' --verbose
