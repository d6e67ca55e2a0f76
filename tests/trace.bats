#!/usr/bin/env bats
# make trace's own tests (tests/tools/trace, trace-render and the
# conversations in tests/tools/trace-scripts/): on the reference solution of
# each lab, the diagram shows, in order, what the lab is about; the picture
# (trace.svg) is well-formed XML that names the same calls; a lab stopped at
# a TODO, a server that hangs or crashes, still give a diagram, within the
# bound; without strace the command says how to install it.
# Every run of make trace is bounded, and its time reported (# lines).

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
TRACE=$REPO/tests/tools/trace
# Seconds: make trace LAB=NN from a fresh copy, build included (the bar).
TRACE_BOUND=10
# Seconds: the session's bound in the tests of a program that hangs.
HANG_SECONDS=2
# The end of a row whose call waited while nothing else happened.
WAITED='(  \(after [0-9]+ ms\))?$'

setup_file() {
    make -s -C "$REPO/tests/helpers" peer >/dev/null
    # The diagram's parser: the rows of a diagram (or the calls an SVG
    # names) as "lane<TAB>text" lines.
    cat >"$BATS_FILE_TMPDIR/rows.py" <<'EOF'
import re
import sys
import xml.etree.ElementTree as ET

def diagram_rows(text):
    """A row is "%9.1f  " + two characters a lane + " " + the lane's name,
    padded + "  " + the call. The names are the staircase on top."""
    lines = text.split("\n")
    top = next(i for i, l in enumerate(lines) if re.match(r"^ {7}ms  \S", l))
    names = [lines[top][11:]]
    i = top + 1
    while re.match(r"^ {11}(│ )+\S", lines[i]):
        names.append(re.sub(r"^ {11}(│ )+", "", lines[i]))
        i += 1
    lanes, width = len(names), max(len(n) for n in names)
    for line in lines[i:]:
        if not re.match(r"^ *\d+\.\d  ", line):
            continue
        rest = line[11 + 2 * lanes + 1:]
        yield rest[:width].rstrip(), rest[width + 2:]

def svg_rows(path):
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.parse(path).getroot()
    if root.tag != ns + "svg":
        sys.exit("the root element is %s, not svg" % root.tag)
    for row in root.iter(ns + "g"):
        texts = [t for t in row.iter(ns + "text")]
        if row.get("class") == "row":
            yield texts[1].text, texts[2].text

mode, source = sys.argv[1], sys.argv[2]
rows = diagram_rows(open(source, encoding="utf-8").read()) if mode == "text" else svg_rows(source)
for lane, call in rows:
    print("%s\t%s" % (lane, call))
EOF
    # How many pixels of a PNG (8-bit RGB or RGBA, as browsers write) have
    # each of the colours given as RRGGBB: a page that drew the diagram
    # has its lanes' colours, an error page or a blank one has not.
    cat >"$BATS_FILE_TMPDIR/png_colours.py" <<'EOF'
import struct
import sys
import zlib

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and colour_type in (2, 6), "not 8-bit RGB(A)"
        size = 3 if colour_type == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
raw, stride = zlib.decompress(idat), width * size
previous, counts = bytearray(stride), {c: 0 for c in sys.argv[2:]}
wanted = {bytes.fromhex(c): c for c in sys.argv[2:]}
for y in range(height):
    kind = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):  # undo the row's filter: None, Sub, Up, Average, Paeth
        a = line[i - size] if i >= size else 0
        b = previous[i]
        c = previous[i - size] if i >= size else 0
        if kind == 1:
            line[i] = (line[i] + a) & 255
        elif kind == 2:
            line[i] = (line[i] + b) & 255
        elif kind == 3:
            line[i] = (line[i] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c):
                best = a
            elif abs(p - b) <= abs(p - c):
                best = b
            else:
                best = c
            line[i] = (line[i] + best) & 255
    for x in range(0, stride, size):
        colour = bytes(line[x:x + 3])
        if colour in wanted:
            counts[wanted[colour]] += 1
    previous = line
print(" ".join("%s=%d" % (c, n) for c, n in counts.items()))
EOF
}

setup() {
    bats_load_library bats-support
    bats_load_library bats-assert
    bats_require_minimum_version 1.5.0
    command -v strace >/dev/null || skip "strace is not installed (make trace needs it)"
    strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here: $(strace -o /dev/null true 2>&1 | head -n 1)"
    command -v python3 >/dev/null || skip "python3 is not installed (make trace draws with it)"
    ROOT=$BATS_TEST_TMPDIR/root # a student's copy of the repository
    mkdir -p "$ROOT"
    unset LAB SOLUTION TRACE_INPUT TRACE_SECONDS TRACE_KEEP STUDENT_ROOT NO_COLOR
    export HINT_LANG=en
}

