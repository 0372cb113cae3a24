#!/usr/bin/env bash
# bench/classicir.sh measures rag's keyword ranking on collections it was
# never tuned on (issue 26): `rag eval --modes lexical` on each of
# ../shared/datasets/classic-ir (CACM, NPL, LISA, TIME) and the SQuAD 2.0
# subset, beside plain BM25's nDCG@10 from classic-ir/README.md, and their
# mean. ../shared/bench/fastfake stands in for the embedder (the index
# needs one; lexical mode never asks it).
#
#   bash bench/classicir.sh [rag eval flags...]
#
# Without ../shared it says so and exits 0: rag does not depend on it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${RAG_BENCH_SHARED:-$root/../shared}
d=$shared/datasets
if [[ ! -d $d/classic-ir || ! -d $shared/bench/fastfake ]]; then
	echo "bench/classicir.sh: no $d/classic-ir or fastfake; nothing measured." >&2
	exit 0
fi
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_env
(cd "$root" && go build -o "$work/rag" ./cmd/rag)
start_fastfake 256
# Plain BM25 (classic-ir/README.md; the SQuAD subset's: README, Languages).
declare -A bm25=([cacm]=0.3713 [npl]=0.3697 [lisa]=0.4122 [time]=0.6966 [squad]=0.877)
printf '%-6s %8s %8s\n' set rag bm25
sum=0 ref=0
for c in cacm npl lisa time squad; do
	src=$d/classic-ir/$c
	if [[ $c == squad ]]; then src=$d/squad2-dev-subset/beir; fi
	got=$("$work/rag" eval --json --embed-model fake-embed --corpus-index "$work/$c" --modes lexical "$@" "$src" |
		python3 -c 'import json, sys; print("%.4f" % json.load(sys.stdin)["retrieval"][0]["ndcg@10"])')
	printf '%-6s %8s %8s\n' "$c" "$got" "${bm25[$c]}"
	if [[ $c != squad ]]; then
		sum=$(python3 -c "print($sum + $got)") ref=$(python3 -c "print($ref + ${bm25[$c]})")
	fi
done
python3 -c "print('mean4  %8.4f %8.4f' % ($sum / 4, $ref / 4))"
