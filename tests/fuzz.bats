#!/usr/bin/env bats
# The fuzz tool's own tests (tests/tools/fuzz, make fuzz: tests/fuzz/README.md):
# the solutions fuzz clean; copies of the lab02 solution with a mistake
# planted are reported in words, with the input in hex and a replay that
# works; the skeleton is reported as not written yet. The tests that fuzz
# skip, saying why, where clang has no libFuzzer.

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# Seconds of fuzzing per harness: short, the mistakes planted here are found
# in the first second.
SECONDS_PER_HARNESS=5
# Seconds a whole fuzz run may take: two builds, two harnesses, shrinking a
# finding, on a busy 2-core machine (about 25 s on a quiet one).
FUZZ_BOUND=240

setup() {
    bats_load_library bats-support
    bats_load_library bats-assert
    bats_require_minimum_version 1.5.0
    ROOT=$BATS_TEST_TMPDIR/root # the student's copy
    mkdir -p "$ROOT"
    unset LAB STUDENT_ROOT FUZZ_HARNESS FUZZ_WORK FUZZ_CC VALGRIND SANITIZE
    export FUZZ_SECONDS=$SECONDS_PER_HARNESS
}

# needs_libfuzzer: skips the test, saying why, where clang cannot build a
# libFuzzer program.
needs_libfuzzer() {
    local probe=$BATS_TEST_TMPDIR/probe
    command -v clang >/dev/null || skip "clang is absent (sudo apt-get install clang libclang-rt-dev)"
    mkdir -p "$probe"
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' >"$probe/p.c"
    clang -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" 2>/dev/null ||
        skip "clang here has no libFuzzer (sudo apt-get install libclang-rt-dev)"
}

