#!/usr/bin/env bats
# The student tools' own tests (tests/tools/: make check, hint, diff, watch,
# memcheck), on prepared labs: copies of the reference solutions with a
# typical mistake planted (tests/fixtures/*.patch), or the skeletons.
# make test runs them in its plain pass.

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# Seconds: make check LAB=NN on a lab with a mistake. It takes 6 to 12 s on
# a quiet 2-core machine (the aim is 20 s at most); the bound leaves room
# for a busy machine but not for a run that fails to stop at the first
# failing step.
CHECK_BOUND=30

setup_file() {
    make -s -C "$REPO/tests/helpers" >/dev/null
}

setup() {
    bats_load_library bats-support
    bats_load_library bats-assert
    bats_require_minimum_version 1.5.0
    ROOT=$BATS_TEST_TMPDIR/root # the student's copy of the repository
    mkdir -p "$ROOT"
    export STUDENT_ROOT=$ROOT
    unset LAB STEP LEVEL ALL MINE VALGRIND SANITIZE
    export HINT_LANG=en # whatever the locale (the French tests say HINT_LANG=fr)
}

teardown() {
    if [[ -n ${WATCH_PID:-} ]]; then
        kill -TERM -- "-$WATCH_PID" 2>/dev/null || true
        wait "$WATCH_PID" 2>/dev/null || true
    fi
}

