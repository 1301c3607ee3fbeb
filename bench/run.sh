#!/bin/bash
# bench/run.sh - the benchmark harness: pmfs (by default and with
# -o writeback, the peer pmfs-wb, and with -o io_uring, the peer
# pmfs-uring) side by side with the FUSE floor,
# libfuse's passthrough_ll over tmpfs, ext4 on a loop device and tmpfs, on
# this machine, in one run.  Peers are interleaved (A B C D E,
# A B C D E, ...) for BENCH_ROUNDS rounds, each peer on a fresh filesystem
# every round; bench/report.sh turns the raw figures into Markdown with
# medians and per-round ratios pmfs/peer.
#
#   bench/run.sh BUILD_DIR          (normally through `make bench`)
#
# Needs root (mounts, loop devices, FUSE).  Everything it creates lives in
# /dev/shm/pmfs-bench.PID; an EXIT trap unmounts, detaches loop devices,
# stops daemons and removes that folder, also after a failure or Ctrl-C.
# The logs of the last run (daemons, fio and meta errors) are kept in
# BUILD_DIR/bench/last-run/.
#
# Tunables (defaults in bench/bench.mk):
#   BENCH_ROUNDS       interleaved rounds
#   BENCH_FIO_SIZE     fio file size per job (e.g. 64M)
#   BENCH_FIO_RUNTIME  seconds per fio workload
#   BENCH_META_SIZES   directory sizes for bench/meta (e.g. "10000 100000")
#   BENCH_TREE_FILES   files in the generated source-like tree
#   BENCH_PEERS        subset of: floor floor-mt passthrough ext4 tmpfs pmfs
#                      pmfs-wb
#                      pmfs-uring (pmfs-uring sets the fuse module's
#                      enable_uring to Y while it runs and puts the old
#                      value back)
#   BENCH_MOUNT_FILES  file counts for pmfs mount/fsck timing
#   BENCH_ENGINE_N     names per phase in the engine benchmark
#   BENCH_OUT          folder for the report (bench/results)
#   BENCH_PMFS_SIZE    pmfs image size for the peer and the engine (8G,
#                      sparse in /dev/shm), BENCH_PMFS_MOUNT_SIZE for the
#                      mount/fsck images (8G)
set -u

BUILD=${1:?usage: bench/run.sh BUILD_DIR}
BIN=$BUILD/bench
ROUNDS=${BENCH_ROUNDS:-3}
FIO_SIZE=${BENCH_FIO_SIZE:-64M}
FIO_RT=${BENCH_FIO_RUNTIME:-2}
META_SIZES=${BENCH_META_SIZES:-10000 100000}
TREE_FILES=${BENCH_TREE_FILES:-5000}
PEERS=${BENCH_PEERS:-floor floor-mt passthrough ext4 tmpfs pmfs pmfs-wb pmfs-uring}
MOUNT_FILES=${BENCH_MOUNT_FILES:-10000 100000 1000000}
ENGINE_N=${BENCH_ENGINE_N:-100000}
OUT=${BENCH_OUT:-bench/results}
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (loop devices, mounts, FUSE); run: sudo make BUILD=$BUILD bench"
[ -c /dev/fuse ] || die "/dev/fuse missing"
for t in fio tar losetup mkfs.ext4 mountpoint; do
	command -v $t >/dev/null || die "$t not installed"
done
for b in fusefloor meta mktree rawpmem passthrough_ll; do
	[ -x "$BIN/$b" ] || die "$BIN/$b missing: make BUILD=$BUILD bench-tools"
done

WORK=/dev/shm/pmfs-bench.$$
RAW=$WORK/raw.tsv     # round peer workload value
NOTES=$WORK/notes.tsv # key text
MOUNTS=()             # mount points to unmount at exit (last first)
PIDS=()               # daemons started here
LOOPS=()              # loop devices attached here
ENABLE_URING=/sys/module/fuse/parameters/enable_uring
URING_WAS=            # enable_uring before pmfs-uring set it, to restore

# ---- cleanup: always runs --------------------------------------------------

