# bench/bench.mk - benchmarks (included by the top-level Makefile).
#
#   make BUILD=build-x bench        every peer that works, BENCH_ROUNDS
#                                   interleaved rounds (needs root)
#   make BUILD=build-x bench-quick  1 round, tiny sizes (checks the harness)
#   make BUILD=build-x bench-tools  only build the benchmark programs
#   make BUILD=build-x bench-reqtrace  FUSE requests per operation of this
#                                   build's mount.pmfs, from its -d log
#                                   (REQTRACE="label=daemon ..." for more)
#   make BUILD=build-x bench-engine the in-process engine benchmark (links
#                                   libpmfs.a; optional, never needed by
#                                   `make bench`, which uses it if it links)
#
# Tunables (environment or command line): BENCH_ROUNDS, BENCH_FIO_SIZE,
# BENCH_FIO_RUNTIME, BENCH_META_SIZES, BENCH_TREE_FILES, BENCH_PEERS,
# BENCH_MOUNT_FILES, BENCH_ENGINE_N, BENCH_OUT.  See bench/run.sh.

BENCH_DIR := $(BUILD)/bench
BENCH_TOOLS := $(BENCH_DIR)/fusefloor $(BENCH_DIR)/meta $(BENCH_DIR)/mktree \
	$(BENCH_DIR)/rawpmem $(BENCH_DIR)/passthrough_ll $(BENCH_DIR)/reqtrace
PT_EXAMPLES := /usr/share/doc/libfuse3-dev/examples

BENCH_ROUNDS ?= 3
BENCH_FIO_SIZE ?= 64M
BENCH_FIO_RUNTIME ?= 2
BENCH_META_SIZES ?= 10000 100000
BENCH_TREE_FILES ?= 5000
BENCH_PEERS ?= floor floor-mt passthrough ext4 tmpfs pmfs pmfs-wb pmfs-uring
BENCH_MOUNT_FILES ?= 10000 100000 1000000
BENCH_ENGINE_N ?= 100000
BENCH_OUT ?= bench/results

.PHONY: bench bench-quick bench-tools bench-engine bench-pmfs-bins \
	bench-reqtrace

bench-tools: $(BENCH_TOOLS)

$(BENCH_DIR)/fusefloor: bench/fusefloor.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
		$(FUSE_LIBS) -lpthread

$(BENCH_DIR)/meta $(BENCH_DIR)/mktree $(BENCH_DIR)/reqtrace: $(BENCH_DIR)/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

$(BENCH_DIR)/rawpmem: bench/rawpmem.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(PKG_LIBS)

# libfuse's example, built from the system's documentation folder into the
# build directory (decompressed there if packaged as .gz).  Foreign code:
# built with its own warnings off.
$(BENCH_DIR)/passthrough_ll:
	@mkdir -p $(@D)
	@if [ -f $(PT_EXAMPLES)/passthrough_ll.c ]; then \
		cp $(PT_EXAMPLES)/passthrough_ll.c $(@D)/passthrough_ll.c; \
	elif [ -f $(PT_EXAMPLES)/passthrough_ll.c.gz ]; then \
		zcat $(PT_EXAMPLES)/passthrough_ll.c.gz > $(@D)/passthrough_ll.c; \
	else echo "bench: $(PT_EXAMPLES)/passthrough_ll.c missing" \
		"(install libfuse3-dev)"; exit 1; fi
	@for h in passthrough_helpers.h; do \
		if [ -f $(PT_EXAMPLES)/$$h.gz ]; then \
			zcat $(PT_EXAMPLES)/$$h.gz > $(@D)/$$h; \
		else cp $(PT_EXAMPLES)/$$h $(@D)/$$h; fi; done
	$(CC) -std=gnu11 -O2 -w -D_GNU_SOURCE -I$(@D) $(PKG_CFLAGS) \
		-o $@ $(@D)/passthrough_ll.c $(FUSE_LIBS) -lpthread

$(BENCH_DIR)/engine: bench/engine.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench-engine: $(BENCH_DIR)/engine

# Best effort: pmfs's tools and the engine join the run when they build.
bench-pmfs-bins:
	@mkdir -p $(BENCH_DIR)
	@if $(MAKE) -k --no-print-directory BUILD=$(BUILD) tools \
		> $(BENCH_DIR)/tools-build.log 2>&1; then :; else \
		echo "bench: pmfs tools do not build yet (see" \
			"$(BENCH_DIR)/tools-build.log)"; fi
	@if $(MAKE) --no-print-directory BUILD=$(BUILD) bench-engine \
		> $(BENCH_DIR)/engine-build.log 2>&1; then :; else \
		rm -f $(BENCH_DIR)/engine; \
		echo "bench: engine does not link yet (see" \
			"$(BENCH_DIR)/engine-build.log)"; fi

BENCH_ENV = BENCH_ROUNDS="$(BENCH_ROUNDS)" BENCH_FIO_SIZE="$(BENCH_FIO_SIZE)" \
	BENCH_FIO_RUNTIME="$(BENCH_FIO_RUNTIME)" \
	BENCH_META_SIZES="$(BENCH_META_SIZES)" \
	BENCH_TREE_FILES="$(BENCH_TREE_FILES)" BENCH_PEERS="$(BENCH_PEERS)" \
	BENCH_MOUNT_FILES="$(BENCH_MOUNT_FILES)" \
	BENCH_ENGINE_N="$(BENCH_ENGINE_N)" BENCH_OUT="$(BENCH_OUT)"

bench: bench-tools bench-pmfs-bins
	$(BENCH_ENV) bench/run.sh $(BUILD)

bench-quick: bench-tools bench-pmfs-bins
	$(BENCH_ENV) BENCH_ROUNDS=1 BENCH_FIO_SIZE=16M BENCH_FIO_RUNTIME=1 \
		BENCH_META_SIZES="1000 10000" BENCH_TREE_FILES=1000 \
		BENCH_MOUNT_FILES="10000" BENCH_ENGINE_N=10000 \
		BENCH_QUICK=1 bench/run.sh $(BUILD)

# Requests per operation (bench/reqtrace.sh); REQTRACE adds daemons to
# compare, e.g. REQTRACE="old=/tmp/old/build/mount.pmfs floor=floor".
REQTRACE ?=
bench-reqtrace: bench-tools tools
	bench/reqtrace.sh $(BUILD) pmfs=$(BUILD)/mount.pmfs $(REQTRACE)
