# Reads a lab's manifest, labNN-*/steps.txt (its header says the format).
# Sourced by tests/run and the student tools (check, hint, diff, watch).

# manifest_load FILE: reads FILE into STEP_COUNT (the number of steps) and
# arrays indexed by step number: STEP_TITLE, STEP_README, STEP_TESTS,
# STEP_POINTS, STEP_HINT1, STEP_HINT2, STEP_HINT3. Index 0 is the given
# code: STEP_TESTS[0] holds the "given:" regex. With MANIFEST_LANG=fr, a
# step's "title fr:" and "hint N fr:" replace "step N:"'s title and
# "hint N:" (the English stays where a translation is missing). Returns 1
# with MANIFEST_ERROR set when the file is missing or malformed.
manifest_load() {
    local file=$1 record step key value lang=${MANIFEST_LANG:-}
    STEP_COUNT=0
    STEP_TITLE=([0]="the given code")
    STEP_README=([0]="")
    STEP_TESTS=() STEP_POINTS=([0]=0) STEP_HINT1=() STEP_HINT2=() STEP_HINT3=()
    MANIFEST_ERROR=""
    if [[ ! -r $file ]]; then
        MANIFEST_ERROR="$file: no such file"
        return 1
    fi
    # awk turns the blocks into records "STEP<US>KEY<US>VALUE<RS>" (the
    # ASCII unit and record separators: a value may hold newlines).
    while IFS= read -r -d $'\036' record; do
        step=${record%%$'\037'*}
        record=${record#*$'\037'}
        key=${record%%$'\037'*}
        value=${record#*$'\037'}
        case $key in
            error) MANIFEST_ERROR="$file: $value"; return 1 ;;
            title) STEP_TITLE[step]=$value; ((step > STEP_COUNT)) && STEP_COUNT=$step ;;
            readme) STEP_README[step]=$value ;;
            tests) STEP_TESTS[step]=$value ;;
            points) STEP_POINTS[step]=$value ;;
            "hint 1") STEP_HINT1[step]=$value ;;
            "hint 2") STEP_HINT2[step]=$value ;;
            "hint 3") STEP_HINT3[step]=$value ;;
            "title "[a-z][a-z] | "hint "[123]" "[a-z][a-z]) # a translation
                [[ -n $lang && ${key: -2} == "$lang" ]] || continue
                case $key in
                    title*) STEP_TITLE[step]=$value ;;
                    "hint 1"*) STEP_HINT1[step]=$value ;;
                    "hint 2"*) STEP_HINT2[step]=$value ;;
                    "hint 3"*) STEP_HINT3[step]=$value ;;
                esac ;;
            *) MANIFEST_ERROR="$file: step $step: unknown key '$key'"; return 1 ;;
        esac
    done < <(LC_ALL=C awk '
        function out(s, k, v) { printf "%s\037%s\037%s\036", s, k, v }
        function flush() { if (key != "") out(step, key, value); key = "" }
        function error(text) { out(step, "error", "line " NR ": " text); exit 1 }
        BEGIN { step = -1; key = "" }
        /^#/ || /^[ \t]*$/ { flush(); next }
        /^  / {
            if (key == "") error("a continuation line (two spaces) after no key")
            line = substr($0, 3)
            value = (value == "" ? line : value "\n" line)
            next
        }
        {
            flush()
            if (!match($0, /^[a-z][a-z0-9 ]*:/)) error("not \"key: value\": " $0)
            key = substr($0, 1, RLENGTH - 1)
            value = substr($0, RLENGTH + 1)
            sub(/^ /, "", value)
            if (key ~ /^step [0-9]+$/) {
                step = substr(key, 6) + 0
                if (step != expected + 1) error("step " step " after step " expected)
                expected = step
                key = "title"
            } else if (key == "given") {
                step = 0; key = "tests"
            } else if (step < 1) {
                error("\"" key ":\" before the first \"step N:\" line")
            }
        }
        END { flush() }' "$file")
    ((STEP_COUNT > 0)) || { MANIFEST_ERROR="$file: no step"; return 1; }
}

