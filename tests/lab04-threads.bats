#!/usr/bin/env bats
# lab04-threads: a chat relay, a thread per client, as lab04-threads/README.md describes it.
# Each test name starts with the README step it checks; "given" marks what
# the skeleton already provides (usage, listening, the lab02/03 modules, the
# main thread's poll loop and self-pipe). The steps: 1 (log), 2 (writer),
# 3 (join and leave), 4 (relaying), 5 (flow control), 6 (stopping), 7
# (client); lab04-threads/steps.txt lists them for make check. Each step's
# tests pass once it and the steps before it are written: steps 1 and 2,
# which no client can see yet, have unit tests (a C program at the end of
# this file); the tests of steps 3 to 5 stop the server only once every
# client has left (a stop with clients there is step 6's).
# The other helpers of this file are in helpers/lab04.bash.

load helpers/lab
load helpers/lab04

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

# Tags for tests/run (make test): "accept" marks the tests that exercise
# accept() (they run again behind BSD's accept()), "shard:NAME" the long
# ones that run beside the others, in a bats process of their own per NAME.

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

# ---- steps 1 and 2: unit tests ----------------------------------------------------
# Before step 3 joins clients to the chat, nothing reaches them: steps 1 and
# 2 are checked from the inside. relay_unit builds the C program
# tests/helpers/lab04-relay-unit.c with the lab's relay.c and server.c: it
# calls their functions, puts members into the chat by hand as step 3's
# relay_join() will, and looks at the fields of relay.c's structs.

# relay_unit SCENARIO...: builds the unit tests (once per run, sanitizers as
# in this mode), then runs each SCENARIO (under Valgrind in that mode); each
# must end with "N passed, 0 failed" and exit 0.
relay_unit() {
    local exe="$BATS_FILE_TMPDIR/relay_unit" scenario why
    local flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -pthread -g)
    if [[ ! -x $exe ]]; then
        [[ -n ${SANITIZE:-} ]] && flags+=("-fsanitize=$SANITIZE" -fno-omit-frame-pointer)
        lab_run "${JAIL[@]}" "${CC:-cc}" "${flags[@]}" -I"$LAB_DIR" -o "$LOGS/relay_unit" \
            "$REPO_DIR/tests/helpers/lab04-relay-unit.c" \
            "$LAB_DIR/net.c" "$LAB_DIR/linebuf.c" "$LAB_DIR/utf8.c"
        if ((status != 0)); then
            fail "$(printf 'the unit tests do not build with %s/relay.c and server.c:\n%s' "$LAB_DIR" "$stderr")"
            return 1
        fi
        mv "$LOGS/relay_unit" "$exe"
    fi
    lab_wrapper unit
    for scenario; do
        lab_run timeout -k 2 $((T_RUN * 5)) "${WRAP[@]}" "$exe" "$scenario" "$LAB_SCALE" 3>&- 4>&-
        if ((status != 0)) || [[ ${lines[-1]:-} != *" passed, 0 failed" ]]; then
            fail "$(printf 'the unit test %s %s:%s%s' "$scenario" "$(how_it_ended "$status" "$BATS_TEST_TMPDIR/.run.err")" \
                "${output:+$'\n'$output}" "${stderr:+$'\n'$stderr}")"
            return 1
        fi
    done
    check_tool_logs unit
}

@test "step 1 (log): append() hangs the bytes as one batch at the newest end of the log, counted for every member in the chat; nobody in the chat: nothing" {
    relay_unit append-log
}

@test "step 1 (log): append() gives the batch to each writer that had passed everything, and wakes it" {
    relay_unit append-wake
}

@test "step 2 (writer): relay_next() points at the batches meant for the client (not its own lines, not others' answers); relay_passed() frees what every writer passed" {
    relay_unit next-passed
}

@test "step 2 (writer): relay_next() sleeps until a batch comes; -1 once its client left and got all it was owed, or was dropped" {
    relay_unit next-wait
}

