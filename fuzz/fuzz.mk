# fuzz.mk - the libFuzzer targets (included by the top Makefile):
# fuzz_fsck (fsck.pmfs survives any image) and fuzz_mount (the mount
# survives any image and agrees with fsck about it).  Both read the same
# inputs (fuzz/fuzz_img.h) and share fuzz/corpus/ and fuzz/regress/.
#
#   make fuzz-check   bounded run (part of make check), for each target:
#                     the regression inputs in fuzz/regress/ plus
#                     FUZZ_RUNS new inputs (about a minute each)
#   make fuzz         longer run (FUZZ_TIME seconds per target) over
#                     fuzz/corpus/; a crash input lands in fuzz/regress/:
#                     keep it there
#
# clang builds its own copy of the library with -fsanitize=fuzzer,
# address,undefined into $(BUILD)/fuzz; mkfs.pmfs (the normal build) makes
# the targets' good image.

FUZZ_CC ?= clang
FUZZ_RUNS ?= 1000
FUZZ_TIME ?= 600
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_TARGETS := fuzz_fsck fuzz_mount
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
FUZZ_COMMON := fuzz/fuzz_img.c $(filter-out fsck/main.c,$(wildcard fsck/*.c)) \
	$(LIB_SRCS)
FUZZ_SRCS_fuzz_fsck := fuzz/fuzz_fsck.c $(FUZZ_COMMON)
FUZZ_SRCS_fuzz_mount := fuzz/fuzz_mount.c tests/lib/differ.c \
	tests/lib/treewalk.c $(FUZZ_COMMON)
FUZZ_CFLAGS := -std=gnu11 -pthread -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Wall -Wno-unused-parameter
FUZZ_ENV := PMFS_MKFS=$(BUILD)/mkfs.pmfs PMFS_FUZZ_STRICT=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

-include fuzz/fsckbench.mk

.PHONY: fuzz fuzz-check

$(FUZZ_DIR)/%: fuzz/%.c $(FUZZ_COMMON) fuzz/fuzz_img.h tests/lib/differ.c \
		tests/lib/treewalk.c $(wildcard fsck/*.h src/*/*.h tests/lib/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(TEST_CPPFLAGS) -Ifuzz $(FUZZ_CFLAGS) \
		$(PKG_CFLAGS) -o $@ $(FUZZ_SRCS_$*) $(PKG_LIBS) -lpthread

ifeq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
fuzz-check:
	@echo "fuzz-check: $(FUZZ_CC) not found: run scripts/deps.sh"; exit 1
else
fuzz-check: $(FUZZ_BINS) $(BUILD)/mkfs.pmfs
	@rm -f $(BUILD)/fuzz-summary
	@for t in $(FUZZ_TARGETS); do \
		rm -rf $(FUZZ_DIR)/corpus-$$t && \
		mkdir -p $(FUZZ_DIR)/corpus-$$t && \
		cp fuzz/corpus/* $(FUZZ_DIR)/corpus-$$t/ && \
		echo "fuzz-check: $$t" && \
		$(FUZZ_ENV) $(FUZZ_DIR)/$$t -runs=$(FUZZ_RUNS) -seed=1 \
			-max_len=128 -artifact_prefix=$(FUZZ_DIR)/$$t- \
			$(FUZZ_DIR)/corpus-$$t fuzz/regress \
			> $(FUZZ_DIR)/$$t.log 2>&1 || \
			{ tail -n 40 $(FUZZ_DIR)/$$t.log; exit 1; }; \
		grep -E '^Done [0-9]+ runs' $(FUZZ_DIR)/$$t.log; \
	done
	@echo "fuzz-check $(words $(FUZZ_TARGETS)) 0 $(words $(FUZZ_TARGETS))" \
		>$(BUILD)/fuzz-summary
endif

fuzz: $(FUZZ_BINS) $(BUILD)/mkfs.pmfs
	@for t in $(FUZZ_TARGETS); do \
		$(FUZZ_ENV) $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_TIME) \
			-max_len=256 -artifact_prefix=fuzz/regress/ \
			fuzz/corpus fuzz/regress || exit 1; \
	done
