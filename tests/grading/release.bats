#!/usr/bin/env bats
# make student-release (tests/tools/release): the copy of the course it
# writes for students holds no instructor material and no solution code,
# and the student's commands work in it. The release is written once, into
# BATS_FILE_TMPDIR; the commands run in a copy of it (WORK), so that what
# they build never reaches the release the other tests look at.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# Paths the release must not hold (a folder ends with /; a * stands for any
# end of a name).
LEFT_OUT=(solutions/ bench/ .ci/ tests/fixtures/ tests/grading/ tests/tools.bats
          tests/fuzz.bats tests/trace.bats tests/faults.bats 'tests/helpers/faults-*' tests/tools/readme-twins
          tests/tools/grade tests/tools/gradescope 'tests/tools/grade*' 'tests/tools/jail*'
          tests/tools/release)
# Lines of the solutions that are not answers: error checks any socket
# program writes, found in the test helpers shipped to students
# (tests/helpers, tests/unit), which were written for the tests, not taken
# from the solutions. Each one is listed here on purpose; any other line of
# the solutions found in the release fails the test.
IDIOMS=(
    'if (errno != EAGAIN && errno != EWOULDBLOCK)'
    'if (errno == EAGAIN || errno == EWOULDBLOCK)'
    'if (got == -1 && errno == EINTR)'
    'clock_gettime(CLOCK_MONOTONIC, &now);'
)
# Seconds: a bound on each command that could wait.
RELEASE_BOUND=60
BUILD_BOUND=300
CHECK_BOUND=180
STUDENT_MESSAGE="make test checks the reference solutions, and this copy of the course has none (a student copy). To test your own work: make check (LAB=01 for one lab)."

setup_file() {
    export RELEASE=$BATS_FILE_TMPDIR/release WORK=$BATS_FILE_TMPDIR/work
    unset LAB STEP LEVEL ALL MINE VALGRIND SANITIZE STUDENT_ROOT OUT
    local status=0
    timeout -k 5 "$RELEASE_BOUND" make -s -C "$REPO" student-release OUT="$RELEASE" \
        >"$BATS_FILE_TMPDIR/release.out" 2>&1 || status=$?
    echo "$status" >"$BATS_FILE_TMPDIR/release.status"
    if [[ $status == 0 ]]; then
        cp -Rp "$RELEASE" "$WORK"
    fi
}

setup() {
    bats_load_library bats-support
    bats_load_library bats-assert
    bats_require_minimum_version 1.5.0
    unset LAB STEP LEVEL ALL MINE VALGRIND SANITIZE STUDENT_ROOT OUT
    export HINT_LANG=en # the assertions read the English words
}

teardown() {
    # (A tool that failed to refuse an OUT inside the repository wrote it.)
    if [[ -n ${INSIDE_NAME:-} ]]; then
        rm -rf -- "${REPO:?}/$INSIDE_NAME" "$REPO/lab01-blocking/$INSIDE_NAME"
    fi
    if [[ -n ${WATCH_PID:-} ]]; then
        kill -TERM -- "-$WATCH_PID" 2>/dev/null || true
        wait "$WATCH_PID" 2>/dev/null || true
    fi
}

# release_written: fails unless setup_file wrote the release.
release_written() {
    [[ $(cat "$BATS_FILE_TMPDIR/release.status") == 0 && -d $RELEASE ]] ||
        fail "make student-release failed: $(cat "$BATS_FILE_TMPDIR/release.out")"
}

