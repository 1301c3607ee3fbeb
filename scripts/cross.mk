# scripts/cross.mk - cross builds of pmemio (included by the top Makefile).
#
#   make CROSS=aarch64-linux-gnu-        objects, libpmemio.a, a link check
#   make CROSS=powerpc64le-linux-gnu-    and the static qemu smoke program
#                                        into $(BUILD)/cross-<triplet>/
#   make cross-smoke                     the smoke program for the host
#
# With CROSS set the default goal is `cross`: the rest of pmfs (FUSE glue,
# tools, Criterion suites) needs target libraries that are not set up, so
# only pmemio is cross-built: src/pmemio/arch*.c and src/util/util.c
# always, and pmemio.c, record.c, ident.c when they exist.  Headers: libpmem2, libndctl and
# libdaxctl headers are architecture-independent; arm64 finds them in
# /usr/include (libpmem2-dev:arm64 via multiarch), ppc64le in the sysroot
# $(PMFS_PPC64_SYSROOT).  Libraries: arm64 from /usr/lib/aarch64-linux-gnu
# (no libndctl-dev:arm64 exists, hence -l:libndctl.so.6), ppc64le from the
# sysroot.  scripts/cross-setup.sh installs or creates all of it.
#
# The Criterion suites are not cross-built (no target Criterion through
# apt); tests/pmemio/cross_smoke.c is the plain C program run under qemu.

PMFS_PPC64_SYSROOT ?= /opt/pmfs-sysroot/ppc64el

XCFLAGS = -std=gnu11 -pthread -fPIC $(OPT) $(WARN) $(CFLAGS)
XARCH_SRCS := $(wildcard src/pmemio/arch*.c)

ifneq ($(CROSS),)

XTRIPLET := $(patsubst %-,%,$(CROSS))
XBUILD := $(BUILD)/cross-$(XTRIPLET)

ifeq ($(XTRIPLET),aarch64-linux-gnu)
XINC :=
XLIBDIR := /usr/lib/aarch64-linux-gnu
else ifeq ($(XTRIPLET),powerpc64le-linux-gnu)
XINC := -I$(PMFS_PPC64_SYSROOT)/usr/include
XLIBDIR := $(PMFS_PPC64_SYSROOT)/usr/lib/powerpc64le-linux-gnu
else
$(error CROSS=$(CROSS): pmfs cross-builds only aarch64-linux-gnu- and powerpc64le-linux-gnu-)
endif
XLIBS := -L$(XLIBDIR) -Wl,-rpath-link,$(XLIBDIR) -lpmem2 -l:libndctl.so.6 \
	-l:libdaxctl.so.1 -lpthread

XPMEMIO_SRCS := $(XARCH_SRCS) src/util/util.c \
	$(wildcard $(addprefix src/pmemio/,pmemio.c record.c ident.c))
XPMEMIO_OBJS := $(XPMEMIO_SRCS:%.c=$(XBUILD)/%.o)
XARCH_OBJS := $(XARCH_SRCS:%.c=$(XBUILD)/%.o)
XSMOKE_LDFLAGS := -static

# The shared-object link check needs every pmemio file (record.c supplies
# the pmio_rec_* hooks pmemio.c calls) and util.c below them (util_grow);
# until then only the archive is made.
ifneq ($(wildcard src/pmemio/pmemio.c),)
ifneq ($(wildcard src/pmemio/record.c),)
ifneq ($(wildcard src/pmemio/ident.c),)
XLINKCHECK := $(XBUILD)/libpmemio.so
endif
endif
endif

.DEFAULT_GOAL := cross
.PHONY: cross cross-smoke

cross: $(XBUILD)/libpmemio.a $(XLINKCHECK) $(XBUILD)/tests/pmemio/cross_smoke

$(XBUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XINC) $(XCFLAGS) -MMD -MP -c -o $@ $<

$(XBUILD)/libpmemio.a: $(XPMEMIO_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# Link check: every symbol pmemio uses resolves against the target libs.
$(XBUILD)/libpmemio.so: $(XPMEMIO_OBJS)
	$(CC) -shared -Wl,--no-undefined $(ALL_LDFLAGS) -o $@ $^ $(XLIBS)

else # native

XBUILD := $(BUILD)
XARCH_OBJS := $(XARCH_SRCS:%.c=$(BUILD)/%.o)
XSMOKE_LDFLAGS := $(ALL_LDFLAGS)
.PHONY: cross-smoke

endif

cross-smoke: $(XBUILD)/tests/pmemio/cross_smoke

# A plain C program (no Criterion) that qemu-user can run on its own.
$(XBUILD)/tests/pmemio/cross_smoke: tests/pmemio/cross_smoke.c $(XARCH_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) $(XSMOKE_LDFLAGS) -o $@ $^
