#!/usr/bin/env bats
# lab04-threads: a chat relay, a thread per client, as lab04-threads/README.md describes it.
# Each test name starts with the README step it checks; "given" marks what
# the skeleton already provides (usage, listening, the lab02/03 modules, the
# main thread's poll loop and self-pipe).

load helpers/lab

setup_file() { lab_setup_file; }
setup() {
    lab_setup
    declare -gA FIFO_FD=() SOCKET_FD=()
}
teardown() {
    local fd
    for fd in "${FIFO_FD[@]}" "${SOCKET_FD[@]}"; do
        exec {fd}>&-
    done
    lab_teardown
}

# ---- helpers of this file -----------------------------------------------------
# Besides the scripted peer, two kinds of participant: the lab's client with
# its standard input on a FIFO that the test holds open (idle, then written
# to, then closed), and a bare socket opened by bash: one that never reads,
# one read by cat into a file, or one the test writes and reads itself.

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
        fail "$(printf 'the client %s exited with status %s; expected 0\n%s' "$1" "$EXIT_STATUS" "$(describe_logs "$1")")"
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

# socket_read NAME ROLE: reads the socket NAME in the background (cat, as
# fast as lines come) into $LOGS/ROLE.out, until end of file.
socket_read() {
    local fd=${SOCKET_FD[$1]}
    cat <&"$fd" >"$LOGS/$2.out" 2>"$LOGS/$2.err" 3>&- 4>&- &
    LAB_PID[$2]=$!
}

# socket_send_file NAME FILE: writes FILE to the socket NAME, bounded by
# T_WAIT (a server that stops reading it holds the writer up).
socket_send_file() {
    timeout -k 1 "$T_WAIT" cat "$2" >&"${SOCKET_FD[$1]}"
}

# socket_send NAME LINE: writes LINE and a newline to the socket NAME.
socket_send() {
    printf '%s\n' "$2" >&"${SOCKET_FD[$1]}"
}

# socket_expect NAME LINE: the next line read from the socket NAME (within
# T_WAIT) must be LINE.
socket_expect() {
    local line
    if ! IFS= read -r -t "$T_WAIT" -u "${SOCKET_FD[$1]}" line; then
        fail "$(printf 'connection %s: expected %s within %s s; got %s' "$1" "$(visible "$2")" \
            "$T_WAIT" "$( [[ -n ${line:-} ]] && visible "$line" || echo 'nothing (or the end)')")"
        return 1
    fi
    expect_equal "the next line on connection $1" "$2" "$line"
}

# wait_for_size ROLE BYTES: waits until the role's stdout holds BYTES bytes.
# Returns 1 after T_WAIT without progress, or if the role ended short of it.
wait_for_size() {
    local role=$1 bytes=$2 size last=-1 deadline
    while :; do
        size=$(wc -c <"$LOGS/$role.out")
        ((size >= bytes)) && return 0
        is_running "$role" || return 1
        if ((size != last)); then
            last=$size
            deadline=$((SECONDS + T_WAIT))
        fi
        ((SECONDS < deadline)) || return 1
        sleep "$POLL_INTERVAL"
    done
}

# peer_start_at ROLE HOST PEER-COMMAND...: peer_start, connecting to HOST
# (an IPv6 address such as ::1) instead of 127.0.0.1.
peer_start_at() {
    local role=$1 host=$2
    shift 2
    : >"$LOGS/$role.out"
    : >"$LOGS/$role.err"
    setsid timeout -k 2 "$T_RUN" "$PEER" -t "$T_WAIT" "$host" "$PORT" "$@" \
        </dev/null >"$LOGS/$role.out" 2>"$LOGS/$role.err" 3>&- 4>&- &
    LAB_PID[$role]=$!
}

# wait_for_count ROLE REGEX COUNT: waits until the role's stdout has COUNT
# lines matching REGEX (grep -E). Bounded by T_RUN (for long streams).
wait_for_count() {
    local role=$1 regex=$2 count=$3 deadline=$((SECONDS + T_RUN)) got
    while :; do
        got=$(grep -cE -- "$regex" "$LOGS/$role.out" || true)
        ((got >= count)) && return 0
        if ! is_running "$role"; then
            got=$(grep -cE -- "$regex" "$LOGS/$role.out" || true)
            ((got >= count)) && return 0
            fail "$(printf 'the %s exited after %s of %s lines matching /%s/\n%s' \
                "$role" "$got" "$count" "$regex" "$(describe_logs "$role")")"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            fail "$(printf 'the %s printed %s of %s lines matching /%s/ within %s s\n%s' \
                "$role" "$got" "$count" "$regex" "$T_RUN" "$(describe_logs "$role")")"
            return 1
        fi
        sleep "$POLL_INTERVAL"
    done
}

# server_field FIELD: a field of the server's /proc/PID/status (VmHWM in kB,
# Threads), or nothing where there is no /proc.
server_field() {
    local file="/proc/${LAB_PID[server]}/status"
    [[ -r $file ]] && awk -v field="$1:" '$1 == field { print $2 }' "$file"
    return 0
}

