# Helpers of tests/lab04-threads.bats (loaded after lab.bash): the kinds of
# participant its tests use, their waits and the checks of what they heard.
# Here rather than in the .bats file, which bats preprocesses line by line
# in each of its processes (a third of a second for a long file).

# Besides the scripted peer, three kinds of participant: the lab's client with
# its standard input on a FIFO that the test holds open (idle, then written
# to, then closed); a bare socket opened by bash, one that never reads or one
# the test writes and reads itself; and tests/helpers/lab04-chat, a crowd of
# clients under load (a sender of megabytes, readers at a set pace, clients
# that never read), for the flow control.

# fifo_open NAME: creates $LOGS/NAME.fifo and holds it open in FIFO_FD[NAME]
# (read-write, so that opening it never blocks). The client reading it sees
# end of file once fifo_close closes the test's end.
fifo_open() {
    local fd
    mkfifo "$LOGS/$1.fifo"
    exec {fd}<>"$LOGS/$1.fifo"
    FIFO_FD[$1]=$fd
}

# fifo_write NAME LINE: writes LINE and a newline to the FIFO.
fifo_write() {
    printf '%s\n' "$2" >&"${FIFO_FD[$1]}"
}

# fifo_close NAME: closes the test's end: the reader gets end of file.
fifo_close() {
    local fd=${FIFO_FD[$1]}
    exec {fd}>&-
    unset "FIFO_FD[$1]"
}

# client_start ROLE ARGS...: starts the lab's client in the background (in
# the mode's wrapper), standard input from $LOGS/ROLE.fifo, output in
# $LOGS/ROLE.out and ROLE.err. It inherits none of the test's FIFOs or
# sockets, so closing one really ends it.
client_start() {
    local role=$1 fd
    shift
    lab_wrapper "$role"
    # Emptied here, not in the child: a waiter must never read the previous
    # run's lines.
    : >"$LOGS/$role.out"
    : >"$LOGS/$role.err"
    (
        for fd in "${FIFO_FD[@]}" "${SOCKET_FD[@]}"; do
            exec {fd}>&-
        done
        exec setsid "${WRAP[@]}" "$LAB_DIR/client" "$@" <"$LOGS/$role.fifo" \
            >"$LOGS/$role.out" 2>"$LOGS/$role.err" 3>&- 4>&-
    ) &
    LAB_PID[$role]=$!
}

# client_end ROLE: waits (bounded) for a client started by client_start to
# exit by itself; it must exit 0, clean under Valgrind or the sanitizer.
client_end() {
    wait_exit "$1" "$T_RUN" || return 1
    if ((EXIT_STATUS != 0)); then
        tool_report "$1"
        fail "$(printf 'the client %s should exit with status 0; it %s\n%s%s' "$1" \
            "$(how_it_ended "$EXIT_STATUS" "$LOGS/$1.err")" "${TOOL_REPORT:+$TOOL_REPORT$'\n'}" \
            "$(describe_logs "$1")")"
        return 1
    fi
    check_tool_logs "$1"
}

# socket_open NAME: a connection to the server that the test opens with
# bash, in SOCKET_FD[NAME]; unread, it is a client that stopped reading.
socket_open() {
    local fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    SOCKET_FD[$1]=$fd
}

# socket_send NAME LINE: writes LINE and a newline to the socket NAME.
socket_send() {
    printf '%s\n' "$2" >&"${SOCKET_FD[$1]}"
}

# socket_expect NAME LINE: the next line read from the socket NAME (within
# T_WAIT) must be LINE.
socket_expect() {
    local line="" read_status=0
    IFS= read -r -t "$T_WAIT" -u "${SOCKET_FD[$1]}" line || read_status=$?
    # (read: above 128 when its time ran out, 1 at the end of the input.)
    if ((read_status > 128)); then
        fail "$(printf 'timeout: the server sent no whole line on connection %s within %s s\n  expected: %s\n  got:      %s' \
            "$1" "$T_WAIT" "$(visible "$2")" "$([[ -n $line ]] && echo "$(visible "$line") (no newline yet)" || echo nothing)")"
        return 1
    fi
    if ((read_status != 0)); then
        went_wrong "the server closed connection $1 before a whole line" \
            "$(printf '  expected: %s\n  got:      %s' "$(visible "$2")" \
                "$([[ -n $line ]] && echo "$(visible "$line") then the end" || echo "the end")")"
        fail "$WENT_WRONG"
        return 1
    fi
    expect_equal "the next line on connection $1" "$2" "$line"
}

