# tests/fs/fs.mk - extra targets of the core's tests (included by the
# top-level Makefile; owned by tests/fs).
#
#   make BUILD=build-x modeltest     the model-based random test, long:
#                                    PMFS_MODEL_SEEDS seeds (default 8) of
#                                    PMFS_MODEL_OPS steps (default 20000)
#   make BUILD=build-x mountbench    mount time and DRAM per inode for
#                                    MOUNTBENCH_N files (default
#                                    "10000 100000") in MOUNTBENCH_DIRS
#                                    directories; a measurement, not a test

PMFS_MODEL_OPS ?= 20000
PMFS_MODEL_SEEDS ?= 8
MOUNTBENCH_N ?= 10000 100000
MOUNTBENCH_DIRS ?= 16

.PHONY: modeltest mountbench

modeltest: tools $(BUILD)/tests/fs/test_model
	PMFS_BUILD=$(BUILD) PMFS_MODEL_OPS=$(PMFS_MODEL_OPS) \
		PMFS_MODEL_SEEDS=$(PMFS_MODEL_SEEDS) \
		$(BUILD)/tests/fs/test_model --filter 'model/long_*' --verbose

$(BUILD)/tests/fs/mountbench: tests/fs/mountbench.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP $(ALL_LDFLAGS) -o $@ $< \
		$(LIB) $(LDLIBS)

mountbench: $(BUILD)/mkfs.pmfs $(BUILD)/tests/fs/mountbench
	@for n in $(MOUNTBENCH_N); do \
		echo "== mountbench $$n files, $(MOUNTBENCH_DIRS) directories"; \
		$(BUILD)/tests/fs/mountbench $(BUILD)/mkfs.pmfs $$n \
			$(MOUNTBENCH_DIRS) || exit 1; \
	done
