#!/usr/bin/env bats
# lab03-select: many clients, one thread, select(), as lab03-select/README.md describes it.
# Each test name starts with the README step it checks; "given" marks what
# the skeleton already provides.

load helpers/lab

# The long tests are tagged "shard:NAME": make test runs each NAME in a bats
# process of its own, at once; "accept" marks those that exercise accept()
# (they run again behind BSD's accept(): see tests/run).

CROWD="$REPO_DIR/tests/helpers/lab03-crowd"

setup_file() {
    lab_setup_file
    make -s -C "$REPO_DIR/tests/helpers" lab03-crowd >/dev/null
}

setup() {
    lab_setup
    SCALE=1
    [[ ${VALGRIND:-0} != 0 ]] && SCALE=10
    [[ -n ${SANITIZE:-} ]] && SCALE=3
    SOON=$((1000 * SCALE)) # ms: "at once", for an answer no other client may delay
}

teardown() {
    if [[ -n ${CROWD_IN:-} ]]; then exec {CROWD_IN}>&-; fi
    if [[ -n ${CLIENT_IN:-} ]]; then exec {CLIENT_IN}>&-; fi
    lab_teardown
}

# ---- helpers of this file -----------------------------------------------

# crowd_start: starts tests/helpers/lab03-crowd (many connections at once,
# see its header) against the server on $PORT. It reads its commands from a
# FIFO, one at a time: see crowd.
crowd_start() {
    mkfifo "$LOGS/crowd.in"
    setsid timeout -k 2 $((120 * SCALE)) "$CROWD" -t "$T_WAIT" 127.0.0.1 "$PORT" \
        <"$LOGS/crowd.in" >"$LOGS/crowd.out" 2>"$LOGS/crowd.err" 3>&- 4>&- &
    LAB_PID[crowd]=$!
    exec {CROWD_IN}>"$LOGS/crowd.in"
    CROWD_DONE=0
}

# crowd COMMAND...: runs one command of the crowd and waits for its "ok"
# line, left in CROWD_RESULT. Fails with the crowd's message if it failed.
crowd() {
    local deadline=$((SECONDS + 30 * SCALE))
    # In a subshell: if the crowd is gone, SIGPIPE ends only that subshell.
    (echo "$*" >&"$CROWD_IN") 2>/dev/null
    CROWD_DONE=$((CROWD_DONE + 1))
    until (($(wc -l <"$LOGS/crowd.out") >= CROWD_DONE)); do
        if ! is_running crowd; then
            fail "$(printf 'the crowd of connections failed at "%s":\n%s\n  the server:\n%s' \
                "$*" "$(cat "$LOGS/crowd.err")" "$(describe_logs server)")"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            fail "$(printf 'timeout: "%s" did not finish within %s s\n  the server:\n%s' \
                "$*" "$((30 * SCALE))" "$(describe_logs server)")"
            return 1
        fi
        sleep "$POLL_INTERVAL"
    done
    CROWD_RESULT=$(sed -n "${CROWD_DONE}p" "$LOGS/crowd.out")
}

# crowd_hello [--allow-closed] A B: "crowd hello A B", then sets SERVED,
# REFUSED and CLOSED (counts) and SERVED_LIST, REFUSED_LIST and CLOSED_LIST
# (ranges such as "1-57" or "none"). Fails if a connection was closed
# without any line, unless --allow-closed.
crowd_hello() {
    local allow_closed=0
    if [[ $1 == --allow-closed ]]; then allow_closed=1; shift; fi
    crowd hello "$1" "$2" || return 1
    local counts=':\ ([0-9]+)\ served,\ ([0-9]+)\ refused,\ ([0-9]+)\ closed:'
    [[ $CROWD_RESULT =~ ${counts}\ served\ (.*)\ refused\ (.*)\ closed\ (.*)$ ]]
    SERVED=${BASH_REMATCH[1]} REFUSED=${BASH_REMATCH[2]} CLOSED=${BASH_REMATCH[3]}
    SERVED_LIST=${BASH_REMATCH[4]} REFUSED_LIST=${BASH_REMATCH[5]} CLOSED_LIST=${BASH_REMATCH[6]}
    if ((CLOSED > 0 && !allow_closed)); then
        fail "$(printf 'connections %s were closed by the server without an answer or "ERR server full"\n  the server:\n%s' \
            "$CLOSED_LIST" "$(describe_logs server)")"
        return 1
    fi
}

# client_start ARGS...: starts the lab's client in the background, its
# standard input a FIFO that the test keeps open (client_type writes to it,
# client_end_input closes it), its output in client.out and client.err.
client_start() {
    mkfifo "$LOGS/client.in"
    lab_wrapper client
    setsid timeout -k 2 "$T_RUN" "${WRAP[@]}" "$LAB_DIR/client" "$@" \
        <"$LOGS/client.in" >"$LOGS/client.out" 2>"$LOGS/client.err" 3>&- 4>&- &
    LAB_PID[client]=$!
    exec {CLIENT_IN}>"$LOGS/client.in"
}

# client_type TEXT: the user types TEXT (printf escapes) into the client.
# A client that has exited already (after fin, by design) closed its end of
# the FIFO: the rest of TEXT then meets EPIPE. That is no failure in itself:
# the test's own checks of the client's output and exit say what went wrong.
client_type() {
    (printf '%b' "$1" >&"$CLIENT_IN") 2>/dev/null || true
}

# client_end_input: end of file on the client's standard input.
client_end_input() {
    exec {CLIENT_IN}>&-
    CLIENT_IN=""
}

