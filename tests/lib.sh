# What the shell tests share. Each test starts with
#   . "$(dirname "$0")/lib.sh" "$@"
# (ctest gives $1 = the veil program, $2 = the test's scratch folder) and then has:
#   $veil        the program
#   $tmp         the scratch folder, new and empty; removed when the test passes (a failed
#                test leaves it for a look)
#   fail MSG     the verdict: print FAILED: MSG and exit 1
#   tiny_corpus DIR SPEAKERS SECONDS [SEED]   a synthetic corpus, half the speakers female
#   tiny_model CORPUS METHOD [veil train options]   a model trained on it: G = 5, St = 2,
#                one epoch, seed 5, one thread, fp32, -q unless the options say otherwise
#                (a later option wins), printing what veil train prints
# The test sets its own shell options (most: set -euo pipefail).
veil=$1
tmp=$2
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'test_status=$?; [ "$test_status" -ne 0 ] || rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
# fontconfig (under cairo's text, in the figures) leaves parts of its configuration
# unreachable at exit: that is the library's, not ours
echo "leak:libfontconfig.so" > "$tmp/lsan.supp"
export LSAN_OPTIONS="suppressions=$tmp/lsan.supp:print_suppressions=0"

tiny_corpus() {
    "$veil" corpus synth --out "$1" --speakers "$2" --female $(($2 / 2)) --seconds "$3" --seed "${4:-1}" \
        --threads 1 >/dev/null
}

tiny_model() {
    local corpus=$1 method=$2
    shift 2
    "$veil" train --corpus "$corpus" --method "$method" --groups 5 --st 2 --epochs 1 --seed 5 --threads 1 \
        --precision fp32 -q "$@"
}
