# lib.sh - helpers of the guest test scripts (sourced by busybox sh in the
# guests that tests/vm/guest.sh builds).
#
# Every check prints one line the host counts (tests/vm/qemu.sh):
#   ok - NAME                 and, for evidence, lines "  > ..." after it
#   FAIL - NAME: why          followed by the command's last lines "  | ..."
# A script ends with `finish`, whose exit code is the number of failures.

PASS=0
FAILS=0
OUT=

ok() {
	PASS=$((PASS + 1))
	echo "ok - $*"
}

# A progress line with the guest's uptime (the host shows it).
stage() {
	echo "pmfs-vm: [$(cut -d' ' -f1 /proc/uptime) s] $*"
}

bad() {
	FAILS=$((FAILS + 1))
	echo "FAIL - $*"
}

# Show the last lines of $OUT under a failure.
show_out() {
	echo "$OUT" | tail -n "${1:-15}" | sed 's/^/  | /'
}

# run NAME CMD...: CMD must exit 0; its output (both streams) in $OUT.
run() {
	_n=$1
	shift
	OUT=$("$@" 2>&1)
	_st=$?
	if [ $_st -eq 0 ]; then
		ok "$_n"
		return 0
	fi
	bad "$_n: exit $_st from: $*"
	show_out
	return 1
}

# has NAME ERE: the last command's output has a line matching ERE; that
# line is shown as evidence.
has() {
	_line=$(echo "$OUT" | grep -E -m 1 -- "$2")
	if [ -n "$_line" ]; then
		ok "$1"
		echo "  > $_line"
		return 0
	fi
	bad "$1: no line matching /$2/"
	show_out
	return 1
}

# lacks NAME ERE: no line of the last command's output matches ERE.
lacks() {
	_line=$(echo "$OUT" | grep -E -m 1 -- "$2")
	if [ -z "$_line" ]; then
		ok "$1"
		return 0
	fi
	bad "$1: unexpected line: $_line"
	return 1
}

# refuses NAME ERE CMD...: CMD must fail, saying ERE on a line (shown).
refuses() {
	_n=$1
	_re=$2
	shift 2
	OUT=$("$@" 2>&1)
	_st=$?
	if [ $_st -eq 0 ]; then
		bad "$_n: '$*' succeeded; it must refuse"
		show_out
		return 1
	fi
	has "$_n" "$_re"
}

# The pids of the mount.pmfs processes whose command line names $1.
daemon_pids() {
	for _d in /proc/[0-9]*; do
		[ -r "$_d/cmdline" ] || continue
		_c=$(tr '\0' ' ' <"$_d/cmdline" 2>/dev/null)
		case $_c in
		*mount.pmfs*" $1 "*) alive "${_d#/proc/}" && echo "${_d#/proc/}" ;;
		esac
	done
}

# Is process $1 alive (a zombie is not: its descriptors, and with them the
# device lock, are closed)?
alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# mount_bg NAME DEV DIR: mount.pmfs -v in the background, as mount(8) does;
# the daemon's pids in $DPIDS, its output in $OUT.
mount_bg() {
	run "$1" mount.pmfs -v "$2" "$3" || return 1
	DPIDS=$(daemon_pids "$2" | tr '\n' ' ')
	if [ -z "$DPIDS" ]; then
		bad "$1: no mount.pmfs process left for $2 after mounting"
		return 1
	fi
	return 0
}

# wait_gone NAME PIDS...: wait (60 s at most) until every pid has exited.
wait_gone() {
	_n=$1
	shift
	_t=0
	for _p in "$@"; do
		while alive "$_p"; do
			if [ $_t -ge 600 ]; then
				bad "$_n: process $_p still running after 60 s"
				return 1
			fi
			sleep 0.1
			_t=$((_t + 1))
		done
	done
	ok "$_n"
}

# umount_wait NAME DIR DEV: unmount, then wait for the daemon of DEV to exit
# (umount returns before the daemon has finished its clean unmount, and
# fsck.pmfs takes the device lock).
umount_wait() {
	run "$1: umount" umount "$2" || return 1
	# shellcheck disable=SC2086 # a list of pids
	wait_gone "$1: the daemon exits" $DPIDS
}

# syslog_mark: remember the end of the system log; syslog_new: what was
# logged since.
syslog_mark() {
	SYSLOG_AT=$(wc -l </var/log/messages 2>/dev/null || echo 0)
}
syslog_new() {
	tail -n "+$((SYSLOG_AT + 1))" /var/log/messages 2>/dev/null
}

finish() {
	echo "pmfs-vm: $PASS passed, $FAILS failed"
	exit "$FAILS"
}