@test "step 2 (writer): send_all_iov() sends every byte of several buffers, however writev() cuts them, EINTR included" {
    relay_unit send-all-iov
}

@test "step 2 (writer): writer_main() sends what the log holds for its client, holds no lock while it waits in send, ends once its client left" {
    relay_unit writer-main
}

# ---- steps 3 to 5: the server without step 6 -------------------------------------

# stop_when_all_left [server_stop ARGS]: how the tests of steps 3 to 5 end,
# once every client of theirs has gone: waits until the server runs no
# thread but its main thread (and ThreadSanitizer's), every reader having
# ended, then server_stop. Stopping while readers still run is step 6's
# (until then the skeleton stops there, at its TODO). Without /proc, it
# waits half a second instead.
stop_when_all_left() {
    local idle=1 threads deadline=$((SECONDS + T_WAIT))
    [[ ${SANITIZE:-} == *thread* ]] && idle=2
    threads=$(server_field Threads)
    [[ -n $threads ]] || lab_sleep 0.5
    while [[ -n $threads ]] && ((threads > idle)); do
        if ((SECONDS >= deadline)); then
            fail "$(printf 'the server still runs %s threads %s s after every client left (%s when idle): does each reader thread end once its client has gone, after joining its writer?\n%s' \
                "$threads" "$T_WAIT" "$idle" "$(describe_logs server)")"
            return 1
        fi
        lab_sleep
        threads=$(server_field Threads)
    done
    server_stop "$@"
}

# ---- step 3: joining and leaving ------------------------------------------------

@test "step 3 (join and leave): a newcomer's first line is its welcome; the others hear '* client-K joined', newcomers nothing older" {
    server_start_ready 0
    # client-3's second line is client-4's join: it never hears of client-1
    # and client-2 joining. Likewise for client-2.
    talk expect 'welcome client-1' \
        connect two expect 'welcome client-2' \
        connect three expect 'welcome client-3' \
        use 1 expect '* client-2 joined' expect '* client-3 joined' \
        use two expect '* client-3 joined' \
        connect four expect 'welcome client-4' \
        use three expect '* client-4 joined' \
        use two expect '* client-4 joined' \
        use 1 expect '* client-4 joined'
    stop_when_all_left
}

@test "step 3 (join and leave): end of file, a reset and a close are each announced '* client-K left' to the others" {
    server_start_ready 0
    # (fin, answered bye, is step 4's.)
    talk expect 'welcome client-1' \
        connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two shut-write expect-eof use 1 expect '* client-2 left' \
        connect three expect 'welcome client-3' use 1 expect '* client-3 joined' \
        use three reset use 1 expect '* client-3 left' \
        connect four expect 'welcome client-4' use 1 expect '* client-4 joined' \
        use four close use 1 expect '* client-4 left' \
        shut-write expect-eof
    stop_when_all_left
}

@test "step 3 (join and leave): the server prints 'client-K connected from IP:PORT' and 'client-K disconnected'" {
    server_start_ready 0
    talk expect 'welcome client-1' \
        connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two shut-write expect-eof use 1 expect '* client-2 left' \
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
    stop_when_all_left
}

@test "step 3 (join and leave): IPv6 and IPv4 clients alike: 'client-K connected from [::1]:PORT', and '127.0.0.1:PORT'" {
    require_ipv6_loopback
    server_start_ready 0
    # client-1 comes over IPv6 (::1), client-2 over IPv4: each hears of the
    # other.
    peer_start_at six ::1 expect 'welcome client-1' expect '* client-2 joined' \
        expect '* client-2 left' shut-write expect-eof
    wait_for_output server '^client-1 connected from '
    talk expect 'welcome client-2' shut-write expect-eof
    peer_wait six
    wait_for_output server '^client-1 disconnected$'
    run sed -nE 's/^(client-[0-9]+ connected from .*):[0-9]+$/\1:PORT/p' "$LOGS/server.out"
    expect_equal "the 'connected from' lines the server printed" "client-1 connected from [::1]:PORT
client-2 connected from 127.0.0.1:PORT" "$output"
    stop_when_all_left
}

