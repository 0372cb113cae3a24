#!/usr/bin/env bash
# bench/abstainfit.sh fits and cross-validates rag's abstention floor over
# every question set of ../shared/datasets (issue 26): for the SQuAD 2.0
# subset and XQuAD in de, es, ru, zh and ar it builds bench/abstain's
# half-indexed split, indexes it (../shared/bench/fastfake standing in for
# the embedder), writes each question's signals (bench/abstainfit
# features) and runs `abstainfit fit`, which prints each fold's refused
# and wrongly refused shares per language (split by article) and the cuts
# that pkg/retrieve's coverageScale holds.
#
#   bash bench/abstainfit.sh [abstainfit fit flags, e.g. -only 1]
#
# Without ../shared it says so and exits 0: rag does not depend on it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${RAG_BENCH_SHARED:-$root/../shared}
d=$shared/datasets
if [[ ! -d $d/xquad || ! -d $shared/bench/fastfake ]]; then
	echo "bench/abstainfit.sh: no $d/xquad or fastfake; nothing measured." >&2
	exit 0
fi
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_env
(cd "$root" && go build -o "$work/rag" ./cmd/rag && go build -o "$work/abstain" ./bench/abstain && go build -o "$work/abstainfit" ./bench/abstainfit)
start_fastfake 256
sets=(en:$d/squad2-dev-subset/dev-v2.0-subset.json)
for l in de es ru zh ar; do sets+=("$l:$d/xquad/xquad.$l.json"); done
for s in "${sets[@]}"; do
	n=${s%%:*} f=${s#*:}
	"$work/abstain" -squad "$f" -o "$work/$n/set"
	RAG_INDEX=$work/$n/index "$work/rag" index --embed-model fake-embed "$work/$n/set/docs" >/dev/null
	"$work/abstainfit" features -squad "$f" -index "$work/$n/index" -set "$n" >"$work/$n.tsv"
done
"$work/abstainfit" fit -max 0.035 "$@" "$work"/{en,de,es,ru,zh,ar}.tsv