# client_wait_exit: the client must exit 0 within T_WAIT by itself (its
# standard input may still be open).
client_wait_exit() {
    wait_exit client "$T_WAIT" || return 1
    if ((EXIT_STATUS != 0)); then
        fail "$(printf 'the client should exit with status 0; it %s\n%s' "$(how_it_ended "$EXIT_STATUS" "$LOGS/client.err")" "$(describe_logs client)")"
        return 1
    fi
    check_tool_logs client
}

# proc_status ROLE FIELD: a field of /proc/PID/status: VmRSS or VmHWM
# (in kB) or voluntary_ctxt_switches.
proc_status() {
    awk -v field="$2:" '$1 == field { print $2 }' "/proc/${LAB_PID[$1]}/status"
}

# needs_proc: skips, saying why, where /proc cannot measure the server.
needs_proc() {
    [[ -r /proc/self/stat && -r /proc/self/status ]] ||
        skip "needs Linux's /proc to measure the server's CPU time and memory"
}

# server_start_limited LIMIT ARGS...: server_start with the soft limit of
# open descriptors at LIMIT (ulimit -n) for the server only.
server_start_limited() {
    local limit=$1 old
    shift
    old=$(ulimit -S -n)
    ulimit -S -n "$limit"
    server_start "$@"
    ulimit -S -n "$old"
}

# needs_descriptors N: skips, saying why, unless ulimit -n can reach N.
needs_descriptors() {
    local hard
    hard=$(ulimit -H -n)
    [[ $hard == unlimited ]] || (($1 <= hard)) ||
        skip "needs $1 descriptors, and the hard limit (ulimit -H -n) is $hard"
    [[ $(ulimit -S -n) != unlimited ]] && (($(ulimit -S -n) < $1)) && ulimit -S -n "$1"
    return 0
}

# server_log: the server's output, the clients' ports replaced by PORT.
server_log() {
    sed -E 's/^(client [0-9]+ connected from ([0-9.]+|\[[0-9a-f:]+\])):[0-9]+$/\1:PORT/' "$LOGS/server.out"
}

# crowd_count WORD: the number just before WORD in CROWD_RESULT ("paused
# after 178688 bytes, 178688 lines": crowd_count lines gives 178688).
crowd_count() {
    [[ $CROWD_RESULT =~ ([0-9]+)\ $1 ]] && echo "${BASH_REMATCH[1]}"
}

# pinger_start: another client that pings every 50 ms, 16 times, and must
# be answered each time within SOON: nobody may hold it up.
pinger_start() {
    local pings=() i
    for i in $(seq 16); do pings+=(send 'ping\n' expect-within "$SOON" 'OK 4 bytes 4 chars' pause 50); done
    peer_start pinger "${pings[@]}"
}

# expect_memory_bounded WHAT: the server's peak memory (VmHWM) stays under
# 16 MB (64 MB with the sanitizers' shadow memory); printed, not checked,
# under Valgrind, whose own memory is most of the process.
expect_memory_bounded() {
    [[ -r /proc/${LAB_PID[server]}/status ]] || return 0
    local hwm bound=$((16 * 1024))
    hwm=$(proc_status server VmHWM)
    echo "# $1: server VmHWM $hwm kB" >&3
    [[ -n ${SANITIZE:-} ]] && bound=$((64 * 1024))
    if [[ ${VALGRIND:-0} != 0 ]]; then
        echo "# (memory not checked under Valgrind: most of it is Valgrind's)" >&3
    elif ((hwm > bound)); then
        fail "the server's memory reached $hwm kB (VmHWM, bound $bound kB) $1: the answers waiting for a client must be bounded"
    fi
}

# expect_running WHEN: fails, with the server's logs, unless it still runs.
expect_running() {
    local how
    is_running server && return 0
    wait_exit server "$T_STOP" || return 1
    how=$(how_it_ended "$EXIT_STATUS" "$LOGS/server.err")
    fail "$(printf 'the server %s %s; it must wait in select()\n%s' \
        "$how" "$1" "$(describe_logs server)")"
    return 1
}

# expect_idle WHAT SECONDS: over SECONDS s, the running server uses less than
# 50 ms of CPU and wakes up twice at most (WHAT says when, for the report).
expect_idle() {
    local before after wakes_before wakes_after
    expect_running "$1" || return 1
    before=$(cpu_ms server) wakes_before=$(proc_status server voluntary_ctxt_switches)
    # This wait is the measurement itself, not a wait for an event: a server
    # that polls with a timeout, or spins, uses CPU here and wakes up (each
    # wake-up after sleeping is a voluntary context switch).
    sleep "$2"
    expect_running "$1" || return 1
    after=$(cpu_ms server) wakes_after=$(proc_status server voluntary_ctxt_switches)
    echo "# idle server, $1, $2 s: $((after - before)) ms of CPU, $((wakes_after - wakes_before)) wake-ups" >&3
    ((after - before < 50)) ||
        fail "the server used $((after - before)) ms of CPU in $2 s $1: select() must wait without a timeout"
    ((wakes_after - wakes_before <= 2)) ||
        fail "the server woke up $((wakes_after - wakes_before)) times in $2 s $1: select() must wait without a timeout"
}

# crowd_refused A B: connections A to B, which the server has accepted or
# should have, must all have been refused with "ERR server full" (under
# Valgrind, also closed without it: see the EMFILE test of step 5).
crowd_refused() {
    if [[ ${VALGRIND:-0} != 0 ]]; then
        crowd_hello --allow-closed "$1" "$2" || return 1
    else
        crowd_hello "$1" "$2" || return 1
    fi
    ((SERVED == 0)) || fail "$(printf 'connections %s were served; expected "ERR server full" for %s to %s\n  the server:\n%s' \
        "$SERVED_LIST" "$1" "$2" "$(describe_logs server)")"
}

