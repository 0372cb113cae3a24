#!/usr/bin/env bash
# rag serve under load on loopback (issue 21): an index of about 100,000
# chunks of 768 dimensions (bench/corpus, embedded by ../shared/bench's
# fastfake), served by `rag serve`, searched by bench/serveload with 1, 8
# and 64 clients in each mode, bounded in count and time. Then Recall@10 of
# dense search against an exact scan of every vector, and the server beyond
# saturation: more clients than --max-in-flight (503) and more requests
# than --rate allows (429). The tables go to stdout, progress to stderr.
#
#   make bench-serve                      # about 100,000 chunks, a few minutes
#   BENCH_FILES=500 bench/serve.sh        # a quick run (about 11,000 chunks)
#
# Settings (environment): BENCH_FILES (4525), BENCH_REQUESTS (500 a mode and
# client count), BENCH_WORK (as bench/cli.sh's). Linux only (RSS from /proc).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=$root/../shared/bench
if [[ ! -d $shared/fastfake ]]; then
	echo "bench/serve.sh: no fastfake in $shared; nothing measured." >&2
	exit 0
fi
files=${BENCH_FILES:-4525}
requests=${BENCH_REQUESTS:-500}
work=${BENCH_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/rag-bench}
note() { printf 'bench: %s\n' "$*" >&2; }

for v in $(compgen -e); do
	if [[ $v == RAG_* ]]; then unset "$v"; fi
done
mkdir -p "$work/bin"
work=$(cd "$work" && pwd)
bin=$work/bin
run=$work/serve
rm -rf "$run"
mkdir -p "$run"
export XDG_CONFIG_HOME=$run/config
cd "$run"

note "building rag, the corpus generator, serveload and fastfake into $bin"
(cd "$root" && go build -o "$bin/rag" ./cmd/rag && go build -o "$bin/corpus" ./bench/corpus &&
	go build -o "$bin/serveload" ./bench/serveload)
(cd "$shared/fastfake" && go build -o "$bin/fastfake" .)

gen=$(sha256sum "$root/bench/corpus/main.go" | cut -c1-12)
corpus=$work/corpus-$files-38000-$gen
if [[ ! -f $corpus/.complete ]]; then
	note "generating $files files into $corpus"
	rm -rf "$corpus"
	"$bin/corpus" -n "$files" -size 38000 -o "$corpus"
	touch "$corpus/.complete"
fi

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
"$bin/fastfake" -dim 768 >"$run/fastfake.port" 2>"$run/fastfake.log" &
pids+=($!)
for _ in $(seq 100); do
	if [[ -s $run/fastfake.port ]]; then break; fi
	sleep 0.1
done
export OLLAMA_HOST=127.0.0.1:$(head -1 "$run/fastfake.port")

note "indexing $corpus"
"$bin/rag" index --index "$run/index" "$corpus" >"$run/index.log" 2>&1
chunks=$("$bin/rag" status --index "$run/index" --json | sed -n 's/^  "chunks": \([0-9]*\),$/\1/p')

# serve PORT FLAGS...: starts rag serve on PORT and waits until it answers.
serve() {
	local port=$1
	shift
	"$bin/rag" serve --index "$run/index" --addr "127.0.0.1:$port" "$@" >>"$run/serve.log" 2>&1 &
	server=$!
	pids+=("$server")
	for _ in $(seq 100); do
		if ! kill -0 "$server" 2>/dev/null; then break; fi # port taken, or another failure
		if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then return; fi
		sleep 0.1
	done
	note "rag serve did not start; see $run/serve.log"
	exit 1
}
stop() { kill "$server" && wait "$server" 2>/dev/null || true; }

echo "## rag serve, $chunks chunks of 768 dimensions"
echo
echo "Below saturation: \`rag serve --max-in-flight 64 --rate 0\`, $requests searches (k=10) a row, after 50 unmeasured ones a mode."
echo
serve 18391 --max-in-flight 64 --rate 0
"$bin/serveload" -addr 127.0.0.1:18391 -corpus "$corpus" -pid "$server" -requests "$requests" \
	-index "$run/index" -models "$OLLAMA_HOST"
echo
echo "The same server, warm, then 3,000 more hybrid searches from 8 clients: its resident memory over them."
echo
"$bin/serveload" -addr 127.0.0.1:18391 -corpus "$corpus" -pid "$server" -requests 3000 -max-time 5m -modes hybrid -clients 8 -warm 0 -seed 3
stop

echo
echo "Beyond saturation: 64 clients against the default \`--max-in-flight 16\` (503 with Retry-After), then 8 clients against \`--rate 120\` a minute (429 with Retry-After)."
echo
serve 18392 --rate 0
"$bin/serveload" -addr 127.0.0.1:18392 -corpus "$corpus" -pid "$server" -requests "$requests" -modes hybrid -clients 64 -warm 0
stop
serve 18393 --rate 120
"$bin/serveload" -addr 127.0.0.1:18393 -corpus "$corpus" -pid "$server" -requests 300 -modes lexical -clients 8 -warm 0 | tail -n 1
stop
echo
echo "- machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$root" rev-parse --short HEAD)"
