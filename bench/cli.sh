#!/usr/bin/env bash
# bench/cli.sh: rag end to end beside the speed limits of this machine (issue 11).
#
# Builds rag, a deterministic corpus (bench/corpus) and the two references in
# ../shared/bench (rawscan: one read of a float32 vector file plus a brute-force
# scan on every core; fastfake: a fast stand-in Ollama), then times, as separate
# processes with the page cache warm:
#
#   full `rag index`                      once; chunks/s (the embedder is fastfake)
#   no-op `rag index`                     beside reading the corpus once (cat)
#   one edited file, then `rag index`     beside rawscan over the same chunks
#   one renamed file, then `rag index`    beside rawscan
#   cold `rag search --json` per mode     beside rawscan
#   rawscan alone
#
# and the large files of issue 23 (BENCH_LARGE_MB, BENCH_BIG_MB; 0 skips):
#
#   a line appended to a 20 MB text file, `rag index`   beside its full index
#   a line inserted after line 3, `rag index`           beside its full index
#   index a 200 MB text file beside 50 small ones       beside reading it (cat)
#   cold `rag search` per mode, the 200 MB file there    beside the same search
#                                                       without it (50 files)
#   `rag show big.txt:1000-1002`                        beside a small file's
#                                                       lines, without it
#
# Each fast row is the median of BENCH_RUNS runs, rag and its reference taken
# in turns so a noisy machine slows both alike. It prints a Markdown table
# (chunks | operation | rag s | reference | ref s | ratio | rag peak RSS MB;
# MB are MiB throughout) and the machine it ran on on stdout; progress goes
# to stderr, rag's own output to WORK/run/log.
#
#   make bench-cli                        # 10,000 files (~380 MB), a few minutes
#   BENCH_FILES=1000 bench/cli.sh         # a quick run
#
# Settings (environment): BENCH_FILES (10000), BENCH_FILE_BYTES (38000),
# BENCH_DIM (768), BENCH_RUNS (3), BENCH_LARGE_MB (20), BENCH_BIG_MB (200),
# BENCH_SHARED (the references, ../shared/bench beside the checkout),
# BENCH_WORK (folder for the binaries, the
# cached corpus and vector file and the run's index; default
# ${XDG_CACHE_HOME:-~/.cache}/rag-bench). Linux only (peak RSS from rusage).
# Without ../shared/bench it says so and exits 0: rag does not depend on it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${BENCH_SHARED:-$root/../shared/bench}
if [[ ! -d $shared/rawscan || ! -d $shared/fastfake ]]; then
	echo "bench/cli.sh: no reference tools in $shared (rawscan, fastfake); nothing measured." >&2
	exit 0
fi

files=${BENCH_FILES:-10000}
file_bytes=${BENCH_FILE_BYTES:-38000}
dim=${BENCH_DIM:-768}
runs=${BENCH_RUNS:-3}
work=${BENCH_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/rag-bench}
query="how does the index merge segments after an edit"

note() { printf 'bench: %s\n' "$*" >&2; }

mkdir -p "$work/bin"
work=$(cd "$work" && pwd)
bin=$work/bin
run=$work/run # this run's corpus copy, index and timings
rm -rf "$run"
mkdir -p "$run/t"
log=$run/log
: >"$log"

# Only the settings chosen here: no user config, no RAG_* from the caller.
for v in $(compgen -e); do
	if [[ $v == RAG_* ]]; then unset "$v"; fi
done
export XDG_CONFIG_HOME=$run/config RAG_INDEX=$run/index
cd "$run" # no project .rag.yaml above this folder

note "building rag, the corpus generator, timeit, fastfake and rawscan into $bin"
(cd "$root" && go build -o "$bin/rag" ./cmd/rag && go build -o "$bin/corpus" ./bench/corpus &&
	go build -o "$bin/timeit" ./bench/timeit)
(cd "$shared/fastfake" && go build -o "$bin/fastfake" .)
(cd "$shared/rawscan" && go build -o "$bin/rawscan" .)

