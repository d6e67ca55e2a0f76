# One student's reports, for tests/tools/grade (write_reports): reads
#   1. steps.tsv  "LAB<TAB>STEP<TAB>POINTS<TAB>TITLE" (STEP 0: the given code;
#                 "extra.NAME": an instructor's extra test file)
#   2. tests.tsv  "LAB<TAB>STEP<TAB>TEST NAME"
#   3. the student's runs, on standard input: "@lab<TAB>LAB<TAB>STATE<TAB>WHY<TAB>NOTE"
#      (STATE: tested or missing), then "@build" and the build log (each line
#      after a "|"), "@tap<TAB>main" or "@tap<TAB>extra.NAME" and a bats
#      TAP output, "@memcheck" and the memcheck run's TAP
# and writes the files named by the variables json (Gradescope's
# results.json), junit (JUnit XML) and csv (the student's rows of
# grades.csv), for the variables student, memcheck (1: a memcheck run was
# made) and seconds. Run with LC_ALL=C: strings are handled as bytes.

BEGIN { FS = "\t"; init_bytes() }

FILENAME == ARGV[1] {
    if (!(($1) in lab_seen)) { lab_seen[$1] = 1; lab_order[++labs] = $1 }
    step_order[$1, ++steps[$1]] = $2
    points[$1, $2] = $3 + 0
    title[$1, $2] = $4
    next
}
FILENAME == ARGV[2] {
    test_order[$1, $2, ++planned[$1, $2]] = $3
    next
}

