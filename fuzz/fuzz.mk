# fuzz.mk - the fsck.pmfs libFuzzer target (included by the top Makefile).
#
#   make fuzz-check   bounded run (part of make check): the regression
#                     inputs in fuzz/regress/ plus FUZZ_RUNS new inputs
#   make fuzz         longer run (FUZZ_TIME seconds) over fuzz/corpus/;
#                     a crash input lands in fuzz/regress/: keep it there
#
# clang builds its own copy of the library with -fsanitize=fuzzer,
# address,undefined into $(BUILD)/fuzz; mkfs.pmfs (the normal build) makes
# the target's good image.

FUZZ_CC ?= clang
FUZZ_RUNS ?= 1000
FUZZ_TIME ?= 600
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_BIN := $(FUZZ_DIR)/fuzz_fsck
FUZZ_SRCS := fuzz/fuzz_fsck.c $(filter-out fsck/main.c,$(wildcard fsck/*.c)) \
	$(LIB_SRCS)
FUZZ_CFLAGS := -std=gnu11 -pthread -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Wall -Wno-unused-parameter
FUZZ_ENV := PMFS_MKFS=$(BUILD)/mkfs.pmfs PMFS_FUZZ_STRICT=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

-include fuzz/fsckbench.mk

.PHONY: fuzz fuzz-check

$(FUZZ_BIN): $(FUZZ_SRCS) $(wildcard fsck/*.h src/*/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(TEST_CPPFLAGS) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -o $@ \
		$(FUZZ_SRCS) $(PKG_LIBS) -lpthread

ifeq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
fuzz-check:
	@echo "fuzz-check: $(FUZZ_CC) not found; skipped"
else
fuzz-check: $(FUZZ_BIN) $(BUILD)/mkfs.pmfs
	@mkdir -p $(FUZZ_DIR)/corpus
	@cp fuzz/corpus/* $(FUZZ_DIR)/corpus/
	$(FUZZ_ENV) $(FUZZ_BIN) -runs=$(FUZZ_RUNS) -seed=1 -max_len=128 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus fuzz/regress
endif

fuzz: $(FUZZ_BIN) $(BUILD)/mkfs.pmfs
	$(FUZZ_ENV) $(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -max_len=256 \
		-artifact_prefix=fuzz/regress/ fuzz/corpus fuzz/regress