# The corpus is cached by its size and the generator's source, and copied for
# each run because the edit and rename rows change it.
gen=$(sha256sum "$root/bench/corpus/main.go" | cut -c1-12)
pristine=$work/corpus-$files-$file_bytes-$gen
if [[ ! -f $pristine/.complete ]]; then
	note "generating $files files of about $file_bytes bytes into $pristine"
	rm -rf "$pristine"
	"$bin/corpus" -n "$files" -size "$file_bytes" -o "$pristine"
	touch "$pristine/.complete"
fi
corpus=$run/corpus
cp -r "$pristine" "$corpus"
rm "$corpus/.complete"
corpus_mb=$(du -sm "$corpus" | cut -f1)

"$bin/fastfake" -dim "$dim" >"$run/fastfake.port" 2>>"$log" &
fastfake_pid=$!
trap 'kill "$fastfake_pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM # the EXIT trap stops fastfake
for _ in $(seq 100); do
	if [[ -s $run/fastfake.port ]]; then break; fi
	sleep 0.1
done
OLLAMA_HOST=127.0.0.1:$(head -1 "$run/fastfake.port")
export OLLAMA_HOST

# measure NAME CMD...: runs CMD under timeit, appending "SECONDS MB CPU" to
# $run/t/NAME; CMD's output goes to the log.
measure() {
	local name=$1
	shift
	if ! "$bin/timeit" -o "$run/t/$name" -- "$@" >>"$log" 2>&1; then
		note "failed: $*; the end of $log:"
		tail -n 20 "$log" >&2
		exit 1
	fi
}
# median NAME COLUMN: the median of column 1 (seconds) or 2 (MB) of NAME.
median() {
	sort -n -k"$2,$2" "$run/t/$1" | awk -v c="$2" '{v[NR] = $c} END {print v[int((NR + 1) / 2)]}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "—"}'; }
rawscan() { measure "$1" "$bin/rawscan" -n "$chunks" -d "$dim" -f "$vecs"; }
read_corpus() { measure "$1" sh -c 'find "$1" -type f -print0 | xargs -0 cat >/dev/null' sh "$corpus"; }
embedded() { grep -oE '[0-9]+ chunks? embedded' "$log" | tail -n 1 | cut -d' ' -f1; }

rows=()
# row CHUNKS OPERATION RAG_NAME REFERENCE REF_NAME: one table row from the
# medians of the timings RAG_NAME and REF_NAME ("" for none).
row() {
	local rag_s=— ref_s=— rss=— r=—
	if [[ -n $3 ]]; then rag_s=$(median "$3" 1) rss=$(median "$3" 2); fi
	if [[ -n $5 ]]; then ref_s=$(median "$5" 1); fi
	if [[ -n $3 && -n $5 ]]; then r=$(ratio "$rag_s" "$ref_s"); fi
	rows+=("| $1 | $2 | $rag_s | $4 | $ref_s | $r | $rss |")
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# cpu_s PID: the CPU seconds (user and system) process PID has used so far.
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }

note "full rag index of $corpus ($corpus_mb MB)"
ff_before=$(cpu_s "$fastfake_pid")
measure full "$bin/rag" index --embed-model fake-embed "$corpus"
ff_cpu=$(awk -v a="$ff_before" -v b="$(cpu_s "$fastfake_pid")" 'BEGIN {printf "%.1f", b - a}')
chunks=$("$bin/rag" status --json | jq -r .chunks)
per_s=$(awk -v c="$chunks" -v s="$(median full 1)" 'BEGIN {printf "%d", c / s}')
rag_cpu=$(median full 3)
row "$chunks" "full \`rag index\` ($files files, $per_s chunks/s)" full — ""

# rawscan's vector file, N = the index's chunks, cached like the corpus.
vecs=$work/vecs-$chunks-$dim.bin
if [[ ! -f $vecs ]]; then
	note "generating rawscan's $chunks x $dim vectors"
	"$bin/rawscan" -gen -n "$chunks" -d "$dim" -o "$vecs.tmp"
	mv "$vecs.tmp" "$vecs"