# bats test_tags=accept,shard:crowd
@test "step 3 (join and leave): 300 pairs of clients connecting back to back: the first hears the second join; the second hears nothing of the first joining" {
    local script=()
    volume 300 30 "30 pairs instead of 300"
    server_start_ready 0
    # client-1 hears every join and leave, in number order. Then pair after
    # pair: A and B connect one right after the other (A is client-K, B
    # client-K+1, in the server's queue of connections together); A hears
    # B join after its welcome, B's second line is A's leave (never A's
    # join); both leave, and client-1 hears them go before the next pair.
    lines_into script awk -v pairs="$VOLUME" 'BEGIN {
        print "expect"; print "welcome client-1"
        for (i = 0; i < pairs; i++) {
            a = 2 * i + 2; b = a + 1
            print "connect"; print "a" i; print "connect"; print "b" i
            print "use"; print "1"
            print "expect"; print "* client-" a " joined"; print "expect"; print "* client-" b " joined"
            print "use"; print "a" i
            print "expect"; print "welcome client-" a; print "expect"; print "* client-" b " joined"
            print "use"; print "b" i; print "expect"; print "welcome client-" b
            print "use"; print "a" i; print "close"
            print "use"; print "b" i; print "expect"; print "* client-" a " left"; print "close"
            print "use"; print "1"
            print "expect"; print "* client-" a " left"; print "expect"; print "* client-" b " left"
        } }'
    talk "${script[@]}"
    stop_when_all_left
}

# bats test_tags=shard:crowd
@test "step 3 (join and leave): 500 clients at once: each hears every later join, then every earlier leave" {
    plain_only
    local count=500 script=() start
    if (($(ulimit -n) < count + 64)); then
        ulimit -n $((count + 64)) 2>/dev/null ||
            skip "needs $((count + 64)) descriptors per process; the limit is $(ulimit -n) (hard: $(ulimit -Hn))"
    fi
    # (On one CPU: this test is the heaviest, and its threads mostly wake
    # one another; see server_start.)
    server_start --one-cpu 0
    server_wait_ready
    # They connect one after the other, each reading its welcome; then one
    # after the other they end their input and print all they got until the
    # server closes.
    lines_into script awk -v count="$count" 'BEGIN {
        print "expect"; print "welcome client-1"
        for (k = 2; k <= count; k++) { print "connect"; print "c" k; print "expect"; print "welcome client-" k }
        # once the last but one client has the last join, every queue holds it
        print "use"; print "c" count - 1; print "expect"; print "* client-" count " joined"
        for (k = 1; k <= count; k++) { print "use"; print (k == 1 ? "1" : "c" k); print "shut-write"; print "drain" } }'
    awk -v count="$count" 'BEGIN {
        for (k = 1; k <= count; k++) {
            if (k < count - 1)
                for (j = k + 1; j <= count; j++) print "* client-" j " joined"
            for (j = 1; j < k; j++) print "* client-" j " left" } }' >"$LOGS/crowd.expected"
    start=$EPOCHREALTIME
    # (Each of them gets 10 KB at most: they wait in the system's buffers
    # until their turn, peer --lazy.)
    TALK_BOUND=$((T_RUN * 6)) TALK_OUT=$LOGS/crowd.out TALK_LAZY=1 talk "${script[@]}"
    report_time "$count clients joined and left" "$start"
    expect_same_lines "what the $count clients heard, one after the other" "$LOGS/crowd.expected" "$LOGS/crowd.out"
    expect_equal "'connected from' lines the server printed" "$count" "$(grep -c '^client-[0-9]* connected from ' "$LOGS/server.out")"
    expect_equal "'disconnected' lines the server printed" "$count" "$(grep -c '^client-[0-9]* disconnected$' "$LOGS/server.out")"
    stop_when_all_left
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
    matching_lines server '^client-[0-9]+> '
    expect_equal "the relayed lines the server printed" "client-1> hello everyone