cleanup() {
	local i
	trap - EXIT INT TERM
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		if mountpoint -q "${MOUNTS[i]}" 2>/dev/null; then
			umount "${MOUNTS[i]}" 2>/dev/null ||
				umount -l "${MOUNTS[i]}" 2>/dev/null
		fi
	done
	for i in "${PIDS[@]}"; do
		kill "$i" 2>/dev/null && wait "$i" 2>/dev/null
	done
	for i in "${LOOPS[@]}"; do
		losetup -d "$i" 2>/dev/null
	done
	[ -n "$URING_WAS" ] && echo "$URING_WAS" >"$ENABLE_URING" 2>/dev/null
	# keep the logs of the last run for diagnosis
	mkdir -p "$BIN/last-run" && rm -f "$BIN"/last-run/* &&
		cp "$WORK"/*.log "$WORK"/*.err "$WORK"/*.tsv "$BIN/last-run/" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

mkdir -p "$WORK" || die "cannot create $WORK"
: >"$RAW"
: >"$NOTES"
note() { printf '%s\t%s\n' "$1" "$2" >>"$NOTES"; }
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }

# Unmount one mount point and forget it.
unmount_one() {
	local m=$1 i
	mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
	for i in "${!MOUNTS[@]}"; do
		[ "${MOUNTS[i]}" = "$m" ] && unset 'MOUNTS[i]'
	done
	MOUNTS=("${MOUNTS[@]}")
}

# Wait (up to $2 s) until $1 is a mount point answering requests and the
# daemon $3 (if given) is alive.
wait_mount() {
	local m=$1 tries=$(($2 * 100)) pid=${3:-}
	while ((tries-- > 0)); do
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		mountpoint -q "$m" && ls "$m" >/dev/null 2>&1 && return 0
		sleep 0.01
	done
	return 1
}

# Stop a daemon started here, after its mount is gone.
stop_daemon() {
	local pid=$1 i
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[i]}" = "$pid" ] && unset 'PIDS[i]'
	done
	PIDS=("${PIDS[@]}")
}

# ---- peers: setup_<peer> DIR sets PEER_PID; teardown_<peer> DIR -----------

PEER_PID=
PMFS_STATUS=
PMFS_IMG_SIZE=${BENCH_PMFS_SIZE:-8G}

setup_floor() {
	# single-threaded: libfuse's multi-threaded loop is several times
	# slower for requests this cheap (measured here), and the floor is
	# the fastest the request loop can go
	"$BIN/fusefloor" -f -s "$1" 2>>"$WORK/floor.log" &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	MOUNTS+=("$1")
	wait_mount "$1" 10 "$PEER_PID"
}
teardown_floor() { unmount_one "$1"; stop_daemon "$PEER_PID"; }
# the same daemon on libfuse's multi-threaded loop: the floor the issue's
# targets are held to (a single-threaded one rides on scheduling luck)
setup_floor-mt() {
	"$BIN/fusefloor" -f "$1" 2>>"$WORK/floor.log" &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	MOUNTS+=("$1")
	wait_mount "$1" 10 "$PEER_PID"
}
teardown_floor-mt() { teardown_floor "$1"; }

setup_passthrough() {
	mkdir -p "$WORK/ptsrc"
	mount -t tmpfs -o size=4g bench-ptsrc "$WORK/ptsrc" || return 1
	MOUNTS+=("$WORK/ptsrc")
	# passthrough_ll holds an O_PATH fd per inode the kernel knows: a
	# directory of 100k entries needs far more than the usual limit
	(ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	 exec "$BIN/passthrough_ll" -f -o source="$WORK/ptsrc" "$1") \
		2>>"$WORK/passthrough.log" &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	MOUNTS+=("$1")
	wait_mount "$1" 10 "$PEER_PID"
}
teardown_passthrough() {
	unmount_one "$1"
	stop_daemon "$PEER_PID"
	unmount_one "$WORK/ptsrc"
}

EXT4_LOOP=
setup_ext4() {
	rm -f "$WORK/ext4.img"
	truncate -s 2G "$WORK/ext4.img" || return 1
	mkfs.ext4 -q -F -N 400000 -E lazy_itable_init=0,lazy_journal_init=0 \
		"$WORK/ext4.img" || return 1
	EXT4_LOOP=$(losetup -f --show "$WORK/ext4.img") || return 1
	LOOPS+=("$EXT4_LOOP")
	mount -t ext4 "$EXT4_LOOP" "$1" || return 1
	MOUNTS+=("$1")
}
teardown_ext4() {
	local i
	unmount_one "$1"
	losetup -d "$EXT4_LOOP"
	for i in "${!LOOPS[@]}"; do
		[ "${LOOPS[i]}" = "$EXT4_LOOP" ] && unset 'LOOPS[i]'
	done
	LOOPS=("${LOOPS[@]}")
	rm -f "$WORK/ext4.img"
}

setup_tmpfs() {
	mount -t tmpfs -o size=4g bench-tmpfs "$1" || return 1
	MOUNTS+=("$1")
}
teardown_tmpfs() { unmount_one "$1"; }

# mkfs.pmfs IMAGE of PMFS_IMG_SIZE bytes; 0 on success.
pmfs_mkfs() {
	rm -f "$1"
	"$BUILD/mkfs.pmfs" --size "$PMFS_IMG_SIZE" "$1" >>"$WORK/pmfs.log" 2>&1 ||
		"$BUILD/mkfs.pmfs" -f --size "$PMFS_IMG_SIZE" "$1" \
			>>"$WORK/pmfs.log" 2>&1
}

# Start mount.pmfs IMAGE DIR in the foreground (verbose) as a background
# job; $3: its -o options, if any.
pmfs_start() {
	PMFS_FORCE_CACHE_LINE=1 "$BUILD/mount.pmfs" -f -v ${3:+-o "$3"} "$1" "$2" \
		>"$WORK/pmfs-mount.log" 2>&1 &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	MOUNTS+=("$2")
}

# pmfs on DIR with -o $2 (none if empty): the peers pmfs and pmfs-wb.
pmfs_setup() {
	if [ ! -x "$BUILD/mount.pmfs" ] || [ ! -x "$BUILD/mkfs.pmfs" ]; then
		PMFS_STATUS="n/a (mount.pmfs not built)"
		return 1
	fi
	if ! pmfs_mkfs "$WORK/pmfs.img"; then
		PMFS_STATUS="n/a (mkfs.pmfs failed: $(tail -n1 "$WORK/pmfs.log"))"
		return 1
	fi
	pmfs_start "$WORK/pmfs.img" "$1" "$2"
	if ! wait_mount "$1" 20 "$PEER_PID"; then
		PMFS_STATUS="n/a (mount.pmfs failed to mount: $(tail -n1 "$WORK/pmfs-mount.log"))"
		teardown_pmfs "$1"
		return 1
	fi
	local path
	path=$(grep -io -m1 -E 'flush path:? *[^ ,;)]+' "$WORK/pmfs-mount.log" |
		sed -E 's/^flush path:? *//I')
	note pmfs_flush "${path:-not printed by mount.pmfs -v}"
	return 0
}
teardown_pmfs() {
	unmount_one "$1"
	stop_daemon "$PEER_PID"
	rm -f "$WORK/pmfs.img"
}
setup_pmfs() { pmfs_setup "$1" ""; }
# the kernel's writeback cache: durable at fsync, as on ext4
setup_pmfs-wb() { pmfs_setup "$1" writeback; }
teardown_pmfs-wb() { teardown_pmfs "$1"; }

