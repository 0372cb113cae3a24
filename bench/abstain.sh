#!/usr/bin/env bash
# bench/abstain.sh measures rag's abstention floor (issue 13): it builds the
# set of bench/abstain from ../shared/datasets' SQuAD 2.0 subset (the
# paragraphs of every other article indexed; the questions of the others
# off-corpus), indexes it with ../shared/bench/fastfake standing in for the
# embedder, and runs `rag eval` in lexical and hybrid mode, which prints the
# share of off-corpus questions refused before any model is asked and of
# answerable ones refused wrongly.
#
#   make eval-abstain                  # or: bash bench/abstain.sh [rag eval flags...]
#
# Without ../shared it says so and exits 0: rag does not depend on it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=$root/../shared
squad=$shared/datasets/squad2-dev-subset/dev-v2.0-subset.json
if [[ ! -f $squad || ! -d $shared/bench/fastfake ]]; then
	echo "bench/abstain.sh: no $squad or fastfake; nothing measured." >&2
	exit 0
fi
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_env
export RAG_INDEX=$work/index

(cd "$root" && go build -o "$work/rag" ./cmd/rag && go run ./bench/abstain -squad "$squad" -o "$work/set")
start_fastfake 256
"$work/rag" index --embed-model fake-embed "$work/set/docs" >&2
cd "$work/set"
"$work/rag" eval --modes lexical,hybrid "$@" questions.yaml