# student_lab02 [FILE OLD NEW]: puts in $ROOT/lab02-encoding a copy of the
# solution's lab02, with the line OLD of FILE replaced by NEW (a mistake).
student_lab02() {
    local dir=$ROOT/lab02-encoding
    mkdir -p "$dir"
    cp "$REPO/solutions/lab02-encoding"/*.[ch] "$REPO/solutions/lab02-encoding/Makefile" "$dir/"
    if (($# == 3)); then
        grep -qxF -- "$2" "$dir/$1" || fail "the solution's $1 has no line '$2' any more: update this test"
        OLD=$2 NEW=$3 awk '$0 == ENVIRON["OLD"] { print ENVIRON["NEW"]; next } { print }' \
            "$dir/$1" >"$dir/$1.new"
        mv "$dir/$1.new" "$dir/$1"
    fi
    ls -A "$dir" >"$BATS_TEST_TMPDIR/files-before"
}

# fuzz_run [VAR=VALUE...]: the fuzz tool with that environment (run's
# output and status), bounded.
fuzz_run() {
    local start=$SECONDS
    run --separate-stderr timeout -k 5 "$FUZZ_BOUND" env "$@" "$REPO/tests/tools/fuzz"
    echo "# fuzz took $((SECONDS - start)) s" >&3
}

# assert_plain: no sanitizer or libFuzzer dump in what the tool printed.
assert_plain() {
    refute_output --partial "==ERROR"
    refute_output --partial "deadly signal"
    refute_output --partial "SUMMARY: "
    refute_output --regexp '#[0-9]+ 0x[0-9a-f]+ in '
}

# assert_sources_untouched: the student's folder holds what it held.
assert_sources_untouched() {
    ls -A "$ROOT/lab02-encoding" >"$BATS_TEST_TMPDIR/files-after"
    diff "$BATS_TEST_TMPDIR/files-before" "$BATS_TEST_TMPDIR/files-after" ||
        fail "the fuzz tool left files next to the student's sources"
}

# replay_command: the "replay it:" command the tool printed, as words in REPLAY.
replay_command() {
    local line
    line=$(grep -m 1 '^  replay it: ' <<<"$output") || fail "no 'replay it:' line"
    read -ra REPLAY <<<"${line#  replay it: }"
}

@test "make fuzz: the solutions fuzz clean, each harness for FUZZ_SECONDS" {
    needs_libfuzzer
    local start=$SECONDS
    run --separate-stderr timeout -k 5 "$FUZZ_BOUND" make -s -C "$REPO" fuzz FUZZ_SECONDS=$SECONDS_PER_HARNESS
    echo "# make fuzz took $((SECONDS - start)) s" >&3
    assert_success
    assert_line --regexp "^fuzz: solutions/lab02-encoding: linebuf.c utf8.c, $SECONDS_PER_HARNESS s each"
    assert_line --regexp '^== linebuf.c against a plain line splitter'
    assert_line --regexp '^== utf8.c against a second decoder'
    # Both harnesses ran and say how far they got into the lab's code.
    [[ $(grep -cE "^  clean: [0-9]+ inputs in $SECONDS_PER_HARNESS s" <<<"$output") == 2 ]] ||
        fail "expected a 'clean:' line for each harness"
    [[ $(grep -cE "^  reached [0-9]+ of [0-9]+ branches of the lab's code" <<<"$output") == 2 ]] ||
        fail "expected a coverage line for each harness"
    assert_equal "${lines[-1]}" "fuzz: clean (linebuf utf8, $SECONDS_PER_HARNESS s each)"
}

# replay_build NAME: the harnesses with replay_main (no libFuzzer: gcc)
# against the lab02 in ROOT, into BATS_TEST_TMPDIR/NAME.
replay_build() {
    run make -s -C "$REPO/tests/fuzz" replay CC=gcc SRC="$ROOT/lab02-encoding" BUILD="$BATS_TEST_TMPDIR/$1"
    assert_success
}

@test "fuzz: every input of tests/fuzz/regressions passes on the solution and fails on the mistake it was found with (gcc, no libFuzzer)" {
    command -v gcc >/dev/null || skip "gcc is absent"
    local harness input
    student_lab02
    replay_build good
    for harness in utf8 linebuf; do
        for input in "$REPO/tests/fuzz/regressions/$harness"/*; do
            run timeout -k 5 60 "$BATS_TEST_TMPDIR/good/replay_$harness" "$input"
            ((status == 0)) || fail "the solution fails regression $harness/${input##*/}: $output"
        done
    done
    # Two of the mistakes that left these inputs, planted again: caught.
    student_lab02 utf8.c '    { 0xF4, 0xF4, 0x80, 0x8F, 4 },  /* U+100000..U+10FFFF (F4 90..BF: too big) */' \
        '    { 0xF4, 0xF4, 0x80, 0xBF, 4 },'
    replay_build above
    run timeout -k 5 60 "$BATS_TEST_TMPDIR/above/replay_utf8" "$REPO/tests/fuzz/regressions/utf8/above-10ffff"
    assert_failure
    assert_output --partial "above U+10FFFF"
    student_lab02 linebuf.c "    if (line_len > 0 && lb->data[end - 1] == '\\r')" '    if (0)'
    replay_build cr
    run timeout -k 5 60 "$BATS_TEST_TMPDIR/cr/replay_linebuf" "$REPO/tests/fuzz/regressions/linebuf/cr-kept"
    assert_failure
    assert_output --partial 'a "\r" right before "\n" is not part of the line'
}

