#!/bin/sh
# Seeds the fuzz corpus of `parse_text` with every output file of the conformance corpus
# (tests/fixtures/corpus of crates/text). Run from anywhere; then:
#   cargo +nightly fuzz run parse_text -- -max_total_time=60
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../crates/text/tests/fixtures/corpus"
dst="$here/corpus/parse_text"
mkdir -p "$dst"
tail -n +2 "$src/EXPECTED.tsv" | cut -f1 | sort -u | while read -r p; do
    # A leading selector byte 0x0b (11): format detection (see fuzz_targets/parse_text.rs).
    { printf '\013'; cat "$src/$p"; } > "$dst/$(echo "$p" | tr '/' '_')"
done
echo "seeded $(ls "$dst" | wc -l) inputs into $dst"
