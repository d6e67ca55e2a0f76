#!/usr/bin/env bats
# make gradescope (tests/tools/gradescope) and the autograder it writes
# (tests/grading/gradescope/setup.sh and run_autograder). The zip is written
# once, into BATS_FILE_TMPDIR, and unpacked there (BUNDLE) with its test
# helpers built, as setup.sh does on Gradescope. Each run of run_autograder
# gets a folder laid out as Gradescope's /autograder (AUTOGRADER_ROOT):
# source/ (a copy of BUNDLE), submission/ (a test submission of
# tests/grading/make-submissions), submission_metadata.json, results/.
#
# The runs' programs run as uid GS_UID (GRADE_UID_BASE), not make grade's
# default 62000: a make grade running at the same time on this machine
# (uids 62000+) and these runs then neither kill nor see each other's.
# Measured on a busy 2-core machine: run_autograder takes 5-9 s on the
# no-build submission, 66-106 s on partial; the whole file 3-4.5 minutes.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
GS_UID=62400
# Seconds: a bound on each command that could wait.
ZIP_BOUND=120
RUN_BOUND=600
QUICK_BOUND=60

setup_file() {
    export ZIP_FILE=$BATS_FILE_TMPDIR/autograder.zip BUNDLE=$BATS_FILE_TMPDIR/bundle
    export SUBMISSIONS_DIR=$BATS_FILE_TMPDIR/submissions
    unset LAB OUT EXTRA_TESTS MEMCHECK JOBS STUDENT_ROOT GRADE_UID_BASE AUTOGRADER_ROOT AUTOGRADER_BOUND
    local status=0
    timeout -k 5 "$ZIP_BOUND" make -s -C "$REPO" gradescope OUT="$ZIP_FILE" \
        >"$BATS_FILE_TMPDIR/zip.out" 2>&1 || status=$?
    echo "$status" >"$BATS_FILE_TMPDIR/zip.status"
    if [[ $status == 0 ]]; then
        mkdir -p "$BUNDLE"
        timeout -k 5 "$QUICK_BOUND" unzip -q "$ZIP_FILE" -d "$BUNDLE" &&
            timeout -k 5 "$ZIP_BOUND" make -s -C "$BUNDLE/sockets-lab/tests/helpers" >/dev/null 2>&1 ||
            echo "unzip or the helpers' build failed" >"$BATS_FILE_TMPDIR/zip.status"
    fi
    timeout -k 5 "$ZIP_BOUND" "$REPO/tests/grading/make-submissions" "$SUBMISSIONS_DIR" \
        >"$BATS_FILE_TMPDIR/submissions.out" 2>&1
}

setup() {
    bats_load_library bats-support
    bats_load_library bats-assert
    bats_require_minimum_version 1.5.0
    unset LAB OUT EXTRA_TESTS MEMCHECK JOBS STUDENT_ROOT GRADE_UID_BASE AUTOGRADER_ROOT AUTOGRADER_BOUND
}