# student_lab FROM LAB [PATCH]: puts in $ROOT/LAB the sources of FROM/LAB
# (solutions or the skeleton: the repository's root), with
# tests/fixtures/PATCH.patch applied.
student_lab() {
    local from=$1 lab=$2 patch=${3:-}
    mkdir -p "$ROOT/$lab"
    cp "$from/$lab"/*.c "$from/$lab/Makefile" "$ROOT/$lab/"
    cp "$from/$lab"/*.h "$ROOT/$lab/" 2>/dev/null || true
    if [[ -n $patch ]]; then
        patch -s -p1 -d "$ROOT" <"$REPO/tests/fixtures/$patch.patch"
    fi
}

# check_timed LAB: make check LAB=LAB on $ROOT (run's output and status),
# its time in seconds in CHECK_SECONDS.
check_timed() {
    local start=$SECONDS
    run timeout -k 5 120 env LAB="$1" "$REPO/tests/tools/check"
    CHECK_SECONDS=$((SECONDS - start))
    echo "# make check LAB=$1 took ${CHECK_SECONDS} s" >&3
}

# first_hint LAB STEP: the first line of the step's hint 1, from the manifest.
first_hint() {
    # shellcheck source=tests/tools/manifest.bash
    source "$REPO/tests/tools/manifest.bash"
    manifest_load "$REPO/$1/steps.txt"
    head -n 1 <<<"${STEP_HINT1[$2]}"
}

# assert_names_step LAB STEP: check's output names STEP as the lab's first
# failing step, shows its first hint, and ends saying to work on it.
assert_names_step() {
    local lab=$1 step=$2 hint
    hint=$(first_hint "$lab" "$step")
    assert_equal "$status" 1
    assert_line --partial "$lab: step $step fails"
    assert_line --partial "$hint"
    [[ ${lines[-1]} == "Next: $lab step $step "* ]] ||
        fail "the last line does not send the student to step $step: ${lines[-1]}"
    ((CHECK_SECONDS <= CHECK_BOUND)) ||
        fail "make check took $CHECK_SECONDS s, more than $CHECK_BOUND s"
}

@test "check: lab01 with steps 1-4 written and no htons() is sent back to step 2, with its hint" {
    student_lab "$REPO/solutions" lab01-blocking lab01-no-htons
    check_timed 01
    assert_names_step lab01-blocking 2
    assert_line --partial "bind: Address already in use"
}

@test "check: lab01 whose server never prints its listening line: step 3, called a timeout, fast" {
    student_lab "$REPO/solutions" lab01-blocking lab01-no-listening-line
    check_timed 01
    assert_names_step lab01-blocking 3
    assert_line --regexp 'listening on port N.*within [0-9]+ s|timeout'
}

@test "check: lab01 that keeps the \\r before \\n: step 5, with what was expected and what came" {
    student_lab "$REPO/solutions" lab01-blocking lab01-keeps-cr
    check_timed 01
    assert_names_step lab01-blocking 5
    assert_line --partial "test:   step 5 (recv): a \\r before \\n is stripped"
    assert_line --partial "expected: \$'received: hello\\nreceived: world'"
    assert_line --partial "got:      \$'received: hello\\r\\nreceived: world\\r'"
}

@test "check: lab02 whose reader loses a partial line is sent to step 1 (the fill), with its hint" {
    student_lab "$REPO/solutions" lab02-encoding lab02-loses-partial-line
    check_timed 02
    assert_names_step lab02-encoding 1
    # The fixture leaves compact_buffer() unused: the warning is shown.
    assert_line --regexp '^  1 compiler warning:'
    # (gcc and clang word it differently.)
    assert_line --regexp "compact_buffer.{1,3} defined but not used|unused function .{1,3}compact_buffer"
}

@test "check: the lab01 skeleton is sent to step 1; the table and the last line say so; exit 1" {
    student_lab "$REPO" lab01-blocking
    check_timed 01
    assert_names_step lab01-blocking 1
    assert_line --regexp '^lab01-blocking +[0-9]+/[0-9]+ +to do +step 1: '
    assert_line "    (more: make hint LAB=01 STEP=1)"
    assert_line --regexp "^  README: lab01-blocking/README.md, section \"Step 1 — "
    refute_output --partial "make: ***"
}

@test "check: a lab that does not build shows the compiler's error and says to fix it first" {
    student_lab "$REPO/solutions" lab01-blocking
    printf 'int broken(void) { return }\n' >>"$ROOT/lab01-blocking/server.c"
    check_timed 01
    assert_equal "$status" 1
    assert_line --regexp '^    server\.c:[0-9]+:[0-9]+: error: '
    assert_line --regexp '^lab01-blocking does not build: fix the first error above'
}

@test "check: a complete lab is done (exit 0); ALL=1 runs every step; .progress remembers it" {
    student_lab "$REPO/solutions" lab01-blocking
    ALL=1 check_timed 01
    assert_success
    assert_line --regexp '^lab01-blocking +([0-9]+)/\1 +done'
    refute_line --partial 'FAILS'
    assert_equal "$(cat "$ROOT/lab01-blocking/.progress")" "next done"
}

@test "memcheck: a leak is named with its size and the source line that allocated it" {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    student_lab "$REPO/solutions" lab01-blocking lab01-leak
    run timeout -k 5 600 env LAB=01 MEMCHECK=1 "$REPO/tests/tools/check"
    assert_failure
    assert_line --partial "Valgrind memcheck, lab01-blocking:"
    assert_line --regexp 'the server .* is not clean under Valgrind'
    assert_line --regexp '^    leak: .* definitely lost, allocated at .*\(server\.c:[0-9]+\)$'
    assert_line --regexp '^  seen in [0-9]+ tests?:$'
    assert_line --regexp '^    - step [0-9]+ \('
}

@test "hint: three levels for every step of every lab, one more at each call, then the last again" {
    local lab step level
    source "$REPO/tests/tools/manifest.bash"
    for lab in "$REPO"/lab0*-*/; do
        lab=$(basename "$lab")
        mkdir -p "$ROOT/$lab"
        manifest_load "$REPO/$lab/steps.txt"
        for ((step = 1; step <= STEP_COUNT; step++)); do
            local -a hints=("" "${STEP_HINT1[step]}" "${STEP_HINT2[step]}" "${STEP_HINT3[step]}")
            [[ ${hints[1]} != "${hints[2]}" && ${hints[2]} != "${hints[3]}" ]] ||
                fail "$lab step $step: two hint levels are the same"
            for level in 1 2 3 3; do
                run env LAB="${lab:3:2}" STEP="$step" "$REPO/tests/tools/hint"
                assert_success
                assert_line "Hint $level of 3, $(case $level in 1) echo a nudge ;; 2) echo the calls ;; 3) echo the recipe ;; esac):"
                assert_output --partial "$(sed 's/^/  /' <<<"${hints[level]}")"
            done
        done
    done
}

@test "hint: without STEP it gives the step make check named last; LEVEL=1 starts again" {
    student_lab "$REPO" lab01-blocking
    printf 'next 3\n' >"$ROOT/lab01-blocking/.progress"
    run env LAB=01 "$REPO/tests/tools/hint"
    assert_line --partial "lab01-blocking, step 3:"
    assert_line "Hint 1 of 3, a nudge:"
    run env LAB=01 "$REPO/tests/tools/hint"
    assert_line "Hint 2 of 3, the calls:"
    run env LAB=01 LEVEL=1 "$REPO/tests/tools/hint"
    assert_line "Hint 1 of 3, a nudge:"
    run env LAB=01 STEP=99 "$REPO/tests/tools/hint"
    assert_failure
    assert_output --partial "STEP=99: lab01-blocking has steps 1 to"
}

# french_heading LAB STEP: the "## " heading of the step in the lab's
# README.fr.md (without the "## "), found by its "Étape N" start.
french_heading() {
    sed -n "s/^## \(Étape $2 .*\)/\1/p" "$REPO/$1/README.fr.md"
}