client-2> hi from two
client-3> three here
client-1> bye all" "$output"
    stop_when_all_left
}

@test "step 4 (relaying): UTF-8 text is relayed unchanged, whatever pieces it came in; \\r\\n, empty lines and NUL bytes too" {
    server_start_ready 0
    talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two send 'Café 😀\n' use 1 expect 'client-2> Café 😀' \
        use two pieces 1 5 'cr\xc3\xa8me br\xc3\xbbl\xc3\xa9e \xf0\x9f\x98\x80\r\n' \
        use 1 expect 'client-2> crème brûlée 😀' \
        use two send '\n' use 1 expect 'client-2> ' \
        use two send 'a\0b\n' use 1 expect 'client-2> a\0b'
    # The log shows the NUL byte as \x00 (a raw one as @: a shell string
    # cannot hold it).
    LC_ALL=C grep -aE '^client-[0-9]+> ' "$LOGS/server.out" | tr '\000' @ >"$LOGS/relayed"
    expect_equal "the relayed lines the server printed" "client-2> Café 😀
client-2> crème brûlée 😀
client-2> 
client-2> a\x00b" "$(<"$LOGS/relayed")"
    stop_when_all_left
}

@test "step 4 (relaying): control characters are relayed byte for byte; the server's log shows them as \\xNN (ESC, CR, DEL, U+009B, NUL), a backslash and a TAB as they are" {
    server_start_ready 0
    # One line with ESC [2K (erase the line), a CR inside it, DEL, U+009B
    # (CSI, two bytes in UTF-8), a backslash, a TAB, SOH, NUL and an é; it
    # ends in CR LF, whose CR is stripped. The other client gets the very
    # bytes.
    talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two send 'a\x1b[2Kb\rc\x7fd\xc2\x9be\\f\tg\x01h\0i caf\xc3\xa9\r\n' send 'plain\n' \
        use 1 expect 'client-2> a\x1b[2Kb\rc\x7fd\xc2\x9be\\f\tg\x01h\0i caf\xc3\xa9' expect 'client-2> plain'
    # The server's log: each control character as \xNN, the rest as it is.
    LC_ALL=C grep -aE '^client-[0-9]+> ' "$LOGS/server.out" >"$LOGS/relayed"
    printf '%s\n' 'client-2> a\x1B[2Kb\x0Dc\x7Fd\xC2\x9Be\f'$'\t''g\x01h\x00i café' 'client-2> plain' >"$LOGS/relayed.expected"
    expect_same_lines "the relayed lines the server printed (control characters as \\xNN)" \
        "$LOGS/relayed.expected" "$LOGS/relayed"
    stop_when_all_left
}

@test "step 4 (relaying): invalid UTF-8 is answered 'ERR invalid UTF-8 at byte I' to its sender alone and relayed to nobody" {
    server_start_ready 0
    talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two send 'ab\xe0\x80\n' expect 'ERR invalid UTF-8 at byte 2' \
        send 'caf\xe9\n' expect 'ERR invalid UTF-8 at byte 3' \
        send '\xed\xa0\x80 surrogate\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'valid again\n' use 1 expect 'client-2> valid again' \
        send 'and you?\n' use two expect 'client-1> and you?'
    matching_lines server '^client-[0-9]+> '
    expect_equal "the relayed lines the server printed" $'client-2> valid again\nclient-1> and you?' "$output"
    stop_when_all_left
}

@test "step 4 (relaying): an over-long line gets 'ERR line too long' to its sender alone; 65536 bytes pass; the next line is relayed" {
    local longest
    repeated longest y 65536
    server_start_ready 0
    talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
        use two repeat 65537 z send '\n' expect 'ERR line too long' \
        repeat 65536 y send '\n' send 'next\n' \
        use 1 expect "client-2> $longest" expect 'client-2> next' \
        send 'and now?\n' use two expect 'client-1> and now?'
    stop_when_all_left
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
    matching_lines server '^client-[0-9]+> '
    expect_equal "the relayed lines the server printed" "client-2> before" "$output"
    stop_when_all_left
}

