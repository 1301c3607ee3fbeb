# pmfs - one non-recursive GNU Makefile.
#
#   make                  build libpmfs.a and the three tools into build/
#   make check            every test: unit suites, tool tests, the tools
#                         free of test code (nm), the unit suites again
#                         under ASan+UBSan, the cross-build instruction
#                         check, bounded fuzzing runs, the QEMU guests
#                         with emulated NVDIMMs (check-vm)
#   make install          PREFIX=/usr/local DESTDIR=; tools into sbin, man
#                         pages into man5/man8
#   make SANITIZE=address,undefined   sanitizer build
#   make DEBUG=1          -O0, assertions
#   make WERROR=1         warnings are errors (CI)
#   make CROSS=aarch64-linux-gnu-     cross-build pmemio and its tests
#
# Sources are found by wildcard: every src/*/*.c goes into libpmfs.a; each
# tool is its folder (mkfs/, fsck/, mount/: mount.pmfs and its FUSE glue).
# Every tests/*/test_*.c is one Criterion suite, built as one binary.

CROSS ?=
ifneq ($(CROSS),)
CC := $(CROSS)gcc
else ifeq ($(origin CC),default)
CC := gcc
endif
AR := $(CROSS)ar
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

BUILD ?= build

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wvla -Wformat=2 -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

ifeq ($(DEBUG),1)
OPT := -O0 -g3
else
OPT := -O2 -g -DNDEBUG
endif

ifneq ($(SANITIZE),)
OPT += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
SANLD := -fsanitize=$(SANITIZE)
endif

PKGS := fuse3 libpmem2 libndctl libdaxctl
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs libpmem2 libndctl libdaxctl 2>/dev/null)
FUSE_LIBS := $(shell $(PKG_CONFIG) --libs fuse3 2>/dev/null)
# mount.pmfs only: the FUSE-over-io_uring rings (mount/uring.c)
URING_CFLAGS := $(shell $(PKG_CONFIG) --cflags liburing 2>/dev/null)
URING_LIBS := $(shell $(PKG_CONFIG) --libs liburing 2>/dev/null)
CRIT_CFLAGS := $(shell $(PKG_CONFIG) --cflags criterion 2>/dev/null)
CRIT_LIBS := $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null)