# accepted_count: sets ACCEPTED to the number of "client K connected" lines,
# and fails unless they are clients 1 to ACCEPTED, in order.
accepted_count() {
    local numbers
    numbers=$(sed -n 's/^client \([0-9]*\) connected from .*/\1/p' "$LOGS/server.out")
    ACCEPTED=$(grep -c . <<<"$numbers")
    expect_equal "the clients numbered in the log" "$(seq 1 "$ACCEPTED")" "$numbers"
}

# queue_test SCENARIO: builds the test program of outbuf.c
# (tests/helpers/lab03-outbuf-unit.c), linked with the lab's outbuf.c, and
# runs SCENARIO: in-order, full, room or gone. Fails with what the program
# says went wrong.
queue_test() {
    local program="$BATS_TEST_TMPDIR/queue_test" flags=()
    [[ -n ${SANITIZE:-} ]] && flags=(-fsanitize="$SANITIZE" -fno-omit-frame-pointer)
    lab_run "${JAIL[@]}" cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -g "${flags[@]}" -I"$LAB_DIR" \
        -o "$program" "$REPO_DIR/tests/helpers/lab03-outbuf-unit.c" "$LAB_DIR/outbuf.c"
    if ((status != 0)); then
        fail "$(printf 'outbuf.c does not build with the test program:\n%s' "$stderr")"
        return 1
    fi
    lab_wrapper queue
    lab_run timeout -k 2 "$T_RUN" "${WRAP[@]}" "$program" "$1"
    if ((status != 0)); then
        fail "$(printf 'the test of outbuf.c (%s) failed, status %s:\n%s' "$1" "$status" "$stderr")"
        return 1
    fi
    check_tool_logs queue
}

# ---- given in the skeleton: command line, listening ----------------------

@test "given: server -h and --help print the usage on stdout and exit 0" {
    expect_help server
}

@test "given: client -h and --help print the usage on stdout and exit 0" {
    expect_help client
}

@test "given: server and client reject a bad port or option with a usage line and exit 2" {
    expect_usage_error server abc
    expect_usage_error server 65536
    expect_usage_error server -x
    expect_usage_error server 0 0
    expect_usage_error client localhost 0
    expect_usage_error client localhost x
    expect_usage_error client -x
    expect_usage_error client --latin1 localhost 1 extra
}

@test "given: with port 0 the server prints the real port, as its first line" {
    server_start_ready 0
    ((PORT > 0)) || fail "the server printed port $PORT: print the port getsockname() gives"
    expect_equal "first line of the server" "listening on port $PORT" "$(head -n 1 "$LOGS/server.out")"
}

@test "given: a port already taken gives 'bind: Address already in use' and exit 1" {
    expect_bind_in_use
}

# ---- step 1: the select() loop -------------------------------------------

@test "step 1 (select loop): the server waits in select() without a timeout: no CPU, no wake-up while nobody connects" {
    needs_proc
    server_start_ready 0
    lab_sleep 0.1 # (the server's first turn of the loop)
    expect_idle "while nobody connects" 1
}

# ---- step 2: stopping -------------------------------------------------------

@test "step 2 (stopping): SIGTERM right after the listening line, five times in a row" {
    for _ in 1 2 3 4 5; do
        rm -f "$LOGS/server.out" # so that the last server's port is not read
        server_start_ready 0
        server_stop --signal TERM
    done
}

@test "step 2 (stopping): SIGINT while the server waits in select(): 'server stopped', exit 0 at once" {
    server_start_ready 0
    lab_sleep 0.2
    server_stop --signal INT
}

# ---- step 3: new connections and the client table ---------------------------
# The clients of these tests send nothing and stay connected until the
# server stops: reading a client, or seeing it leave, is step 5.

# bats test_tags=accept
@test "step 3 (new connections): 'client K connected from 127.0.0.1:PORT', numbered from 1 in order; at SIGTERM they see end of file" {
    server_start_ready 0
    peer_start clients timeout $((10 * SCALE)) connect two connect three \
        use 1 expect-eof use two expect-eof use three expect-eof
    wait_for_output server '^client 3 connected'
    expect_equal "the server's log" "listening on port $PORT
client 1 connected from 127.0.0.1:PORT
client 2 connected from 127.0.0.1:PORT
client 3 connected from 127.0.0.1:PORT" "$(server_log)"
    server_stop
    peer_wait clients
}

# bats test_tags=accept
@test "step 3 (new connections): one listener for IPv4 and IPv6: peers shown as 127.0.0.1:PORT and [::1]:PORT" {
    require_ipv6_loopback
    server_start_ready 0
    peer_start v4 timeout $((10 * SCALE)) expect-eof
    wait_for_output server '^client 1 connected'
    # As peer_start does, to ::1.
    : >"$LOGS/v6.out"
    : >"$LOGS/v6.err"
    "$PEER" -T "$T_RUN" -t "$T_WAIT" ::1 "$PORT" timeout $((10 * SCALE)) expect-eof \
        </dev/null >"$LOGS/v6.out" 2>"$LOGS/v6.err" 3>&- 4>&- &
    LAB_PID[v6]=$!
    wait_for_output server '^client 2 connected'
    expect_equal "the server's log" "listening on port $PORT
client 1 connected from 127.0.0.1:PORT
client 2 connected from [::1]:PORT" "$(server_log)"
    server_stop
    peer_wait v4
    peer_wait v6
}