@test "step 4 (relaying): -q and --quiet print no line per client or per message" {
    local option
    for option in -q --quiet; do
        server_start_ready "$option" 0
        talk expect 'welcome client-1' connect two expect 'welcome client-2' use 1 expect '* client-2 joined' \
            use two send 'hello\n' use 1 expect 'client-2> hello' \
            use two send 'fin\n' expect 'bye' expect-eof use 1 expect '* client-2 left'
        stop_when_all_left
        expect_equal "output of server $option" $'listening on port '"$PORT"$'\nserver stopped' \
            "$(<"$LOGS/server.out")"
    done
}

# bats test_tags=shard:stop
@test "step 4 (relaying): 5000 lines sent at once by one client reach another whole, in order, once each" {
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
    stop_when_all_left
}

# bats test_tags=shard:flow
@test "step 4 (relaying): 8 clients sending at once: no line cut or spliced, each line once, each sender's order kept" {
    local fill i
    repeated fill x 90
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
    # (One awk for the eight texts: starting a process takes 30 to 50 ms.)
    local texts=()
    lines_into texts env FILL="$fill" awk 'BEGIN {
        for (i = 1; i <= 8; i++) { for (n = 0; n <= 999; n++) printf "s%d %04d %s\\n", i, n, ENVIRON["FILL"]; print "" } }'
    for i in 1 2 3 4 5 6 7 8; do
        peer_start "sender$i" pieces 2048 1 "${texts[i - 1]}" send 'fin\n' drain
    done
    for i in 1 2 3 4 5 6 7 8; do
        peer_wait "sender$i"
    done
    peer_wait listeners
    head -n 8016 "$LOGS/listeners.out" >"$LOGS/client-1.heard"
    tail -n +8017 "$LOGS/listeners.out" >"$LOGS/client-2.heard"
    local streams=("$LOGS/client-1.heard:1:" "$LOGS/client-2.heard:1:")
    for i in 1 2 3 4 5 6 7 8; do
        streams+=("$LOGS/sender$i.out:0:s$i")
    done
    check_relay_streams "$fill" "${streams[@]}"
    stop_when_all_left
}

# bats test_tags=shard:crowd
@test "step 4 (relaying): a client that stops reading for a while (900 KB behind) loses nothing: it gets it all, in order" {
    local text expected start i
    # 9000 lines of 105 bytes as relayed: under the high-water mark (1 MiB)
    # whatever the system buffers, so that no flow control (step 5) is
    # needed. (A multiple of 1000: the lines go in sends of 1000.)
    volume 9000 5000 "500 KB instead of 900 KB"
    local count=$VOLUME
    server_start_ready 0
    socket_open slow # client-1: reads only at the end
    wait_for_output server '^client-1 connected from '
    # Lines "n NNNNN " + fill (95 bytes): in sends of 1000 lines (the peer
    # takes 128 KB per argument at most).
    local sends=() fill
    repeated fill y 86
    lines_into sends env FILL="$fill" awk -v count="$count" 'BEGIN {
        for (i = 0; i < count; i += 1000) {
            print "send"
            for (n = i; n < i + 1000; n++) printf "n %05d %s\\n", n, ENVIRON["FILL"]
            print "" } }'
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
    status=0
    timeout -k 1 "$T_RUN" cat <&"$fd" >"$LOGS/slow.out" || status=$?
    ((status != 124 && status != 137)) || fail "the server did not close the connection after its backlog and bye"
    report_time "backlog of $count lines read" "$start"
    expect_same_lines "what the late reader got" "$LOGS/slow.expected" "$LOGS/slow.out"
    stop_when_all_left
}