@test "fuzz LAB=02: a utf8_check that accepts F4 90.. (above U+10FFFF) is reported in words, the input in hex, a replay that works" {
    needs_libfuzzer
    student_lab02 utf8.c '    { 0xF4, 0xF4, 0x80, 0x8F, 4 },  /* U+100000..U+10FFFF (F4 90..BF: too big) */' \
        '    { 0xF4, 0xF4, 0x80, 0xBF, 4 },'
    fuzz_run LAB=02 STUDENT_ROOT="$ROOT" FUZZ_WORK="$BATS_TEST_TMPDIR/work"
    assert_failure 1
    assert_line --regexp '^  clean: [0-9]+ inputs' # the line reader, untouched
    assert_line --regexp '^  FOUND after [0-9]+ inputs:$'
    assert_line --regexp "^  your utf8_check accepts (.* )?F4 [9AB][0-9A-F] .*, which is invalid at byte [0-9]+: F4 [9AB][0-9A-F] starts a code point above U\+10FFFF"
    assert_line --regexp '^  the input, [0-9]+ bytes?: .*F4 [9AB][0-9A-F]'
    assert_line --partial "fuzz: 1 finding, in utf8"
    assert_plain
    assert_sources_untouched

    # The replay explains it again; once the mistake is fixed, it passes.
    replay_command
    [[ ${REPLAY[*]} == "LAB=02 STUDENT_ROOT=$ROOT tests/tools/fuzz --replay $BATS_TEST_TMPDIR/work/utf8-finding" ]] ||
        fail "unexpected replay command: ${REPLAY[*]}"
    run --separate-stderr timeout -k 5 "$FUZZ_BOUND" env LAB=02 STUDENT_ROOT="$ROOT" \
        "$REPO/tests/tools/fuzz" --replay "$BATS_TEST_TMPDIR/work/utf8-finding"
    assert_failure 1
    assert_line --regexp "^  your utf8_check accepts .*above U\+10FFFF"
    cp "$REPO/solutions/lab02-encoding/utf8.c" "$ROOT/lab02-encoding/utf8.c"
    run --separate-stderr timeout -k 5 "$FUZZ_BOUND" env LAB=02 STUDENT_ROOT="$ROOT" \
        "$REPO/tests/tools/fuzz" --replay "$BATS_TEST_TMPDIR/work/utf8-finding"
    assert_success
    assert_line --partial "passes: your utf8 code agrees with the oracle on this input"
}

@test "fuzz LAB=02: a line reader that keeps the \\r before \\n is reported with the line, the stream and the rule" {
    needs_libfuzzer
    student_lab02 linebuf.c "    if (line_len > 0 && lb->data[end - 1] == '\\r')" '    if (0)'
    fuzz_run LAB=02 STUDENT_ROOT="$ROOT" FUZZ_HARNESS=linebuf FUZZ_WORK="$BATS_TEST_TMPDIR/work"
    assert_failure 1
    assert_line --regexp '^  your linebuf hands out ".*\\r" \([0-9]+ bytes?\) as result [0-9]+; expected ".*" \([0-9]+ bytes?\)$'
    assert_line '    a "\r" right before "\n" is not part of the line (README step 2)'
    assert_line --regexp '^    the stream: .*\\r\\n'
    assert_line --regexp '^    written in (one piece|pieces of .*), read with '
    assert_line --regexp "^  the input \([0-9]+ bytes?, the harness's format: tests/fuzz/README.md\): [0-9A-F ]+"
    assert_plain
    assert_sources_untouched
}

@test "fuzz LAB=02: a reader right on the whole stream but wrong when it is cut is reported with the cut" {
    needs_libfuzzer
    # The "\r" is looked for only among the bytes of the last recv().
    student_lab02 linebuf.c "    if (line_len > 0 && lb->data[end - 1] == '\\r')" \
        "    if (end > lb->scanned && lb->data[end - 1] == '\\r')"
    fuzz_run LAB=02 STUDENT_ROOT="$ROOT" FUZZ_HARNESS=linebuf FUZZ_WORK="$BATS_TEST_TMPDIR/work"
    assert_failure 1
    assert_line '    a "\r" right before "\n" is not part of the line (README step 2)'
    assert_line '    (written in one piece and read with linebuf_next(), the same stream gives the right results)'
    assert_line --regexp '^    written in pieces of [0-9]+.* \(a piece each time the reader asks for more\), read with '
    assert_plain
}

@test "fuzz LAB=02: a reader that crashes (compaction forgets scanned) is named with the function and line, the stream in words" {
    needs_libfuzzer
    student_lab02 linebuf.c '    lb->scanned -= lb->start;' ''
    fuzz_run LAB=02 STUDENT_ROOT="$ROOT" FUZZ_HARNESS=linebuf FUZZ_WORK="$BATS_TEST_TMPDIR/work"
    assert_failure 1
    assert_line --regexp '^  a (crash|memory error) \(AddressSanitizer\): '
    assert_line --regexp '^    in [a-z_]+ \(linebuf\.c:[0-9]+\)$'
    assert_line --regexp '^    the stream .* \([0-9]+ bytes?\), written in '
    # (libFuzzer's own report stays in its log.)
    refute_output --regexp '#[0-9]+ 0x[0-9a-f]+ in '
}