# bats test_tags=accept,shard:crowd
@test "step 3 (new connections): out of descriptors (EMFILE): 'ERR server full' to the connections beyond, no spinning" {
    needs_proc
    server_start_limited 64 0
    server_wait_ready
    crowd_start
    crowd open 80
    # 80 connections cannot fit in 64 descriptors: the last one is refused,
    # and by then the server has taken every connection before it.
    crowd_refused 80 80
    accepted_count
    echo "# ulimit -n 64: accepted 1-$ACCEPTED, the others refused" >&3
    ((ACCEPTED >= 30)) || fail "only $ACCEPTED of 80 connections were accepted under ulimit -n 64"
    ((ACCEPTED < 80)) || fail "all 80 connections were accepted under ulimit -n 64"
    if ((ACCEPTED < 79)); then crowd_refused $((ACCEPTED + 1)) 79; fi
    # A server whose listening socket stays readable unserved spins here.
    expect_no_spin 0.5 "while full"
    server_stop
    crowd expect-eof 1 "$ACCEPTED"
}

# bats test_tags=accept,shard:crowd
@test "step 3 (new connections): out of descriptors, no spare left (EMFILE): no spinning; descriptors free again, a waiting client is accepted though nobody left" {
    needs_proc
    needs_prlimit
    local start
    server_start_ready 0
    crowd_start
    crowd open 1
    wait_for_output server '^client 1 connected'
    server_lose_descriptors
    # Connection 2 cannot be accepted: the server pauses accepting, and may
    # look again now and then, but must not spin meanwhile.
    crowd open 1
    # Long enough for a look again or two.
    expect_no_spin 1.5 "while out of descriptors"
    ! grep -q '^client 2 ' "$LOGS/server.out" || fail "client 2 was accepted with no descriptor free"
    # Descriptors again, and nobody leaves: the waiting connection must be
    # accepted all the same.
    server_regain_descriptors
    start=$EPOCHREALTIME
    wait_for_output server '^client 2 connected'
    report_time "the waiting connection accepted after the limit was raised" "$start"
    server_stop
    crowd expect-eof 1 2
}

# bats test_tags=accept,shard:fdsetsize
@test "step 3 (new connections): descriptors from FD_SETSIZE on get 'ERR server full' (built with _FORTIFY_SOURCE)" {
    needs_descriptors 1200
    # A copy built with FORTIFY's FD_SET check, which aborts on fd >= 1024.
    local copy="$BATS_TEST_TMPDIR/fortified"
    "${JAIL[@]}" cp -R "$LAB_DIR" "$copy"
    run "${JAIL[@]}" make -s -B -C "$copy" EXTRA_CFLAGS='-O2 -D_FORTIFY_SOURCE=2'
    assert_success
    LAB_DIR=$copy
    server_start_limited 1100 0
    server_wait_ready
    crowd_start
    crowd open 1050
    # The last one has a descriptor above 1024: refused; by then the server
    # has taken every connection before it.
    crowd_refused 1050 1050
    accepted_count
    echo "# ulimit -n 1100: accepted 1-$ACCEPTED, the others refused" >&3
    ((ACCEPTED >= 1000)) || fail "only $ACCEPTED of 1050 connections were accepted"
    ((ACCEPTED < 1024)) || fail "$ACCEPTED connections were accepted: select() cannot watch descriptors from FD_SETSIZE (1024) on"
    crowd_refused $((ACCEPTED + 1)) 1049
    server_stop
    crowd expect-eof 1 "$ACCEPTED"
}

# ---- step 4: the answer queue (outbuf.c alone) -------------------------------
# A test program calls outbuf_append() and outbuf_flush() on one end of a
# socket pair (non-blocking, a small buffer) and reads the other end.

@test "step 4 (answer queue): what is appended is sent whole and in order, and then nothing waits" {
    queue_test in-order
}

@test "step 4 (answer queue): outbuf_flush() never waits: on a full socket it returns 0, the rest is sent later, in order" {
    queue_test full
}

@test "step 4 (answer queue): OUTBUF_SIZE bytes may wait: to make room the unsent bytes move to the front, none lost" {
    queue_test room
}

@test "step 4 (answer queue): to a peer that closed, outbuf_flush() returns -1 with errno EPIPE" {
    queue_test gone
}

# ---- step 5: reading and answering a client -----------------------------------

@test "step 5 (reading): three clients interleaved, each answered, the log in order" {
    server_start_ready 0
    talk send 'hello\n' expect 'OK 5 bytes 5 chars' \
        connect b send 'hello\n' expect 'OK 5 bytes 5 chars' \
        connect c send 'hi\n' expect 'OK 2 bytes 2 chars' \
        use 1 send 'again\n' expect 'OK 5 bytes 5 chars' \
        use c send 'fin\n' expect 'bye' expect-eof \
        use b send 'still here\n' expect 'OK 10 bytes 10 chars' shut-write expect-eof \
        use 1 send 'last\n' expect 'OK 4 bytes 4 chars' reset
    wait_for_output server '^client 1 disconnected$'
    expect_equal "the server's log" "listening on port $PORT
client 1 connected from 127.0.0.1:PORT
client 1: hello
client 2 connected from 127.0.0.1:PORT
client 2: hello
client 3 connected from 127.0.0.1:PORT
client 3: hi
client 1: again
client 3: fin
client 3 disconnected
client 2: still here
client 2 disconnected
client 1: last
client 1 disconnected" "$(server_log)"
    server_stop
}

@test "step 5 (reading): a client that connects while others are connected is served at once" {
    server_start_ready 0
    talk connect b connect c connect d send 'late\n' expect-within "$SOON" 'OK 4 bytes 4 chars' \
        use b send 'b\n' expect-within "$SOON" 'OK 1 bytes 1 chars'
    server_stop
}

@test "step 5 (reading): several lines in one packet are all answered before select() waits again" {
    server_start_ready 0
    talk send 'one\ntwo\nthree\n' expect-within "$SOON" 'OK 3 bytes 3 chars' \
        expect-within "$SOON" 'OK 3 bytes 3 chars' expect-within "$SOON" 'OK 5 bytes 5 chars'
    wait_for_output server '^client 1: three$'
    run grep '^client 1: ' "$LOGS/server.out"
    assert_output $'client 1: one\nclient 1: two\nclient 1: three'
    server_stop
}