# words WORD COUNT: sets the array WORDS to COUNT times WORD (e.g. COUNT
# "line" commands for the peer: it prints each line it reads, flushed).
words() {
    WORDS=()
    (($2 > 0)) && mapfile -t WORDS < <(yes "$1" | head -n "$2")
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

# check_relay_stream FILE WHAT FULL FILL [OWN-TAG]: checks the lines a client
# received while 8 senders s1..s8 each sent "sI NNNN FILL" for NNNN 0000 to
# 0999: every line is a whole line of the relay (no line cut or spliced with
# another), each sender always has the same name, and its lines come in order
# without a gap or a repeat. FULL=1: the client was there all along, so it
# has every line of every sender and 8 joins and 8 leaves. FULL=0: the client
# was one of the senders (OWN-TAG): it left early, so it has a run of each
# other sender's lines, and none of its own.
check_relay_stream() {
    local problems
    problems=$(awk -v full="$3" -v fill="$4" -v own="${5:-}" '
        function problem(text) { if (shown++ < 12) print "  line " NR ": " text; bad++ }
        /^\* client-[0-9]+ joined$/ { joins++; next }
        /^\* client-[0-9]+ left$/ { leaves++; next }
        /^welcome client-[0-9]+$/ {
            if (full || NR != 1) problem("\"" $0 "\" after other lines: a newcomer'"'"'s first line is its welcome")
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
        END {
            if (full) {
                for (i = 1; i <= 8; i++) {
                    s = "s" i
                    if (count[s] != 1000) problem(s ": " count[s] + 0 " lines of 1000 arrived")
                    else if (last[s] != 999) problem(s ": the last line is " last[s])
                }
                if (joins != 8 || leaves != 8) problem(joins + 0 " joins and " leaves + 0 " leaves; expected 8 and 8")
            } else if (byes != 1) problem(byes + 0 " bye lines; expected 1, last")
            if (shown > 12) print "  ... " bad - 12 " more"
        }' "$1")
    if [[ -n $problems ]]; then
        fail "$(printf '%s: the stream is wrong:\n%s' "$2" "$problems")"
        return 1
    fi
}

# stop_with_busy_clients SIGNAL: the server stops on SIGNAL while one client
# never reads (its queue and socket full, its writer blocked in send), one
# has sent half a line, and 101 wait in recv() (21 under Valgrind or a
# sanitizer, where each costs more); every client sees the end.
stop_with_busy_clients() {
    local fill count start fd crowd=100 script=()
    fill=$(printf '%150s' '' | tr ' ' z)
    volume 40000 15000 "sends 2.4 MB instead of 6.4 MB to the client that never reads"
    count=$VOLUME
    [[ ${VALGRIND:-0} != 0 || -n ${SANITIZE:-} ]] && crowd=20
    server_start_ready 0
    # client-1 reads everything until the end, and sends nothing.
    peer_start idle expect 'welcome client-1' timeout "$T_RUN" drain
    wait_for_output server '^client-1 connected from '
    socket_open stuck # client-2
    wait_for_output server '^client-2 connected from '
    peer_start sender expect 'welcome client-3' repeat "$count" "$fill\\n" send 'last\n' \
        send 'half a li' timeout "$T_RUN" drain
    wait_for_output server '^client-3> last$'
    # $crowd more, that only wait.
    mapfile -t script < <(awk -v bound="$T_RUN" -v crowd="$crowd" 'BEGIN {
        for (k = 2; k <= crowd; k++) { print "connect"; print "c" k }
        print "timeout"; print bound
        for (k = 1; k <= crowd; k++) { print "use"; print (k == 1 ? "1" : "c" k); print "drain" } }')
    peer_start crowd "${script[@]}"
    wait_for_count server '^client-[0-9]+ connected from ' $((crowd + 3))
    start=$EPOCHREALTIME
    server_stop --signal "$1"
    report_time "stopped on SIG$1 with $((crowd + 3)) clients" "$start"
    peer_wait idle
    peer_wait sender
    peer_wait crowd
    # The client that never read: reading now, it must reach the end
    # (what was sent, then end of file or a reset), not wait forever.
    fd=${SOCKET_FD[stuck]}
    status=0
    timeout -k 1 "$T_WAIT" cat <&"$fd" >/dev/null || status=$?
    if ((status == 124 || status == 137)); then
        fail "the client that never read was not closed by the stopped server"
    fi
}

# ---- command line and set-up (given in the skeleton) ---------------------------

@test "given: server -h and --help print the usage; a bad port or option gives a usage line and exit 2" {
    expect_help server
    expect_usage_error server abc
    expect_usage_error server 65536
    expect_usage_error server -x
}

@test "given: client -h and --help print the usage; a bad port or option gives a usage line and exit 2" {
    expect_help client
    expect_usage_error client localhost 0
    expect_usage_error client localhost 65536
    expect_usage_error client -x
}

@test "given: a port already taken gives 'bind: Address already in use' and exit 1" {
    expect_bind_in_use
}

@test "given: the server listens on the port it prints and stops on SIGTERM and SIGINT (poll loop, self-pipe)" {
    server_start 0
    server_wait_ready
    expect_equal "first line of the server" "listening on port $PORT" "$(head -n 1 "$LOGS/server.out")"
    server_stop --signal TERM
    server_start_ready 0
    server_stop --signal INT
}

@test "given: the client, with nobody listening, prints 'connect: Connection refused' and exits 1" {
    free_port
    client_run 127.0.0.1 "$PORT" <<<"hello"
    expect_equal "client's exit status" 1 "$status"
    expect_equal "client's stderr" "connect: Connection refused" "$stderr"
    expect_equal "client's stdout" "" "$output"
}

# ---- step 1: the outgoing queue ----------------------------------------------------

@test "step 1 (queue): a client that never reads is dropped past the bound; the others get every line; memory stays bounded" {
    local fill rounds=25 per_round=4000 count start peak fd round before
    # 16 MB of relayed lines: past any kernel buffering plus a 4 MiB queue.
    fill=$(printf '%150s' '' | tr ' ' x)
    count=$((rounds * per_round))
    server_start_ready 0
    socket_open reader # client-1 reads everything (cat), as fast as it comes
    socket_read reader reader
    wait_for_output server '^client-1 connected from '
    socket_open stuck # client-2 never reads
    wait_for_output server '^client-2 connected from '
    socket_open sender # client-3: the test writes its lines, round by round
    wait_for_output reader '^\* client-3 joined$'
    yes "$fill" | head -n "$per_round" >"$LOGS/round"
    # A round (4000 lines, 640 KB) goes out once the reader has every line
    # of the round before: however slow a busy machine makes the reader, it
    # is never more than two rounds (1.3 MB) behind, far from the bound, so
    # it must never be dropped. The client that never reads falls behind by
    # all 16 MB. ("* client-2 left", if it came, only adds to the reader's
    # bytes: the wait ends a little early, never late.)
    before=$(wc -c <"$LOGS/reader.out")
    start=$EPOCHREALTIME
    for ((round = 1; round <= rounds; round++)); do
        socket_send_file sender "$LOGS/round" ||
            fail "round $round of $rounds: the sender was held up (does the client that never reads stall the others?)"
        wait_for_size reader $((before + (round - 1) * per_round * 161)) ||
            fail "round $round of $rounds: the reading client did not get the round before (dropped, or the relay stalled?)"
    done
    printf 'fin\n' >&"${SOCKET_FD[sender]}"
    # The sender's lines, and somewhere among them that client-2 left, then
    # that client-3 left: the reader gets them all.
    if ! wait_for_output reader '^\* client-3 left$'; then
        fail "$(printf 'the reading client did not get all the lines: %s of %s arrived, with %s "* client-2 left"%s' \
            "$(grep -c '^client-3> ' "$LOGS/reader.out")" "$count" "$(grep -c '^\* client-2 left$' "$LOGS/reader.out")" \
            "$(is_running reader || echo '; then its connection ended')")"
    fi
    report_time "$count lines of 160 bytes (16 MB) relayed to the reading client" "$start"
    peak=$(server_field VmHWM)
    fd=${SOCKET_FD[reader]}
    printf 'fin\n' >&"$fd"
    wait_exit reader "$T_WAIT"
    if (($(grep -cx '\* client-2 left' "$LOGS/reader.out") != 1)); then
        fail "$(printf 'the client that never reads was not dropped: %s lines went by, and the others heard "* client-2 left" %s times' \
            "$count" "$(grep -cx '\* client-2 left' "$LOGS/reader.out")")"
    fi
    fd=${SOCKET_FD[sender]}
    run timeout -k 1 "$T_WAIT" cat <&"$fd"
    expect_equal "what the sender heard" $'welcome client-3\n* client-2 left\nbye' "$output"
    echo "# the client that never read was dropped after $(grep -n -m1 -x '\* client-2 left' "$LOGS/reader.out" | cut -d: -f1) lines had reached the reader" >&3
    grep -vx '\* client-2 left' "$LOGS/reader.out" >"$LOGS/reader.rest"
    {
        printf '%s\n' 'welcome client-1' '* client-2 joined' '* client-3 joined'
        numbered_lines "client-3> $fill" 1 "$count"
        printf '%s\n' '* client-3 left' 'bye'
    } >"$LOGS/reader.expected"
    expect_same_lines "what the reading client got (but '* client-2 left')" "$LOGS/reader.expected" "$LOGS/reader.rest"
    run grep -c '^client-2 disconnected$' "$LOGS/server.out"
    expect_equal "'client-2 disconnected' lines the server printed" 1 "$output"
    if [[ ${VALGRIND:-0} != 0 || -n ${SANITIZE:-} ]]; then
        echo "# memory not checked under ${SANITIZE:+-fsanitize=$SANITIZE}$([[ ${VALGRIND:-0} != 0 ]] && echo Valgrind): its figures are the tool's, not the server's" >&3
    elif [[ -z $peak ]]; then
        echo "# memory not checked: no /proc/PID/status on this system" >&3
    else
        echo "# the server's peak memory (VmHWM): $peak kB (bound: 65536 kB)" >&3
        ((peak < 65536)) || fail "the server's peak memory was $peak kB while a client did not read (bound: 64 MB): drop a client whose queue passes its bound"
    fi
    server_stop
}

@test "step 1 (queue): a client that stops reading for a while (2 MB behind) loses nothing: it gets it all, in order" {
    local text expected start i
    volume 20000 5000 "500 KB instead of 2 MB"
    local count=$VOLUME
    server_start_ready 0
    socket_open slow # client-1: reads only at the end
    wait_for_output server '^client-1 connected from '
    # Lines "n NNNNN" + fill (100 bytes): in sends of 1000 lines (the peer
    # takes 128 KB per argument at most).
    local sends=() fill
    fill=$(printf '%86s' '' | tr ' ' y)
    for ((i = 0; i < count; i += 1000)); do
        sends+=(send "$(numbered_text "n %05d $fill" "$i" $((i + 999)))")
    done
    talk expect 'welcome client-2' "${sends[@]}" send 'fin\n' expect 'bye' expect-eof
    {
        printf '%s\n' 'welcome client-1' '* client-2 joined'
        numbered_lines "client-2> n %05d $fill" 0 $((count - 1))
        printf '%s\n' '* client-2 left' 'bye'
    } >"$LOGS/slow.expected"
    # Now it reads: all of it, then bye for its fin, then end of file.
    start=$EPOCHREALTIME
    printf 'fin\n' >&"${SOCKET_FD[slow]}"
    local fd=${SOCKET_FD[slow]}
    run timeout -k 1 "$T_RUN" cat <&"$fd"
    ((status != 124 && status != 137)) || fail "the server did not close the connection after its backlog and bye"
    printf '%s\n' "$output" >"$LOGS/slow.out"
    report_time "backlog of $count lines read" "$start"
    expect_same_lines "what the late reader got" "$LOGS/slow.expected" "$LOGS/slow.out"
    server_stop
}

# ---- step 2: the writer thread ----------------------------------------------------

@test "step 2 (writer): 5000 lines sent at once by one client reach another whole, in order, once each" {
    local text
    text=$(numbered_text 'line %04d of 5000' 1 5000)
    server_start_ready 0
    words line 5002
    peer_start pair expect 'welcome client-1' \
        connect sender expect 'welcome client-2' send "$text" send 'fin\n' expect 'bye' expect-eof \
        use 1 "${WORDS[@]}" send 'fin\n' expect 'bye' expect-eof
    peer_wait pair
    {
        echo '* client-2 joined'
        numbered_lines 'client-2> line %04d of 5000' 1 5000
        echo '* client-2 left'
    } >"$LOGS/pair.expected"
    expect_same_lines "what client-1 received" "$LOGS/pair.expected" "$LOGS/pair.out"
    server_stop
}

@test "step 2 (writer): 8 clients sending at once: no line cut or spliced, each line once, each sender's order kept" {
    local fill i
    fill=$(printf '%90s' '' | tr ' ' x)
    server_start_ready 0
    # Two clients that only listen: client-1 and client-2 hear 8 joins, the
    # 8000 lines and 8 leaves (8016 lines each), then leave.
    words line 8016
    peer_start listeners expect 'welcome client-1' connect two expect 'welcome client-2' \
        use 1 expect '* client-2 joined' "${WORDS[@]}" use two "${WORDS[@]}" \
        use 1 send 'fin\n' expect 'bye' expect-eof \
        use two expect '* client-1 left' send 'fin\n' expect 'bye' expect-eof
    wait_for_output server '^client-2 connected from '
    # Eight senders at once, each 1000 lines of 98 bytes in pieces of 2 KB
    # (cut anywhere) 1 ms apart, so that they overlap; then fin. Each also
    # prints what it hears until its bye.
    for i in 1 2 3 4 5 6 7 8; do
        peer_start "sender$i" pieces 2048 1 "$(numbered_text "s$i %04d $fill" 0 999)" send 'fin\n' drain
    done
    for i in 1 2 3 4 5 6 7 8; do
        peer_wait "sender$i"
    done
    peer_wait listeners
    head -n 8016 "$LOGS/listeners.out" >"$LOGS/client-1.heard"
    tail -n +8017 "$LOGS/listeners.out" >"$LOGS/client-2.heard"
    check_relay_stream "$LOGS/client-1.heard" "what client-1 heard" 1 "$fill"
    check_relay_stream "$LOGS/client-2.heard" "what client-2 heard" 1 "$fill"
    for i in 1 2 3 4 5 6 7 8; do
        check_relay_stream "$LOGS/sender$i.out" "what the sender s$i heard" 0 "$fill" "s$i"
    done
    server_stop
}

# ---- step 3: the table: join and leave ----------------------------------------------------

@test "step 3 (join): a newcomer's first line is its welcome; the others hear '* client-K joined', newcomers nothing older" {
    server_start_ready 0
    # client-3's second line is the one client-1 sends last: it never hears
    # of client-1 and client-2 joining. Likewise for client-2.
    talk expect 'welcome client-1' \
        connect two expect 'welcome client-2' \
        connect three expect 'welcome client-3' \
        use 1 expect '* client-2 joined' expect '* client-3 joined' \
        use two expect '* client-3 joined' \
        use 1 send 'hello\n' \
        use three expect 'client-1> hello' \
        use two expect 'client-1> hello'
    server_stop
}

@test "step 3 (leave): fin, end of file and a reset are each announced '* client-K left' to the others" {
    server_start_ready 0
    talk expect 'welcome client-1' \
        connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two send 'fin\n' expect 'bye' expect-eof use 1 expect '* client-2 left' \
        connect three expect 'welcome client-3' use 1 expect '* client-3 joined' \
        use three shut-write expect-eof use 1 expect '* client-3 left' \
        connect four expect 'welcome client-4' use 1 expect '* client-4 joined' \
        use four reset use 1 expect '* client-4 left' \
        connect five expect 'welcome client-5' use 1 expect '* client-5 joined' \
        use five send 'bye for now\n' close use 1 expect 'client-5> bye for now' expect '* client-5 left' \
        send 'fin\n' expect 'bye' expect-eof
    server_stop
}

@test "step 3 (table): the server prints 'client-K connected from IP:PORT' and 'client-K disconnected'" {
    server_start_ready 0
    talk expect 'welcome client-1' \
        connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two send 'fin\n' expect 'bye' expect-eof use 1 expect '* client-2 left' \
        connect three expect 'welcome client-3' use 1 expect '* client-3 joined' \
        use three reset use 1 expect '* client-3 left' \
        shut-write expect-eof
    wait_for_output server '^client-1 disconnected$'
    run sed -E 's/^(client-[0-9]+ connected from) 127\.0\.0\.1:[0-9]+$/\1 127.0.0.1:PORT/' "$LOGS/server.out"
    expect_equal "what the server printed" "listening on port $PORT
client-1 connected from 127.0.0.1:PORT
client-2 connected from 127.0.0.1:PORT
client-2 disconnected
client-3 connected from 127.0.0.1:PORT
client-3 disconnected
client-1 disconnected" "$output"
    server_stop
}

@test "step 3 (table): IPv6 and IPv4 clients alike: 'client-K connected from [::1]:PORT', and '127.0.0.1:PORT'" {
    require_ipv6_loopback
    server_start_ready 0
    # client-1 comes over IPv6 (::1), client-2 over IPv4: they talk.
    peer_start_at six ::1 expect 'welcome client-1' expect '* client-2 joined' \
        expect 'client-2> hello over IPv4' send 'hello over IPv6\n' \
        expect '* client-2 left' send 'fin\n' expect 'bye' expect-eof
    wait_for_output server '^client-1 connected from '
    talk expect 'welcome client-2' send 'hello over IPv4\n' expect 'client-1> hello over IPv6' \
        send 'fin\n' expect 'bye' expect-eof
    peer_wait six
    wait_for_output server '^client-1 disconnected$'
    run sed -nE 's/^(client-[0-9]+ connected from .*):[0-9]+$/\1:PORT/p' "$LOGS/server.out"
    expect_equal "the 'connected from' lines the server printed" "client-1 connected from [::1]:PORT
client-2 connected from 127.0.0.1:PORT" "$output"
    server_stop
}

@test "step 3 (table): 500 clients at once: each hears every later join, one client's line, every earlier leave" {
    plain_only
    local count=500 script=() start
    if (($(ulimit -n) < count + 64)); then
        ulimit -n $((count + 64)) 2>/dev/null ||
            skip "needs $((count + 64)) descriptors per process; the limit is $(ulimit -n) (hard: $(ulimit -Hn))"
    fi
    server_start_ready 0
    # They connect one after the other, each reading its welcome; the last
    # one says a line; then one after the other they end their input and
    # print all they got until the server closes.
    mapfile -t script < <(awk -v count="$count" 'BEGIN {
        print "expect"; print "welcome client-1"
        for (k = 2; k <= count; k++) { print "connect"; print "c" k; print "expect"; print "welcome client-" k }
        print "send"; print "hello everyone\\n"
        # once the last but one client has the line, every queue holds it
        print "use"; print "c" count - 1; print "expect"; print "* client-" count " joined"
        print "expect"; print "client-" count "> hello everyone"
        for (k = 1; k <= count; k++) { print "use"; print (k == 1 ? "1" : "c" k); print "shut-write"; print "drain" } }')
    awk -v count="$count" 'BEGIN {
        for (k = 1; k <= count; k++) {
            if (k < count - 1) {
                for (j = k + 1; j <= count; j++) print "* client-" j " joined"
                print "client-" count "> hello everyone"
            }
            for (j = 1; j < k; j++) print "* client-" j " left" } }' >"$LOGS/crowd.expected"
    start=$EPOCHREALTIME
    TALK_BOUND=$((T_RUN * 3)) talk "${script[@]}"
    report_time "$count clients joined, talked and left" "$start"
    printf '%s\n' "$output" >"$LOGS/crowd.out"
    expect_same_lines "what the $count clients heard, one after the other" "$LOGS/crowd.expected" "$LOGS/crowd.out"
    expect_equal "'connected from' lines the server printed" "$count" "$(grep -c '^client-[0-9]* connected from ' "$LOGS/server.out")"
    expect_equal "'disconnected' lines the server printed" "$count" "$(grep -c '^client-[0-9]* disconnected$' "$LOGS/server.out")"
    server_stop
}

# ---- step 4: relaying -------------------------------------------------------------

@test "step 4 (relaying): a line goes to every other client as 'client-K> <line>', never back to its sender" {
    server_start_ready 0
    # Each client's next line after it spoke is someone else's: had its own
    # line come back, it would have come first.
    talk expect 'welcome client-1' connect two expect 'welcome client-2' connect three expect 'welcome client-3' \
        use 1 expect '* client-2 joined' expect '* client-3 joined' use two expect '* client-3 joined' \
        use 1 send 'hello everyone\n' use two expect 'client-1> hello everyone' use three expect 'client-1> hello everyone' \
        use two send 'hi from two\n' use 1 expect 'client-2> hi from two' use three expect 'client-2> hi from two' \
        use three send 'three here\n' use 1 expect 'client-3> three here' use two expect 'client-3> three here' \
        use 1 send 'bye all\n' use three expect 'client-1> bye all' use two expect 'client-1> bye all' \
        use 1 expect-silence 100
    # (expect-silence: nothing may come back to client-1 for 100 ms.)
    run grep -E '^client-[0-9]+> ' "$LOGS/server.out"
    expect_equal "the relayed lines the server printed" "client-1> hello everyone
client-2> hi from two
client-3> three here
client-1> bye all" "$output"
    server_stop
}

@test "step 4 (relaying): UTF-8 text is relayed unchanged, whatever pieces it came in; \\r\\n, empty lines and NUL bytes too" {
    server_start_ready 0
    talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two send 'Café 😀\n' use 1 expect 'client-2> Café 😀' \
        use two pieces 1 5 'cr\xc3\xa8me br\xc3\xbbl\xc3\xa9e \xf0\x9f\x98\x80\r\n' \
        use 1 expect 'client-2> crème brûlée 😀' \
        use two send '\n' use 1 expect 'client-2> ' \
        use two send 'a\0b\n' use 1 expect 'client-2> a\0b'
    # The NUL byte is shown as @ (a shell string cannot hold it).
    LC_ALL=C grep -aE '^client-[0-9]+> ' "$LOGS/server.out" | tr '\000' @ >"$LOGS/relayed"
    expect_equal "the relayed lines the server printed" "client-2> Café 😀
client-2> crème brûlée 😀
client-2> 
client-2> a@b" "$(cat "$LOGS/relayed")"
    server_stop
}

@test "step 4 (relaying): invalid UTF-8 is answered 'ERR invalid UTF-8 at byte I' to its sender alone and relayed to nobody" {
    server_start_ready 0
    talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two send 'ab\xe0\x80\n' expect 'ERR invalid UTF-8 at byte 2' \
        send 'caf\xe9\n' expect 'ERR invalid UTF-8 at byte 3' \
        send '\xed\xa0\x80 surrogate\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'valid again\n' use 1 expect 'client-2> valid again' \
        send 'and you?\n' use two expect 'client-1> and you?'
    run grep -E '^client-[0-9]+> ' "$LOGS/server.out"
    expect_equal "the relayed lines the server printed" $'client-2> valid again\nclient-1> and you?' "$output"
    server_stop
}

@test "step 4 (relaying): an over-long line gets 'ERR line too long' to its sender alone; 65536 bytes pass; the next line is relayed" {
    local longest
    longest=$(printf '%65536s' '' | tr ' ' y)
    server_start_ready 0
    talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two repeat 65537 z send '\n' expect 'ERR line too long' \
        repeat 65536 y send '\n' send 'next\n' \
        use 1 expect "client-2> $longest" expect 'client-2> next' \
        send 'and now?\n' use two expect 'client-1> and now?'
    server_stop
}

@test "step 4 (relaying): fin in any case is answered bye to its sender, then the others hear '* client-K left'" {
    server_start_ready 0
    # What follows fin in the same packet is never relayed.
    talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two send 'before\nFiN\nafter\n' expect 'bye' expect-eof \
        use 1 expect 'client-2> before' expect '* client-2 left' \
        connect three expect 'welcome client-3' use 1 expect '* client-3 joined' \
        use three send 'fin\r\n' expect 'bye' expect-eof use 1 expect '* client-3 left' \
        send 'FIN\n' expect 'bye' expect-eof
    wait_for_output server '^client-1 disconnected$'
    run grep -E '^client-[0-9]+> ' "$LOGS/server.out"
    expect_equal "the relayed lines the server printed" "client-2> before" "$output"
    server_stop
}

@test "step 4 (relaying): -q and --quiet print no line per client or per message" {
    local option
    for option in -q --quiet; do
        server_start_ready "$option" 0
        talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
            use two send 'hello\n' use 1 expect 'client-2> hello' \
            use two send 'fin\n' expect 'bye' expect-eof use 1 expect '* client-2 left'
        server_stop
        expect_equal "output of server $option" $'listening on port '"$PORT"$'\nserver stopped' \
            "$(cat "$LOGS/server.out")"
    done
}

# ---- step 5: a reader thread's life ---------------------------------------------------

@test "step 5 (reader's life): 40 clients come and go, each its own way, while one talks: those present get every line" {
    local fill count k script=() mode churned=0 baseline
    fill=$(printf '%90s' '' | tr ' ' w)
    volume 3000 1000 "1000 lines instead of 3000"
    count=$VOLUME
    server_start_ready 0
    baseline=$(server_field Threads)
    # One peer plays the talker (client-3) and 40 clients that come and go
    # one after the other (client-4 to client-43): the talker sends a round
    # of lines, then a client comes and leaves its own way (fin, end of file,
    # reset, close; the first two ways say one line first) while the server
    # relays that round in another thread; and so on. Then the talker's last
    # lines, and its fin.
    local round=$((count / 50)) sent=0
    script=(expect 'welcome client-3')
    for ((k = 4; k < 44; k++)); do
        script+=(use 1 send "$(numbered_text "talk %04d $fill" "$sent" $((sent + round - 1)))")
        sent=$((sent + round))
        script+=(connect "c$k" expect "welcome client-$k")
        mode=$((k % 4))
        case $mode in
            0) script+=(send "churn $k\\n" send 'fin\n' drain) ;;
            1) script+=(send "churn $k\\n" shut-write drain) ;;
            2) script+=(reset) ;;
            3) script+=(close) ;;
        esac
        ((mode < 2)) && churned=$((churned + 1))
    done
    script+=(use 1 send "$(numbered_text "talk %04d $fill" "$sent" $((count - 1)))" send 'fin\n' drain)
    # client-1 and client-2 hear it all: the talker's lines, 40 joins, 40
    # leaves, the churners' lines and the talker's leave.
    local heard=$((count + 80 + churned + 1))
    words line "$heard"
    peer_start listeners expect 'welcome client-1' connect two expect 'welcome client-2' \
        use 1 expect '* client-2 joined' expect '* client-3 joined' "${WORDS[@]}" \
        use two expect '* client-3 joined' "${WORDS[@]}" \
        use 1 send 'fin\n' expect 'bye' expect-eof \
        use two expect '* client-1 left' send 'fin\n' expect 'bye' expect-eof
    wait_for_output server '^client-2 connected from '
    peer_start chat "${script[@]}"
    peer_wait chat
    peer_wait listeners
    head -n "$heard" "$LOGS/listeners.out" >"$LOGS/client-1.heard"
    tail -n +$((heard + 1)) "$LOGS/listeners.out" >"$LOGS/client-2.heard"
    local who problems
    for who in client-1 client-2; do
        problems=$(awk -v count="$count" -v fill="$fill" '
            function problem(text) { if (shown++ < 12) print "  line " NR ": " text }
            $1 == "client-3>" && $2 == "talk" && NF == 4 && $4 == fill {
                if ($3 + 0 != next_line) problem("talk " $3 " instead of talk " sprintf("%04d", next_line))
                next_line = $3 + 1; last_talk = NR; next }
            /^\* client-[0-9]+ joined$/ { k = substr($2, 8) + 0
                if (k < 4 || k > 43 || state[k] != "") problem($0 " (unexpected)"); state[k] = "in"; next }
            /^client-[0-9]+> churn [0-9]+$/ { k = substr($1, 8) + 0
                if ($3 != k || state[k] != "in" || k % 4 > 1) problem($0 " (unexpected)"); state[k] = "said"; next }
            /^\* client-[0-9]+ left$/ { k = substr($2, 8) + 0
                if (k == 3) { talker_left++; if (NR < last_talk) problem("the talker left before its last line"); next }
                if (state[k] != (k % 4 < 2 ? "said" : "in")) problem($0 " (unexpected)"); state[k] = "out"; next }
            { problem("unexpected line \"" substr($0, 1, 100) "\"") }
            END {
                if (next_line != count) problem(next_line " of " count " talker lines")
                if (talker_left != 1) problem("the talker left " talker_left + 0 " times")
                for (k = 4; k < 44; k++) if (state[k] != "out") problem("client-" k " is " (state[k] == "" ? "never seen" : "never seen leaving"))
            }' "$LOGS/$who.heard")
        [[ -z $problems ]] || fail "$(printf 'what %s heard is wrong:\n%s' "$who" "$problems")"
    done
    echo "# $(awk '/^client-3> talk/ { if (!first) first = NR; last = NR } { kind[NR] = /^\* / }
        END { for (i = first; i <= last; i++) n += kind[i]; print n + 0 }' "$LOGS/client-1.heard") of the 80 joins and leaves came while the talker talked" >&3
    # Every client's threads ended (the listeners' and talker's included).
    # (ThreadSanitizer adds a thread of its own with the first thread.)
    if [[ -n $baseline ]]; then
        [[ ${SANITIZE:-} == *thread* ]] && baseline=$((baseline + 1))
        local deadline=$((SECONDS + T_WAIT))
        while (($(server_field Threads) > baseline)); do
            ((SECONDS < deadline)) || fail "the server runs $(server_field Threads) threads after every client left; it ran $baseline before any came: does every thread end?"
            sleep "$POLL_INTERVAL"
        done
    fi
    server_stop
}

