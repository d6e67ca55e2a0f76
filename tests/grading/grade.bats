#!/usr/bin/env bats
# make grade (tests/tools/grade) over the test submissions of
# tests/grading/make-submissions (their README says what each deserves),
# with an instructor's extra test file (tests/grading/extra-tests): the
# grades come in the order deserved, the files are valid, hostile programs
# are contained and nothing is left behind. The class is graded once, in
# setup_file; the tests read what it wrote.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
GRADE_BOUND=900    # seconds: the whole class (about 4 minutes on 2 busy cores)
UIDS=62100,62101   # the users of the grader's two slots (GRADE_UID_BASE: not
                   # the default, which tests/grading/gradescope.bats uses)
EXTRA_POINTS=20    # tests/grading/extra-tests/lab01-blocking.hidden.bats

bats_load_library bats-support
bats_load_library bats-assert

setup_file() {
    unset LAB MEMCHECK EXTRA_TESTS JOBS OUT SUBMISSIONS VALGRIND SANITIZE
    export SUBS=$BATS_FILE_TMPDIR/class GRADES=$BATS_FILE_TMPDIR/grades GRADE_UID_BASE=62100
    "$REPO/tests/grading/make-submissions" "$SUBS" >/dev/null
    local start=$SECONDS status=0
    timeout -k 10 "$GRADE_BOUND" make -s -C "$REPO" grade SUBMISSIONS="$SUBS" OUT="$GRADES" \
        EXTRA_TESTS="$REPO/tests/grading/extra-tests" JOBS=2 \
        >"$BATS_FILE_TMPDIR/grade.out" 2>&1 </dev/null || status=$?
    echo "$status $((SECONDS - start))" >"$BATS_FILE_TMPDIR/grade.status"
}

# points STUDENT LAB: the student's points in that lab (LAB "all": in all),
# from grades.csv.
points() {
    awk -F, -v s="$1" -v l="$2" '$1 == s && $2 == l { print $5; found = 1 } END { exit !found }' "$GRADES/grades.csv"
}

# field STUDENT LAB N: the row's Nth field.
field() {
    awk -F, -v s="$1" -v l="$2" -v n="$3" '$1 == s && $2 == l { print $n }' "$GRADES/grades.csv"
}

# step_status STUDENT NAME-PREFIX: the status of the results.json test whose
# name starts with NAME-PREFIX.
step_status() {
    python3 -c '
import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
print(" ".join(t["status"] for t in tests if t["name"].startswith(sys.argv[2])))' \
        "$GRADES/$1/results.json" "$2"
}

@test "make grade grades the class within its bound and prints the table" {
    read -r status seconds <"$BATS_FILE_TMPDIR/grade.status"
    echo "# graded 6 submissions in $seconds s" >&3
    run cat "$BATS_FILE_TMPDIR/grade.out"
    ((status == 0)) || fail "make grade exited with status $status after $seconds s: $output"
    assert_line --regexp '^Isolation: .*a user per slot'
    assert_line --regexp '^student +lab01 +lab02 +lab03 +lab04 +total +seconds$'
    local student
    for student in complete partial no-build never-exits fork-bomb edits-tests; do
        assert_line --regexp "^$student +"
    done
    assert_line --regexp '^Graded 6 students in [0-9]+ s'
}

@test "each submission gets what it deserves, in order" {
    # (Shown when the test fails: the class table.)
    tail -n 12 "$BATS_FILE_TMPDIR/grade.out"
    local max
    max=$(field complete all 6)
    ((max == 400 + EXTRA_POINTS)) || fail "the maximum is $max, not $((400 + EXTRA_POINTS))"
    assert_equal "$(points complete all)" "$max"
    assert_equal "$(points partial lab01-blocking)" "$((100 + EXTRA_POINTS))"
    assert_equal "$(points partial lab02-encoding)" 35
    assert_equal "$(field partial lab03-select 10)" missing
    assert_equal "$(points no-build all)" 0
    assert_equal "$(field no-build lab01-blocking 10)" "no build"
    assert_equal "$(field no-build lab02-encoding 10)" "no build"
    # The server that never exits: the steps before the end of a session pass,
    # the end of a session and the stop fail.
    assert_equal "$(step_status never-exits 'lab01-blocking step 5:')" passed
    assert_equal "$(step_status never-exits 'lab01-blocking step 6:')" failed
    assert_equal "$(step_status never-exits 'lab01-blocking step 7:')" failed
    # The fork bomb: nothing that needs an answer from its server (what
    # passes before it, its listening line or bind's error, depends on how
    # soon its programs are killed at the limit).
    assert_equal "$(step_status fork-bomb 'lab01-blocking step 5:')" failed
    local complete partial never bomb
    complete=$(points complete all) partial=$(points partial all)
    never=$(points never-exits all) bomb=$(points fork-bomb all)
    ((complete > partial && partial > never && never > bomb)) ||
        fail "the order is wrong: complete $complete, partial $partial, never-exits $never, fork-bomb $bomb"
}