@test "step 5 (reading): a line in pieces, cut inside a character, is answered once, when complete" {
    server_start_ready 0
    talk pieces 3 20 'Caf\xc3\xa9 cr\xc3\xa8me\n' expect 'OK 12 bytes 10 chars' expect-silence 100
    run grep -c '^client 1: ' "$LOGS/server.out"
    assert_output 1
    server_stop
}

@test "step 5 (reading): lab02's answers: byte and character counts, NUL, \\r\\n, printed 'client K: <line>'" {
    server_start_ready 0
    talk send 'Caf\xc3\xa9\n' expect 'OK 5 bytes 4 chars' \
        send 'a\0b\n' expect 'OK 3 bytes 3 chars' \
        send 'hello\r\n' expect 'OK 5 bytes 5 chars' \
        send '\xf0\x9f\x98\x80\n' expect 'OK 4 bytes 1 chars' \
        send '\n' expect 'OK 0 bytes 0 chars'
    wait_for_output server '^client 1: $'
    # The NUL byte is a control character: the log shows it as \x00.
    expect_equal "the server's lines" $'client 1: Café\nclient 1: a\\x00b\nclient 1: hello\nclient 1: 😀\nclient 1: ' \
        "$(grep -a '^client 1: ' "$LOGS/server.out")"
    server_stop
}

@test "step 5 (reading): the log shows control characters as \\xNN (ESC, DEL, C1, NUL, CR), a backslash and a TAB as they are" {
    server_start_ready 0
    # ESC [2K clears a terminal's line; U+009B (C2 9B) is the one-character
    # ESC [ of some terminals; \r would let a client overwrite its log line.
    talk send 'a\x1b[2Kb\x7fc\xc2\x9bd\\e\tf\n' expect 'OK 15 bytes 14 chars' \
        send 'x\ry\0z\x01\x1f\xc2\x80\xc2\x9f\xc2\xa0\n' expect 'OK 13 bytes 10 chars' \
        send '\r\rclient 9: forged\n' expect 'OK 18 bytes 18 chars'
    wait_for_output server '^client 1 disconnected$'
    expect_equal "the server's lines" \
        $'client 1: a\\x1B[2Kb\\x7Fc\\xC2\\x9Bd\\e\tf\nclient 1: x\\x0Dy\\x00z\\x01\\x1F\\xC2\\x80\\xC2\\x9F\xc2\xa0\nclient 1: \\x0D\\x0Dclient 9: forged' \
        "$(grep -a '^client 1: ' "$LOGS/server.out")"
    server_stop
}

@test "step 5 (reading): lab02's answers: invalid UTF-8 gives the offset, the connection goes on" {
    server_start_ready 0
    talk send 'ab\xe0\x80\n' expect 'ERR invalid UTF-8 at byte 2' \
        send 'caf\xe9\n' expect 'ERR invalid UTF-8 at byte 3' \
        send '\xed\xa0\x80\n' expect 'ERR invalid UTF-8 at byte 0' \
        send '\xc0\xaf\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'x\xf4\x90\x80\x80\n' expect 'ERR invalid UTF-8 at byte 1' \
        send 'ok\n' expect 'OK 2 bytes 2 chars'
    wait_for_output server '^client 1: ok$'
    run grep -ac '^client 1: ' "$LOGS/server.out"
    assert_output 1
    server_stop
}

@test "step 5 (reading): lab02's answers: 65536 bytes accepted, a longer line refused, then the next line" {
    server_start_ready 0
    talk repeat 65536 'a' send '\n' expect 'OK 65536 bytes 65536 chars' \
        repeat 70000 'b' send '\n' expect 'ERR line too long' \
        send 'next\n' expect 'OK 4 bytes 4 chars' expect-silence 100
    server_stop
}

@test "step 5 (reading): fin in any letter case ends only that client's session" {
    server_start_ready 0
    talk connect other send 'hello\n' expect 'OK 5 bytes 5 chars' \
        use 1 send 'fin\nnot answered\n' expect 'bye' expect-eof \
        connect second send 'FIN\n' expect 'bye' expect-eof \
        connect third send 'Fin\n' expect 'bye' expect-eof \
        use other send 'still here\n' expect 'OK 10 bytes 10 chars'
    wait_for_output server '^client 2 disconnected$'
    run grep -c '^client [134] disconnected$' "$LOGS/server.out"
    assert_output 3
    run grep -c 'not answered' "$LOGS/server.out"
    assert_output 0
    talk send 'new client\n' expect 'OK 10 bytes 10 chars'
    server_stop
}

@test "step 5 (reading): a client holding half a line does not delay another" {
    server_start_ready 0
    talk send 'half a li' connect b send 'hello\n' expect-within "$SOON" 'OK 5 bytes 5 chars' \
        use 1 pause 100 send 'ne\n' expect-within "$SOON" 'OK 11 bytes 11 chars' \
        use b send 'bye now\n' expect-within "$SOON" 'OK 7 bytes 7 chars'
    wait_for_output server '^client 2: bye now$'
    run grep '^client [12]: ' "$LOGS/server.out"
    assert_output $'client 2: hello\nclient 1: half a line\nclient 2: bye now'
    server_stop
}

@test "step 5 (reading): -q and --quiet print no line per client or message" {
    for option in -q --quiet; do
        rm -f "$LOGS/server.out" # so that the last server's port is not read
        server_start_ready "$option" 0
        talk send 'hello\n' expect 'OK 5 bytes 5 chars' connect two send 'fin\n' expect 'bye' expect-eof
        server_stop
        expect_equal "output of server $option" $'listening on port '"$PORT"$'\nserver stopped' \
            "$(cat "$LOGS/server.out")"
    done
}

