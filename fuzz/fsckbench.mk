# fsckbench.mk - the fsck.pmfs benchmark (included by fuzz/fuzz.mk).
#
#   make BUILD=build-x fsckbench        build $(BUILD)/fsckbench and the tools
#   make BUILD=build-x fsckbench-run    time fsck -fn on 100k and 1M inodes
#                                       (FSCKBENCH_SIZES, FSCKBENCH_IMG)
#
# Not part of make check: it takes minutes and asserts nothing about time.

FSCKBENCH_SIZES ?= 100000 1000000
FSCKBENCH_IMG ?= /dev/shm/pmfs-fsckbench.img

.PHONY: fsckbench fsckbench-run

$(BUILD)/fsckbench: tests/fsck/fsckbench.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP $(ALL_LDFLAGS) -o $@ $< \
		$(LIB) $(LDLIBS)

fsckbench: $(BUILD)/fsckbench $(BUILD)/mkfs.pmfs $(BUILD)/fsck.pmfs

fsckbench-run: fsckbench
	@for n in $(FSCKBENCH_SIZES); do \
		PMFS_BUILD=$(BUILD) $(BUILD)/fsckbench -n $$n \
			-d $$(( n / 10000 > 10 ? n / 10000 : 10 )) \
			$(FSCKBENCH_IMG) || exit 1; \
	done