# bats test_tags=shard:stop
@test "step 4 (relaying): 40 clients come and go, each its own way, while one talks: those present get every line" {
    local fill count k script=() mode churned=0 baseline
    repeated fill w 90
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
    local round=$((count / 50)) texts=()
    # The talker's texts, one per round, then the rest (one awk: starting a
    # process takes 30 to 50 ms).
    lines_into texts env FILL="$fill" awk -v count="$count" -v round="$round" 'BEGIN {
        for (k = 4; k <= 44; k++) {
            last = k < 44 ? (k - 3) * round : count
            for (n = (k - 4) * round; n < last; n++) printf "talk %04d %s\\n", n, ENVIRON["FILL"]
            print "" } }'
    script=(expect 'welcome client-3')
    for ((k = 4; k < 44; k++)); do
        script+=(use 1 send "${texts[k - 4]}")
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
    script+=(use 1 send "${texts[40]}" send 'fin\n' drain)
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

# ---- step 5: flow control ---------------------------------------------------------
# lab04-chat plays the clients (see the top of tests/helpers/lab04-chat.c):
# readers check every line of the sender and measure their longest wait;
# a client that never reads is read to its end (end of file, or a reset)
# once the others hear it left, or at the end.

# bats test_tags=shard:flow
@test "step 5 (flow control): a client that never reads is disconnected once behind past its deadline; the reader gets every line, waiting 2.5 s at most; memory stays under 64 MB" {
    local bytes
    # Past what the system buffers for a connection (4 MB here) plus a
    # bound: the client that never reads falls behind by megabytes.
    volume 16000000 8000000 "8 MB instead of 16 MB"
    bytes=$VOLUME
    server_start_ready 0
    # client-1 reads as fast as it can, client-2 never reads, client-3 sends
    # lines of 1000 bytes.
    CHAT_BOUND=$((6 * T_RUN)) chat relay readers 1 0 idle 1 sender "$bytes" 1000
    expect_summary 'idle client-2' '1 disconnected' \
        "a client that does not read must be disconnected once it has been behind past its high-water mark for 2 s"
    expect_summary 'reader client-1' "$((bytes / 1000)) lines in order"
    expect_summary 'reader client-1' 'heard left: 2-3'
    expect_summary 'sender client-3' 'heard left: 2'
    expect_longest_wait 'reader client-1'
    expect_peak_memory "while a client did not read"
    matching_lines server '^client-2 disconnected$'
    expect_equal "'client-2 disconnected' lines the server printed" 1 "${#lines[@]}"
    stop_when_all_left
}

# bats test_tags=shard:flow
@test "step 5 (flow control): 8 MB from one sender to four clients reading at only 1 MB/s: none is disconnected, each gets every line in order; memory stays under 64 MB" {
    local bytes readers=4 k small=(rcvbuf 4096 mss 1000)
    # (A server slowed down by a tool may refill a small window too late for
    # 1 MB/s: there the readers' connections buffer as usual, and the
    # sender sends more than the system buffers for them.)
    volume 8000000 6000000 "6 MB to 2 readers whose connections buffer as usual, instead of 8 MB to 4 that buffer little"
    bytes=$VOLUME
    if [[ $bytes != 8000000 ]]; then
        readers=2
        small=()
    fi
    server_start_ready -q 0
    # The readers read at 10^6 bytes per second, and their connections
    # buffer little (a small receive buffer and segments): the server must
    # hold the fast sender back, never drop them. It takes bytes / 10^6 s.
    CHAT_BOUND=$((bytes / 1000000 + 3 * T_RUN)) \
        chat relay readers "$readers" 1000000 "${small[@]}" sender "$bytes" 1000
    for ((k = 1; k <= readers; k++)); do
        expect_summary "reader client-$k" "$((bytes / 1000)) lines in order"
    done
    expect_peak_memory "with $readers slow readers"
    stop_when_all_left
}

