# Shared by the bench scripts that measure quality with ../shared/bench's
# fastfake standing in for the embedder: source it after setting root and
# shared.

# bench_env makes the scratch folder $work (removed on exit, with fastfake
# stopped) and clears the caller's RAG_* settings and config: only the
# settings a script chooses count.
bench_env() {
	work=$(mktemp -d)
	trap 'kill "${ff_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
	for v in $(compgen -e); do
		if [[ $v == RAG_* ]]; then unset "$v"; fi
	done
	export XDG_CONFIG_HOME=$work/config
}

# start_fastfake DIM builds and starts fastfake with vectors of DIM and
# points OLLAMA_HOST at it.
start_fastfake() {
	(cd "$shared/bench/fastfake" && go build -o "$work/fastfake" .)
	"$work/fastfake" -dim "$1" >"$work/ff.port" &
	ff_pid=$!
	for _ in $(seq 100); do
		if [[ -s $work/ff.port ]]; then break; fi
		sleep 0.1
	done
	export OLLAMA_HOST=127.0.0.1:$(head -1 "$work/ff.port")
}