teardown() {
    # What a failing run left: its user's processes, and those naming its
    # work folder (the test has failed already: nothing_left said so).
    local pids
    pids=$(pgrep -U "$GS_UID"; [[ -z ${RUN_WORK:-} ]] || pgrep -f -- "$RUN_WORK"; true)
    # shellcheck disable=SC2086 # pids, one a word
    [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
}

# zip_written: fails unless setup_file wrote and unpacked the zip.
zip_written() {
    [[ $(cat "$BATS_FILE_TMPDIR/zip.status") == 0 && -d $BUNDLE/sockets-lab ]] ||
        fail "make gradescope failed ($(cat "$BATS_FILE_TMPDIR/zip.status")): $(cat "$BATS_FILE_TMPDIR/zip.out")"
}

# gradescope_root [FIXTURE]: lays out $AG (Gradescope's /autograder): the
# bundle in source/, the fixture (a folder of make-submissions) in
# submission/ (none without FIXTURE), the metadata of a student whose name
# needs sanitising, an empty results/.
gradescope_root() {
    zip_written
    AG=$BATS_TEST_TMPDIR/autograder
    mkdir -p "$AG/results"
    cp -Rp "$BUNDLE" "$AG/source"
    if [[ -n ${1:-} ]]; then
        [[ -d $SUBMISSIONS_DIR/$1 ]] || fail "no fixture $1: $(cat "$BATS_FILE_TMPDIR/submissions.out")"
        cp -R "$SUBMISSIONS_DIR/$1" "$AG/submission"
    fi
    cat >"$AG/submission_metadata.json" <<'EOF'
{"id": 1, "users": [{"email": "ann@example.com", "id": 7, "name": "Ann O'Neil/../x"}]}
EOF
}

# run_autograder: runs $AG/source/run_autograder as Gradescope would, bounded
# (RUN_BOUND unless given); RUN_SECONDS: how long it took.
# WORK_LEFT: the temporary folders of run_autograder's left after it (none
# should be).
run_autograder() {
    local bound=${1:-$RUN_BOUND} start=$SECONDS before
    before=$(work_folders)
    # (3>&-: a process left behind must not hold bats's output open.)
    run timeout -k 10 "$bound" env AUTOGRADER_ROOT="$AG" GRADE_UID_BASE="$GS_UID" \
        ${AUTOGRADER_BOUND:+AUTOGRADER_BOUND=$AUTOGRADER_BOUND} "$AG/source/run_autograder" 3>&-
    RUN_SECONDS=$((SECONDS - start))
    RUN_WORK=$(sed -n 's/^Grading .*; work folder: \(.*\))$/\1/p' <<<"$output")
    WORK_LEFT=$(comm -13 <(echo "$before") <(work_folders))
    echo "# run_autograder took $RUN_SECONDS s" >&3
}

work_folders() {
    find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'run_autograder.*' 2>/dev/null | LC_ALL=C sort
}

# results_problems FILE: what is wrong with FILE as Gradescope's
# results.json (nothing when it is right): valid JSON, a score, tests with
# their fields, and the score is the sum of the tests' scores.
results_problems() {
    python3 - "$1" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1], encoding="utf-8"))
except Exception as e:
    print("not valid JSON: %s" % e); sys.exit()
if not isinstance(d, dict): print("not an object"); sys.exit()
if not isinstance(d.get("score"), (int, float)): print("no numeric score")
tests = d.get("tests")
if not isinstance(tests, list): print("no list of tests"); sys.exit()
for t in tests:
    for key in ("name", "score", "max_score", "status", "output", "visibility"):
        if key not in t: print("test %r has no %s" % (t.get("name"), key))
    if t.get("status") not in ("passed", "failed"): print("test %r: status %r" % (t.get("name"), t.get("status")))
    if t.get("visibility") not in ("hidden", "after_due_date", "after_published", "visible"):
        print("test %r: visibility %r" % (t.get("name"), t.get("visibility")))
if tests and abs(sum(t.get("score", 0) for t in tests) - d.get("score", 0)) > 1e-9:
    print("the score is not the sum of the tests' scores")
EOF
}

# results_value FILE EXPRESSION: a Python expression on the results (d).
results_value() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# lab_points FILE LAB: the points the results give the lab.
lab_points() {
    results_value "$1" "sum(t['score'] for t in d['tests'] if t['name'].startswith('$2 '))"
}

# nothing_left: no process of the runs' user, none whose command line
# names this test's folder or run_autograder's work folder (RUN_WORK), and
# no work folder of run_autograder's is left.
nothing_left() {
    local left
    [[ -n ${RUN_WORK:-} ]] || fail "run_autograder did not say its work folder"
    left=$(pgrep -a -U "$GS_UID"; pgrep -a -f -- "$BATS_TEST_TMPDIR|$RUN_WORK"; true)
    [[ -z $left ]] || fail "processes left behind:"$'\n'"$left"
    [[ -z ${WORK_LEFT:-} ]] || fail "run_autograder left its temporary folder: $WORK_LEFT"
}

# ---- the zip ---------------------------------------------------------------

@test "gradescope tool: make gradescope writes the zip and says how to upload it" {
    zip_written
    run cat "$BATS_FILE_TMPDIR/zip.out"
    assert_line --partial "Gradescope autograder written to $ZIP_FILE ("
    assert_line --partial "Configure Autograder"
    assert_line --partial "Ubuntu"
    assert_output --partial "upload autograder.zip"
}