# expected_files: the files git tracks and the release must hold, sorted.
expected_files() {
    local file entry
    git -C "$REPO" ls-files | while IFS= read -r file; do
        [[ -e $REPO/$file ]] || continue
        for entry in "${LEFT_OUT[@]}"; do
            entry=${entry%/}
            # shellcheck disable=SC2053 # $entry: a pattern
            [[ $file == $entry || $file == $entry/* ]] && continue 2
        done
        printf '%s\n' "$file"
    done | LC_ALL=C sort
}

# headings FILE: the file's "## " headings in order, each one that stands
# between <!-- instructors --> and <!-- /instructors --> (which the release
# leaves out) with a "-" before it.
headings() {
    awk '/^<!-- instructors -->/ { out = 1 } /^<!-- \/instructors -->/ { out = 0 }
         /^## / { print (out ? "-" : "") $0 }' "$1"
}

@test "release: make student-release writes the copy and says what it wrote and what comes next" {
    release_written
    run cat "$BATS_FILE_TMPDIR/release.out"
    assert_line --partial "Student release written to $RELEASE: "
    assert_line --regexp '[0-9]+ files'
    assert_line --partial "solutions/"
    assert_line --partial "git init && git add -A && git commit"
}

@test "release: no instructor material, no .git, no file git does not track; modes kept" {
    release_written
    local entry file problems=""
    for entry in "${LEFT_OUT[@]}" .git; do
        compgen -G "$RELEASE/${entry%/}" >/dev/null && problems+="  $entry is in the release"$'\n'
    done
    [[ -z $problems ]] || fail "instructor material in the release:"$'\n'"$problems"
    run diff <(expected_files) <(cd "$RELEASE" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
    assert_success "the release's files (+) are not the tracked files less the instructor material (-)"
    local in_repo in_release
    while IFS= read -r file; do
        in_repo=0 in_release=0
        [[ -x $REPO/$file ]] && in_repo=1
        [[ -x $RELEASE/$file ]] && in_release=1
        ((in_repo == in_release)) || problems+="  $file"$'\n'
    done < <(expected_files)
    [[ -z $problems ]] || fail "files whose executable mode changed in the release:"$'\n'"$problems"
    [[ -x $RELEASE/tests/tools/check && -x $RELEASE/tests/run ]] || fail "the tools are not executable"
}

@test "release: README.md has no section For instructors (nor Performance), and keeps every other section" {
    release_written
    run grep -n -i -e 'for instructors' -e 'instructors -->' -e '^## Performance' "$RELEASE/README.md"
    assert_failure
    run diff <(headings "$REPO/README.md" | grep -v '^-') <(grep '^## ' "$RELEASE/README.md")
    assert_success
    # The sections left out are these two, marked as the instructors' own.
    run headings "$REPO/README.md"
    assert_line -- '-## For instructors'
    assert_line -- '-## Performance'
    run grep -c . "$RELEASE/README.md"
    ((output > 100)) || fail "the release's README.md has only $output lines"
    # The Layout names nothing left out, and keeps the rest.
    grep -q '^- `solutions/`' "$REPO/README.md" || fail "README.md's Layout has no solutions/ item"
    run grep -E '^- `(solutions/|bench/|tests/grading/|\.ci/run)`' "$RELEASE/README.md"
    assert_failure
    run grep -c '^- `tests/tools/`' "$RELEASE/README.md"
    assert_output 1
}

@test "release: README.fr.md likewise has no section for instructors (its French twin), and keeps every other" {
    release_written
    local heading
    # The French twin of "## For instructors": the "## " heading at its place.
    heading=$(awk -v i="$(grep '^## ' "$REPO/README.md" | grep -n '^## For instructors' | cut -d: -f1)" \
        '/^## / && ++n == i' "$REPO/README.fr.md")
    [[ -n $heading ]] || fail "README.fr.md has no twin of the section For instructors"
    run grep -n -F -e "$heading" -e 'instructors -->' "$RELEASE/README.fr.md"
    assert_failure
    run grep -c -F -x "$heading" "$REPO/README.fr.md"
    assert_output 1
    run diff <(headings "$REPO/README.fr.md" | grep -v '^-') <(grep '^## ' "$RELEASE/README.fr.md")
    assert_success
    # The French README leaves out the sections at the English one's places.
    run diff <(headings "$REPO/README.md" | cut -c1) <(headings "$REPO/README.fr.md" | cut -c1)
    assert_success
    run grep -c . "$RELEASE/README.fr.md"
    ((output > 100)) || fail "the release's README.fr.md has only $output lines"
}

@test "release: no solution code: no line of solutions/ that the skeletons lack is in the release" {
    release_written
    local skeletons=() solutions=() released=() idioms
    # The skeletons' files as git has them (not what a build left there).
    mapfile -t skeletons < <(git -C "$REPO" ls-files | grep '^lab0[^/]*-[^/]*/' | sed "s|^|$REPO/|")
    mapfile -t solutions < <(find "$REPO/solutions" -type f -name '*.[ch]')
    mapfile -t released < <(find "$RELEASE" -type f)
    ((${#skeletons[@]} > 0)) || fail "no file in the skeleton folders"
    ((${#solutions[@]} > 0)) || fail "no .c or .h file in $REPO/solutions"
    idioms=$(printf '%s\n' "${IDIOMS[@]}")
    # An answer: a line of a solution's .c or .h, trimmed, 25 characters at
    # least, not a comment, in no file of a skeleton. Then every file of the
    # release is read for those lines (trimmed too). (part=... operands set
    # part before the files that follow them.)
    run awk -v idioms="$idioms" -v release="$RELEASE/" '
        function trim(s) { gsub(/^[ \t]+|[ \t\r]+$/, "", s); return s }
        BEGIN { n = split(idioms, list, "\n"); for (i = 1; i <= n; i++) idiom[list[i]] = 1 }
        { line = trim($0) }
        part == "skeleton" { skeleton[line] = 1; next }
        part == "solution" {
            if (length(line) >= 25 && line !~ /^(\/\/|\/\*|\*)/ && !(line in skeleton) && !(line in idiom))
                answer[line] = FILENAME
            next
        }
        (line in answer) {
            file = substr(FILENAME, length(release) + 1)
            printf "%s:%d: %s  (from %s)\n", file, FNR, line, answer[line]
            found = 1
        }
        END { exit found }' \
        part=skeleton "${skeletons[@]}" part=solution "${solutions[@]}" part=release "${released[@]}"
    [[ $status == 0 ]] || fail "lines of the solutions found in the release:"$'\n'"$output"
}

@test "release: make builds every skeleton lab" {
    release_written
    run timeout -k 5 "$BUILD_BOUND" make -s -C "$WORK"
    assert_success
    local lab count=0
    for lab in "$WORK"/lab0*-*/; do
        [[ -x $lab/server && -x $lab/client ]] || fail "make did not build ${lab%/}/server and client"
        count=$((count + 1))
    done
    assert_equal "$count" 4
}

@test "release: make check LAB=01 reports lab01 to do at step 1, without a missing file" {
    release_written
    run timeout -k 5 "$CHECK_BOUND" make -C "$WORK" check LAB=01
    # make exits 2 when check exits 1, and says so in its last line.
    assert_equal "$status" 2
    assert_line --regexp '^make(\[[0-9]+\])?: \*\*\* \[.*check\] Error 1$'
    assert_line --regexp '^lab01-blocking +[0-9]+/[0-9]+ +to do +step 1: '
    refute_output --regexp 'No such file|not found|[Mm]issing|cannot access|No rule to make'
}

@test "release: make hint LAB=01 STEP=1 prints a hint" {
    release_written
    run timeout -k 5 30 make -s -C "$WORK" hint LAB=01 STEP=1
    assert_success
    assert_line --partial "lab01-blocking, step 1:"
    assert_line --regexp '^Hint 1 of [0-9]+'
}

@test "release: make diff LAB=02 shows the student's lab02 against their lab01" {
    release_written
    run timeout -k 5 30 make -s -C "$WORK" diff LAB=02
    assert_success
    assert_line "No reference solutions in this copy: your lab02-encoding (+) against your lab01-blocking (-):"
    assert_line --regexp '^== .*lab02-encoding/server\.c$'
}

@test "release: make test says this copy has no solutions to test (status 2)" {
    release_written
    run timeout -k 5 30 make -s -C "$WORK" test
    assert_equal "$status" 2
    assert_line "$STUDENT_MESSAGE"
    refute_line --partial "== solutions/"
}

@test "release: make grade and make student-release say they are not part of this copy (status 2)" {
    release_written
    run timeout -k 5 30 make -s -C "$WORK" grade
    assert_equal "$status" 2
    assert_line "make grade: an instructor's tool, not part of this copy of the course"
    run timeout -k 5 30 make -s -C "$WORK" student-release OUT="$BATS_TEST_TMPDIR/again"
    assert_equal "$status" 2
    assert_line --partial "not part of this copy of the course"
    [[ ! -e $BATS_TEST_TMPDIR/again ]] || fail "a release was written from the release"
}

# make watch loops for ever: started alone in its process group, under
# timeout too, until its first check ends and it waits for a save; then
# the group is stopped (teardown, as in tests/tools.bats).
@test "release: make watch LAB=01 runs a check, then waits for a save" {
    release_written
    local out=$BATS_TEST_TMPDIR/watch.out deadline
    LAB=01 setsid timeout -k 5 "$CHECK_BOUND" make -s -C "$WORK" watch >"$out" 2>&1 </dev/null &
    WATCH_PID=$!
    deadline=$((SECONDS + CHECK_BOUND))
    until grep -q '^== make watch: \(waiting\|looking\)' "$out"; do
        kill -0 "$WATCH_PID" 2>/dev/null || fail "make watch ended: $(cat "$out")"
        ((SECONDS < deadline)) || fail "make watch did not finish its first check within $CHECK_BOUND s: $(cat "$out")"
        sleep 0.2
    done
    run cat "$out"
    assert_line --regexp '^== make watch: checking lab01-blocking'
    assert_line --regexp '^lab01-blocking +[0-9]+/[0-9]+ +to do +step 1: '
    refute_output --regexp 'No such file|not found|[Mm]issing|cannot access|No rule to make'
}

@test "release tool: refuses a missing or empty OUT with a usage line" {
    run timeout -k 5 30 env -u OUT "$REPO/tests/tools/release"
    assert_failure
    assert_output --partial "usage: make student-release OUT=DIR"
    run timeout -k 5 30 env OUT= "$REPO/tests/tools/release"
    assert_failure
    assert_output --partial "usage: make student-release OUT=DIR"
}

@test "release tool: refuses an OUT that is not empty, or not a folder" {
    mkdir -p "$BATS_TEST_TMPDIR/full"
    echo mine >"$BATS_TEST_TMPDIR/full/notes.txt"
    run timeout -k 5 30 env OUT="$BATS_TEST_TMPDIR/full" "$REPO/tests/tools/release"
    assert_failure
    assert_output --partial "is not empty"
    [[ $(ls -A "$BATS_TEST_TMPDIR/full") == notes.txt ]] || fail "the tool wrote into a folder that was not empty"
    echo file >"$BATS_TEST_TMPDIR/file"
    run timeout -k 5 30 env OUT="$BATS_TEST_TMPDIR/file" "$REPO/tests/tools/release"
    assert_failure
    assert_output --partial "is not a folder"
}

@test "release tool: refuses an OUT inside the repository, however it is written" {
    INSIDE_NAME=release-test-$$
    local name=$INSIDE_NAME out
    for out in "$REPO/$name" "$REPO/lab01-blocking/$name/deeper" "$REPO/$name/../$name" "$REPO/."; do
        run timeout -k 5 30 env OUT="$out" "$REPO/tests/tools/release"
        assert_failure
        assert_output --regexp "is inside this repository|is not empty"
    done
    # A path relative to where make runs (the repository).
    cd "$REPO/tests"
    run timeout -k 5 30 env OUT="../$name" "$REPO/tests/tools/release"
    assert_failure
    assert_output --partial "is inside this repository"
    # And through a link to the repository, from the repository's parent.
    ln -s "$REPO" "$BATS_TEST_TMPDIR/link"
    run timeout -k 5 30 env OUT="$BATS_TEST_TMPDIR/link/$name" "$REPO/tests/tools/release"
    assert_failure
    assert_output --partial "is inside this repository"
    [[ ! -e $REPO/$name && ! -e $REPO/lab01-blocking/$name ]] || fail "the tool created $name in the repository"
}

@test "release tool: refuses to run outside a git checkout" {
    local copy=$BATS_TEST_TMPDIR/not-git
    mkdir -p "$copy/tests/tools"
    cp -p "$REPO/tests/tools/release" "$REPO/tests/tools/common.bash" "$copy/tests/tools/"
    # (GIT_CEILING_DIRECTORIES: no repository above the temporary folder counts.)
    run timeout -k 5 30 env GIT_CEILING_DIRECTORIES="$BATS_TEST_TMPDIR" OUT="$BATS_TEST_TMPDIR/out" \
        "$copy/tests/tools/release"
    assert_failure
    assert_output --partial "is not a git checkout"
    [[ ! -e $BATS_TEST_TMPDIR/out ]] || fail "the tool wrote $BATS_TEST_TMPDIR/out"
}
