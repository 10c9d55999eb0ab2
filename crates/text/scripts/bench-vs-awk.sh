#!/bin/sh
# Side-by-side speed check of the text parser against awk on a generated `netstat -tan`
# listing (issue 4: at least 5x faster than
#   awk '/^tcp/ {++S[$NF]} END {for (a in S) print a, S[a]}'
# while doing the full parse into Socket values, in bounded memory).
#
# The parser alone (examples/count). The whole `tcpdoctor analyze` against awk and mawk, on a
# realistic 1 GB file with medians and peak RSS, is scripts/bench-analyze.
#
# Usage: crates/text/scripts/bench-vs-awk.sh [SIZE_MB]   (default 200)
# The file is generated in $TMPDIR (default /tmp) and deleted afterwards.
set -eu
size_mb=${1:-200}
root=$(cd "$(dirname "$0")/../../.." && pwd)
tmp=${TMPDIR:-/tmp}
file="$tmp/tcpdoctor-bench-netstat-$$.txt"
trap 'rm -f "$file"' EXIT INT TERM

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target-text}"
(cd "$root" && cargo build -q --release -p tcpdoctor-text --example count)
count="$CARGO_TARGET_DIR/release/examples/count"

echo "generating ${size_mb} MB in $file"
awk -v size="$size_mb" 'BEGIN {
    srand(1);
    split("ESTABLISHED ESTABLISHED ESTABLISHED ESTABLISHED ESTABLISHED ESTABLISHED TIME_WAIT TIME_WAIT TIME_WAIT CLOSE_WAIT FIN_WAIT2 SYN_SENT LISTEN LAST_ACK", st, " ");
    print "Active Internet connections (servers and established)";
    print "Proto Recv-Q Send-Q Local Address           Foreign Address         State      ";
    limit = size * 1024 * 1024; n = 0;
    while (n < limit) {
        s = st[int(rand() * 14) + 1];
        l = sprintf("10.%d.%d.%d:%d", int(rand()*256), int(rand()*256), int(rand()*254)+1, int(rand()*64511)+1024);
        if (s == "LISTEN") r = "0.0.0.0:*";
        else r = sprintf("192.168.%d.%d:%d", int(rand()*256), int(rand()*254)+1, int(rand()*64511)+1024);
        p = "tcp";
        if (rand() < 0.2) { p = "tcp6"; l = "::ffff:" l; r = (s == "LISTEN") ? ":::*" : "::ffff:" r }
        line = sprintf("%-5s %6d %6d %-23s %-23s %-11s", p, int(rand()*3), int(rand()*100), l, r, s);
        print line; n += length(line) + 1;
    }
}' > "$file"
ls -l "$file"

t() { /usr/bin/time -f "%e %U %S %M" "$@" 2>&1 >/dev/null | tail -1; }
best_awk=999999; best_us=999999
for i in 1 2 3; do
    a=$(t awk '/^tcp/ {++S[$NF]} END {for (a in S) print a, S[a]}' "$file")
    u=$(t "$count" "$file")
    echo "run $i: awk wall ${a%% *}s (user/sys/maxrss-KB ${a#* }) | tcpdoctor-text wall ${u%% *}s (user/sys/maxrss-KB ${u#* })"
    best_awk=$(echo "$best_awk ${a%% *}" | awk '{print ($2 < $1) ? $2 : $1}')
    best_us=$(echo "$best_us ${u%% *}" | awk '{print ($2 < $1) ? $2 : $1}')
done
"$count" "$file" 2>&1 | tail -1
echo "best of 3: awk ${best_awk}s, tcpdoctor-text ${best_us}s, ratio $(echo "$best_awk $best_us" | awk '{printf "%.1f", $1 / $2}')x"