# trace ENV...: make trace with the settings ENV (LAB=01 SOLUTION=1...),
# bounded, under run; its output also in $BATS_TEST_TMPDIR/trace.out, its
# time in TRACE_TIME (seconds, 2 decimals), reported.
trace() {
    local start=$EPOCHREALTIME
    run --separate-stderr timeout -k 5 60 env "$@" "$TRACE" 3>&-
    TRACE_TIME=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { gsub(",", ".", a); gsub(",", ".", b); printf "%.2f", b - a }')
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/trace.out"
    echo "# make trace $*: $TRACE_TIME s" >&3
    [[ $status != 124 ]] || fail "make trace $* did not end within 60 s"
    refute_output --partial $'\e[' # no colour: the output is not a terminal
}

# within SECONDS: make trace took at most SECONDS.
within() {
    awk -v t="$TRACE_TIME" -v bound="$1" 'BEGIN { exit !(t <= bound) }' ||
        fail "make trace took $TRACE_TIME s, more than $1 s"
}

# rows [SVG]: the diagram's rows, from make trace's output or from the
# picture SVG, in ROW_LANE and ROW_TEXT.
rows() {
    local tsv line
    if [[ -n ${1:-} ]]; then
        tsv=$(python3 "$BATS_FILE_TMPDIR/rows.py" svg "$1") || fail "$1 is not a well-formed SVG: $tsv"
    else
        tsv=$(python3 "$BATS_FILE_TMPDIR/rows.py" text "$BATS_TEST_TMPDIR/trace.out") ||
            fail "make trace printed no diagram"
    fi
    ROW_LANE=()
    ROW_TEXT=()
    while IFS=$'\t' read -r line; do
        ROW_LANE+=("${line%%$'\t'*}")
        ROW_TEXT+=("${line#*$'\t'}")
    done <<<"$tsv"
}

