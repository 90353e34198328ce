#!/usr/bin/env bash
# `make fuzz` and the last step of `make test`: every fuzz target of the
# module (func FuzzXxx in a _test.go file, as the test binary's -test.list
# reports it) run with -fuzz, one after the other (a test binary fuzzes one
# target at a time), without -race. The seeds and testdata/fuzz/FuzzXxx/
# already run as plain tests (under -race in `make test`). A failing input
# is written to testdata/fuzz/FuzzXxx/ in the target's package: fix the
# reader and commit the file, it is a regular test from then on.
#
# Each package's test binary is built once, instrumented for fuzzing
# (go test -c -fuzz), and run in the package's directory for each of its
# targets, as go test -fuzz would run it.
#
# Environment:
#   FUZZTIME          time (or Nx executions) per target (default 2m)
#   FUZZBUDGET        seconds for all targets together: the time per target
#                     is cut to fit (default none; `make test` sets 180)
#   FUZZMINIMIZETIME  time (or Nx executions) to minimize an input that
#                     fails or finds new coverage (default 5s; `make test`
#                     sets 200x: its seconds are for fuzzing)
#   FUZZCACHE         "shared" (default): the corpus go test -fuzz keeps in
#                     the build cache, grown by every run; "fresh": a new
#                     one for this run (`make test`: its few seconds are not
#                     spent re-running what earlier runs found)
#   FUZZ              a regexp: only the targets it matches (default all)
#   FUZZFLAGS         more test binary flags, e.g. "-test.parallel=1"
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-2m}
FUZZBUDGET=${FUZZBUDGET:-}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
FUZZCACHE=${FUZZCACHE:-shared}
FUZZ=${FUZZ:-.}
FUZZFLAGS=${FUZZFLAGS:-}
# The fuzz targets need no servers; without this, the fuzzer's every worker
# of a package whose TestMain starts the sandbox would start one.
export OPSDECK_SKIP_INTEGRATION=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# seconds DURATION: a duration of go test's form (90s, 2m, 1m30s, 1h) in
# whole seconds; empty for an execution count (1000x).
seconds() {
	local d=$1 total=0 n unit
	[[ $d == *x ]] && return 0
	while [[ $d =~ ^([0-9]+)(h|m|s)(.*)$ ]]; do
		n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]} d=${BASH_REMATCH[3]}
		case $unit in
		h) total=$((total + n * 3600)) ;;
		m) total=$((total + n * 60)) ;;
		s) total=$((total + n)) ;;
		esac
	done
	[[ -z $d ]] || {
		echo "fuzz.sh: $1 is not a time like 10s, 2m or 1000x" >&2
		exit 2
	}
	echo "$total"
}

# Packages with a fuzz target (a cheap grep of the module's test files),
# each built once; then the targets the binary lists.
targets=()
while IFS=' ' read -r dir pkg; do
	# Skip a package none of whose targets FUZZ matches, unbuilt.
	found=
	while IFS= read -r name; do
		[[ $name =~ $FUZZ ]] && found=1
	done < <(grep -ohs '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | cut -c6-)
	[[ -n $found ]] || continue
	bin="$work/$(echo "$pkg" | tr / _).test"
	echo "fuzz.sh: building $pkg"
	$GO test -c -fuzz . -o "$bin" "$dir"
	while IFS= read -r name; do
		[[ $name == Fuzz* && $name =~ $FUZZ ]] && targets+=("$dir $pkg $bin $name")
	done < <(cd "$dir" && "$bin" -test.list '^Fuzz')
done < <($GO list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}} {{.ImportPath}}{{end}}' ./...)

if ((${#targets[@]} == 0)); then
	echo "fuzz.sh: no fuzz targets match $FUZZ"
	exit 0
fi

per=$FUZZTIME
want=$(seconds "$FUZZTIME")
if [[ -n $FUZZBUDGET && -n $want ]] && ((want * ${#targets[@]} > FUZZBUDGET)); then
	per="$((FUZZBUDGET / ${#targets[@]}))s"
	want=$((FUZZBUDGET / ${#targets[@]}))
fi
timeout=0 # no limit for an execution count: fuzzcheck panics on a hang
[[ -n $want ]] && timeout="$((want + 600))s"
seconds "$FUZZMINIMIZETIME" >/dev/null
echo "fuzz.sh: ${#targets[@]} targets, $per each"

failed=()
for t in "${targets[@]}"; do
	read -r dir pkg bin name <<<"$t"
	case $FUZZCACHE in
	shared) cache="$($GO env GOCACHE)/fuzz/$pkg" ;;
	fresh) cache="$work/cache/$pkg" ;;
	*)
		echo "fuzz.sh: FUZZCACHE is shared or fresh, not $FUZZCACHE" >&2
		exit 2
		;;
	esac
	echo "--- $name ($pkg)"
	# Go's fuzz coordinator can report a bare "context deadline exceeded"
	# at the -fuzztime boundary when a worker is slow to stop (a loaded
	# machine): no input written, nothing to reproduce (go.dev/issue/75804,
	# fixed in Go 1.27). Such a run is tried once more; a real finding
	# writes its input under testdata/fuzz/ and fails at once.
	for attempt in 1 2; do
		log="$work/$name.log"
		# shellcheck disable=SC2086 # FUZZFLAGS is a list of flags
		if (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^$name\$" -test.fuzztime "$per" \
			-test.fuzzminimizetime "$FUZZMINIMIZETIME" -test.fuzzcachedir "$cache" \
			-test.timeout "$timeout" -test.paniconexit0 $FUZZFLAGS) 2>&1 | tee "$log"; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
			break
		fi
		if [[ $attempt == 1 ]] && grep -q 'context deadline exceeded' "$log" &&
			! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"; then
			echo "fuzz.sh: $name: the fuzzing engine's deadline race (no input found), once more"
			continue
		fi
		failed+=("$name (${dir#"$root"/})")
		break
	done
done

if ((${#failed[@]} > 0)); then
	echo "fuzz.sh: failing: ${failed[*]}" >&2
	echo "fuzz.sh: each failing input is under testdata/fuzz/<target>/ in its package; fix the reader, then commit the file" >&2
	exit 1
fi