# manifest_untranslated FILE LANG: prints a line for each step of FILE
# whose title or hints have no LANG version ("title fr:", "hint 1 fr:"...);
# returns 1 if there is any.
manifest_untranslated() {
    LC_ALL=C awk -v lang="$2" '
        function report() {
            if (step == "") return
            if (!(("title " lang) in seen)) { print "step " step ": no \"title " lang ":\""; bad = 1 }
            for (k = 1; k <= 3; k++)
                if (!(("hint " k " " lang) in seen)) { print "step " step ": no \"hint " k " " lang ":\""; bad = 1 }
            split("", seen)
        }
        /^step [0-9]+:/ { report(); step = $2; sub(/:$/, "", step); next }
        match($0, /^[a-z][a-z0-9 ]*:/) { seen[substr($0, 1, RLENGTH - 1)] = 1 }
        END { report(); exit bad }' "$1"
}

# manifest_validate LAB_DIR BATS_FILE: checks the loaded manifest against the
# lab's README.md and test file: every key of every step, points adding up
# to 100, each "readme:" a heading of the README, each test matched by
# exactly one step (or given), each step matching at least one test.
# Prints one line per problem; returns 1 if there is any.
manifest_validate() {
    local dir=$1 bats_file=$2 step total=0 name matched problems=() headings=()
    local -A count=()
    mapfile -t headings < <(sed -n 's/^## //p' "$dir/README.md")
    for ((step = 1; step <= STEP_COUNT; step++)); do
        local key
        for key in STEP_TITLE STEP_README STEP_TESTS STEP_POINTS STEP_HINT1 STEP_HINT2 STEP_HINT3; do
            local -n field=$key
            [[ -n ${field[step]:-} ]] || problems+=("step $step: no ${key#STEP_}")
            unset -n field
        done
        [[ ${STEP_POINTS[step]:-} =~ ^[0-9]+$ ]] && total=$((total + STEP_POINTS[step]))
        if [[ -n ${STEP_README[step]:-} ]]; then
            local heading found=0
            for heading in "${headings[@]}"; do
                [[ $heading == "${STEP_README[step]}" ]] && found=1 && break
            done
            ((found)) || problems+=("step $step: README.md has no heading '## ${STEP_README[step]}'")
        fi
    done
    ((total == 100)) || problems+=("the points add up to $total, not 100")
    manifest_test_names "$bats_file"
    for name in "${TEST_NAMES[@]}"; do
        manifest_steps_of "$name"
        matched=""
        for step in "${MATCHED_STEPS[@]}"; do
            matched+="${matched:+ and }${step/#0/given}"
            count[$step]=$((${count[$step]:-0} + 1))
        done
        case $matched in
            "") problems+=("test '$name' belongs to no step") ;;
            *" and "*) problems+=("test '$name' belongs to $matched") ;;
        esac
    done
    for ((step = 1; step <= STEP_COUNT; step++)); do
        ((${count[$step]:-0} > 0)) || problems+=("step $step: no test matches '${STEP_TESTS[step]:-}'")
    done
    ((${#problems[@]} == 0)) && return 0
    printf '%s\n' "${problems[@]}"
    return 1
}

# manifest_test_names BATS_FILE: the names of the file's tests, in order:
# TEST_SOURCES as the file writes them (\\ for \: what bats --filter
# matches) and TEST_NAMES as bats prints them (what the manifest's "tests:"
# patterns match).
manifest_test_names() {
    local source
    TEST_SOURCES=() TEST_NAMES=()
    while IFS= read -r source; do
        TEST_SOURCES+=("$source")
        TEST_NAMES+=("${source//\\\\/\\}")
    done < <(sed -n 's/^@test "\(.*\)" {$/\1/p' "$1")
}

# manifest_steps_of NAME: MATCHED_STEPS, the steps of the loaded manifest
# whose "tests:" pattern matches the test NAME (0: the given code). One
# step, if the manifest is right (see manifest_validate).
manifest_steps_of() {
    local step
    MATCHED_STEPS=()
    for ((step = 0; step <= STEP_COUNT; step++)); do
        [[ -n ${STEP_TESTS[step]:-} && $1 =~ ${STEP_TESTS[step]} ]] && MATCHED_STEPS+=("$step")
    done
    return 0
}
