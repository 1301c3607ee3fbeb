# crash.mk - the crash harness's build and its exhaustive run (included by
# the Makefile):
#
#   make crashtest        every workload, every in-flight word alone and
#                         all but each one, more random subsets, each image
#                         in every check mode (mount first, fsck -y first,
#                         fsck -p first); prints per workload "crash: NAME:
#                         fences F, images I, failures X (per mode)" and a
#                         total
#   make crashtest CRASH_ARGS='--only rename-exchange --mode mount'
#
# The harness (harness.c, snap.c) and the workloads (workloads.c) are compiled
# once into CRASH_OBJS, which the bounded suites (tests/crash/test_*.c,
# part of make check) and the crashtest tool link.  The tool is also what
# a failing image's replay line runs.

CRASHTEST := $(BUILD)/tests/crash/crashtest
CRASH_ARGS ?=
CRASH_OBJS := $(BUILD)/tests/crash/harness.o $(BUILD)/tests/crash/snap.o \
	$(BUILD)/tests/crash/workloads.o
CRASH_SUITES := $(filter $(BUILD)/tests/crash/%,$(TEST_BINS))
CRASH_CPPFLAGS := $(CPPFLAGS) $(TEST_CPPFLAGS) -Itests/crash

$(BUILD)/tests/crash/%.o: tests/crash/%.c
	@mkdir -p $(@D)
	$(CC) $(CRASH_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The suites: the generic test rule plus the harness objects.
$(CRASH_SUITES): $(BUILD)/tests/crash/%: tests/crash/%.c $(CRASH_OBJS) \
		$(TEST_HELPER_OBJS) $(FSCK_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CRASH_CPPFLAGS) $(ALL_CFLAGS) $(CRIT_CFLAGS) -MMD -MP \
		$(ALL_LDFLAGS) -o $@ $< $(CRASH_OBJS) $(TEST_HELPER_OBJS) \
		$(FSCK_LIB) $(LIB) $(CRIT_LIBS) $(LDLIBS)

$(CRASHTEST): tests/crash/crashtest.c $(CRASH_OBJS) $(TEST_HELPER_OBJS) \
		$(FSCK_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CRASH_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP $(ALL_LDFLAGS) -o $@ \
		$< $(CRASH_OBJS) $(TEST_HELPER_OBJS) $(FSCK_LIB) $(LIB) $(LDLIBS)

.PHONY: crashtest crashtest-tool
crashtest-tool: $(CRASHTEST)
crashtest: tools $(CRASHTEST)
	PMFS_BUILD=$(BUILD) $(CRASHTEST) --exhaustive $(CRASH_ARGS)