@test "gradescope zip: setup.sh and run_autograder at the root, executable; the grader's files; no instructor material" {
    zip_written
    local file lab problems=""
    run unzip -Z1 "$ZIP_FILE"
    assert_line setup.sh
    assert_line run_autograder
    refute_line --regexp '^(sockets-lab/)?(solutions|bench|\.ci|tests/grading|tests/fixtures)(/|$)'
    refute_line --regexp '(^|/)tests/tools\.bats$'
    refute_line --regexp '(^|/)\.git/'
    refute_line --regexp '\.progress$'
    [[ -x $BUNDLE/setup.sh && -x $BUNDLE/run_autograder ]] || fail "setup.sh or run_autograder is not executable"
    for file in Makefile tests/tools/grade tests/tools/check tests/tools/jail tests/tools/common.bash \
        tests/tools/manifest.bash tests/tools/grade-report.awk tests/helpers/Makefile tests/helpers/lab.bash; do
        [[ -f $BUNDLE/sockets-lab/$file ]] || problems+="  $file is missing"$'\n'
    done
    for lab in "$REPO"/lab0*-*/; do
        lab=$(basename "$lab")
        for file in "$lab/Makefile" "$lab/steps.txt" "tests/$lab.bats"; do
            [[ -f $BUNDLE/sockets-lab/$file ]] || problems+="  $file is missing"$'\n'
        done
    done
    for file in grade check jail; do
        [[ -x $BUNDLE/sockets-lab/tests/tools/$file ]] || problems+="  tests/tools/$file is not executable"$'\n'
    done
    [[ -z $problems ]] || fail "the zip's sockets-lab/:"$'\n'"$problems"
}

