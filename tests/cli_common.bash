# Sourced by tests/cli_*.sh (argv: the cellsight binary, the fixture folder
# tests/data): a scratch folder and the checks they share.
set -uo pipefail
CLI=$1
DATA=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect_rc CODE COMMAND...: runs it with stdout in $TMP/out, stderr in $TMP/err.
expect_rc() {
    local want=$1
    shift
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "exit $rc, not $want: $* -- $(head -c 400 "$TMP/err")"
    # Under the sanitizers a finding may exit 1 too, which bad-input cases expect.
    ! grep -q "Sanitizer\|runtime error:" "$TMP/err" || fail "sanitizer finding: $* -- $(cat "$TMP/err")"
}

# A model small enough to train in a moment on the two-class fixture.
tiny_model() {
    "$CLI" train --data "$DATA/train" --arch conv8,pool,conv8,gap,dense --tile 32 --epochs 2 \
        --threads 1 --out "$1" >/dev/null 2>&1 || fail "training a tiny model"
}

# json FILE 'JS': runs JS with j = the parsed file; a thrown error fails.
json() {
    node -e "const j = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
             const check = (ok, what) => { if (!ok) throw new Error(what); };
             $2" "$1" || fail "JSON check on $1"
}

finish() {
    if [ "$failures" = 0 ]; then echo "all passed"; else echo "$failures failed"; exit 1; fi
}