# ---- the runs ----
/^@lab\t/ {
    lab = $2; state[lab] = $3; why[lab] = $4; note[lab] = $5; mode = ""; next
}
/^@build$/ { mode = "build"; next }
/^@tap\t/ { mode = "tap"; kind = $2; name = ""; if (kind == "main") taps[lab]++; next }
/^@memcheck$/ { mode = "memcheck"; name = ""; memcheck_ran[lab] = 1; next }
mode == "build" {
    line = substr($0, 2)
    if (line ~ /: warning: / && !((lab, line) in warning_seen)) { warning_seen[lab, line] = 1; warnings[lab]++ }
    if (line ~ /(: (fatal )?error: |undefined reference|No rule to make|did not end within)/ && errors[lab]++ < 10)
        build_errors[lab] = build_errors[lab] line "\n"
    next
}
mode == "memcheck" {
    if ($0 ~ /^# / && $0 ~ /is not clean/) unclean[lab] = 1
    next
}
mode == "tap" && /^(not )?ok [0-9]+ / {
    ok = ($0 !~ /^not /)
    name = $0
    sub(/^(not )?ok [0-9]+ /, "", name)
    verdict = ok ? "ok" : "fail"
    if (name ~ / # skip/) {
        why_skip = name; sub(/.* # skip ?/, "", why_skip)
        sub(/ # skip.*$/, "", name)
        verdict = (why_skip ~ /^not run: an earlier test failed/) ? "notrun" : "skip"
        message[lab, name] = why_skip
    }
    if (kind != "main") {
        # An extra file: its tests are listed as they come.
        extra_order[lab, kind, ++extra_count[lab, kind]] = name
    }
    result[lab, name] = verdict
    next
}
mode == "tap" && /^#/ && name != "" {
    line = $0; sub(/^# ?/, "", line)
    # bats' own lines about which function failed where say nothing to a student
    if (line ~ /^ *\(?(from function|in test file) / || line ~ /^ *`.*' failed( with status [0-9]+)?$/) next
    if (lines[lab, name]++ < 40) message[lab, name] = message[lab, name] line "\n"
    next
}

END {
    score = 0; max_score = 0; n_json = 0
    csv_rows = ""
    junit_body = ""; all_tests = 0; all_failures = 0; all_skipped = 0
    total_passed = 0; total_tests = 0; total_warnings = 0; clean_all = "yes"
    summary = ""
    for (l = 1; l <= labs; l++) {
        lab = lab_order[l]
        lab_points = 0; lab_max = 0; lab_passed = 0; lab_total = 0
        lab_state = state[lab]
        if (lab_state == "tested" && !taps[lab]) lab_state = "no build"
        if (lab_state == "tested" && why[lab] != "") lab_state = "stopped"
        suite = ""; suite_tests = 0; suite_failures = 0; suite_skipped = 0
        for (k = 1; k <= steps[lab]; k++) {
            step = step_order[lab, k]
            extra = (step ~ /^extra\./)
            count = extra ? extra_count[lab, step] : planned[lab, step]
            passed = 0; output = ""
            if (extra && count == 0 && lab_state != "missing") {
                output = "this file's tests did not run (no TAP output: a syntax error, or stopped)\n"
            }
            for (t = 1; t <= count; t++) {
                tname = extra ? extra_order[lab, step, t] : test_order[lab, step, t]
                verdict = (lab, tname) in result ? result[lab, tname] : "none"
                classname = lab "." (step == 0 ? "given" : (extra ? step : "step " step))
                suite_tests++
                if (verdict == "ok" || verdict == "skip") {
                    passed++
                    if (verdict == "skip") {
                        suite_skipped++
                        suite = suite "    <testcase classname=\"" xml(classname) "\" name=\"" xml(tname) "\"><skipped message=\"" xml(message[lab, tname]) "\"/></testcase>\n"
                    } else {
                        suite = suite "    <testcase classname=\"" xml(classname) "\" name=\"" xml(tname) "\"/>\n"
                    }
                    continue
                }
                suite_failures++
                if (lab_state == "missing") text = "the lab folder " lab " is missing from the submission"
                else if (lab_state == "no build") text = "the lab does not build:\n" build_errors[lab]
                else if (verdict == "none") text = "no result: the lab's run " (why[lab] != "" ? "was " why[lab] : "ended before this test reported")
                else if (verdict == "notrun") text = "not run: an earlier test failed"
                else text = message[lab, tname]
                first = text; sub(/\n.*/, "", first)
                suite = suite "    <testcase classname=\"" xml(classname) "\" name=\"" xml(tname) "\"><failure message=\"" xml(first) "\">" xml(text) "</failure></testcase>\n"
                if (lab_state == "tested" || lab_state == "stopped") {
                    output = output "FAILED: " tname "\n"
                    n = split(text, parts, "\n")
                    for (p = 1; p <= n && p <= 15; p++) if (parts[p] != "") output = output "    " parts[p] "\n"
                }
            }
            if (!extra) { lab_passed += passed; lab_total += count }
            if (count == 0 && !extra) continue
            got = (passed == count && count > 0) ? points[lab, step] : 0
            if (lab_state == "missing") output = "the lab folder " lab " is missing from the submission\n"
            else if (lab_state == "no build") output = "the lab does not build:\n" build_errors[lab]
            else output = passed "/" count " tests passed" (passed == count ? "" : ": the step's points need them all") "\n" output
            lab_points += got; lab_max += points[lab, step]
            label = lab " " (step == 0 ? "the given code" : (extra ? title[lab, step] : "step " step ": " title[lab, step]))
            # (Concatenated, not sprintf: mawk's sprintf has an 8 KiB buffer.)
            json_tests[++n_json] = "{\"name\": " jstr(label) ", \"score\": " got ", \"max_score\": " points[lab, step] \
                ", \"status\": \"" ((passed == count && count > 0) ? "passed" : "failed") "\", \"visibility\": \"" \
                (extra ? "after_published" : "visible") "\", \"output\": " jstr(output) "}"
        }
        clean = "-"
        if (memcheck == 1 && memcheck_ran[lab]) clean = unclean[lab] ? "no" : "yes"
        if (memcheck == 1) {
            if (clean != "yes") clean_all = "no"
            json_tests[++n_json] = sprintf("{\"name\": %s, \"score\": 0, \"max_score\": 0, \"status\": \"%s\", \"visibility\": \"visible\", \"output\": %s}",
                jstr(lab " under Valgrind memcheck"), clean == "yes" ? "passed" : "failed",
                jstr(clean == "yes" ? "no memory error, no leak, no descriptor left open\n" : (clean == "no" ? "Valgrind reports problems: make memcheck LAB=" substr(lab, 4, 2) " shows them\n" : "not checked: the lab was not built\n")))
        }
        score += lab_points; max_score += lab_max
        total_passed += lab_passed; total_tests += lab_total; total_warnings += warnings[lab] + 0
        csv_rows = csv_rows sprintf("%s,%s,%d,%d,%s,%s,%s,%d,,%s\n", csvq(student), lab, lab_passed, lab_total,
            lab_points, lab_max, clean, warnings[lab] + 0, lab_state)
        summary = summary sprintf("%s: %s/%s points, %d/%d tests passed%s%s\n", lab, lab_points, lab_max,
            lab_passed, lab_total, lab_state == "tested" ? "" : " (" lab_state ")",
            (warnings[lab] ? ", " warnings[lab] " compiler warning" (warnings[lab] > 1 ? "s" : "") : "") \
            (why[lab] != "" ? "; the run was " why[lab] : "") (note[lab] != "" ? "; " note[lab] : ""))
        junit_body = junit_body "  <testsuite name=\"" xml(lab) "\" tests=\"" suite_tests "\" failures=\"" suite_failures \
            "\" errors=\"0\" skipped=\"" suite_skipped "\">\n" suite "  </testsuite>\n"
        all_tests += suite_tests; all_failures += suite_failures; all_skipped += suite_skipped
    }
    csv_rows = csv_rows sprintf("%s,all,%d,%d,%s,%s,%s,%d,%d,-\n", csvq(student), total_passed, total_tests,
        score, max_score, memcheck == 1 ? clean_all : "-", total_warnings, seconds)

    printf "{\n  \"score\": %s,\n  \"execution_time\": %d,\n  \"output\": ", score, seconds >json
    printf "%s,\n  \"tests\": [\n", jstr(summary) >json
    for (i = 1; i <= n_json; i++) printf "    %s\n", json_tests[i] (i < n_json ? "," : "") >json
    printf "  ]\n}\n" >json
    printf "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" time=\"%d\">\n",
        xml(student), all_tests, all_failures, all_skipped, seconds >junit
    printf "%s</testsuites>\n", junit_body >junit
    printf "%s", csv_rows >csv
}

# ---- escaping: JSON and XML strings hold valid UTF-8 only -------------------

function init_bytes(   i) {
    for (i = 1; i < 256; i++) byte_value[sprintf("%c", i)] = i
}

# safe(s, kind): s made a JSON string's inside (kind "json") or XML text
# (kind "xml"): its control characters (but newline and tab) and the bytes
# that are not part of a well-formed UTF-8 sequence shown as the text
# "\xNN", as the tests show a program's bytes.
function safe(s, kind,   out, i, n, c, v, need, j, ok, w) {
    out = ""; n = length(s)
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1); v = byte_value[c]
        if (v >= 32 && v < 127) {
            if (kind == "json") { if (c == "\"" || c == "\\") out = out "\\"; out = out c }
            else if (c == "&") out = out "&amp;"
            else if (c == "<") out = out "&lt;"
            else if (c == ">") out = out "&gt;"
            else if (c == "\"") out = out "&quot;"
            else out = out c
            continue
        }
        if (v < 32 || v == 127) {
            if (kind == "json") {
                if (c == "\n") out = out "\\n"
                else if (c == "\t") out = out "\\t"
                else out = out "\\\\" sprintf("x%02X", v)
            } else if (c == "\n" || c == "\t") out = out c
            else out = out sprintf("\\x%02X", v)
            continue
        }
        # A multi-byte sequence: kept whole when well-formed.
        need = (v >= 194 && v <= 223) ? 1 : (v >= 224 && v <= 239) ? 2 : (v >= 240 && v <= 244) ? 3 : -1
        ok = (need > 0 && i + need <= n)
        for (j = 1; ok && j <= need; j++) {
            w = byte_value[substr(s, i + j, 1)]
            if (w < 128 || w > 191) ok = 0
            # no overlong form, no surrogate, nothing above U+10FFFF
            if (j == 1 && ((v == 224 && w < 160) || (v == 237 && w > 159) || (v == 240 && w < 144) || (v == 244 && w > 143))) ok = 0
        }
        if (ok) { out = out substr(s, i, need + 1); i += need }
        else out = out (kind == "json" ? "\\\\" : "\\") sprintf("x%02X", v)
    }
    return out
}
function jstr(s) { return "\"" safe(s, "json") "\"" }
function xml(s) { return safe(s, "xml") }
function csvq(s) { if (s ~ /[,"]/) { gsub(/"/, "\"\"", s); return "\"" s "\"" } return s }