# bats test_tags=shard:flow
@test "step 5 (reading): idle with ten clients connected, the server neither wakes up nor uses CPU (< 50 ms in 2 s)" {
    needs_proc
    server_start_ready 0
    local script=(send 'hello\n' expect 'OK 5 bytes 5 chars') i
    for i in 2 3 4 5 6 7 8 9 10; do
        script+=(connect "c$i" send 'hello\n' expect 'OK 5 bytes 5 chars')
    done
    script+=(timeout $((10 * SCALE)))
    for i in 1 c2 c3 c4 c5 c6 c7 c8 c9 c10; do script+=(use "$i" expect-eof); done
    peer_start ten "${script[@]}"
    wait_for_output server '^client 10: hello$'
    expect_idle "while its ten clients are silent" 2
    server_stop
    peer_wait ten
}

# bats test_tags=accept,shard:crowd
@test "step 5 (reading): 1000 clients at once, each answered (CPU time and memory printed)" {
    plain_only
    needs_descriptors 1100
    server_start_ready 0
    crowd_start
    crowd open 1000
    crowd_hello 1 1000
    expect_equal "connections served (refused: $REFUSED_LIST)" 1000 "$SERVED"
    crowd_hello 1 1000
    expect_equal "connections served a second time (refused: $REFUSED_LIST)" 1000 "$SERVED"
    if [[ -r /proc/${LAB_PID[server]}/status ]]; then
        echo "# 1000 clients, 2000 lines: server CPU $(cpu_ms server) ms, VmHWM $(proc_status server VmHWM) kB" >&3
    fi
    server_stop
    crowd expect-eof 1 1000
}

# ---- step 5: clients that leave -------------------------------------------

@test "step 5 (leaving): a client that closes at once: 'client 1 connected from IP:PORT', then 'client 1 disconnected'" {
    server_start_ready 0
    talk close
    wait_for_output server '^client 1 disconnected$'
    run cat "$LOGS/server.out"
    assert_line --index 1 --regexp '^client 1 connected from 127\.0\.0\.1:[0-9]+$'
    assert_line --index 2 "client 1 disconnected"
    server_stop
}

@test "step 5 (leaving): numbers are never reused: after two clients left, the next one is client 3" {
    server_start_ready 0
    talk send 'a\n' expect 'OK 1 bytes 1 chars' connect two close use 1 close
    wait_for_output server '^client 1 disconnected$'
    wait_for_output server '^client 2 disconnected$'
    talk send 'b\n' expect 'OK 1 bytes 1 chars'
    wait_for_output server '^client 3 disconnected$'
    run grep -E '^client [0-9]+ (connected|disconnected)' "$LOGS/server.out"
    assert_line --index 0 --regexp '^client 1 connected from '
    assert_line --index 1 --regexp '^client 2 connected from '
    assert_line --index 4 --regexp '^client 3 connected from '
    run grep -E '^client [0-9]+: ' "$LOGS/server.out"
    assert_output $'client 1: a\nclient 3: b'
    server_stop
}

@test "step 5 (leaving): end of file: the lines before it are answered, then 'client K disconnected'" {
    server_start_ready 0
    talk connect other \
        use 1 send 'a\nb\npartial' shut-write expect 'OK 1 bytes 1 chars' expect 'OK 1 bytes 1 chars' expect-eof \
        use other send 'hello\n' expect 'OK 5 bytes 5 chars'
    wait_for_output server '^client 1 disconnected$'
    talk send 'after\n' expect 'OK 5 bytes 5 chars'
    wait_for_output server '^client 3: after$'
    server_stop
}

@test "step 5 (leaving): a connection reset: 'client K disconnected', the server goes on" {
    server_start_ready 0
    talk connect other send 'hello\n' expect 'OK 5 bytes 5 chars' \
        use 1 send 'half a li' reset \
        use other send 'again\n' expect 'OK 5 bytes 5 chars'
    wait_for_output server '^client 1 disconnected$'
    talk send 'after\n' expect 'OK 5 bytes 5 chars'
    server_stop
}

@test "step 5 (leaving): clients that reset while answers are still due do not kill the server (SIGPIPE)" {
    server_start_ready 0
    # Each client sends 60,000 empty lines and end of file, and resets as
    # soon as the first answer comes, thousands of answers before the last.
    # 60 KB reach the server's system at once, end of file included (they
    # fit its receive window), and their 1.1 MB of answers outgrow any
    # queue's first send. A reset after the end of file makes the server's
    # next send() fail with EPIPE, which raises SIGPIPE unless ignored.
    local script=() i
    for i in 1 2 3; do
        script+=(connect "c$i" repeat 60000 '\n' shut-write expect 'OK 0 bytes 0 chars' reset)
    done
    run timeout -k 2 "$T_RUN" "$PEER" -t "$T_WAIT" 127.0.0.1 "$PORT" "${script[@]:2}" 3>&- 4>&-
    if ! is_running server; then
        wait_exit server "$T_STOP"
        server_check_end server 0 "while clients reset before reading their answers"
    fi
    wait_for_output server '^client 3 disconnected$'
    talk send 'hello\n' expect 'OK 5 bytes 5 chars'
    server_stop
}