CFLAGS ?=
# One include root: a header is named by its module ("log/log.h").  A
# module's private header (fs/fs_int.h, pmemio/pmio_int.h, ...) is included
# only from its own folder, and from tests/ and fuzz/ (white-box), which
# also reach the tools' folders ("fsck/fsck.h") through TEST_CPPFLAGS.
CPPFLAGS += -D_GNU_SOURCE -Isrc
TEST_CPPFLAGS := -I. -Itests/lib
ALL_CFLAGS := -std=gnu11 -pthread -fPIC $(OPT) $(WARN) $(PKG_CFLAGS) $(CFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread
ALL_LDFLAGS := -pthread $(SANLD) $(LDFLAGS)

LIB_SRCS := $(wildcard src/*/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libpmfs.a

TOOLS := $(BUILD)/mkfs.pmfs $(BUILD)/fsck.pmfs $(BUILD)/mount.pmfs
TOOL_mkfs := $(wildcard mkfs/*.c)
TOOL_fsck := $(wildcard fsck/*.c)
# fsck.pmfs but its main: also linked by the tests (the differential check)
FSCK_LIB := $(BUILD)/libfsck.a
FSCK_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(filter-out fsck/main.c,$(TOOL_fsck)))
TOOL_mount := $(wildcard mount/*.c)

TEST_SRCS := $(wildcard tests/*/test_*.c)
TEST_BINS := $(TEST_SRCS:%.c=$(BUILD)/%)
TEST_HELPERS := $(wildcard tests/lib/*.c)
TEST_HELPER_OBJS := $(TEST_HELPERS:%.c=$(BUILD)/%.o)

MAN8 := $(wildcard man/*.8)
MAN5 := $(wildcard man/*.5)

.PHONY: all lib tools tests check check-unit check-asan check-cross check-nm \
	install uninstall clean demo
.DEFAULT_GOAL := all
.SECONDARY:

all: lib tools

lib: $(LIB)
BUILT_TOOLS := $(if $(TOOL_mkfs),$(BUILD)/mkfs.pmfs) \
	$(if $(TOOL_fsck),$(BUILD)/fsck.pmfs) $(if $(TOOL_mount),$(BUILD)/mount.pmfs)
tools: $(BUILT_TOOLS)
tests: $(TEST_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/mkfs.pmfs: $(TOOL_mkfs:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(FSCK_LIB): $(FSCK_LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/fsck.pmfs: $(BUILD)/fsck/main.o $(FSCK_LIB) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/mount/uring.o: ALL_CFLAGS += $(URING_CFLAGS)
$(BUILD)/mount.pmfs: $(TOOL_mount:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(FUSE_LIBS) $(URING_LIBS) $(LDLIBS)

$(TEST_HELPER_OBJS): CPPFLAGS += $(TEST_CPPFLAGS)

$(BUILD)/tests/%: tests/%.c $(TEST_HELPER_OBJS) $(FSCK_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) $(ALL_CFLAGS) $(CRIT_CFLAGS) -MMD -MP \
		$(ALL_LDFLAGS) -o $@ $< $(TEST_HELPER_OBJS) $(FSCK_LIB) $(LIB) \
		$(CRIT_LIBS) $(LDLIBS)

# ---- tests -----------------------------------------------------------------

# Criterion binaries run one at a time; each prints its own summary.  The
# tools are built first because the tool suites run them.
check-unit: tools $(TEST_BINS)
	@rm -f $(BUILD)/test-summary
	@scripts/run-tests.sh $(BUILD) $(TEST_BINS)

check-asan:
	$(MAKE) BUILD=$(BUILD)/asan SANITIZE=address,undefined check-unit

# One summary line per architecture checked; the script fails otherwise.
check-cross:
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/cross-summary
	@BUILD=$(BUILD) scripts/cross-check.sh
	@echo "cross-check 3 0 3" >$(BUILD)/cross-summary

# Test code stays out of the tools: no seeded bug, no seed hook.
check-nm: tools
	@rm -f $(BUILD)/nm-summary
	@for t in $(BUILT_TOOLS); do \
		if nm $$t | grep -i seed; then \
			echo "check-nm: FAIL: $$t carries test code (above)"; \
			exit 1; \
		fi; \
	done
	@echo "check-nm: no seed symbols in $(notdir $(BUILT_TOOLS))"
	@echo "check-nm $(words $(BUILT_TOOLS)) 0 $(words $(BUILT_TOOLS))" \
		>$(BUILD)/nm-summary

check: check-unit check-nm check-asan check-cross fuzz-check check-vm
	@scripts/summary.sh $(BUILD)/test-summary $(BUILD)/asan/test-summary \
		$(BUILD)/cross-summary $(BUILD)/nm-summary \
		$(BUILD)/fuzz-summary $(BUILD)/vm-summary

# ---- the main job on the embedded default ----------------------------------

demo: all
	@scripts/demo.sh $(BUILD)

# ---- install ---------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5
	install -m 755 $(BUILT_TOOLS) $(DESTDIR)$(SBINDIR)/
	# mount(8) runs mount.fuse.pmfs for fstab type fuse.pmfs
	ln -sf mount.pmfs $(DESTDIR)$(SBINDIR)/mount.fuse.pmfs
	$(if $(MAN8),install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,mkfs.pmfs fsck.pmfs mount.pmfs \
		mount.fuse.pmfs)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Fragments owned by their folders: cross builds and benchmarks.
-include scripts/cross.mk
-include bench/bench.mk
-include fuzz/fuzz.mk
-include tests/fs/fs.mk
-include tests/crash/crash.mk
-include tests/mount/mount.mk
-include tests/vm/vm.mk
