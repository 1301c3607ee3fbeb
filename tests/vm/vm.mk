# tests/vm/vm.mk - pmfs on emulated persistent memory under QEMU (included
# by the top Makefile; owned by tests/vm).
#
#   make check-vm        three guests, about 5 minutes on 2 cores (part of
#                        make check): x86-64 with an emulated NVDIMM
#                        (devdax, fsdax, bad blocks, refusals, kill -9
#                        recovery), again with eADR; aarch64 with -cpu max
#                        (DC CVAP) and cortex-a72 (DC CVAC); POWER with
#                        -cpu power9 (dcbf + hwsync) and power10
#   make check-vm-long   the same guests, then the Criterion mount suites
#                        on the x86-64 guest's kernel and the crash harness
#                        over every workload on all three architectures
#   make check-vm VM_GUESTS='x86-pmem a64-max'    some guests only
#
# tests/vm/check-vm.sh does the work: it builds the guests from Debian
# packages (cached in $(BUILD)/vm), the native and cross-built programs the
# guests run (below), boots each guest with tests/vm/qemu.sh and writes
# $(BUILD)/vm-summary for scripts/summary.sh.  See tests/vm/README.md.

VM_GUESTS ?=

# The plain C programs the guests run, for the host architecture and, with
# CROSS set (sub-makes of check-vm.sh), for aarch64 and ppc64le.
VM_PROG_SRCS := tests/vm/vm_posix.c tests/vm/vm_kill.c

ifeq ($(CROSS),)

VM_PROGS := $(VM_PROG_SRCS:%.c=$(BUILD)/%) $(BUILD)/tests/vm/vm_pmemio

$(BUILD)/tests/vm/vm_posix $(BUILD)/tests/vm/vm_kill: $(BUILD)/%: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

$(BUILD)/tests/vm/vm_pmemio: tests/vm/vm_pmemio.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP $(ALL_LDFLAGS) -o $@ $< \
		$(LIB) $(LDLIBS)

# What the x86-64 guests get: the tools, the programs, and for the long
# run the crash harness and the mount suites.
.PHONY: vm-native vm-native-long check-vm check-vm-long
vm-native: tools $(VM_PROGS)
vm-native-long: vm-native $(CRASHTEST) $(FSX) \
	$(filter $(BUILD)/tests/mount/%,$(TEST_BINS))

check-vm:
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/vm-summary
	@BUILD=$(BUILD) VM_GUESTS='$(VM_GUESTS)' tests/vm/check-vm.sh

check-vm-long:
	@mkdir -p $(BUILD)
	@BUILD=$(BUILD) VM_GUESTS='$(VM_GUESTS)' VM_LONG=1 tests/vm/check-vm.sh

else # CROSS: the core library, mkfs, fsck and the guest programs

# The target's libraries are the guest's (tests/vm/guest.sh fetch unpacks
# them): the cross links resolve what libpmem2 and libndctl load there.
VMX_ROOT := $(BUILD)/vm/root/$(if $(filter aarch64%,$(XTRIPLET)),arm64,ppc64el)
VMX_LIBS := $(XLIBS) -Wl,-rpath-link,$(VMX_ROOT)/lib/$(XTRIPLET) \
	-Wl,-rpath-link,$(VMX_ROOT)/usr/lib/$(XTRIPLET)
VMX_LIB := $(XBUILD)/libpmfs.a
VMX_LIB_OBJS := $(LIB_SRCS:%.c=$(XBUILD)/%.o)

$(VMX_LIB): $(VMX_LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(XBUILD)/mkfs.pmfs: $(TOOL_mkfs:%.c=$(XBUILD)/%.o) $(VMX_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(VMX_LIBS)
$(XBUILD)/fsck.pmfs: $(TOOL_fsck:%.c=$(XBUILD)/%.o) $(VMX_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(VMX_LIBS)

$(XBUILD)/tests/vm/vm_posix $(XBUILD)/tests/vm/vm_kill: $(XBUILD)/%: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) $(ALL_LDFLAGS) -o $@ $<

$(XBUILD)/tests/vm/vm_pmemio: tests/vm/vm_pmemio.c $(VMX_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XINC) $(XCFLAGS) -MMD -MP $(ALL_LDFLAGS) -o $@ $< \
		$(VMX_LIB) $(VMX_LIBS)

VMX_TEST_OBJS := $(patsubst %.c,$(XBUILD)/%.o,$(TEST_HELPERS))
VMX_CRASH_OBJS := $(patsubst $(BUILD)/%,$(XBUILD)/%,$(CRASH_OBJS))
VMX_FSCK_LIB := $(XBUILD)/libfsck.a

$(VMX_TEST_OBJS) $(VMX_CRASH_OBJS): CPPFLAGS += $(TEST_CPPFLAGS) -Itests/crash

$(VMX_FSCK_LIB): $(patsubst $(BUILD)/%,$(XBUILD)/%,$(FSCK_LIB_OBJS))
	rm -f $@
	$(AR) rcs $@ $^

$(XBUILD)/tests/crash/crashtest: tests/crash/crashtest.c $(VMX_CRASH_OBJS) \
		$(VMX_TEST_OBJS) $(VMX_FSCK_LIB) $(VMX_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XINC) $(TEST_CPPFLAGS) -Itests/crash $(XCFLAGS) \
		$(ALL_LDFLAGS) -o $@ $< $(VMX_CRASH_OBJS) $(VMX_TEST_OBJS) \
		$(VMX_FSCK_LIB) $(VMX_LIB) $(VMX_LIBS)

.PHONY: vm-cross
vm-cross: $(XBUILD)/mkfs.pmfs $(XBUILD)/fsck.pmfs \
	$(XBUILD)/tests/crash/crashtest $(XBUILD)/tests/vm/vm_pmemio \
	$(XBUILD)/tests/pmemio/cross_smoke \
	$(VM_PROG_SRCS:%.c=$(XBUILD)/%)

endif