@test "a student's own tests, manifest and Makefile change nothing" {
    # Its lab01 is the skeleton: only the given tests pass, out of all of the
    # repository's tests (not its own single test), for no points.
    assert_equal "$(points edits-tests lab01-blocking)" 0
    assert_equal "$(field edits-tests lab01-blocking 4)" "$(grep -c '^@test ' "$REPO/tests/lab01-blocking.bats")"
    assert_equal "$(field edits-tests lab01-blocking 3)" "$(grep -c '^@test "given:' "$REPO/tests/lab01-blocking.bats")"
}

@test "the fork bomb is contained and said so; the server that never exits is stopped" {
    run cat "$GRADES/fork-bomb/lab01-blocking.log"
    assert_line --regexp '^make grade: the student.s programs reached the limit of [0-9]+ processes'
    run python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["output"])' "$GRADES/fork-bomb/results.json"
    assert_output --partial "reached the limit of"
    # Bounded: the other slot graded the rest meanwhile.
    local seconds
    seconds=$(field fork-bomb all 9)
    ((seconds < 240)) || fail "the fork bomb took $seconds s to grade"
    seconds=$(field never-exits all 9)
    ((seconds < 240)) || fail "the server that never exits took $seconds s to grade"
}

@test "grades.csv, results.json and junit.xml are valid and agree" {
    run python3 - "$GRADES" "$REPO" <<'EOF'
import csv, json, os, sys, xml.etree.ElementTree as ET
out, repo = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(os.path.join(out, "grades.csv"))))
students = sorted({r["student"] for r in rows})
assert students == sorted(["complete", "partial", "no-build", "never-exits", "fork-bomb", "edits-tests"]), students
tests_per_lab = {}
for f in os.listdir(os.path.join(repo, "tests")):
    if f.startswith("lab0") and f.endswith(".bats"):
        tests_per_lab[f[:-5]] = sum(1 for l in open(os.path.join(repo, "tests", f)) if l.startswith("@test "))
for s in students:
    mine = [r for r in rows if r["student"] == s]
    assert len(mine) == 5, (s, len(mine))
    total = [r for r in mine if r["lab"] == "all"][0]
    labs = [r for r in mine if r["lab"] != "all"]
    assert float(total["points"]) == sum(float(r["points"]) for r in labs), s
    for r in labs:
        assert int(r["total"]) == tests_per_lab[r["lab"]], (s, r)
        assert 0 <= int(r["passed"]) <= int(r["total"]), (s, r)
    res = json.load(open(os.path.join(out, s, "results.json")))
    assert res["score"] == float(total["points"]), (s, res["score"], total["points"])
    assert abs(sum(t["score"] for t in res["tests"]) - res["score"]) < 1e-9, s
    for t in res["tests"]:
        for key in ("name", "score", "max_score", "status", "output", "visibility"):
            assert key in t, (s, key, t)
        assert t["status"] in ("passed", "failed"), t
        assert 0 <= t["score"] <= t["max_score"], t
    root = ET.parse(os.path.join(out, s, "junit.xml")).getroot()
    assert root.tag == "testsuites", root.tag
    cases = root.findall("./testsuite/testcase")
    assert int(root.get("tests")) == len(cases), s
    failures = len(root.findall("./testsuite/testcase/failure"))
    assert int(root.get("failures")) == failures, s
    assert len(cases) - failures - len(root.findall("./testsuite/testcase/skipped")) >= int(total["passed"]) - 1, s
print("ok")
EOF
    assert_success
    assert_output ok
}

@test "the instructor's extra tests count, hidden until published" {
    run python3 -c '
import json, sys
for t in json.load(open(sys.argv[1]))["tests"]:
    if "hidden.bats" in t["name"]:
        print(t["score"], t["max_score"], t["visibility"])' "$GRADES/complete/results.json"
    assert_output "$EXTRA_POINTS $EXTRA_POINTS after_published"
    run grep -c 'classname="lab01-blocking.extra.lab01-blocking.hidden"' "$GRADES/complete/junit.xml"
    assert_output 2
}