# bats test_tags=accept,shard:fdsetsize
@test "step 5 (leaving): out of descriptors (EMFILE): the clients connected are served; once ten leave, new clients are served" {
    server_start_limited 64 0
    server_wait_ready
    crowd_start
    crowd open 80
    if [[ ${VALGRIND:-0} != 0 ]]; then
        # Valgrind keeps descriptors above the limit for itself: when accept()
        # gets one of those, Valgrind closes the connection and returns EMFILE,
        # so that connection sees end of file without "ERR server full".
        crowd_hello --allow-closed 1 80
        echo "# (Valgrind closed $CLOSED_LIST itself: accepted as refused)" >&3
        REFUSED=$((REFUSED + CLOSED))
    else
        crowd_hello 1 80
    fi
    echo "# ulimit -n 64: served $SERVED_LIST, refused $REFUSED_LIST" >&3
    ((SERVED >= 30)) || fail "only $SERVED of 80 connections were served under ulimit -n 64 (served: $SERVED_LIST)"
    ((REFUSED >= 1)) || fail "no connection was refused: 80 connections cannot fit in 64 descriptors"
    local full=$SERVED
    expect_equal "the connections served" "1-$full" "$SERVED_LIST"
    # The first ones are still served while the server is full.
    crowd_hello 1 "$full"
    expect_equal "connections still served while full" "1-$full" "$SERVED_LIST"
    # Ten leave; once the server has closed them, new clients are served.
    crowd leave 1 10
    crowd open 5
    crowd_hello 81 85
    expect_equal "new connections served after ten left (refused: $REFUSED_LIST)" 5 "$SERVED"
    crowd_hello 11 "$full"
    expect_equal "the first ones still served (refused: $REFUSED_LIST)" $((full - 10)) "$SERVED"
    server_stop
}

# ---- step 5: flow control -------------------------------------------------

# bats test_tags=shard:flow
@test "step 5 (flow control): a client that never reads is paused, not dropped, others served meanwhile; once it reads it gets every answer" {
    server_start_ready 0
    # The non-reader: small buffers on its side, so that its lines stop
    # soon once the server stops reading them.
    crowd_start
    crowd open 1 4096 4096
    crowd fill 1 $((200 * SCALE)) '\n'
    if [[ $CROWD_RESULT != *paused* ]]; then
        fail "$(printf 'the server dropped a client that does not read its answers (%s): it must pause it\n%s' \
            "$CROWD_RESULT" "$(describe_logs server)")"
    fi
    local count answered
    count=$(crowd_count lines)
    answered=$(grep -c '^client 1: $' "$LOGS/server.out")
    echo "# the non-reader sent $count empty lines; $answered answered before the server paused it" >&3
    ((answered < count)) || fail "the server answered all $count lines of a client that reads nothing: where are the answers?"
    # Others are served at once while it is paused.
    talk send 'hello\n' expect-within "$SOON" 'OK 5 bytes 5 chars'
    pinger_start
    peer_wait pinger
    if grep -q '^client 1 disconnected$' "$LOGS/server.out"; then
        fail "the server dropped a client that does not read its answers: it must pause it"
    fi
    # It reads at last: every line it sent is answered, in order.
    crowd read 1 "$count" OK 0 bytes 0 chars
    crowd_hello 1 1
    expect_equal "connections served after the pause" 1 "$SERVED"
    expect_equal "lines of client 1 in the log" $((count + 1)) "$(grep -c '^client 1: ' "$LOGS/server.out")"
    expect_memory_bounded "after the non-reader"
    server_stop
}

# bats test_tags=shard:flow
@test "step 5 (flow control): a client that reads gets all 1,000,000 answers to 1 MB of empty lines, never dropped; others served meanwhile" {
    plain_only
    # -q: a million log lines would only slow it down.
    server_start_ready -q 0
    crowd_start
    # A receive buffer of a common size: left to grow (up to tcp_rmem's
    # maximum, 32 MB on some systems), it could hold all 19 MB of answers
    # and hide a server that drops a client its answers outrun.
    crowd open 1 65536
    pinger_start
    local started=${EPOCHREALTIME:-}
    crowd exchange 1 1000000 0 '\n' OK 0 bytes 0 chars
    report_time "1,000,000 empty lines and their 19 MB of answers" "$started"
    peer_wait pinger
    # End of file: the server closes once everything is answered.
    crowd shut-write 1 1
    crowd expect-eof 1 1
    expect_memory_bounded "after 1,000,000 answers"
    server_stop
}

# bats test_tags=shard:flow
@test "step 5 (flow control): a client that reads slowly (4 MiB/s) gets all 400,000 answers, never dropped" {
    plain_only
    server_start_ready -q 0
    crowd_start
    crowd open 1 65536
    pinger_start
    crowd exchange 1 400000 4096 '\n' OK 0 bytes 0 chars
    peer_wait pinger
    crowd shut-write 1 1
    crowd expect-eof 1 1
    expect_memory_bounded "after a slow reader"
    server_stop
}

# ---- step 5: stopping with clients ----------------------------------------

@test "step 5 (stopping): SIGTERM with clients mid-conversation, one holding half a line: they see end of file, the server stops" {
    server_start_ready 0
    peer_start clients send 'hello\n' expect 'OK 5 bytes 5 chars' timeout $((10 * SCALE)) \
        connect half send 'half a li' connect idle \
        use 1 expect-eof use half expect-eof use idle expect-eof
    wait_for_output server '^client 3 connected'
    server_stop --signal TERM
    peer_wait clients
}

@test "step 5 (stopping): SIGINT with a client that does not read its answers: the server stops at once" {
    server_start_ready 0
    peer_start other send 'hello\n' expect 'OK 5 bytes 5 chars' timeout $((10 * SCALE)) expect-eof
    wait_for_output server '^client 1: hello$'
    crowd_start
    crowd open 1 4096
    crowd flood 1 20000 'x\n'
    wait_for_output server '^client 2: x$'
    server_stop --signal INT
    peer_wait other
    crowd wait-drop 1
}