# pmfs with -o io_uring: the kernel must offer it (enable_uring Y, set
# here), and a mount that fell back to /dev/fuse is not measured as one.
setup_pmfs-uring() {
	if [ ! -w "$ENABLE_URING" ]; then
		PMFS_STATUS="n/a ($ENABLE_URING missing: no FUSE-over-io_uring in this kernel)"
		return 1
	fi
	[ -n "$URING_WAS" ] || URING_WAS=$(cat "$ENABLE_URING")
	echo Y >"$ENABLE_URING" || {
		PMFS_STATUS="n/a (cannot write $ENABLE_URING)"
		return 1
	}
	pmfs_setup "$1" io_uring || return 1
	if grep -q 'io_uring:' "$WORK/pmfs-mount.log"; then
		PMFS_STATUS="n/a (fell back: $(grep -m1 'io_uring:' "$WORK/pmfs-mount.log"))"
		teardown_pmfs "$1"
		return 1
	fi
}
teardown_pmfs-uring() {
	teardown_pmfs "$1"
	echo "$URING_WAS" >"$ENABLE_URING"
}

# ---- workloads -------------------------------------------------------------

# fio_one ROUND PEER DIR NAME args...: one time-based psync job; records
# IOPS (4 KiB) or MiB/s (1 MiB).
fio_one() {
	local round=$1 peer=$2 dir=$3 name=$4 out
	shift 4
	out=$(fio --name="$name" --directory="$dir" --filename_format='f.$jobnum' \
		--ioengine=psync --size="$FIO_SIZE" --time_based \
		--runtime="$FIO_RT" --group_reporting --minimal "$@" \
		2>>"$WORK/fio.err") || { rec "$round" "$peer" "$name" n/a; return; }
	# terse v3: field 7/8 read KiB/s / IOPS, 48/49 write KiB/s / IOPS
	rec "$round" "$peer" "$name" "$(echo "$out" | awk -F';' -v n="$name" '
		$1 == 3 { if (n ~ /1m$/) v = ($7 + $48) / 1024; else v = $8 + $49 }
		END { printf "%.0f", v }')"
}