@test "fuzz LAB=02: the skeleton is reported as not written yet, step by step, without a crash dump" {
    needs_libfuzzer
    mkdir -p "$ROOT/lab02-encoding"
    cp "$REPO/lab02-encoding"/*.[ch] "$ROOT/lab02-encoding/"
    ls -A "$ROOT/lab02-encoding" >"$BATS_TEST_TMPDIR/files-before"
    fuzz_run LAB=02 STUDENT_ROOT="$ROOT"
    assert_failure 1
    assert_line --regexp '^  not written yet: TODO step 1: .*linebuf_fill'
    assert_line --regexp '^  not written yet: TODO step 4: .*utf8_check'
    assert_equal "${lines[-1]}" "fuzz: not written yet: linebuf.c (step 1), utf8.c (step 4); nothing could be fuzzed"
    assert_plain
    refute_output --partial "FOUND"
    assert_sources_untouched
}

@test "fuzz: usage errors exit 2 with a message (an unknown argument, FUZZ_SECONDS, FUZZ_HARNESS, LAB=01, a missing file)" {
    run --separate-stderr timeout -k 5 30 "$REPO/tests/tools/fuzz" --bogus
    assert_failure 2
    [[ $stderr == *"unknown argument: --bogus"* ]] || fail "stderr: $stderr"
    run --separate-stderr timeout -k 5 30 env FUZZ_SECONDS=soon "$REPO/tests/tools/fuzz"
    assert_failure 2
    [[ $stderr == *"FUZZ_SECONDS=soon: give a whole number of seconds"* ]] || fail "stderr: $stderr"
    run --separate-stderr timeout -k 5 30 env FUZZ_HARNESS=net "$REPO/tests/tools/fuzz"
    assert_failure 2
    [[ $stderr == *"FUZZ_HARNESS=net: use linebuf, utf8 or all"* ]] || fail "stderr: $stderr"
    run --separate-stderr timeout -k 5 30 env LAB=01 "$REPO/tests/tools/fuzz"
    assert_failure 2
    [[ $stderr == *"fuzzing covers lab02's line reader and UTF-8 module only"* ]] || fail "stderr: $stderr"
    run --separate-stderr timeout -k 5 30 env LAB=02 STUDENT_ROOT="$ROOT" "$REPO/tests/tools/fuzz"
    assert_failure 2
    [[ $stderr == *"$ROOT/lab02-encoding/linebuf.c: no such file"* ]] || fail "stderr: $stderr"
    run --separate-stderr timeout -k 5 30 "$REPO/tests/tools/fuzz" --replay "$ROOT/nothing"
    assert_failure 2
    run --separate-stderr timeout -k 5 30 "$REPO/tests/tools/fuzz" --help
    assert_success
    assert_line --regexp '^  FUZZ_SECONDS +seconds of fuzzing per harness'
}

@test "fuzz: without clang and libFuzzer it says how to install them, exit 2" {
    run --separate-stderr timeout -k 5 30 env FUZZ_CC="$BATS_TEST_TMPDIR/no-such-clang" "$REPO/tests/tools/fuzz"
    assert_failure 2
    [[ $stderr == *"no-such-clang is not installed"* ]] || fail "stderr: $stderr"
    [[ $stderr == *"sudo apt-get install clang libclang-rt-dev"* ]] || fail "stderr: $stderr"
    # A compiler that cannot link libFuzzer (gcc: no -fsanitize=fuzzer).
    if command -v gcc >/dev/null; then
        run --separate-stderr timeout -k 5 60 env FUZZ_CC=gcc "$REPO/tests/tools/fuzz"
        assert_failure 2
        [[ $stderr == *"gcc cannot link a libFuzzer program"* ]] || fail "stderr: $stderr"
    fi
}