@test "hint: in French (HINT_LANG=fr) for every step of every lab, with the French README's section" {
    local lab step level heading
    source "$REPO/tests/tools/manifest.bash"
    for lab in "$REPO"/lab0*-*/; do
        lab=$(basename "$lab")
        mkdir -p "$ROOT/$lab"
        manifest_load "$REPO/$lab/steps.txt"
        local -a english=("${STEP_HINT1[@]}")
        MANIFEST_LANG=fr manifest_load "$REPO/$lab/steps.txt"
        for ((step = 1; step <= STEP_COUNT; step++)); do
            local -a hints=("" "${STEP_HINT1[step]}" "${STEP_HINT2[step]}" "${STEP_HINT3[step]}")
            [[ ${hints[1]} != "${english[step - 1]}" ]] || fail "$lab step $step: hint 1 has no French version"
            heading=$(french_heading "$lab" "$step")
            [[ -n $heading ]] || fail "$lab/README.fr.md has no heading \"## Étape $step ...\""
            for level in 1 2 3; do
                run env HINT_LANG=fr LAB="${lab:3:2}" STEP="$step" LEVEL="$level" "$REPO/tests/tools/hint"
                assert_success
                assert_line "$lab, étape $step : ${STEP_TITLE[step]}"
                assert_line "(README.fr.md, section \"$heading\")"
                assert_line "Indice $level sur 3, $(case $level in 1) echo un coup de pouce ;; 2) echo les appels ;; 3) echo la recette ;; esac) :"
                assert_output --partial "$(sed 's/^/  /' <<<"${hints[level]}")"
            done
        done
    done
}

@test "hint: a French locale gives French, HINT_LANG=en English whatever the locale, another HINT_LANG an error" {
    mkdir -p "$ROOT/lab01-blocking"
    unset HINT_LANG
    run env LC_ALL= LC_MESSAGES= LANG=fr_FR.UTF-8 LAB=01 STEP=2 LEVEL=1 "$REPO/tests/tools/hint"
    assert_success
    assert_line "Indice 1 sur 3, un coup de pouce :"
    run env LC_ALL=fr_CA.UTF-8 LANG=en_US.UTF-8 LAB=01 STEP=2 LEVEL=1 "$REPO/tests/tools/hint"
    assert_line "Indice 1 sur 3, un coup de pouce :"
    run env HINT_LANG=en LANG=fr_FR.UTF-8 LAB=01 STEP=2 LEVEL=1 "$REPO/tests/tools/hint"
    assert_line "Hint 1 of 3, a nudge:"
    assert_line '(README.md, section "Step 2 — Give it a port (`bind`)")'
    run env LC_ALL= LC_MESSAGES= LANG=C.UTF-8 LAB=01 STEP=2 LEVEL=1 "$REPO/tests/tools/hint"
    assert_line "Hint 1 of 3, a nudge:"
    run env HINT_LANG=de LAB=01 STEP=2 "$REPO/tests/tools/hint"
    assert_failure
    assert_output --partial "HINT_LANG=de: use HINT_LANG=fr"
}

@test "check: HINT_LANG=fr speaks French (the steps, the table, the last line); what the programs print stays English" {
    local hint heading
    student_lab "$REPO" lab01-blocking
    # (In the C locale too: the columns count characters, not bytes.)
    export HINT_LANG=fr LC_ALL=C
    check_timed 01
    assert_equal "$status" 1
    source "$REPO/tests/tools/manifest.bash"
    MANIFEST_LANG=fr manifest_load "$REPO/lab01-blocking/steps.txt"
    hint=$(head -n 1 <<<"${STEP_HINT1[1]}")
    heading=$(french_heading lab01-blocking 1)
    assert_line --partial "lab01-blocking : l'étape 1 échoue : ${STEP_TITLE[1]}"
    assert_line "  README : lab01-blocking/README.fr.md, section \"$heading\""
    assert_line "    (la suite : make hint LAB=01 STEP=1)"
    assert_line "    $hint"
    assert_line --regexp '^  étape 2 : .* --    \(pas vérifiée : l.étape 1 échoue avant\)$'
    assert_line --regexp '^TP +réussis +état +à corriger ensuite$'
    assert_line --regexp "^lab01-blocking +[0-9]+/[0-9]+ +à faire étape 1 : "
    assert_output --partial "TODO step 1: create the listening socket" # the program's own words
    assert_equal "${lines[-1]}" "Ensuite : lab01-blocking, étape 1 (README.fr.md, « $heading ») ; puis relancez make check LAB=01. Bloqué ? make hint LAB=01"
}

@test "diff: LAB=02 shows what lab02's reference changed from lab01's" {
    run env LAB=02 "$REPO/tests/tools/diff"
    assert_success
    assert_line --regexp '^  linebuf\.c +\+[1-9][0-9]* -0$'
    assert_line --regexp '^  server\.c +\+[1-9][0-9]* -[1-9][0-9]*$'
    assert_line "== lab02-encoding/utf8.c"
    assert_line "+++ lab02-encoding/server.c"
    refute_output --partial "Binary files"
}