run_fio() {
	local round=$1 peer=$2 dir=$3
	# lay out the two files every job uses (not timed)
	fio --name=layout --directory="$dir" --filename_format='f.$jobnum' \
		--ioengine=psync --rw=write --bs=1M --size="$FIO_SIZE" \
		--numjobs=2 --end_fsync=1 --minimal >/dev/null 2>>"$WORK/fio.err"
	fio_one "$@" rw4k1 --rw=randwrite --bs=4k --numjobs=1
	fio_one "$@" rw4k2 --rw=randwrite --bs=4k --numjobs=2
	fio_one "$@" rw4kfsync --rw=randwrite --bs=4k --numjobs=1 --fsync=1
	# buffered, one fsync at the end, inside the timed run (fio counts
	# end_fsync in the job's runtime): what a writeback cache is for
	fio_one "$@" rw4kend --rw=randwrite --bs=4k --numjobs=1 --end_fsync=1
	fio_one "$@" rr4k --rw=randread --bs=4k --numjobs=1
	fio_one "$@" rr4kdirect --rw=randread --bs=4k --numjobs=1 --direct=1
	fio_one "$@" sw1m --rw=write --bs=1M --numjobs=1
	fio_one "$@" sr1m --rw=read --bs=1M --numjobs=1
	rm -f "$dir"/f.0 "$dir"/f.1
}

run_meta() {
	local round=$1 peer=$2 dir=$3 n op v
	for n in $META_SIZES; do
		if ! "$BIN/meta" "$dir" "$n" >"$WORK/meta.out" 2>>"$WORK/meta.err"; then
			echo "bench: meta $n failed on $peer: $(tail -n1 "$WORK/meta.err")" >&2
			note "${peer}_fail" "meta in a directory of $n failed: $(tail -n1 "$WORK/meta.err")$(
				[ "$peer" = passthrough ] &&
				echo " (passthrough_ll keeps one fd per inode the kernel caches; the fd limit here is $(ulimit -Hn) and cannot be raised)")"
		fi
		for op in create stat readdir unlink mkdir rmdir cwrite rename tarstep; do
			v=$(awk -v op="$op" '$1 == op { print $2 }' "$WORK/meta.out")
			rec "$round" "$peer" "meta${n}_$op" "${v:-n/a}"
		done
	done
}

TREE_TAR=$WORK/tree.tar
TREE_ENTRIES=0
make_tree() {
	mkdir -p "$WORK/tree-src"
	"$BIN/mktree" "$WORK/tree-src/tree" "$TREE_FILES" || die "mktree failed"
	tar -C "$WORK/tree-src" --sort=name --format=gnu --owner=0 --group=0 \
		--numeric-owner --mtime=@0 -cf "$TREE_TAR" tree ||
		die "tar of the tree failed"
	TREE_ENTRIES=$(tar -tf "$TREE_TAR" | wc -l)
	note tree "$TREE_FILES files, $TREE_ENTRIES entries, $(du -k "$TREE_TAR" | cut -f1) KiB archive"
	rm -rf "$WORK/tree-src"
}