fi
# Warm the page cache for both references (rag's index is warm from writing it).
"$bin/rawscan" -n "$chunks" -d "$dim" -f "$vecs" >>"$log"
find "$corpus" -type f -print0 | xargs -0 cat >/dev/null

note "no-op rag index"
for i in $(seq "$runs"); do
	measure noop "$bin/rag" index
	read_corpus cat
done
row "$chunks" "no-op \`rag index\` (nothing changed)" noop "read the corpus once (cat)" cat

note "one edited file"
edited=$corpus/d000/doc00000.md
for i in $(seq "$runs"); do
	printf '\nAn added paragraph for bench run %d: the river bridge carries the index\nversion over the harbour in winter, and the report measures its speed.\n' "$i" >>"$edited"
	measure edit "$bin/rag" index
	rawscan rawscan-edit
done
row "$chunks" "one edited file, \`rag index\` ($(embedded) chunks embedded)" edit rawscan rawscan-edit

note "one renamed file"
renamed=$corpus/d000/doc00001.md
for i in $(seq "$runs"); do
	mv "$renamed" "$corpus/d000/doc00001-renamed$i.md"
	renamed=$corpus/d000/doc00001-renamed$i.md
	measure rename "$bin/rag" index
	rawscan rawscan-rename
done
row "$chunks" "one renamed file, \`rag index\` ($(embedded) chunks embedded)" rename rawscan rawscan-rename

for mode in dense hybrid lexical; do
	note "cold rag search --mode $mode"
	for i in $(seq "$runs"); do
		measure "search-$mode" "$bin/rag" search --json --mode "$mode" "$query"
		rawscan "rawscan-$mode"
	done
	row "$chunks" "cold \`rag search --json --mode $mode\`" "search-$mode" rawscan "rawscan-$mode"
done

cat "$run"/t/rawscan-* >"$run/t/rawscan"
vec_mb=$(awk -v n="$chunks" -v d="$dim" 'BEGIN {printf "%d", n * d * 4 / 1048576}')
rows+=("| $chunks | rawscan alone, all its runs (raw vectors $vec_mb MB; RSS is rawscan's) | — | rawscan | $(median rawscan 1) | — | $(median rawscan 2) |")

# large_file MB OUT: the corpus's files concatenated (as often as needed),
# cut to MB megabytes (10^6 bytes), cached like the corpus.
large_file() {
	if [[ -f $2 ]]; then return; fi
	local reps=$(($1 / (corpus_mb > 0 ? corpus_mb : 1) + 1))
	for _ in $(seq "$reps"); do
		find "$pristine" -type f -name '*.md' -print0 | sort -z | xargs -0 cat 2>/dev/null
	done | head -c $(($1 * 1000000)) >"$2.tmp" || true # head stops the loop early
	mv "$2.tmp" "$2"
}
# status_chunks INDEX: its chunk count.
status_chunks() { RAG_INDEX=$1 "$bin/rag" status --json | jq -r .chunks; }

large_mb=${BENCH_LARGE_MB:-20}
if ((large_mb > 0)); then
	note "a $large_mb MB text file: full index, then a line appended and a line inserted near the top"
	large_file "$large_mb" "$work/large-$large_mb-$gen.txt"
	mkdir -p "$run/large"
	cp "$work/large-$large_mb-$gen.txt" "$run/large/big.txt"
	export RAG_INDEX=$run/index-large
	measure large-full "$bin/rag" index --embed-model fake-embed --max-size 300000000 "$run/large"
	lchunks=$(status_chunks "$RAG_INDEX")
	for i in $(seq "$runs"); do
		printf 'A line appended for bench run %d: the harbour report measures its speed.\n' "$i" >>"$run/large/big.txt"
		measure large-append "$bin/rag" index
	done
	row "$lchunks" "a line appended to a $large_mb MB text file, \`rag index\` ($(embedded) chunks embedded)" large-append "its full \`rag index\`" large-full
	for i in $(seq "$runs"); do
		sed -i "3a A line inserted for bench run $i near the top of the file." "$run/large/big.txt"
		measure large-insert "$bin/rag" index
	done
	row "$lchunks" "a line inserted after line 3, \`rag index\` ($(embedded) chunks embedded)" large-insert "its full \`rag index\`" large-full