@test "diff: MINE=1 waits until make check says the lab is done, then compares it with the reference" {
    student_lab "$REPO/solutions" lab01-blocking
    printf 'next 4\n' >"$ROOT/lab01-blocking/.progress"
    run env LAB=01 MINE=1 "$REPO/tests/tools/diff"
    assert_failure
    assert_output --partial "it last said: step 4 next"
    printf 'next done\n' >"$ROOT/lab01-blocking/.progress"
    sed -i.orig 's/^#define BACKLOG .*/#define BACKLOG 16/' "$ROOT/lab01-blocking/server.c"
    rm -f "$ROOT/lab01-blocking/server.c.orig"
    run env LAB=01 MINE=1 "$REPO/tests/tools/diff"
    assert_success
    assert_line "+#define BACKLOG 16"
}

# watch_reacts POLL: starts make watch (WATCH_POLL=POLL) on a lab01 that
# does not build (its check is over at once), waits for that first check
# to end, saves server.c, and checks that a second check begins within 2 s.
watch_reacts() {
    local out=$BATS_TEST_TMPDIR/watch.out deadline saved_ms now_ms checks
    student_lab "$REPO" lab01-blocking
    printf 'int broken(void) { return }\n' >>"$ROOT/lab01-blocking/server.c"
    WATCH_POLL=$1 LAB=01 setsid "$REPO/tests/tools/watch" >"$out" 2>&1 </dev/null &
    WATCH_PID=$!
    deadline=$((SECONDS + 60))
    until grep -q '^== make watch: \(waiting\|looking\)' "$out"; do
        kill -0 "$WATCH_PID" 2>/dev/null || fail "make watch ended: $(cat "$out")"
        ((SECONDS < deadline)) || fail "make watch did not finish its first check within 60 s: $(cat "$out")"
        sleep 0.1
    done
    saved_ms=$(date +%s%3N)
    printf '/* saved */\n' >>"$ROOT/lab01-blocking/server.c"
    deadline=$((SECONDS + 10))
    while :; do
        checks=$(grep -c '^== make watch: checking' "$out")
        ((checks >= 2)) && break
        ((SECONDS < deadline)) || fail "make watch did not start a new check within 10 s of a save"
        sleep 0.05
    done
    now_ms=$(date +%s%3N)
    echo "# make watch (WATCH_POLL=$1) began a new check $((now_ms - saved_ms)) ms after the save" >&3
    ((now_ms - saved_ms <= 2000)) || fail "make watch took $((now_ms - saved_ms)) ms to react (bound 2000 ms)"
}

@test "watch: a save starts a new check within 2 s (inotifywait)" {
    command -v inotifywait >/dev/null || skip "inotifywait is not installed (package inotify-tools)"
    watch_reacts 0
}

@test "watch: a save starts a new check within 2 s (polling, as on WSL)" {
    watch_reacts 1
}

@test "manifests: a broken manifest is refused with the line at fault" {
    source "$REPO/tests/tools/manifest.bash"
    printf 'step 1: one\nreadme: x\nstep 3: three\n' >"$BATS_TEST_TMPDIR/steps.txt"
    run manifest_load "$BATS_TEST_TMPDIR/steps.txt"
    assert_failure
    manifest_load "$BATS_TEST_TMPDIR/steps.txt" || true
    assert_equal "$MANIFEST_ERROR" "$BATS_TEST_TMPDIR/steps.txt: line 3: step 3 after step 1"
}

@test "manifests: a test that belongs to no step, a step without hint, wrong points are named" {
    source "$REPO/tests/tools/manifest.bash"
    mkdir -p "$BATS_TEST_TMPDIR/lab"
    printf '## Step 1 — One\n' >"$BATS_TEST_TMPDIR/lab/README.md"
    printf '@test "step 1 (one): a" {\n}\n@test "step 2 (two): b" {\n}\n' >"$BATS_TEST_TMPDIR/t.bats"
    printf '%s\n' 'step 1: One' 'readme: Step 1 — One' 'tests: ^step 1 \(' 'points: 90' \
        'hint 1: a' 'hint 2: b' >"$BATS_TEST_TMPDIR/lab/steps.txt"
    manifest_load "$BATS_TEST_TMPDIR/lab/steps.txt"
    run manifest_validate "$BATS_TEST_TMPDIR/lab" "$BATS_TEST_TMPDIR/t.bats"
    assert_failure
    assert_line "step 1: no HINT3"
    assert_line "the points add up to 90, not 100"
    assert_line "test 'step 2 (two): b' belongs to no step"
}
