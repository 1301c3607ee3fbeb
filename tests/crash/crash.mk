# crash.mk - the crash harness's exhaustive run (included by the Makefile):
#
#   make crashtest        every workload, every in-flight word alone and
#                         all but each one, more random subsets; prints per
#                         workload "crash: NAME: fences F, images I,
#                         failures X" and a total
#   make crashtest CRASH_ARGS='--only rename-exchange'
#
# The bounded run is part of make check (tests/crash/test_crash_*.c).  The
# tool is also what a failing image's replay line runs.

CRASHTEST := $(BUILD)/tests/crash/crashtest
CRASH_ARGS ?=

$(CRASHTEST): tests/crash/crashtest.c tests/crash/harness.c \
		tests/crash/harness.h tests/crash/workloads.c \
		$(TEST_HELPER_OBJS) $(FSCK_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) -Itests/crash $(ALL_CFLAGS) \
		$(ALL_LDFLAGS) -o $@ $< $(TEST_HELPER_OBJS) $(FSCK_LIB) $(LIB) $(LDLIBS)

.PHONY: crashtest crashtest-tool
crashtest-tool: $(CRASHTEST)
crashtest: tools $(CRASHTEST)
	PMFS_BUILD=$(BUILD) $(CRASHTEST) --exhaustive $(CRASH_ARGS)
