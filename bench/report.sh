#!/bin/sh
# bench/report.sh - turn the harness's raw figures into the Markdown report:
# medians per peer, per-round ratios pmfs/peer, a one-line summary per
# workload, the engine and mount/fsck figures, and the targets
# marked met / missed / n/a.  Every figure is "higher is better" except
# mount, fsck (seconds) and RSS (KiB).
#
#   bench/report.sh RAW.tsv NOTES.tsv > report.md
#
# RAW.tsv lines: round<TAB>peer<TAB>workload<TAB>value[<TAB>extra...]
# (value "n/a" when a run failed); NOTES.tsv lines: key<TAB>text.
set -eu
[ $# -eq 2 ] || { echo "usage: bench/report.sh RAW.tsv NOTES.tsv" >&2; exit 2; }

awk -F'\t' '
function fmt(v) {
	if (v == "" || v == "n/a") return "n/a"
	v += 0
	if (v >= 100 || v <= -100) return sprintf("%.0f", v)
	if (v >= 10) return sprintf("%.1f", v)
	return sprintf("%.2f", v)
}
# median of the n values in a[1..n] ("" when n == 0)
function median(a, n,    i, j, t) {
	if (n == 0) return ""
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function med(peer, wl,    r, n, a) {
	n = 0
	for (r = 1; r <= maxround; r++)
		if ((peer SUBSEP wl SUBSEP r) in val && val[peer, wl, r] != "n/a")
			a[++n] = val[peer, wl, r] + 0
	return median(a, n)
}
# per-round ratios num/den as "a / b / c", median in rmed
function ratios(num, den, wl,    r, s, n, a, x) {
	s = ""; n = 0
	for (r = 1; r <= maxround; r++) {
		if (!((num SUBSEP wl SUBSEP r) in val) ||
		    !((den SUBSEP wl SUBSEP r) in val) ||
		    val[num, wl, r] == "n/a" || val[den, wl, r] == "n/a" ||
		    val[den, wl, r] + 0 == 0)
			continue
		x = val[num, wl, r] / val[den, wl, r]
		a[++n] = x
		s = s (s == "" ? "" : " / ") sprintf("%.2f", x)
	}
	rmed = median(a, n)
	return s
}
function label(wl,    n, op) {
	if (wl in LABEL) return LABEL[wl]
	if (wl ~ /^meta[0-9]+_/) {
		n = wl; sub(/^meta/, "", n); sub(/_.*/, "", n)
		op = wl; sub(/^meta[0-9]+_/, "", op)
		return OPLABEL[op] ", dir of " n
	}
	return wl
}
function unit(wl) {
	if (wl ~ /^rr|^rw/) return "IOPS"
	if (wl ~ /1m$/) return "MiB/s"
	if (wl ~ /readdir$/ || wl == "untar" || wl == "rmrf") return "entries/s"
	return "ops/s"
}
# numeric keys of src, ascending, into dst[1..n]; returns n
function sortkeys(src, dst,    k, n) {
	n = 0
	for (k in src) dst[++n] = k + 0
	median(dst, n)
	return n
}
function have(peer) { return (peer in seenpeer) }
# target line: num/peer median for wl against bound (num: pmfs unless
# given); extra: text after the figure
function target(text, wl, peer, bound, num, extra,    s) {
	if (num == "") num = "pmfs"
	if (!have(num) || !have(peer)) { print "| " text " | n/a | " num " or " peer " not measured |"; return }
	s = ratios(num, peer, wl)
	if (rmed == "") { print "| " text " | n/a | no data |"; return }
	printf "| %s | %s | median %.2fx (rounds %s)%s |\n", text,
		(rmed >= bound ? "met" : "missed"), rmed, s, extra
}
# a floor target: against the multi-threaded floor, the single-threaded
# floor median beside it
function ftarget(text, wl, bound,    s, st) {
	st = ""
	if (have("floor") && have("pmfs")) {
		s = ratios("pmfs", "floor", wl)
		if (rmed != "") st = sprintf("; single-threaded floor %.2fx", rmed)
	}
	target(text " >= " bound "x FUSE floor (multi-threaded)", wl,
		have("floor-mt") ? "floor-mt" : "floor", bound, "pmfs", st)
}
BEGIN {
	split("floor passthrough ext4 tmpfs pmfs pmfs-wb pmfs-uring floor-mt", PEERS, " ")
	npeers = 8
	NAME["floor"] = "FUSE floor"; NAME["passthrough"] = "passthrough_ll"
	NAME["floor-mt"] = "FUSE floor, multi-threaded"
	NAME["ext4"] = "ext4 (loop)"; NAME["tmpfs"] = "tmpfs"; NAME["pmfs"] = "pmfs"
	NAME["pmfs-wb"] = "pmfs -o writeback"
	NAME["pmfs-uring"] = "pmfs -o io_uring"
	LABEL["rw4k1"] = "4 KiB random write, 1 job"
	LABEL["rw4k2"] = "4 KiB random write, 2 jobs"
	LABEL["rw4kfsync"] = "4 KiB random write + fsync each"
	LABEL["rw4kend"] = "4 KiB random write, one fsync at the end (timed)"
	LABEL["rr4k"] = "4 KiB random read, buffered"
	LABEL["rr4kdirect"] = "4 KiB random read, O_DIRECT"
	LABEL["sw1m"] = "1 MiB sequential write"
	LABEL["sr1m"] = "1 MiB sequential read"
	LABEL["untar"] = "tar -x of the tree"
	LABEL["rmrf"] = "rm -rf of the tree"
	OPLABEL["create"] = "create"; OPLABEL["stat"] = "stat (warm)"
	OPLABEL["readdir"] = "readdir (whole dir)"; OPLABEL["unlink"] = "unlink"
	OPLABEL["mkdir"] = "mkdir"; OPLABEL["rmdir"] = "rmdir"
	OPLABEL["cwrite"] = "create + write 4 KiB + close"
	OPLABEL["rename"] = "rename over existing"
	OPLABEL["tarstep"] = "untar step (create, write 1 KiB, fchmod, futimens, close)"
	nops = split("create stat readdir unlink mkdir rmdir cwrite rename tarstep", OPS, " ")
	maxround = 0; nwl = 0
}
FILENAME == ARGV[1] {
	if ($2 == "raw" || $2 == "engine") { X[$2, $3] = $0; if ($2 == "engine") eng = 1; next }
	if ($3 ~ /^(rss_kib|mount_clean|mount_crash|fsck)_/) { MF[$3] = $4; next }
	val[$2, $3, $1] = $4
	if ($1 > maxround) maxround = $1
	if ($4 != "n/a") seenpeer[$2] = 1
	if (!($3 in seenwl)) { seenwl[$3] = 1; WL[++nwl] = $3 }
	if ($3 ~ /^meta[0-9]+_/) { n = $3; sub(/^meta/, "", n); sub(/_.*/, "", n); SIZES[n] = 1 }
	next
}
# a note repeated per round is kept once
!(($1, $2) in SEEN) { SEEN[$1, $2] = 1; t = (($1 in NOTE) ? NOTE[$1] "; " : "") $2; NOTE[$1] = t }
END {
	print "# pmfs benchmarks: " NOTE["date"] " on " NOTE["host"]
	print ""
	print "Kernel " NOTE["kernel"] "; " NOTE["cpu"] "; " NOTE["fio"] "."
	print "Parameters: " NOTE["params"] "; tree: " NOTE["tree"] "; the whole run took " NOTE["duration"] "."
	print ""
	print "**Absolute numbers are noisy** (a shared 2-CPU virtual machine):"
	print "they are medians over the rounds, to be compared only within this"
	print "run.  Peers run interleaved (A B C D E, A B C D E, ...), each on a"
	print "fresh filesystem every round; the ratios pmfs/peer are per round."
	print ""
	print "Peers:"
	print "- **FUSE floor** (bench/fusefloor.c, single-threaded loop): low-level"
	print "  libfuse daemon that keeps only names, types and sizes, stores no data,"
	print "  answers open/fsync/flush with ENOSYS (never sent again) and caches"
	print "  entries, negative entries and attributes for a day."
	print "- **passthrough_ll**: libfuse 3.14 example over a tmpfs folder, default"
	print "  options (cache=auto, 1 s timeouts, multi-threaded)."
	print "- **ext4**: 2 GiB image in /dev/shm on a loop device, default mount"
	print "  options (ordered journal; fsync does real journal work)."
	print "- **tmpfs**: plain tmpfs."
	printf "- **pmfs**: "
	if ("pmfs_status" in NOTE) print NOTE["pmfs_status"] "."
	else print "image in /dev/shm, PMFS_FORCE_CACHE_LINE=1, flush path: " \
		(("pmfs_flush" in NOTE) ? NOTE["pmfs_flush"] : "unknown") "."
	print "- **pmfs -o writeback** (pmfs-wb): the same, with the kernel writeback"
	print "  cache: buffered writes durable at fsync, as on ext4."
	if (have("pmfs-uring") || ("pmfs-uring_status" in NOTE))
		print "- **pmfs -o io_uring** (pmfs-uring): the same, requests served" \
			" from FUSE-over-io_uring rings (enable_uring set to Y for the run)."
	for (i = 1; i <= npeers; i++)
		if ((PEERS[i] "_status") in NOTE && PEERS[i] != "pmfs")
			print "- " NAME[PEERS[i]] ": " NOTE[PEERS[i] "_status"]
	nf = 0
	for (i = 1; i <= npeers; i++)
		if ((PEERS[i] "_fail") in NOTE) {
			if (!nf++) { print ""; print "Failures (their figures are n/a):" }
			print "- " NAME[PEERS[i]] ": " NOTE[PEERS[i] "_fail"]
		}
	print ""

	print "## Medians"
	print ""
	hdr = "| workload | unit |"; sep = "|---|---|"
	for (i = 1; i <= npeers; i++) { hdr = hdr " " NAME[PEERS[i]] " |"; sep = sep "---:|" }
	print hdr; print sep
	for (w = 1; w <= nwl; w++) {
		line = "| " label(WL[w]) " | " unit(WL[w]) " |"
		for (i = 1; i <= npeers; i++) {
			p = PEERS[i]
			line = line " " (have(p) ? fmt(med(p, WL[w])) : "n/a") " |"
		}
		print line
	}
	print ""

	print "## Ratios pmfs / peer, per round (median in brackets)"
	print ""
	print "| workload | pmfs/floor | pmfs/passthrough_ll | pmfs/ext4 | pmfs/tmpfs |"
	print "|---|---|---|---|---|"
	for (w = 1; w <= nwl; w++) {
		line = "| " label(WL[w]) " |"
		for (i = 1; i <= 4; i++) {
			s = (have("pmfs") && have(PEERS[i])) ? ratios("pmfs", PEERS[i], WL[w]) : ""
			line = line " " (s == "" ? "n/a" : s " (" sprintf("%.2f", rmed) ")") " |"
		}
		print line
	}
	print ""

	if (have("pmfs") && have("pmfs-uring")) {
		print "## pmfs -o io_uring / pmfs (libfuse loop on /dev/fuse), per round (median in brackets)"
		print ""
		print "| workload | io_uring/classic |"
		print "|---|---|"
		for (w = 1; w <= nwl; w++) {
			s = ratios("pmfs-uring", "pmfs", WL[w])
			print "| " label(WL[w]) " | " (s == "" ? "n/a" : s " (" sprintf("%.2f", rmed) ")") " |"
		}
		print ""
	}

	print "## pmfs -o writeback, per round (median in brackets)"
	print ""
	print "| workload | pmfs-wb/pmfs | pmfs-wb/ext4 |"
	print "|---|---|---|"
	for (w = 1; w <= nwl; w++) {
		line = "| " label(WL[w]) " |"
		split("pmfs ext4", DEN, " ")
		for (i = 1; i <= 2; i++) {
			s = (have("pmfs-wb") && have(DEN[i])) ? ratios("pmfs-wb", DEN[i], WL[w]) : ""
			line = line " " (s == "" ? "n/a" : s " (" sprintf("%.2f", rmed) ")") " |"
		}
		print line
	}
	print ""

	print "## Peers relative to the FUSE floor (median of per-round ratios)"
	print ""
	print "| workload | passthrough_ll/floor | ext4/floor | tmpfs/floor |"
	print "|---|---:|---:|---:|"
	for (w = 1; w <= nwl; w++) {
		line = "| " label(WL[w]) " |"
		for (i = 2; i <= 4; i++) {
			s = (have("floor") && have(PEERS[i])) ? ratios(PEERS[i], "floor", WL[w]) : ""
			line = line " " (s == "" ? "n/a" : sprintf("%.2f", rmed)) " |"
		}
		print line
	}
	print ""

	print "## Summary per workload"
	print ""
	for (w = 1; w <= nwl; w++) {
		best = ""; bv = -1; s = ""
		for (i = 1; i <= npeers; i++) {
			p = PEERS[i]; m = have(p) ? med(p, WL[w]) : ""
			if (m != "" && m > bv) { bv = m; best = p }
		}
		if (have("floor") && have("passthrough")) {
			ratios("passthrough", "floor", WL[w])
			if (rmed != "") s = s sprintf("; passthrough_ll %.2fx the floor", rmed)
		}
		if (have("ext4") && have("floor")) {
			ratios("ext4", "floor", WL[w])
			if (rmed != "") s = s sprintf("; ext4 %.2fx the floor", rmed)
		}
		if (have("pmfs")) {
			ratios("pmfs", "floor", WL[w]); x = rmed
			ratios("pmfs", "ext4", WL[w])
			s = s sprintf("; pmfs %sx the floor, %sx ext4", fmt(x), fmt(rmed))
		} else s = s "; pmfs n/a"
		printf "- %s: fastest %s (%s %s)%s.\n", label(WL[w]),
			(best == "" ? "n/a" : NAME[best]), fmt(bv < 0 ? "" : bv), unit(WL[w]), s
	}
	print ""

	print "## In-process engine (no FUSE) and the raw libpmem2 limit"
	print ""
	if ("raw" in NOTE) print "Raw limit: " NOTE["raw"] "."
	else {
		print "Raw limit (bench/rawpmem.c: libpmem2 on a /dev/shm mapping with"
		print "cache-line granularity forced, so real flushes and SFENCE run):"
		print ""
		print "| operation | ops/s | ns/op | MiB/s |"
		print "|---|---:|---:|---:|"
		split("copy4k:4 KiB memcpy_fn (non-temporal) + drain,copy4k_p:4 KiB memcpy_fn NOFLUSH + one persist_fn,copy1m:1 MiB memcpy_fn + drain,store64_p:64 B store + one persist_fn", R, ",")
		for (i = 1; i in R; i++) {
			k = R[i]; d = k; sub(/:.*/, "", k); sub(/^[^:]*:/, "", d)
			if (("raw" SUBSEP k) in X) {
				split(X["raw", k], f, "\t")
				printf "| %s | %s | %s | %s |\n", d, fmt(f[4]), fmt(f[5]), fmt(f[6])
			}
		}
	}
	print ""
	if (eng) {
		print "Engine (bench/engine.c on src/fs/fs.h, one thread, names in one"
		print "directory, 64 MiB file; flush path " NOTE["engine_flush"] "):"
		print ""
		print "| operation | ops/s | fences/op | flushes/op | bytes/op |"
		print "|---|---:|---:|---:|---:|"
		split("create lookup rename unlink mkdir rmdir create2 create_mt_shared create_mt_private append4k write4k read4k write1m", E, " ")
		for (i = 1; i in E; i++)
			if (("engine" SUBSEP E[i]) in X) {
				split(X["engine", E[i]], f, "\t")
				printf "| %s | %s | %s | %s | %s |\n", E[i], fmt(f[4]), f[5], f[6], f[7]
			}
		if ("engine_note" in NOTE) print "\nNote: " NOTE["engine_note"] "."
		if ("engine_error" in NOTE) print "\n**" NOTE["engine_error"] "**"
	} else
		print "Engine: " (("engine" in NOTE) ? NOTE["engine"] : "n/a") "."
	print ""

	print "## pmfs mount, fsck and daemon RSS"
	print ""
	nm = 0
	for (k in MF) nm++
	if (nm == 0) print "n/a: " (("mountfsck" in NOTE) ? NOTE["mountfsck"] : "not run") "."
	else {
		print "| files | clean mount (s) | mount after crash (s) | fsck -f -n (s) | daemon RSS (MiB) |"
		print "|---:|---:|---:|---:|---:|"
		for (k in MF) { n = k; sub(/^.*_/, "", n); MFN[n] = 1 }
		nk = sortkeys(MFN, MK)
		for (j = 1; j <= nk; j++) {
			n = MK[j]
			printf "| %s | %s | %s | %s | %s |\n", n,
				fmt(MF["mount_clean_" n]), fmt(MF["mount_crash_" n]),
				fmt(MF["fsck_" n]),
				(("rss_kib_" n) in MF && MF["rss_kib_" n] != "n/a") ? fmt(MF["rss_kib_" n] / 1024) : "n/a"
		}
		if ("mountfsck" in NOTE) print "\nNote: " NOTE["mountfsck"]
	}
	print ""

	print "## Targets (from the issue)"
	print ""
	print "| target | status | figure |"
	print "|---|---|---|"
	nsz = sortkeys(SIZES, SZ)
	ftarget("4 KiB random write, 1 job", "rw4k1", 0.9)
	for (j = 1; j <= nsz; j++) {
		split("create unlink mkdir rename", FO, " ")
		for (i = 1; i in FO; i++)
			ftarget(OPLABEL[FO[i]] " (dir of " SZ[j] ")",
				"meta" SZ[j] "_" FO[i], 0.9)
		ftarget(OPLABEL["tarstep"] " (dir of " SZ[j] ")",
			"meta" SZ[j] "_tarstep", 0.8)
	}
	ftarget("tar -x of the tree", "untar", 0.8)
	ftarget("rm -rf of the tree", "rmrf", 0.9)
	target("4 KiB write + fsync >= 3x ext4", "rw4kfsync", "ext4", 3)
	for (j = 1; j <= nsz; j++)
		target("stat, warm cache (dir of " SZ[j] ") >= 0.9x ext4", "meta" SZ[j] "_stat", "ext4", 0.9)
	target("-o writeback: 4 KiB buffered random writes, closing fsync timed, >= 0.5x ext4",
		"rw4kend", "ext4", 0.5, "pmfs-wb")
	target("-o writeback: tar -x >= 0.15x ext4", "untar", "ext4", 0.15, "pmfs-wb")
	if (eng && ("engine" SUBSEP "write4k") in X && ("raw" SUBSEP "copy4k_p") in X) {
		split(X["engine", "write4k"], f, "\t"); a = f[4]
		split(X["raw", "copy4k_p"], f, "\t"); b = f[4]
		printf "| engine 4 KiB overwrite >= 0.8x raw copy+persist | %s | %s vs %s ops/s (%.2fx) |\n",
			(a >= 0.8 * b ? "met" : "missed"), fmt(a), fmt(b), a / b
	} else print "| engine 4 KiB overwrite >= 0.8x raw copy+persist | n/a | " (("engine" in NOTE) ? NOTE["engine"] : "no figure") " |"
	split("create:first pass on a fresh image|create2:again, on blocks and memory used before", EC, "|")
	for (i = 1; i in EC; i++) {
		split(EC[i], g, ":")
		if (eng && ("engine" SUBSEP g[1]) in X) {
			split(X["engine", g[1]], f, "\t")
			printf "| engine create >= 400k/s (%s) | %s | %s ops/s |\n", g[2], (f[4] >= 400000 ? "met" : "missed"), fmt(f[4])
		} else print "| engine create >= 400k/s (" g[2] ") | n/a | " (("engine" in NOTE) ? NOTE["engine"] : "no figure") " |"
	}
	split("mount_clean_1000000:mount of 1M files, clean < 0.5 s:0.5|mount_crash_1000000:mount of 1M files after crash < 2 s:2|fsck_1000000:fsck of 1M files < 5 s:5", T, "|")
	for (i = 1; i in T; i++) {
		split(T[i], f, ":")
		if ((f[1] in MF) && MF[f[1]] != "n/a")
			printf "| %s | %s | %s s |\n", f[2], (MF[f[1]] + 0 < f[3] + 0 ? "met" : "missed"), fmt(MF[f[1]])
		else print "| " f[2] " | n/a | not measured |"
	}
}' "$1" "$2"