# bats test_tags=shard:crowd
@test "step 5 (flow control): 200 clients that never read while one sends 20 MB: they are disconnected, the others told; the reader gets every line, waiting 2.5 s at most; memory stays under 64 MB" {
    local bytes idle
    volume 200 20 "20 clients that never read, 4 MB, instead of 200 and 20 MB"
    idle=$VOLUME
    bytes=20000000
    ((idle == 200)) || bytes=4000000
    if (($(ulimit -n) < idle + 64)); then
        ulimit -n $((idle + 64)) 2>/dev/null ||
            skip "needs $((idle + 64)) descriptors per process; the limit is $(ulimit -n) (hard: $(ulimit -Hn))"
    fi
    server_start_ready -q 0
    # client-1 reads as fast as it can; the $idle after it never read; the
    # last one sends. Their connections buffer little (under 100 KB each),
    # so that they fall behind together: those that fall behind later hold
    # the others up once more, 2 s each time (hence the long bound).
    CHAT_BOUND=$((12 * T_RUN)) \
        chat relay readers 1 0 idle "$idle" rcvbuf 1024 mss 300 sender "$bytes" 1000
    expect_summary "idle client-2" "$idle disconnected" \
        "a client that does not read must be disconnected once it has been behind past its high-water mark for 2 s"
    expect_summary 'reader client-1' "$((bytes / 1000)) lines in order"
    expect_summary 'reader client-1' "heard left: 2-$((idle + 2))"
    expect_summary "sender client-$((idle + 2))" "heard left: 2-$((idle + 1))"
    expect_longest_wait 'reader client-1'
    expect_peak_memory "with $idle clients that did not read"
    stop_when_all_left
}

# ---- step 6: stopping: descriptors, signals ----------------------------------------