# peer_start_at ROLE HOST PEER-COMMAND...: peer_start, connecting to HOST
# (an IPv6 address such as ::1) instead of 127.0.0.1.
peer_start_at() {
    local role=$1 host=$2
    shift 2
    : >"$LOGS/$role.out"
    : >"$LOGS/$role.err"
    "$PEER" -T "$T_RUN" -t "$T_WAIT" "$host" "$PORT" "$@" \
        </dev/null >"$LOGS/$role.out" 2>"$LOGS/$role.err" 3>&- 4>&- &
    LAB_PID[$role]=$!
}

# matching_lines ROLE REGEX: sets output to the lines of the role's stdout
# that match REGEX (extended), one a line, and lines to them (like run grep,
# without its processes for a short log).
matching_lines() {
    local all=() line
    output=""
    lines=()
    mapfile -n 1000 -t all <"$LOGS/$1.out"
    if ((${#all[@]} == 1000)); then
        output=$(grep -E -- "$2" "$LOGS/$1.out")
        [[ -n $output ]] && mapfile -t lines <<<"$output"
        return 0
    fi
    for line in "${all[@]}"; do
        if [[ $line =~ $2 ]]; then
            lines+=("$line")
        fi
    done
    ((${#lines[@]} == 0)) || printf -v output '%s\n' "${lines[@]}"
    output=${output%$'\n'}
}

# server_field FIELD: a field of the server's /proc/PID/status (VmHWM in kB,
# Threads), or nothing where there is no /proc.
server_field() {
    proc_field server "$1"
}

# lines_into ARRAY COMMAND...: runs COMMAND and puts its lines in ARRAY.
# Through a file: bash reads a pipe a byte at a time (seconds for a few
# megabytes), a file a block at a time.
lines_into() {
    local lines_into_name=$1
    shift
    "$@" >"$LOGS/.lines"
    mapfile -t "$lines_into_name" <"$LOGS/.lines"
}

# words WORD COUNT: sets the array WORDS to COUNT times WORD (e.g. COUNT
# "line" commands for the peer: it prints each line it reads, flushed).
words() {
    WORDS=()
    if (($2 > 0)); then
        yes "$1" | head -n "$2" >"$LOGS/.lines"
        mapfile -t WORDS <"$LOGS/.lines"
    fi
    return 0
}

# numbered_lines FORMAT FROM TO: prints printf(FORMAT, N) for N from FROM to
# TO, each followed by a newline (e.g. the lines a client should receive).
# (Bash loops are slow under bats, which traces every command: awk writes.)
numbered_lines() {
    FORMAT=$1 awk -v from="$2" -v to="$3" 'BEGIN {
        for (n = from; n <= to; n++) printf ENVIRON["FORMAT"] "\n", n }'
}

# numbered_text FORMAT FROM TO: the same lines as one peer TEXT argument,
# each line ending in the escape \n.
numbered_text() {
    FORMAT=$1 awk -v from="$2" -v to="$3" 'BEGIN {
        for (n = from; n <= to; n++) printf ENVIRON["FORMAT"] "\\n", n }'
}

# volume PLAIN REDUCED WHY: sets VOLUME to PLAIN, or to REDUCED under Valgrind
# or a sanitizer (saying so on the test's output).
volume() {
    VOLUME=$1
    if [[ ${VALGRIND:-0} != 0 || -n ${SANITIZE:-} ]]; then
        VOLUME=$2
        echo "# reduced under ${SANITIZE:+-fsanitize=$SANITIZE}$([[ ${VALGRIND:-0} != 0 ]] && echo Valgrind): $3" >&3
    fi
}

# check_relay_streams FILL STREAM...: checks the lines clients received
# while 8 senders s1..s8 each sent "sI NNNN FILL" for NNNN 0000 to 0999.
# Each STREAM is FILE:FULL:OWN-TAG. In each file, every line is a whole line
# of the relay (no line cut or spliced with another), each sender always
# has the same name, and its lines come in order without a gap or a repeat.
# FULL=1: the client was there all along, so it has every line of every
# sender and 8 joins and 8 leaves. FULL=0: the client was one of the
# senders (OWN-TAG): it left early, so it has a run of each other sender's
# lines, and none of its own. (One awk for all: starting a process takes
# 30 to 50 ms.)
check_relay_streams() {
    local fill=$1 stream args=() problems
    shift
    for stream; do
        IFS=: read -r file full own <<<"$stream"
        args+=("full=$full" "own=$own" "$file")
    done
    problems=$(awk -v fill="$fill" '
        function problem(text) { if (shown++ < 12) print "  " (ended ? "in all" : "line " FNR) ": " text; bad++ }
        function finish(    i, s) {
            if (what == "") return
            ended = 1
            if (wasfull) {
                for (i = 1; i <= 8; i++) {
                    s = "s" i
                    if (count[s] != 1000) problem(s ": " count[s] + 0 " lines of 1000 arrived")
                    else if (last[s] != 999) problem(s ": the last line is " last[s])
                }
                if (joins != 8 || leaves != 8) problem(joins + 0 " joins and " leaves + 0 " leaves; expected 8 and 8")
            } else if (byes != 1) problem(byes + 0 " bye lines; expected 1, last")
            if (shown > 12) print "  ... " bad - 12 " more"
            if (bad) print "  (in " what ")"
            split("", name); split("", last); split("", count)
            joins = leaves = byes = shown = bad = ended = 0
        }
        FNR == 1 { finish(); what = FILENAME; sub(/.*\//, "", what); wasfull = full }
        /^\* client-[0-9]+ joined$/ { joins++; next }
        /^\* client-[0-9]+ left$/ { leaves++; next }
        /^welcome client-[0-9]+$/ {
            if (full || FNR != 1) problem("\"" $0 "\" after other lines: a newcomer'"'"'s first line is its welcome")
            next }
        !full && $0 == "bye" { byes++; next }
        {
            if (NF != 4 || $1 !~ /^client-[0-9]+>$/ || $2 !~ /^s[1-8]$/ ||
                $3 !~ /^[0-9][0-9][0-9][0-9]$/ || $4 != fill) {
                problem("not a whole relayed line: \"" substr($0, 1, 120) "\""); next
            }
            if ($2 == own) { problem("its own line came back: " $2 " " $3); next }
            if (name[$2] == "") name[$2] = $1
            else if (name[$2] != $1) problem($2 " relayed as " $1 ", earlier as " name[$2])
            n = $3 + 0
            if ($2 in last) {
                if (n != last[$2] + 1) problem($2 " " $3 " after " $2 " " sprintf("%04d", last[$2]))
            } else if (full && n != 0) problem($2 " starts at " $3 ", not 0000")
            last[$2] = n; count[$2]++
        }
        END { finish() }' "${args[@]}")
    if [[ -n $problems ]]; then
        fail "$(printf 'what the clients heard is wrong:\n%s' "$problems")"
        return 1
    fi
}

# ---- lab04-chat: load, flow control ------------------------------------------

CHAT=$REPO_DIR/tests/helpers/lab04-chat

# chat COMMAND...: runs tests/helpers/lab04-chat COMMAND (see the top of
# lab04-chat.c) against the server on $PORT, each wait bounded by T_RUN, the
# whole by CHAT_BOUND seconds (default T_RUN). Its summary is in $output and
# $lines, and in the test's output. Fails with what went wrong if it did.
chat() {
    local bound=${CHAT_BOUND:-$T_RUN} line
    lab_run "$CHAT" -T "$bound" -t "$T_RUN" 127.0.0.1 "$PORT" "$@" 3>&- 4>&-
    for line in "${lines[@]}"; do
        echo "# $line" >&3
    done
    if ((status != 0)); then
        went_wrong "the chat went wrong (lab04-chat $*)" "$stderr"
        fail "$(printf '%s\n  its summary so far:\n%s' "$WENT_WRONG" "$output")"
        return 1
    fi
}

# chat_start ROLE COMMAND...: chat in the background, its output in
# $LOGS/ROLE.out and ROLE.err (the whole bounded by three times T_RUN).
chat_start() {
    local role=$1
    shift
    : >"$LOGS/$role.out"
    : >"$LOGS/$role.err"
    "$CHAT" -T $((3 * T_RUN)) -t "$T_RUN" 127.0.0.1 "$PORT" "$@" \
        </dev/null >"$LOGS/$role.out" 2>"$LOGS/$role.err" 3>&- 4>&- &
    LAB_PID[$role]=$!
}

# chat_wait_owing ROLE COUNT: waits until the background chat ROLE (owe)
# says the server owes COUNT of its clients lines (its first COUNT lines);
# skips the test where it cannot tell.
chat_wait_owing() {
    local deadline=$((SECONDS + T_RUN))
    local said=()
    while mapfile -t said <"$LOGS/$1.out" && ((${#said[@]} < $2)); do
        if ! is_running "$1"; then
            wait_exit "$1" "$T_WAIT"
            ((EXIT_STATUS == 3)) && skip "$(cat "$LOGS/$1.out")"
            went_wrong "lab04-chat (owe) ended with status $EXIT_STATUS" "$(cat "$LOGS/$1.err")"
            fail "$WENT_WRONG"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            fail "$(printf 'timeout: lab04-chat (owe) did not get the server to owe its clients within %s s:\n%s' \
                "$T_RUN" "$(cat "$LOGS/$1.err")")"
            return 1
        fi
        lab_sleep 0.05
    done
    printf '# %s\n' "${said[@]}" >&3
}

# chat_end ROLE: waits for the background chat ROLE to end by itself; fails
# unless it says all went as expected.
chat_end() {
    wait_exit "$1" "$((3 * T_RUN))" || return 1
    if ((EXIT_STATUS != 0)); then
        went_wrong "lab04-chat ($1) ended with status $EXIT_STATUS" "$(cat "$LOGS/$1.err")"
        fail "$WENT_WRONG"
        return 1
    fi
    grep '^ok end: ' "$LOGS/$1.out" | sed 's/^/# /' >&3
}

# expect_summary PREFIX TEXT: the line of the chat's summary that starts with
# PREFIX must hold TEXT; WHY (a third argument) says what it means if not.
expect_summary() {
    local line
    for line in "${lines[@]}"; do
        [[ $line == "$1"* ]] || continue
        [[ $line == *"$2"* ]] && return 0
        fail "$(printf 'lab04-chat says:\n  %s\nexpected in that line: "%s"%s' "$line" "$2" "${3:+$'\n'$3}")"
        return 1
    done
    fail "$(printf 'no line "%s..." in the summary of lab04-chat:\n%s' "$1" "$output")"
}

# expect_longest_wait PREFIX: the reader whose summary line starts with
# PREFIX never waited more than 2.5 s for bytes (the contract: a client that
# does not read holds the others up 2.5 s at most), scaled under Valgrind and
# the sanitizers.
expect_longest_wait() {
    local line bound=$((2500 * LAB_SCALE))
    for line in "${lines[@]}"; do
        [[ $line == "$1"* && $line =~ longest\ wait\ ([0-9]+)\ ms ]] || continue
        ((BASH_REMATCH[1] <= bound)) && return 0
        fail "$(printf '%s waited %s ms for the next bytes (bound: %s ms): a client that does not read may hold the others up 2.5 s at most\n  %s' \
            "${1% (*}" "${BASH_REMATCH[1]}" "$bound" "$line")"
        return 1
    done
    fail "$(printf 'no line "%s..." with its longest wait in the summary of lab04-chat:\n%s' "$1" "$output")"
}

# expect_peak_memory WHEN: the server's peak resident memory (VmHWM) is
# under 64 MB. Not checked under Valgrind or a sanitizer (their memory, not
# the server's), nor where there is no /proc.
expect_peak_memory() {
    local peak
    if [[ ${VALGRIND:-0} != 0 || -n ${SANITIZE:-} ]]; then
        echo "# memory not checked under ${SANITIZE:+-fsanitize=$SANITIZE}$([[ ${VALGRIND:-0} != 0 ]] && echo Valgrind): its figures are the tool's, not the server's" >&3
        return 0
    fi
    peak=$(server_field VmHWM)
    if [[ -z $peak ]]; then
        echo "# memory not checked: no /proc/PID/status on this system" >&3
        return 0
    fi
    echo "# the server's peak memory (VmHWM): $peak kB (bound: 65536 kB)" >&3
    ((peak < 65536)) ||
        fail "the server's peak memory was $peak kB $1 (bound: 64 MB): memory must stay bounded (one copy of each line, a bound per receiver)"
}

# repeated VAR TEXT COUNT: sets VAR to COUNT times TEXT (by doubling:
# ${x// /TEXT} on a long string takes seconds).
repeated() {
    local repeated_text=$2
    while ((${#repeated_text} < ${#2} * $3)); do
        repeated_text+=$repeated_text
    done
    printf -v "$1" '%s' "${repeated_text:0:${#2} * $3}"
}

# expect_long_line WHAT EXPECTED ACTUAL: like expect_equal, for lines too
# long to show: their lengths, and where they first differ.
expect_long_line() {
    [[ $2 == "$3" ]] && return 0
    # The longest common beginning, by halves (few commands: under bats
    # each costs a third of a millisecond).
    local low=0 high=${#2} middle
    ((${#3} < high)) && high=${#3}
    while ((low < high)); do
        middle=$(((low + high + 1) / 2))
        if [[ ${2:0:middle} == "${3:0:middle}" ]]; then low=$middle; else high=$((middle - 1)); fi
    done
    fail "$(printf '%s differs: %s bytes expected, %s got; from byte %s on:\n  expected: %s\n  got:      %s' \
        "$1" "${#2}" "${#3}" "$low" "$(visible "${2:low:60}")" "$(visible "${3:low:60}")")"
}

# stop_with_busy_clients SIGNAL: the server stops on SIGNAL while one client
# is owed lines it does not read (its connection full, more waiting in the
# server: its writer is stuck in send), one has sent half a line, and 101
# wait in recv() (21 under Valgrind or a sanitizer, where each costs more);
# every client sees the end.
stop_with_busy_clients() {
    local start crowd=100 script=()
    [[ ${VALGRIND:-0} != 0 || -n ${SANITIZE:-} ]] && crowd=20
    server_start_ready 0
    # client-1 reads everything until the end (cat, at full speed), and
    # sends nothing.
    socket_open idle
    cat <&"${SOCKET_FD[idle]}" >/dev/null 2>&1 3>&- 4>&- &
    LAB_PID[idle]=$!
    wait_for_output server '^client-1 connected from '
    # client-2 never reads while client-3 sends, until the server holds
    # 256 KiB for client-2 beyond what its connection holds (which buffers
    # little: less to send).
    chat_start owe owe 262144 rcvbuf 1024 mss 300 stay
    chat_wait_owing owe 1
    peer_start half expect 'welcome client-4' send 'half a li' timeout "$T_RUN" drain
    wait_for_output server '^client-4 connected from '
    # $crowd more, that only wait.
    lines_into script awk -v bound="$T_RUN" -v crowd="$crowd" 'BEGIN {
        for (k = 2; k <= crowd; k++) { print "connect"; print "c" k }
        print "timeout"; print bound
        for (k = 1; k <= crowd; k++) { print "use"; print (k == 1 ? "1" : "c" k); print "drain" } }'
    peer_start crowd "${script[@]}"
    wait_for_count server '^client-[0-9]+ connected from ' $((crowd + 4))
    start=$EPOCHREALTIME
    server_stop --signal "$1"
    report_time "stopped on SIG$1 with $((crowd + 4)) clients" "$start"
    # (cat ends at the end of file, or with an error on a reset.)
    wait_exit idle "$T_WAIT"
    peer_wait half
    peer_wait crowd
    # The client owed lines: reading now, it must reach the end (what was
    # sent, then end of file or a reset), not wait forever.
    chat_end owe
}