run_tree() {
	local round=$1 peer=$2 dir=$3 t0 t1
	mkdir "$dir/t"
	t0=$(now)
	if tar -C "$dir/t" -xf "$TREE_TAR" 2>>"$WORK/tree.err"; then
		t1=$(now)
		rec "$round" "$peer" untar "$(rate "$TREE_ENTRIES" "$(elapsed "$t0" "$t1")")"
	else
		rec "$round" "$peer" untar n/a
		rec "$round" "$peer" rmrf n/a # a partial tree says nothing
		note "${peer}_fail" "tar -x failed: $(tail -n1 "$WORK/tree.err")"
		rm -rf "$dir/t"
		return
	fi
	t0=$(now)
	if rm -rf "$dir/t" 2>>"$WORK/tree.err"; then
		t1=$(now)
		rec "$round" "$peer" rmrf "$(rate "$TREE_ENTRIES" "$(elapsed "$t0" "$t1")")"
	else
		rec "$round" "$peer" rmrf n/a
	fi
}

# ---- pmfs-only: mount and fsck time, daemon RSS, engine --------------------

run_mount_fsck() {
	local n img=$WORK/mnt-pmfs.img m=$WORK/mnt/mountfsck t0 t1 rss
	mkdir -p "$m"
	if [ ! -x "$BUILD/mount.pmfs" ] || [ ! -x "$BUILD/mkfs.pmfs" ]; then
		note mountfsck "n/a (mount.pmfs not built)"
		return
	fi
	PMFS_IMG_SIZE=${BENCH_PMFS_MOUNT_SIZE:-8G}
	for n in $MOUNT_FILES; do
		echo "bench: pmfs mount/fsck with $n files" >&2
		pmfs_mkfs "$img" || { note mountfsck "n/a (mkfs.pmfs failed)"; return; }
		pmfs_start "$img" "$m"
		wait_mount "$m" 20 "$PEER_PID" ||
			{ note mountfsck "n/a (mount failed)"; teardown_pmfs "$m"; return; }
		"$BIN/meta" -p "$m" "$n" 2>>"$WORK/meta.err" ||
			{ note mountfsck "n/a (populating $n files failed)"; teardown_pmfs "$m"; return; }
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$PEER_PID/status")
		rec 1 pmfs "rss_kib_$n" "${rss:-n/a}"
		unmount_one "$m"
		stop_daemon "$PEER_PID"

		t0=$(now)
		pmfs_start "$img" "$m"
		if wait_mount "$m" 60 "$PEER_PID"; then
			t1=$(now)
			rec 1 pmfs "mount_clean_$n" "$(elapsed "$t0" "$t1")"
		else
			rec 1 pmfs "mount_clean_$n" n/a
		fi
		kill -9 "$PEER_PID" 2>/dev/null # the crash
		wait "$PEER_PID" 2>/dev/null
		umount -l "$m" 2>/dev/null
		unmount_one "$m"
		stop_daemon "$PEER_PID"

		t0=$(now)
		pmfs_start "$img" "$m"
		if wait_mount "$m" 60 "$PEER_PID"; then
			t1=$(now)
			rec 1 pmfs "mount_crash_$n" "$(elapsed "$t0" "$t1")"
		else
			rec 1 pmfs "mount_crash_$n" n/a
		fi
		unmount_one "$m"
		stop_daemon "$PEER_PID"

		if [ -x "$BUILD/fsck.pmfs" ]; then
			t0=$(now)
			if "$BUILD/fsck.pmfs" -f -n "$img" >>"$WORK/pmfs.log" 2>&1; then
				t1=$(now)
				rec 1 pmfs "fsck_$n" "$(elapsed "$t0" "$t1")"
			else
				rec 1 pmfs "fsck_$n" n/a
				note fsck "fsck.pmfs -f -n exited non-zero on $n files"
			fi
		fi
		rm -f "$img"
	done
}