# ---- step 6: the client's loop ----------------------------------------------
# Standard input stays open and nothing is typed: reading it is step 7.

@test "step 6 (client loop): prints what the server sends while standard input is idle" {
    listener_start server send 'news\n' pause $((1000 * SCALE)) send 'more news\n' close
    client_start 127.0.0.1 "$PORT"
    wait_for_output client '^news$'
    is_running server ||
        fail "the client printed 'news' only once the server had closed: it must print each line as it comes"
    client_wait_exit
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nnews\nmore news\nconnection closed by server' \
        "$(cat "$LOGS/client.out")"
    peer_wait server
}

@test "step 6 (client loop): the server closes while stdin is open: 'connection closed by server', exit 0 at once" {
    listener_start server send 'OK\n' close
    client_start 127.0.0.1 "$PORT"
    client_wait_exit
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\nconnection closed by server' \
        "$(cat "$LOGS/client.out")"
    peer_wait server
}

@test "step 6 (client loop): the server resets while stdin is open: 'connection closed by server', exit 0 at once" {
    listener_start server reset
    client_start 127.0.0.1 "$PORT"
    client_wait_exit
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nconnection closed by server' \
        "$(cat "$LOGS/client.out")"
    peer_wait server
}

@test "step 6 (client loop): 'bye', then the server closes: an expected end, exit 0 without the closed message" {
    listener_start server send 'bye\n' close
    client_start 127.0.0.1 "$PORT"
    client_wait_exit
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nbye' "$(cat "$LOGS/client.out")"
    peer_wait server
}

# ---- step 7: the client's input ----------------------------------------------

@test "step 7 (client input): sends each line at once, without waiting for answers" {
    # The scripted server reads two lines before it answers anything.
    listener_start server expect 'one' expect 'two' send 'OK\n' send 'OK\n' expect-eof close
    client_run 127.0.0.1 "$PORT" <<<$'one\ntwo'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\nOK' "$output"
    peer_wait server
}

@test "step 7 (client input): after fin answered bye it half-closes and exits 0, without the closed message" {
    # Standard input stays open: fin alone ends the session; what follows it
    # is not sent (the scripted server expects end of file right after fin).
    listener_start server expect 'hello' send 'OK\n' expect 'fin' send 'bye\n' expect-eof close
    client_start 127.0.0.1 "$PORT"
    client_type 'hello\nfin\nnot sent\n'
    client_wait_exit
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\nbye' "$(cat "$LOGS/client.out")"
    peer_wait server
}

@test "step 7 (client input): after end of input it half-closes, prints the answers still coming, exits 0" {
    listener_start server expect 'hello' expect-eof send 'OK\n' send 'late news\n' close
    client_run 127.0.0.1 "$PORT" <<<"hello"
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\nlate news' "$output"
    peer_wait server
}

@test "step 7 (client input): a last line without \\n at the end of input is sent as a line" {
    listener_start server expect 'hello' send 'OK\n' expect 'last' send 'OK\n' expect-eof close
    client_run 127.0.0.1 "$PORT" < <(printf 'hello\nlast')
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\nOK' "$output"
    peer_wait server
}

@test "step 7 (client input): a line goes out in one piece with its \\n, none of it before" {
    # Typed in two pieces: nothing may leave before the "\n" (a piece sent
    # alone would make the rest wait for the server's ACK: Nagle).
    listener_start server expect-silence $((300 * SCALE)) send 'go on\n' expect 'hello' send 'OK\n' expect-eof close
    client_start 127.0.0.1 "$PORT"
    client_type 'hel'
    wait_for_output client '^go on$'
    client_type 'lo\n'
    wait_for_output client '^OK$'
    client_end_input
    client_wait_exit
    peer_wait server
}

@test "step 7 (client input): --latin1 converts what is typed to UTF-8 and the answers back" {
    listener_start server expect 'Caf\xc3\xa9' send 'OK caf\xc3\xa9 \xe2\x82\xac\n' expect-eof close
    client_run --latin1 127.0.0.1 "$PORT" < <(printf 'Caf\xe9\n')
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK caf\xe9 ?' "$output"
    peer_wait server
}

@test "step 7 (client input): the client and the lab's server, until bye" {
    server_start_ready 0
    peer_start other send 'first\n' expect 'OK 5 bytes 5 chars' timeout $((10 * SCALE)) expect-eof
    wait_for_output server '^client 1: first$'
    client_run 127.0.0.1 "$PORT" <<<$'hello\nCafé au lait\nfin\nnever sent'
    assert_success
    expect_equal "client's output" \
        $'connected to 127.0.0.1:'"$PORT"$'\nOK 5 bytes 5 chars\nOK 13 bytes 12 chars\nbye' "$output"
    expect_equal "client's stderr" "" "$stderr"
    wait_for_output server '^client 2 disconnected$'
    run grep '^client 2: ' "$LOGS/server.out"
    expect_equal "what the server received" $'client 2: hello\nclient 2: Café au lait\nclient 2: fin' "$output"
    server_stop
    peer_wait other
}

@test "step 7 (client input): the client reaches the lab's server at ::1 (IPv6), its last line without \\n" {
    require_ipv6_loopback
    server_start_ready 0
    client_run ::1 "$PORT" < <(printf 'hello\nlast')
    assert_success
    expect_equal "client's output" $'connected to ::1:'"$PORT"$'\nOK 5 bytes 5 chars\nOK 4 bytes 4 chars' "$output"
    wait_for_output server '^client 1 disconnected$'
    expect_equal "the server's log" "listening on port $PORT
client 1 connected from [::1]:PORT
client 1: hello
client 1: last
client 1 disconnected" "$(server_log)"
    server_stop
}