fi

big_mb=${BENCH_BIG_MB:-200}
if ((big_mb > 0)); then
	note "a $big_mb MB text file beside 50 small ones: index, searches and show, beside the 50 alone"
	large_file "$big_mb" "$work/large-$big_mb-$gen.txt"
	mkdir -p "$run/big" "$run/small"
	find "$pristine" -type f -name '*.md' | sort | head -n 50 | xargs -I{} cp {} "$run/small/"
	cp "$run/small/"* "$run/big/"
	cp "$work/large-$big_mb-$gen.txt" "$run/big/big.txt"
	cat "$run/big/big.txt" >/dev/null # warm, as the corpus is
	measure big-cat cat "$run/big/big.txt"
	RAG_INDEX=$run/index-big measure big-index "$bin/rag" index --embed-model fake-embed --max-size 300000000 "$run/big"
	RAG_INDEX=$run/index-small measure small-index "$bin/rag" index --embed-model fake-embed "$run/small"
	bchunks=$(status_chunks "$run/index-big")
	schunks=$(status_chunks "$run/index-small")
	big_cpu=$(median big-index 3)
	row "$bchunks" "index a $big_mb MB text file beside 50 small ones ($(awk -v c="$big_cpu" -v n="$bchunks" 'BEGIN {printf "%.0f", c / n * 1e6}') µs of CPU a chunk)" big-index "read the file once (cat)" big-cat
	small_file=$(find "$run/small" -type f | sort | head -n 1)
	for i in $(seq "$runs"); do
		for mode in dense hybrid lexical; do
			RAG_INDEX=$run/index-big measure "big-$mode" "$bin/rag" search --json --mode "$mode" "$query"
			RAG_INDEX=$run/index-small measure "small-$mode" "$bin/rag" search --json --mode "$mode" "$query"
		done
		RAG_INDEX=$run/index-big measure big-show "$bin/rag" show "$run/big/big.txt:1000-1002"
		RAG_INDEX=$run/index-small measure small-show "$bin/rag" show "$small_file:10-12"
	done
	for mode in dense hybrid lexical; do
		row "$bchunks" "cold \`rag search --json --mode $mode\`, the $big_mb MB file indexed" "big-$mode" "the same without it ($schunks chunks)" "small-$mode"
	done
	row "$bchunks" "\`rag show big.txt:1000-1002\`" big-show "\`rag show\` of 3 lines of a small file, without it" small-show
fi

commit=$(git -C "$root" rev-parse --short HEAD)
if [[ -n $(git -C "$root" status --porcelain) ]]; then commit="$commit (with uncommitted changes)"; fi
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/^MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo)

echo "| chunks | operation | rag s | reference | ref s | ratio | rag peak RSS MB |"
echo "|---:|---|---:|---|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "- corpus: $files files, $corpus_mb MB, $chunks chunks of $dim dimensions; medians of $runs runs (full index: one run)"
echo "- full index CPU: rag $rag_cpu s ($(awk -v c="$rag_cpu" -v n="$chunks" 'BEGIN {printf "%.0f", c / n * 1e6}') µs a chunk), the stand-in $ff_cpu s ($(awk -v c="$ff_cpu" -v n="$chunks" 'BEGIN {printf "%.0f", c / n * 1e6}') µs a chunk), on $(nproc) cores"
echo "- machine: $(nproc) cores ($cpu), $mem memory, $(uname -sr)"
echo "- load average (1, 5, 15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $(go version)"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $commit"