# row LANE CALL [AFTER]: ROW, the index of the first row after row AFTER
# (default: from the top) whose lane matches LANE and whose call matches
# CALL (extended regular expressions, anchored at the start); fails saying
# what was looked for, with the rows.
row() {
    local lane=$1 call=$2 i
    for ((i = ${3:--1} + 1; i < ${#ROW_TEXT[@]}; i++)); do
        if [[ ${ROW_LANE[i]} =~ ^($lane)$ && ${ROW_TEXT[i]} =~ ^($call) ]]; then
            ROW=$i
            return 0
        fi
    done
    fail "$(printf 'no row of lane "%s" with a call "%s" after row %s; the rows:\n%s' "$lane" "$call" \
        "${3:--1}" "$(for i in "${!ROW_TEXT[@]}"; do printf '%3d %-16s %s\n' "$i" "${ROW_LANE[i]}" "${ROW_TEXT[i]}"; done)")"
}

# no_row LANE CALL FROM TO: no row strictly between FROM and TO matches.
no_row() {
    local i
    for ((i = $3 + 1; i < $4; i++)); do
        if [[ ${ROW_LANE[i]} =~ ^($1)$ && ${ROW_TEXT[i]} =~ ^($2) ]]; then
            fail "row $i (${ROW_LANE[i]}: ${ROW_TEXT[i]}) comes between rows $3 and $4"
        fi
    done
}

# same_calls_in_svg LAB_DIR: the lab's trace.svg is well-formed XML whose
# rows name the same calls, in the same order, as the text diagram.
same_calls_in_svg() {
    local svg=$1/trace.svg text_lanes text_rows
    [[ -s $svg ]] || fail "no picture $svg"
    rows
    text_lanes=("${ROW_LANE[@]}")
    text_rows=("${ROW_TEXT[@]}")
    rows "$svg"
    assert_equal "${#ROW_TEXT[@]}" "${#text_rows[@]}"
    assert_equal "$(printf '%s\n' "${ROW_TEXT[@]}")" "$(printf '%s\n' "${text_rows[@]}")"
    assert_equal "$(printf '%s\n' "${ROW_LANE[@]}")" "$(printf '%s\n' "${text_lanes[@]}")"
}

# student_lab FROM LAB: puts in $ROOT/LAB the sources of FROM/LAB (the
# solutions, or the repository: the skeleton), not built.
student_lab() {
    mkdir -p "$ROOT/$2"
    cp "$1/$2"/*.c "$1/$2/Makefile" "$ROOT/$2/"
    cp "$1/$2"/*.h "$ROOT/$2/" 2>/dev/null || true
}

@test "lab01: accept returns before the first recv; each answer is sent after its line's recv, turn by turn" {
    trace LAB=01 SOLUTION=1
    assert_success
    within "$TRACE_BOUND"
    rows
    row server 'accept\(3\) = [0-9]+ from '
    local accept=$ROW
    row server '(read|recv)\(4\) = [1-9]'
    ((accept < ROW)) || fail "accept returns at row $accept, after the first recv (row $ROW)"
    # Each line: the client sends it, the server takes it, then answers;
    # the client sends the next line only once it has the answer.
    local line answer sent taken answered heard=-1
    for line in 'hello:OK' 'how are you\?:OK' 'fin:bye'; do
        answer=${line#*:}
        line=${line%:*}
        row 'client 1' "send\(3, \"$line\\\\n\"\) = [0-9]+  #[0-9]+$" "$heard"
        sent=$ROW
        # The arrow: the recv names the send whose bytes it took.
        row server "(read|recv)\(4\) = [0-9]+ \"$line\\\\n\"  ◀ ${ROW_TEXT[sent]##*  }$WAITED" "$heard"
        taken=$ROW
        row server "send\(4, \"$answer\\\\n\"\) = [0-9]+  #[0-9]+$" "$taken"
        answered=$ROW
        row 'client 1' "(read|recv)\(3\) = [0-9]+ \"$answer\\\\n\"  ◀ ${ROW_TEXT[answered]##*  }$WAITED" "$answered"
        heard=$ROW
        ((sent < taken && taken < answered && answered < heard)) ||
            fail "$line: sent at row $sent, taken at $taken, answered at $answered, heard at $heard"
    done
    same_calls_in_svg "$REPO/solutions/lab01-blocking"
}

@test "lab02: one line is taken by two recv calls or more, and answered once" {
    trace LAB=02 SOLUTION=1
    assert_success
    within "$TRACE_BOUND"
    rows
    row server 'accept\(3\) = '
    local accept=$ROW
    row server 'send\(4, "OK 13 bytes 12 chars\\n"\)'
    local answer=$ROW i pieces=() data=""
    for ((i = accept + 1; i < answer; i++)); do
        if [[ ${ROW_LANE[i]} == server && ${ROW_TEXT[i]} =~ ^recv\(4\)\ =\ [1-9][0-9]*\ \"(.*)\" ]]; then
            pieces+=("${BASH_REMATCH[1]}")
            data+=${BASH_REMATCH[1]}
        fi
    done
    echo "# the line came in ${#pieces[@]} recv calls: ${pieces[*]}" >&3
    ((${#pieces[@]} >= 2)) || fail "the line came in ${#pieces[@]} recv call: ${pieces[*]}"
    assert_equal "$data" 'Caf\xC3\xA9 au lait\n'
    no_row server 'send\(' "$accept" "$answer" # answered once, once whole
    same_calls_in_svg "$REPO/solutions/lab02-encoding"
}

@test "lab03: one pass of the select loop reads two clients (their lines waited while the server was stopped)" {
    trace LAB=03 SOLUTION=1
    assert_success
    within "$TRACE_BOUND"
    rows
    row server 'accept\(3\) = [0-9]+ from '
    [[ ${ROW_TEXT[ROW]} =~ =\ ([0-9]+) ]] && local first=${BASH_REMATCH[1]}
    row server 'accept\(3\) = [0-9]+ from ' "$ROW"
    [[ ${ROW_TEXT[ROW]} =~ =\ ([0-9]+) ]] && local second=${BASH_REMATCH[1]}
    row server 'stopped \(SIGSTOP\)'
    row server "select\(in: [0-9 ]+\) = 2, ready: ($first $second|$second $first)$" "$ROW"
    local pass=$ROW
    row server 'select\(' "$pass"
    local next=$ROW
    row server "recv\($first\) = [1-9]" "$pass"
    ((ROW < next)) || fail "recv($first) comes after the next select (row $next)"
    row server "recv\($second\) = [1-9]" "$pass"
    ((ROW < next)) || fail "recv($second) comes after the next select (row $next)"
    # Client 2 vanishes: the server reads end of file and closes.
    row 'client 2' 'killed by SIGKILL'
    row server "recv\($second\) = 0 \(end of file\)" "$ROW"
    same_calls_in_svg "$REPO/solutions/lab03-select"
}

@test "lab04: a line is received by one thread and sent to each other client by other threads" {
    trace LAB=04 SOLUTION=1
    assert_success
    within "$TRACE_BOUND"
    rows
    row 'server reader [0-9]+' 'recv\([0-9]+\) = 11 "hello, all\\n"'
    local taken=$ROW reader=${ROW_LANE[ROW]}
    row 'server writer [0-9]+' 'writev\([0-9]+, "client-1> hello, all\\n"\)' "$taken"
    local writer1=${ROW_LANE[ROW]}
    row 'server writer [0-9]+' 'writev\([0-9]+, "client-1> hello, all\\n"\)' "$ROW"
    local writer2=${ROW_LANE[ROW]}
    [[ $writer1 != "$writer2" && $writer1 != "$reader" && $writer2 != "$reader" ]] ||
        fail "the line was taken by $reader and sent by $writer1 and $writer2: three threads expected"
    row 'client 2 reader' 'recv\(3\) = 21 "client-1> hello, all\\n"' "$taken"
    row 'client 3 reader' 'recv\(3\) = 21 "client-1> hello, all\\n"' "$taken"
    # The join and the leave that the others hear.
    row 'server writer [0-9]+' 'writev\([0-9]+, "\* client-3 joined\\n"\)'
    row 'server writer [0-9]+' 'writev\([0-9]+, "\* client-3 left\\n"\)'
    same_calls_in_svg "$REPO/solutions/lab04-threads"
}

@test "a fresh copy of lab04's solution is built and traced within the bound" {
    student_lab "$REPO/solutions" lab04-threads
    trace LAB=04 STUDENT_ROOT="$ROOT"
    assert_success
    within "$TRACE_BOUND"
    assert_line "The session ran to its end."
    assert_line "Picture: $ROOT/lab04-threads/trace.svg (open it in a browser)."
    [[ -s $ROOT/lab04-threads/trace.svg ]] || fail "no trace.svg"
}

@test "the skeletons: each stops at its TODO, and the diagram shows it, within the bound" {
    local lab
    for lab in lab01-blocking lab02-encoding lab03-select lab04-threads; do
        student_lab "$REPO" "$lab"
        trace LAB="${lab:3:2}" STUDENT_ROOT="$ROOT"
        assert_equal "$status" 1
        within "$TRACE_BOUND"
        assert_line --regexp '^  - (the server|client 1) stopped at its TODO: TODO step [0-9]+: '
        assert_line --regexp '^ +[0-9.]+  .* stderr: TODO step [0-9]+: '
        [[ -s $ROOT/$lab/trace.svg ]] || fail "$lab: no trace.svg"
    done
}

@test "the skeleton in French: make trace's words follow HINT_LANG, the diagram stays as it is" {
    student_lab "$REPO" lab01-blocking
    trace LAB=01 STUDENT_ROOT="$ROOT" HINT_LANG=fr
    assert_equal "$status" 1
    assert_line --partial "  - le serveur s'est arrêté à son TODO : TODO step 1: "
    assert_line --regexp '^ +[0-9.]+  .* server +exits with status 3$'
}

@test "a server that hangs: the session ends at its bound, the diagram shows the calls up to there" {
    student_lab "$REPO/solutions" lab01-blocking
    # The answer is never sent: the server sleeps instead.
    sed -i.orig 's/if (send_answer(client_fd, fin ? "bye\\n" : "OK\\n") == -1) {/pause();\n        if (send_answer(client_fd, fin ? "bye\\n" : "OK\\n") == -1) {/' \
        "$ROOT/lab01-blocking/server.c"
    grep -q 'pause();' "$ROOT/lab01-blocking/server.c" || fail "the fixture did not apply"
    trace LAB=01 STUDENT_ROOT="$ROOT" TRACE_SECONDS="$HANG_SECONDS"
    assert_equal "$status" 1
    within $((HANG_SECONDS + 4))
    assert_line 'The session ended early: client 1 did not print "OK" within 2 s (does a program hang?). The diagram shows the calls up to there.'
    assert_line "  - the server was still running at the end of the session: make trace killed it"
    rows
    row server 'read\(4\) = 6 "hello\\n"'
    row server 'killed by SIGKILL' "$ROW"
    no_row server 'send\(' 0 "$ROW"
}

@test "a server that crashes: the diagram ends with the signal, make trace says so" {
    student_lab "$REPO/solutions" lab02-encoding
    # The first thing utf8_check() does: write through a null pointer.
    sed -i.orig '/^int utf8_check(/{n;s/^{$/{ *(volatile char *)0 = 0;/;}' "$ROOT/lab02-encoding/utf8.c"
    grep -q 'volatile char' "$ROOT/lab02-encoding/utf8.c" || fail "the fixture did not apply"
    trace LAB=02 STUDENT_ROOT="$ROOT"
    assert_equal "$status" 1
    within "$TRACE_BOUND"
    assert_line "  - the server was killed by signal SEGV"
    rows
    row server 'recv\(4\) = [0-9]+ "ait\\n"'
    row server 'signal SIGSEGV' "$ROW"
    row server 'killed by SIGSEGV' "$ROW"
}

@test "TRACE_INPUT: the lab's client reads the file (lab02: a UTF-8 line; lab04: heard by a second client)" {
    # (<&> and quotes: the picture must escape them to stay XML.)
    printf 'Café <&> "x"\n' >"$BATS_TEST_TMPDIR/input.txt"
    trace LAB=02 SOLUTION=1 TRACE_INPUT="$BATS_TEST_TMPDIR/input.txt"
    assert_success
    rows
    row 'client 1' 'read\(stdin\) = 14 "Caf\\xC3\\xA9 <&> \\"x\\"\\n"'
    row server 'recv\(4\) = 14 "Caf\\xC3\\xA9 <&> \\"x\\"\\n"' "$ROW"
    row 'client 1' 'recv\(3\) = 21 "OK 13 bytes 12 chars\\n"' "$ROW"
    same_calls_in_svg "$REPO/solutions/lab02-encoding"
    trace LAB=04 SOLUTION=1 TRACE_INPUT="$BATS_TEST_TMPDIR/input.txt"
    assert_success
    rows
    row 'client 2 reader' 'recv\(3\) = 24 "client-1> Caf\\xC3\\xA9 <&> '
}

@test "colour on a terminal only, and never with NO_COLOR" {
    command -v script >/dev/null || skip "script (util-linux) is not installed: no terminal to try"
    local out=$BATS_TEST_TMPDIR/tty.out
    timeout -k 5 60 script -qec "env LAB=01 SOLUTION=1 $TRACE" /dev/null >"$out" 2>&1 3>&- </dev/null
    grep -q $'\e\\[' "$out" || fail "no colour on a terminal: $(head -n 5 "$out")"
    timeout -k 5 60 script -qec "env LAB=01 SOLUTION=1 NO_COLOR=1 $TRACE" /dev/null >"$out" 2>&1 3>&- </dev/null
    grep -q 'The session ran to its end' "$out" || fail "make trace did not run: $(head -n 5 "$out")"
    ! grep -q $'\e\\[' "$out" || fail "colour with NO_COLOR=1"
}

@test "without strace, make trace says how to install it and stops" {
    local bin=$BATS_TEST_TMPDIR/bin command
    mkdir -p "$bin"
    for command in bash dirname basename uname; do
        ln -s "$(command -v "$command")" "$bin/$command"
    done
    run --separate-stderr timeout -k 5 30 env PATH="$bin" LAB=01 SOLUTION=1 "$TRACE"
    assert_equal "$status" 1
    assert_equal "$output" ""
    # shellcheck disable=SC2154 # set by run --separate-stderr
    [[ $stderr == *"make trace needs strace, which is not installed"* ]] || fail "stderr: $stderr"
    [[ $stderr == *"sudo apt-get install strace"* ]] || fail "stderr: $stderr"
}

@test "the picture opens in a browser (a headless screenshot, where one is installed)" {
    local browser candidate shot=$BATS_TEST_TMPDIR/shot.png
    for candidate in chromium chromium-browser chromium-headless-shell google-chrome chrome; do
        command -v "$candidate" >/dev/null && { browser=$candidate; break; }
    done
    [[ -n ${browser:-} ]] || skip "no headless browser here (chromium): the picture is checked by parsing it (the lab tests)"
    trace LAB=03 SOLUTION=1
    assert_success
    timeout -k 5 60 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=800,800 \
        --screenshot="$shot" "file://$REPO/solutions/lab03-select/trace.svg" >/dev/null 2>&1 3>&- ||
        fail "$browser could not take a screenshot"
    # The lanes' colours: the server's (blue) and client 1's (green) dots
    # and lines, drawn in solid colour.
    local counts server client
    counts=$(python3 "$BATS_FILE_TMPDIR/png_colours.py" "$shot" 2457a6 1b7f3b) || fail "unreadable screenshot: $counts"
    echo "# $browser's screenshot of lab03's trace.svg: pixels of each lane's colour: $counts" >&3
    server=${counts%% *}
    client=${counts##* }
    ((${server#*=} > 1000 && ${client#*=} > 1000)) || fail "the screenshot does not show the diagram's lanes ($counts)"
}