@test "step 5 (reader's life): out of descriptors, no spare left (EMFILE): no spinning, the others served; accepting again once a client leaves" {
    needs_prlimit
    local fd before after line heard=()
    server_start_ready 0
    socket_open one
    socket_expect one 'welcome client-1'
    socket_open two
    socket_expect two 'welcome client-2'
    socket_expect one '* client-2 joined'
    server_lose_descriptors
    # A third client cannot be accepted: it waits, and the server must not
    # spin on its readable listener meanwhile. Its connection is in the
    # listener's queue once socket_open returns (the system completes it).
    socket_open three
    before=$(cpu_ms server)
    # This wait is the measurement (no event is awaited): a server that
    # spins on its readable listener uses CPU here.
    sleep 0.5
    after=$(cpu_ms server)
    echo "# out of descriptors, 0.5 s: $((after - before)) ms of CPU" >&3
    ((after - before < 100)) ||
        fail "the server used $((after - before)) ms of CPU in 0.5 s while out of descriptors: it spins (stop polling the listener while no descriptor is free)"
    # The clients already there are served.
    socket_send one 'still here'
    socket_expect two 'client-1> still here'
    ! grep -q '^client-3 ' "$LOGS/server.out" || fail "client-3 was served with no descriptor free"
    # Descriptors again (the limit back), and client-1 leaves: the server
    # takes the waiting connection.
    server_regain_descriptors
    fd=${SOCKET_FD[one]}
    exec {fd}>&-
    unset "SOCKET_FD[one]"
    socket_expect three 'welcome client-3'
    # The leave and the server's next look at the listener (once a second
    # while paused) race: client-2 hears of both, in either order.
    while ((${#heard[@]} < 2)) && IFS= read -r -t "$T_WAIT" -u "${SOCKET_FD[two]}" line; do
        heard+=("$line")
    done
    expect_equal "what client-2 heard, sorted" $'* client-1 left\n* client-3 joined' \
        "$(printf '%s\n' "${heard[@]}" | sort)"
    server_stop
}

@test "step 5 (reader's life): out of descriptors, no spare left (EMFILE): no spinning; descriptors free again, a waiting client is accepted though nobody left" {
    needs_prlimit
    local before after start
    server_start_ready 0
    socket_open one
    socket_expect one 'welcome client-1'
    server_lose_descriptors
    # A second client cannot be accepted: the server pauses accepting, and
    # may look again now and then, but must not spin meanwhile.
    socket_open two
    before=$(cpu_ms server)
    # This wait is the measurement (no event is awaited), long enough for a
    # look again or two.
    sleep 1.5
    after=$(cpu_ms server)
    echo "# out of descriptors, 1.5 s: $((after - before)) ms of CPU" >&3
    ((after - before < 100)) ||
        fail "the server used $((after - before)) ms of CPU in 1.5 s while out of descriptors: it spins"
    ! grep -q '^client-2 ' "$LOGS/server.out" || fail "client-2 was served with no descriptor free"
    # Descriptors again, and nobody leaves: the waiting client must be
    # accepted all the same (socket_expect waits T_WAIT).
    server_regain_descriptors
    start=$EPOCHREALTIME
    socket_expect two 'welcome client-2'
    report_time "the waiting client accepted after the limit was raised" "$start"
    socket_expect one '* client-2 joined'
    server_stop
}

# ---- step 6: stopping ---------------------------------------------------------------

@test "step 6 (stopping): SIGTERM with 103 clients (in recv, a full queue, half a line): all see the end; exit 0, 'server stopped'" {
    stop_with_busy_clients TERM
}

@test "step 6 (stopping): SIGINT with 103 clients (in recv, a full queue, half a line): all see the end; exit 0, 'server stopped'" {
    stop_with_busy_clients INT
}

@test "step 6 (stopping): SIGTERM while clients are still pouring in, five times in a row: each sees the end" {
    local round
    # A burst of connections, opened as fast as bash can until the server
    # stops listening: at the SIGTERM some clients are in the table, some
    # have their threads just starting, some wait to be accepted. Then each
    # connection is read to its end (or a reset): none may stay open.
    cat >"$LOGS/burst" <<'SCRIPT'
#!/usr/bin/env bash
# burst PORT MAX BOUND: connects until refused or MAX are open ("open N"
# every 10), then reads each to its end within BOUND s ("hung K" if not).
port=$1 max=$2 bound=$3 fds=() k=0 hung=0 status=0
while ((${#fds[@]} < max)); do
    { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || break
    fds+=("$fd")
    ((${#fds[@]} % 10 == 0)) && echo "open ${#fds[@]}"
done
echo "opened ${#fds[@]}"
for fd in "${fds[@]}"; do
    k=$((k + 1))
    status=0
    while :; do read -r -t "$bound" -u "$fd" _ 2>/dev/null || { status=$?; break; }; done
    ((status > 128)) && echo "hung $k" && hung=1
    exec {fd}>&-
done
exit $hung
SCRIPT
    for round in 1 2 3 4 5; do
        server_start_ready 0
        setsid bash "$LOGS/burst" "$PORT" 100 "$T_WAIT" </dev/null >"$LOGS/burst.out" 2>&1 3>&- 4>&- &
        LAB_PID[burst]=$!
        wait_for_output burst '^open 10$'
        server_stop --signal TERM
        wait_exit burst "$T_RUN"
        if ((EXIT_STATUS != 0)); then
            fail "$(printf 'round %s: connections stayed open after the server stopped:\n%s' "$round" "$(cat "$LOGS/burst.out")")"
        fi
        echo "# round $round: $(grep opened "$LOGS/burst.out") connections (at most 100) around the SIGTERM" >&3
    done
}

# ---- step 7: the client's two threads ----------------------------------------------------

@test "step 7 (client): prints lines as they arrive while its input is idle; after fin and bye it exits 0" {
    listener_start server send 'welcome client-1\n' send 'client-2> hello\n' \
        expect 'hi there' send 'client-2> still here\n' expect 'fin' send 'bye\n' close
    fifo_open client
    client_start client 127.0.0.1 "$PORT"
    # Nothing typed yet: the lines must be printed all the same.
    wait_for_output client '^client-2> hello$'
    fifo_write client 'hi there'
    wait_for_output client '^client-2> still here$'
    fifo_write client 'fin'
    client_end client
    expect_equal "client's output" "connected to 127.0.0.1:$PORT
welcome client-1
client-2> hello
client-2> still here
bye" "$(cat "$LOGS/client.out")"
    peer_wait server
}

@test "step 7 (client): the server closing while input is still open: 'connection closed by server', exit 0 at once" {
    local how expected
    for how in close reset; do
        # (A reset may destroy what was not read yet: the client first
        # prints its welcome, and nothing follows before the reset.)
        if [[ $how == close ]]; then
            listener_start server send 'welcome client-1\n' expect 'hello' send 'client-2> hi\n' close
            expected="client-2> hi"$'\n'
        else
            listener_start server send 'welcome client-1\n' expect 'hello' reset
            expected=""
        fi
        fifo_open client
        client_start client 127.0.0.1 "$PORT"
        wait_for_output client '^welcome client-1$'
        fifo_write client 'hello'
        # The input stays open: the client must not wait for it.
        client_end client
        expect_equal "client's output (the server did $how)" "connected to 127.0.0.1:$PORT
welcome client-1
${expected}connection closed by server" "$(cat "$LOGS/client.out")"
        fifo_close client
        rm -f "$LOGS/client.fifo"
        peer_wait server
    done
}

@test "step 7 (client): after the end of its input it prints what still arrives until the server closes, exit 0" {
    listener_start server send 'welcome client-1\n' expect 'hello' send 'client-2> hi\n' expect-eof \
        send 'client-2> late news\n' pieces 3 10 '* client-2 left\n' close
    fifo_open client
    client_start client 127.0.0.1 "$PORT"
    fifo_write client 'hello'
    wait_for_output client '^client-2> hi$'
    # The end of its input: the scripted server sees the end of the client's
    # side, then sends two more lines and closes.
    fifo_close client
    client_end client
    # (Whether it then says "connection closed by server" is left open.)
    expect_equal "client's output" "connected to 127.0.0.1:$PORT
welcome client-1
client-2> hi
client-2> late news
* client-2 left" "$(sed '/^connection closed by server$/d' "$LOGS/client.out")"
    peer_wait server
}

@test "step 7 (client): --latin1 converts what is sent to UTF-8 and what is printed to Latin-1" {
    listener_start server send 'welcome client-1\n' expect 'Caf\xc3\xa9' \
        send 'client-2> cr\xc3\xa8me br\xc3\xbbl\xc3\xa9e \xe2\x82\xac\n' expect 'fin' send 'bye\n' close
    printf 'Caf\xe9\nfin\n' >"$LOGS/input"
    client_run --latin1 127.0.0.1 "$PORT" <"$LOGS/input"
    assert_success
    printf 'connected to 127.0.0.1:%s\nwelcome client-1\nclient-2> cr\xe8me br\xfbl\xe9e ?\nbye\n' "$PORT" >"$LOGS/client-stdout.expected"
    printf '%s\n' "$output" >"$LOGS/client-stdout"
    if ! cmp -s "$LOGS/client-stdout.expected" "$LOGS/client-stdout"; then
        fail "$(printf "the client's output differs:\n  expected: %q\n  got:      %q" \
            "$(cat "$LOGS/client-stdout.expected")" "$output")"
    fi
    peer_wait server
}

@test "step 7 (client): two clients chat through the lab's server" {
    server_start_ready 0
    fifo_open alice
    fifo_open bob
    client_start alice 127.0.0.1 "$PORT"
    wait_for_output alice '^welcome client-1$'
    client_start bob localhost "$PORT"
    wait_for_output alice '^\* client-2 joined$'
    fifo_write alice 'hello bob'
    wait_for_output bob '^client-1> hello bob$'
    fifo_write bob 'Café, alice?'
    wait_for_output alice '^client-2> Café, alice\?$'
    fifo_write bob 'fin'
    client_end bob
    wait_for_output alice '^\* client-2 left$'
    fifo_write alice 'FIN'
    client_end alice
    expect_equal "alice's output" "connected to 127.0.0.1:$PORT
welcome client-1
* client-2 joined
client-2> Café, alice?
* client-2 left
bye" "$(cat "$LOGS/alice.out")"
    expect_equal "bob's output" "connected to localhost:$PORT
welcome client-2
client-1> hello bob
bye" "$(cat "$LOGS/bob.out")"
    server_stop
}

@test "step 7 (client): reaches the lab's server at ::1 (IPv6) and chats with an IPv4 client" {
    require_ipv6_loopback
    server_start_ready 0
    fifo_open six
    client_start six ::1 "$PORT"
    wait_for_output six '^welcome client-1$'
    peer_start four expect 'welcome client-2' send 'hello over IPv4\n' expect 'client-1> hello over IPv6' \
        send 'fin\n' expect 'bye' expect-eof
    wait_for_output six '^client-2> hello over IPv4$'
    fifo_write six 'hello over IPv6'
    peer_wait four
    wait_for_output six '^\* client-2 left$'
    fifo_write six 'fin'
    client_end six
    expect_equal "the IPv6 client's output" "connected to ::1:$PORT
welcome client-1
* client-2 joined
client-2> hello over IPv4
* client-2 left
bye" "$(cat "$LOGS/six.out")"
    server_stop
}

@test "step 7 (client): a last line without a newline at the end of its input is sent as a line; the others get it" {
    server_start_ready 0
    peer_start other expect 'welcome client-1' expect '* client-2 joined' expect 'client-2> first' \
        expect 'client-2> last words' expect '* client-2 left' send 'fin\n' expect 'bye' expect-eof
    wait_for_output server '^client-1 connected from '
    printf 'first\nlast words' >"$LOGS/input"
    client_run 127.0.0.1 "$PORT" <"$LOGS/input"
    assert_success
    expect_equal "client's output" "connected to 127.0.0.1:$PORT
welcome client-2" "$output"
    peer_wait other
    server_stop
}