run_engine() {
	local img=$WORK/engine.img r line
	"$BIN/rawpmem" "$WORK/raw.pmem" 256 1 >"$WORK/raw.out" 2>>"$WORK/raw.err" ||
		note raw "rawpmem failed: $(tail -n1 "$WORK/raw.err")"
	rm -f "$WORK/raw.pmem"
	while IFS=$'\t' read -r r line; do
		rec 1 raw "$r" "$line"
	done < <(awk -F'\t' '{ print $1 "\t" $2 "\t" $3 "\t" $4 }' "$WORK/raw.out")
	if [ ! -x "$BIN/engine" ]; then
		note engine "n/a (engine does not link: libpmfs.a incomplete)"
		return
	fi
	if [ ! -x "$BUILD/mkfs.pmfs" ]; then
		note engine "n/a (mkfs.pmfs not built)"
		return
	fi
	PMFS_IMG_SIZE=${BENCH_PMFS_SIZE:-8G}
	pmfs_mkfs "$img" || { note engine "n/a (mkfs.pmfs failed)"; return; }
	# phases printed before a failure are kept; the failure is noted
	PMFS_FORCE_CACHE_LINE=1 "$BIN/engine" "$img" "$ENGINE_N" 1 \
		>"$WORK/engine.out" 2>>"$WORK/engine.err" ||
		note engine_error "engine stopped: $(tail -n1 "$WORK/engine.err")"
	note engine_flush "$(awk -F'\t' '$1 == "#path" { print $2 }' "$WORK/engine.out")"
	while IFS=$'\t' read -r r line; do
		case $r in
		'#write1m') note engine_note "write1m $line" ;;
		'#'*) ;;
		*) rec 1 engine "$r" "$line" ;;
		esac
	done <"$WORK/engine.out"
	grep -q -v '^#' "$WORK/engine.out" ||
		note engine "n/a (engine failed: $(tail -n1 "$WORK/engine.err"))"
	rm -f "$img"
}

# ---- main ------------------------------------------------------------------

note date "$(date -u '+%Y-%m-%d %H:%M UTC')"
note host "$(hostname -s)"
note kernel "$(uname -r)"
note cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) CPUs"
note params "rounds=$ROUNDS fio_size=$FIO_SIZE fio_runtime=${FIO_RT}s meta_sizes=\"$META_SIZES\" tree_files=$TREE_FILES${BENCH_QUICK:+ (bench-quick)}"
note fio "$(fio --version)"
note peers "$PEERS"

make_tree
mkdir -p "$WORK/mnt"
declare -A SKIP=()
for ((round = 1; round <= ROUNDS; round++)); do
	for peer in $PEERS; do
		[ -n "${SKIP[$peer]:-}" ] && continue
		dir=$WORK/mnt/$peer
		mkdir -p "$dir"
		echo "bench: round $round/$ROUNDS: $peer" >&2
		PEER_PID=
		if ! "setup_$peer" "$dir"; then
			if [ "$peer" = pmfs ] || [ "$peer" = pmfs-wb ] ||
				[ "$peer" = pmfs-uring ]; then
				note "${peer}_status" "${PMFS_STATUS:-n/a (mount.pmfs failed)}"
			else
				note "${peer}_status" "n/a (setup failed)"
			fi
			echo "bench: $peer: not available; skipped" >&2
			"teardown_$peer" "$dir" 2>/dev/null
			SKIP[$peer]=1
			continue
		fi
		run_fio "$round" "$peer" "$dir"
		run_tree "$round" "$peer" "$dir"
		run_meta "$round" "$peer" "$dir"
		"teardown_$peer" "$dir"
	done
done

case " $PEERS " in
*" pmfs "*)
	run_engine
	if [ -z "${SKIP[pmfs]:-}" ]; then
		run_mount_fsck
	else
		note mountfsck "${PMFS_STATUS:-n/a}"
	fi
	;;
*) run_engine ;;
esac

note duration "$((SECONDS / 60)) min $((SECONDS % 60)) s"
mkdir -p "$OUT" || die "cannot create $OUT"
name="$(date -u +%Y-%m-%d)-$(hostname -s)${BENCH_QUICK:+-quick}.md"
"$HERE/report.sh" "$RAW" "$NOTES" >"$OUT/$name" || die "report failed"
# requests per operation of pmfs and the floor, from their -d logs
# (bench/reqtrace.sh): why the figures above are what they are
if [ -x "$BUILD/mount.pmfs" ] && [ -x "$BIN/reqtrace" ]; then
	{
		echo
		echo "## Requests per operation (bench/reqtrace.sh, from the daemons' -d logs)"
		echo
		echo '```'
		REQTRACE_N=${BENCH_QUICK:+50} "$HERE/reqtrace.sh" "$BUILD" \
			pmfs="$BUILD/mount.pmfs" floor=floor 2>&1 ||
			echo "reqtrace failed"
		echo '```'
	} >>"$OUT/$name"
fi
cp "$OUT/$name" "$OUT/latest.md"
cp "$RAW" "$OUT/${name%.md}.tsv"
echo "bench: report in $OUT/$name (and $OUT/latest.md)" >&2