@test "nothing is left behind: no process, no control group, no work folder" {
    run pgrep -l -u "$UIDS"
    assert_output ""
    # Nothing runs from the students' folders either.
    local exe left=()
    for exe in /proc/[0-9]*/exe; do
        [[ $(readlink "$exe" 2>/dev/null) == "$SUBS"/* ]] && left+=("$exe")
    done
    assert_equal "${left[*]}" ""
    # (Named after the grading's users: another grading may run meanwhile.)
    run find /sys/fs/cgroup -maxdepth 6 -type d -name "sockets-lab-grade-$GRADE_UID_BASE-*"
    assert_output ""
    run find "${TMPDIR:-/tmp}" -maxdepth 1 -type d -name "sockets-lab-grade-$GRADE_UID_BASE.*"
    assert_output ""
}

@test "the reports: the memcheck column, and any byte a program printed made valid" {
    # (make grade MEMCHECK=1 on a whole lab takes minutes: the report that
    # turns the runs into grades is tested here on a prepared run.)
    local dir=$BATS_TEST_TMPDIR
    printf 'labx\t0\t0\tthe given code\nlabx\t1\t60\tOne\nlabx\t2\t40\tTwo\n' >"$dir/steps.tsv"
    printf 'labx\t0\tgiven: a\nlabx\t1\tstep 1 (a): \303\251t\303\251\nlabx\t2\tstep 2 (b): bad\n' >"$dir/tests.tsv"
    printf '%s\n' $'@lab\tlabx\ttested\t\t' '@build' '|x.c:1:5: warning: unused variable' \
        $'@tap\tmain' '1..3' 'ok 1 given: a' $'ok 2 step 1 (a): \303\251t\303\251' 'not ok 3 step 2 (b): bad' \
        $'# expected "OK", received "\377<&>\001" \\ end' \
        '@memcheck' '1..1' 'not ok 1 step 2 (b): bad' '# the server is not clean (Valgrind):' >"$dir/runs"
    LC_ALL=C awk -v student=s -v memcheck=1 -v seconds=7 -v json="$dir/results.json" -v junit="$dir/junit.xml" \
        -v csv="$dir/rows.csv" -f "$REPO/tests/tools/grade-report.awk" "$dir/steps.tsv" "$dir/tests.tsv" - <"$dir/runs"
    run cat "$dir/rows.csv"
    assert_line 's,labx,2,3,60,100,no,1,,tested'
    assert_line 's,all,2,3,60,100,no,1,7,-'
    run python3 - "$dir" <<'PY'
import json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
res = json.load(open(d + "/results.json", encoding="utf-8"))
two = [t for t in res["tests"] if t["name"].startswith("labx step 2")][0]
assert two["status"] == "failed" and two["score"] == 0, two
assert '"OK", received "\\xFF<&>\\x01" \\ end' in two["output"], two["output"]
one = [t for t in res["tests"] if t["name"].startswith("labx step 1")][0]
assert one["score"] == 60 and one["status"] == "passed", one
mem = [t for t in res["tests"] if "memcheck" in t["name"]][0]
assert mem["status"] == "failed", mem
cases = ET.parse(d + "/junit.xml").getroot().findall("./testsuite/testcase")
assert [c.get("name") for c in cases] == ["given: a", "step 1 (a): \u00e9t\u00e9", "step 2 (b): bad"], cases
assert "\\xFF<&>" in cases[2].find("failure").text
print("ok")
PY
    assert_output ok
}

@test "make grade refuses what it cannot grade, with a reason" {
    run make -s -C "$REPO" grade
    assert_failure 2
    assert_output --partial "usage: make grade SUBMISSIONS=DIR"
    run make -s -C "$REPO" grade SUBMISSIONS="$BATS_TEST_TMPDIR/none"
    assert_failure
    assert_output --partial "no such folder"
    mkdir -p "$BATS_TEST_TMPDIR/class/alice"
    run make -s -C "$REPO" grade SUBMISSIONS="$BATS_TEST_TMPDIR/class" OUT="$BATS_TEST_TMPDIR/class/out"
    assert_failure
    assert_output --partial "inside SUBMISSIONS"
    run make -s -C "$REPO" grade SUBMISSIONS="$BATS_TEST_TMPDIR/class" EXTRA_TESTS="$BATS_TEST_TMPDIR"
    assert_failure
    assert_output --partial "no labNN-NAME.bats"
    echo x >"$BATS_TEST_TMPDIR/out-file"
    run make -s -C "$REPO" grade SUBMISSIONS="$BATS_TEST_TMPDIR/class" OUT="$BATS_TEST_TMPDIR/out-file"
    assert_failure
    assert_output --partial "is not a folder"
}