# setup_sh CANDIDATES: runs the zip's setup.sh on a copy of the bundle (its
# helpers not built yet), with apt-get, apt-cache and npm replaced by fakes
# that write their calls into $CALLS; apt-cache policy gives each package
# the version CANDIDATES says ("bats=1.2.1-3 ncat=(none)"), or 9.9.
setup_sh() {
    local bin=$BATS_TEST_TMPDIR/bin
    SOURCE=$BATS_TEST_TMPDIR/source CALLS=$BATS_TEST_TMPDIR/calls
    rm -rf "$SOURCE" "$CALLS"
    cp -Rp "$BUNDLE" "$SOURCE"
    make -s -C "$SOURCE/sockets-lab/tests/helpers" clean >/dev/null
    mkdir -p "$bin"
    # shellcheck disable=SC2016 # $* and $DEBIAN_FRONTEND: the fakes'
    printf '#!/bin/sh\necho "apt-get $* (DEBIAN_FRONTEND=$DEBIAN_FRONTEND)" >>"%s"\n' "$CALLS" >"$bin/apt-get"
    printf '#!/bin/sh\necho "npm $*" >>"%s"\n' "$CALLS" >"$bin/npm"
    cat >"$bin/apt-cache" <<'EOF'
#!/usr/bin/env bash
version=9.9
for entry in $FAKE_CANDIDATES; do [[ ${entry%%=*} == "$2" ]] && version=${entry#*=}; done
printf '%s:\n  Installed: (none)\n  Candidate: %s\n' "$2" "$version"
EOF
    chmod +x "$bin"/*
    run timeout -k 5 "$ZIP_BOUND" env -u DEBIAN_FRONTEND PATH="$bin:$PATH" FAKE_CANDIDATES="$1" bash "$SOURCE/setup.sh"
}

@test "gradescope zip: setup.sh and run_autograder are valid bash" {
    zip_written
    run bash -n "$BUNDLE/setup.sh"
    assert_success
    run bash -n "$BUNDLE/run_autograder"
    assert_success
}

@test "gradescope zip: setup.sh installs what the tests need with apt-get, non-interactively, and builds the helpers" {
    zip_written
    setup_sh "bats=1.10.0-1"
    assert_success
    assert_line "setup.sh: done"
    run cat "$CALLS"
    assert_line --regexp '^apt-get update.*\(DEBIAN_FRONTEND=noninteractive\)$'
    assert_line --regexp '^apt-get install -y .*\(DEBIAN_FRONTEND=noninteractive\)$'
    refute_line --regexp '^npm '
    local package
    for package in make gcc libc6-dev valgrind ncat socat netcat-openbsd util-linux procps strace \
        bats bats-support bats-assert; do
        grep -E "^apt-get install .* $package( |$)" "$CALLS" >/dev/null || fail "setup.sh does not install $package: $output"
    done
    [[ -x $SOURCE/sockets-lab/tests/helpers/peer ]] || fail "setup.sh did not build tests/helpers"
}

@test "gradescope zip: setup.sh takes bats from npm when Ubuntu's is older than 1.7, and nmap for ncat where ncat is none" {
    zip_written
    setup_sh "bats=1.2.1-3 ncat=(none)"
    assert_success
    run cat "$CALLS"
    assert_line --regexp '^apt-get install -y .* nodejs npm( |$)'
    refute_line --regexp '^apt-get install .* bats( |$)'
    assert_line --regexp "^npm install --prefix $SOURCE/sockets-lab/.tools .*bats@[0-9.]+ bats-support@[0-9.]+ bats-assert@[0-9.]+"
    assert_line --regexp '^apt-get install -y .* nmap( |$)'
    refute_line --regexp '^apt-get install .* ncat( |$)'
}

@test "gradescope tool: OUT defaults to autograder.zip where it runs, replaces an earlier zip, refuses anything else" {
    cd "$BATS_TEST_TMPDIR"
    # An earlier zip, with an entry the new one must not keep.
    echo old >stale.txt
    zip -q autograder.zip stale.txt
    run timeout -k 5 "$ZIP_BOUND" env -u OUT "$REPO/tests/tools/gradescope"
    assert_success
    run unzip -Z1 "$BATS_TEST_TMPDIR/autograder.zip"
    assert_line run_autograder
    refute_line stale.txt
    mkdir folder.zip
    run timeout -k 5 "$ZIP_BOUND" env OUT=folder.zip "$REPO/tests/tools/gradescope"
    assert_failure
    assert_output --partial "exists and is not a file"
    [[ -z $(ls -A folder.zip) ]] || fail "the tool wrote into the folder"
    ln -s folder.zip link.zip
    run timeout -k 5 "$ZIP_BOUND" env OUT=link.zip "$REPO/tests/tools/gradescope"
    assert_failure
    assert_output --partial "exists and is not a file"
}

@test "gradescope tool: refuses to run outside a git checkout, or without zip" {
    local copy=$BATS_TEST_TMPDIR/not-git bin=$BATS_TEST_TMPDIR/bin file
    mkdir -p "$copy/tests/tools" "$copy/tests/grading"
    cp -p "$REPO/tests/tools/gradescope" "$REPO/tests/tools/common.bash" "$copy/tests/tools/"
    cp -Rp "$REPO/tests/grading/gradescope" "$copy/tests/grading/"
    run timeout -k 5 "$QUICK_BOUND" env GIT_CEILING_DIRECTORIES="$BATS_TEST_TMPDIR" \
        OUT="$BATS_TEST_TMPDIR/out.zip" "$copy/tests/tools/gradescope"
    assert_failure
    assert_output --partial "is not a git checkout"
    [[ ! -e $BATS_TEST_TMPDIR/out.zip ]] || fail "the tool wrote $BATS_TEST_TMPDIR/out.zip"
    # Every command but zip.
    mkdir -p "$bin"
    for file in /usr/local/bin/* /usr/bin/* /bin/*; do
        [[ ${file##*/} == zip || -e $bin/${file##*/} ]] || ln -s "$file" "$bin/${file##*/}"
    done
    run timeout -k 5 "$QUICK_BOUND" env PATH="$bin" OUT="$BATS_TEST_TMPDIR/out.zip" "$REPO/tests/tools/gradescope"
    assert_failure
    assert_output --partial "sudo apt-get install zip"
    [[ ! -e $BATS_TEST_TMPDIR/out.zip ]] || fail "the tool wrote $BATS_TEST_TMPDIR/out.zip"
}

@test "gradescope tool: EXTRA_TESTS=DIR puts its Bats files in extra-tests/; a file for no lab is refused" {
    local extra=$BATS_TEST_TMPDIR/extra
    mkdir -p "$extra"
    printf '# points: 7\n@test "extra: true" {\n    true\n}\n' >"$extra/lab01-blocking.more.bats"
    run timeout -k 5 "$ZIP_BOUND" env OUT="$BATS_TEST_TMPDIR/extra.zip" EXTRA_TESTS="$extra" \
        "$REPO/tests/tools/gradescope"
    assert_success
    assert_output --partial "extra-tests/"
    run unzip -Z1 "$BATS_TEST_TMPDIR/extra.zip"
    assert_line extra-tests/lab01-blocking.more.bats
    echo '@test "x" { true; }' >"$extra/lab9.bats"
    run timeout -k 5 "$ZIP_BOUND" env OUT="$BATS_TEST_TMPDIR/bad.zip" EXTRA_TESTS="$extra" \
        "$REPO/tests/tools/gradescope"
    assert_failure
    assert_output --partial "lab9.bats is for no lab"
    run timeout -k 5 "$ZIP_BOUND" env OUT="$BATS_TEST_TMPDIR/bad.zip" EXTRA_TESTS="$BATS_TEST_TMPDIR/none" \
        "$REPO/tests/tools/gradescope"
    assert_failure
    assert_output --partial "no such folder"
    [[ ! -e $BATS_TEST_TMPDIR/bad.zip ]] || fail "the tool wrote a zip after refusing"
}

@test "gradescope tool: AUTOGRADER_BOUND=N is written into run_autograder, and the timeout to set is said" {
    run timeout -k 5 "$ZIP_BOUND" make -s -C "$REPO" gradescope OUT="$BATS_TEST_TMPDIR/bound.zip" AUTOGRADER_BOUND=900
    assert_success
    assert_output --partial "Set the autograder timeout to 16 minutes at least"
    run unzip -p "$BATS_TEST_TMPDIR/bound.zip" run_autograder
    assert_line --regexp '^BOUND=\$\{AUTOGRADER_BOUND:-900\}'
    run unzip -p "$ZIP_FILE" run_autograder
    assert_line --regexp '^BOUND=\$\{AUTOGRADER_BOUND:-1500\}'
    run timeout -k 5 "$ZIP_BOUND" env OUT="$BATS_TEST_TMPDIR/bad.zip" AUTOGRADER_BOUND=10m "$REPO/tests/tools/gradescope"
    assert_failure
    assert_output --partial "AUTOGRADER_BOUND=10m: give a number of seconds"
}

# ---- run_autograder ---------------------------------------------------------

@test "run_autograder: no-build submission: score 0, lab01-02 do not build, lab03-04 missing" {
    gradescope_root no-build
    run_autograder
    assert_success
    assert_output --partial "as Ann_O_Neil_.._x"
    local json=$AG/results/results.json
    [[ -f $json ]] || fail "no results.json"
    run results_problems "$json"
    assert_output ""
    run results_value "$json" "d['score']"
    assert_output 0
    run results_value "$json" "len(d['tests'])"
    ((output > 20)) || fail "only $output tests in results.json"
    local lab
    for lab in lab01-blocking lab02-encoding; do
        run results_value "$json" "all('does not build' in t['output'] for t in d['tests'] if t['name'].startswith('$lab '))"
        assert_output True
    done
    for lab in lab03-select lab04-threads; do
        run results_value "$json" "all('missing' in t['output'] for t in d['tests'] if t['name'].startswith('$lab '))"
        assert_output True
    done
    nothing_left
}

@test "run_autograder: a partly done lab02 (its line reader): 35 points" {
    # (The partial fixture's lab02 alone: its lab01 would add a minute of
    # tests that tests/grading/grade.bats already runs.)
    gradescope_root partial
    rm -rf "$AG/submission/lab01-blocking"
    run_autograder
    assert_success
    local json=$AG/results/results.json
    run results_problems "$json"
    assert_output ""
    run results_value "$json" "d['score']"
    assert_output 35
    run lab_points "$json" lab02-encoding
    assert_output 35
    nothing_left
}

@test "run_autograder: the lab folders inside one folder of the submission, and extra tests of the zip, are graded" {
    gradescope_root
    # The no-build submission, one level down; extra tests in the bundle.
    mkdir -p "$AG/submission"
    cp -R "$SUBMISSIONS_DIR/no-build" "$AG/submission/sockets-lab-main"
    mkdir "$AG/source/extra-tests"
    printf '# points: 7\n@test "extra: true" {\n    true\n}\n' >"$AG/source/extra-tests/lab01-blocking.more.bats"
    run_autograder
    assert_success
    local json=$AG/results/results.json
    run results_problems "$json"
    assert_output ""
    run results_value "$json" "d['score']"
    assert_output 7
    run results_value "$json" "[t['score'] for t in d['tests'] if 'lab01-blocking.more.bats' in t['name']]"
    assert_output "[7]"
    run results_value "$json" "all('does not build' in t['output'] for t in d['tests'] if t['name'].startswith('lab02-encoding '))"
    assert_output True
    nothing_left
}

@test "run_autograder: an empty submission is graded: score 0, every lab missing" {
    gradescope_root
    mkdir -p "$AG/submission"
    run_autograder
    assert_success
    local json=$AG/results/results.json
    run results_problems "$json"
    assert_output ""
    run results_value "$json" "(d['score'], all('missing' in t['output'] for t in d['tests']), len(d['tests']) > 20)"
    assert_output "(0, True, True)"
    nothing_left
}

@test "run_autograder: a grader that fails still gives a valid results.json: score 0, why, its last lines" {
    gradescope_root no-build
    # A grader that leaves a process of the graders' user in a session of
    # its own (run_autograder kills it), prints what JSON must escape, and
    # fails.
    cat >"$AG/source/sockets-lab/tests/tools/grade" <<'EOF'
#!/usr/bin/env bash
setsid setpriv --reuid="$GRADE_UID_BASE" --regid="$GRADE_UID_BASE" --clear-groups sleep 1000 </dev/null >/dev/null 2>&1 &
echo 'first line'
printf 'a "quoted" word, a back\\slash, a\ttab, a \001 control, a bad \377 byte, caf\303\251\n'
echo 'the grader broke here' >&2
exit 3
EOF
    run_autograder
    assert_success
    local json=$AG/results/results.json
    run results_problems "$json"
    assert_output ""
    run results_value "$json" "d['score']"
    assert_output 0
    run results_value "$json" "d['output']"
    assert_output --partial "could not grade this submission: the grader failed (status 3)"
    assert_output --partial 'a "quoted" word, a back\slash, a'$'\t''tab, a '$'\001'' control, a bad  byte, café'
    assert_output --partial "the grader broke here"
    nothing_left
}

@test "run_autograder: a zip without tests/tools/grade, or no submission folder: score 0 and why" {
    gradescope_root no-build
    rm "$AG/source/sockets-lab/tests/tools/grade"
    run_autograder "$QUICK_BOUND"
    assert_success
    run results_problems "$AG/results/results.json"
    assert_output ""
    run results_value "$AG/results/results.json" "(d['score'], d['output'])"
    assert_output --partial "(0, 'The autograder could not grade this submission: the autograder is incomplete"
    rm -rf "$AG"
    gradescope_root
    rm -rf "$AG/results" # (made again)
    run_autograder "$QUICK_BOUND"
    assert_success
    run results_problems "$AG/results/results.json"
    assert_output ""
    run results_value "$AG/results/results.json" "(d['score'], d['output'])"
    assert_output --partial "(0, 'The autograder could not grade this submission: there is no submission folder"
}

# endless_grader: replaces the bundle's grader by one that never ends, and
# whose child ignores SIGTERM too and has a command line naming the file
# (nothing_left would see it).
endless_grader() {
    cat >"$AG/source/sockets-lab/tests/tools/grade" <<'EOF'
#!/usr/bin/env bash
echo 'grading for ever'
trap '' TERM
(exec -a "$0 (child)" sleep 1000)
EOF
}

@test "run_autograder: a grader that never ends is stopped after AUTOGRADER_BOUND: score 0, nothing left" {
    gradescope_root no-build
    endless_grader
    AUTOGRADER_BOUND=2 run_autograder "$QUICK_BOUND"
    assert_success
    ((RUN_SECONDS < 45)) || fail "run_autograder took $RUN_SECONDS s for a bound of 2 s"
    run results_value "$AG/results/results.json" "d['score']"
    assert_output 0
    run results_value "$AG/results/results.json" "d['output']"
    assert_output --partial "The autograder could not grade this submission: grading took more than 2 s and was stopped"
    assert_output --partial "grading for ever"
    nothing_left
}

@test "run_autograder: stopped by SIGTERM, it stops the grader and its children, and says so in results.json" {
    gradescope_root no-build
    endless_grader
    # (run_autograder gets SIGTERM after 3 s.)
    AUTOGRADER_BOUND=1000 run_autograder 3
    assert_failure 124
    ((RUN_SECONDS < 20)) || fail "run_autograder took $RUN_SECONDS s to stop"
    run results_problems "$AG/results/results.json"
    assert_output ""
    run results_value "$AG/results/results.json" "(d['score'], 'the autograder was interrupted' in d['output'])"
    assert_output "(0, True)"
    nothing_left
}

@test "run_autograder: no process of the graders' user is left after the runs" {
    run pgrep -a -U "$GS_UID"
    assert_output ""
    run pgrep -a -f "$BATS_FILE_TMPDIR"
    assert_output ""
}
