# t-long.sh - make check-vm-long on the x86-64 guest: every Criterion
# mount suite (tests/mount/test_*) on the guest's kernel and FUSE, with
# their images on the guest's tmpfs, then the crash harness over every
# workload (bounded images per fence).  Each suite and the harness count
# as one check; their own output is in the console log.  Not run here:
# test_helper, which needs util-linux's mount(8) (busybox's mount has no
# mount.TYPE helpers and no loop devices: "can't setup loop device"), and
# test_big, whose 100,000-entry directory exceeds its 600 s timeout under
# TCG; both run natively in make check.
# shellcheck disable=SC1091 # the guest's copy
. /pmfs/lib.sh

modprobe fuse
export PMFS_BUILD=/pmfs
# The suites find fsx at $PMFS_BUILD/tests/mount/fsx.
mkdir -p /pmfs/tests/mount
ln -sf /pmfs/fsx /pmfs/tests/mount/fsx

for t in /pmfs/test_*; do
	n=${t##*/}
	case $n in test_helper | test_big) continue ;; esac
	stage "$n"
	OUT=$("$t" --jobs 1 2>&1)
	st=$?
	echo "$OUT" | tail -n 3 | sed 's/^/  . /'
	if [ $st -eq 0 ]; then
		ok "mount suite $n"
		echo "  > $(echo "$OUT" | grep -m 1 'Synthesis')"
	else
		bad "mount suite $n (exit $st)"
		show_out 40
	fi
done

stage "crash harness, every workload"
OUT=$(crashtest 2>&1)
st=$?
if [ $st -eq 0 ]; then
	ok "crash harness, every workload"
	echo "  > $(echo "$OUT" | grep -m 1 '^crash: total')"
else
	bad "crash harness (exit $st)"
	show_out 40
fi

finish