# bats test_tags=accept,shard:stop
@test "step 6 (stopping): out of descriptors, no spare left (EMFILE): no spinning, the others served; accepting again once a client leaves" {
    needs_prlimit
    local fd line heard=()
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
    expect_no_spin 0.5 "while out of descriptors" "stop polling the listener while no descriptor is free"
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

# bats test_tags=accept,shard:stop
@test "step 6 (stopping): out of descriptors, no spare left (EMFILE): no spinning; descriptors free again, a waiting client is accepted though nobody left" {
    needs_prlimit
    local start
    server_start_ready 0
    socket_open one
    socket_expect one 'welcome client-1'
    server_lose_descriptors
    # A second client cannot be accepted: the server pauses accepting, and
    # may look again now and then, but must not spin meanwhile.
    socket_open two
    # Long enough for a look again or two.
    expect_no_spin 1.5 "while out of descriptors"
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

# bats test_tags=shard:stop
@test "step 6 (stopping): SIGTERM with 104 clients (in recv, owed lines it does not read, half a line): all see the end; exit 0, 'server stopped'" {
    stop_with_busy_clients TERM
}

# bats test_tags=shard:stop
@test "step 6 (stopping): SIGINT with 104 clients (in recv, owed lines it does not read, half a line): all see the end; exit 0, 'server stopped'" {
    stop_with_busy_clients INT
}

# bats test_tags=shard:stop
@test "step 6 (stopping): clients owed lines they never read leave (fin, the end of their input): SIGTERM still stops the server within 1 s" {
    local start
    server_start_ready 0
    # client-1 and client-2 never read while client-3 sends, until the server
    # holds 256 KiB for each beyond what its connection holds; then client-1
    # says fin, client-2 ends its side: their writers still have those
    # bytes to send when they leave.
    chat_start owe owe 262144 fin shut-write
    chat_wait_owing owe 2
    wait_for_count server '^client-[12] disconnected$' 2
    start=$EPOCHREALTIME
    server_stop
    report_time "stopped (two clients owed lines left)" "$start"
    chat_end owe
}

# bats test_tags=accept,shard:stop
@test "step 6 (stopping): SIGTERM while clients are still pouring in, five times in a row: each sees the end" {
    local round
    # A burst of connections (lab04-chat burst) until the server stops
    # listening, 100 at most: one every millisecond in odd rounds (the
    # SIGTERM comes while they pour in), all at once in even rounds (most
    # still wait to be accepted). At the SIGTERM some clients are in the
    # table, some have their threads just starting, some wait to be
    # accepted. Then each connection is read to its end (or a reset): none
    # may stay open.
    for round in 1 2 3 4 5; do
        server_start_ready 0
        chat_start burst burst 100 $((round % 2))
        wait_for_output burst '^open 10$'
        server_stop --signal TERM
        wait_exit burst "$T_RUN"
        if ((EXIT_STATUS != 0)); then
            fail "$(printf 'round %s: connections stayed open after the server stopped:\n%s\n%s' "$round" \
                "$(<"$LOGS/burst.out")" "$(<"$LOGS/burst.err")")"
        fi
        lab_slurp "$LOGS/burst.out"
        echo "# round $round: ${LAB_SLURP##*opened } connections (at most 100) around the SIGTERM" >&3
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
bye" "$(<"$LOGS/client.out")"
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
${expected}connection closed by server" "$(<"$LOGS/client.out")"
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
            "$(<"$LOGS/client-stdout.expected")" "$output")"
    fi
    peer_wait server
}

@test "step 7 (client): prints control characters as \\xNN (ESC, CR, DEL, U+009B, a byte that is not UTF-8), a backslash and a TAB as they are; with --latin1 too, escaped first" {
    local option e_acute
    for option in "" --latin1; do
        # What another client said, with control characters in it.
        listener_start server send 'welcome client-1\n' \
            send 'client-2> a\x1b[2Kb\rc\x7fd\xc2\x9be\\f\tg\xffh caf\xc3\xa9\n' expect 'fin' send 'bye\n' close
        client_run ${option:+"$option"} 127.0.0.1 "$PORT" <<<"fin"
        assert_success
        # Escaped as received, then (--latin1) converted: é is byte E9.
        e_acute=$'\xc3\xa9'
        [[ -n $option ]] && e_acute=$'\xe9'
        printf '%s\n' "connected to 127.0.0.1:$PORT" 'welcome client-1' \
            'client-2> a\x1B[2Kb\x0Dc\x7Fd\xC2\x9Be\f'$'\t''g\xFFh caf'"$e_acute" 'bye' >"$LOGS/client.expected"
        printf '%s\n' "$output" >"$LOGS/client.got"
        expect_same_lines "the client's output${option:+ with $option}" "$LOGS/client.expected" "$LOGS/client.got"
        peer_wait server
    done
}

@test "step 7 (client): prints a relayed line of 65536 bytes whole after its 'client-K> ' prefix, escapes and all" {
    local longest escaped
    # 65535 bytes y and an ESC; then 16384 times "ab", SOH, "c" (65536 bytes
    # that take 114688 once escaped).
    listener_start server send 'welcome client-1\n' \
        send 'client-2> ' repeat 65535 y send '\x1b\n' \
        send 'client-2> ' repeat 16384 'ab\x01c' send '\n' expect 'fin' send 'bye\n' close
    client_run 127.0.0.1 "$PORT" <<<"fin"
    assert_success
    repeated longest y 65535
    longest="client-2> $longest\\x1B"
    repeated escaped 'ab\x01c' 16384
    escaped="client-2> $escaped"
    expect_equal "the number of lines the client printed" 5 "${#lines[@]}"
    expect_long_line "the client's third line" "$longest" "${lines[2]}"
    expect_long_line "the client's fourth line" "$escaped" "${lines[3]}"
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
bye" "$(<"$LOGS/alice.out")"
    expect_equal "bob's output" "connected to localhost:$PORT
welcome client-2
client-1> hello bob
bye" "$(<"$LOGS/bob.out")"
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
bye" "$(<"$LOGS/six.out")"
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
