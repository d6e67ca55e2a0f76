#!/usr/bin/env bats
# lab01-blocking: one client, turn by turn, as lab01-blocking/README.md describes it.
# Each test name starts with the README step it checks; "given" marks what
# the skeleton already provides.

load helpers/lab

setup_file() { lab_setup_file; }
setup() { lab_setup; }
teardown() { lab_teardown; }

# ---- command line (given in the skeleton) ----------------------------------

@test "given: server -h and --help print the usage on stdout and exit 0" {
    expect_help server
}

@test "given: client -h and --help print the usage on stdout and exit 0" {
    expect_help client
}

@test "given: server rejects a bad port or option with a usage line and exit 2" {
    expect_usage_error server abc
    expect_usage_error server 65536
    expect_usage_error server -1
    expect_usage_error server 12x
    expect_usage_error server ""
    expect_usage_error server -x
    expect_usage_error server 0 0
}

@test "given: client rejects a bad port or option with a usage line and exit 2" {
    expect_usage_error client localhost 0
    expect_usage_error client localhost 65536
    expect_usage_error client localhost x
    expect_usage_error client -x
    expect_usage_error client localhost 1 extra
}

# ---- the server ---------------------------------------------------------

# With step 1 alone the server stops at the TODO of step 2, before its socket
# has an address: nothing outside the process can see the socket yet. So the
# first test checks that the server gets past step 1; the second watches its
# calls with strace; "the server restarts at once on the same port" (step 6)
# checks what SO_REUSEADDR is for.

@test "step 1 (socket): the server gets past step 1 (no 'TODO step 1', no 'socket:' or 'setsockopt:' error)" {
    server_start 0
    # It listens, or it still runs after T_READY (a later step waits, and
    # socket() never does): step 1 is behind it. Otherwise it ended: why?
    local deadline=$((SECONDS + T_READY))
    scan_start "$LOGS/server.out"
    while is_running server; do
        scan_listening && return 0
        ((SECONDS < deadline)) || return 0
        lab_sleep
    done
    scan_listening && return 0
    reap server
    local err
    err=$(cat "$LOGS/server.err")
    if [[ $err == *"TODO step 1:"* ]]; then
        fail "$(printf 'the server stopped at the TODO of step 1 (status %s): write the step, then delete its todo(1, ...) call\n%s' \
            "$EXIT_STATUS" "$(describe_logs server)")"
        return 1
    fi
    if [[ $'\n'$err == *$'\n'socket:* || $'\n'$err == *$'\n'setsockopt:* ]]; then
        fail "$(printf 'socket() or setsockopt() failed (status %s)\n%s' "$EXIT_STATUS" "$(describe_logs server)")"
        return 1
    fi
    # Past step 1: stopped at a later TODO, or a later call failed.
    local later='(^|'$'\n'')(TODO step ([2-9]|10):|bind:|listen:|getsockname:|accept:)'
    if ! [[ $err =~ $later ]]; then
        fail "$(printf 'the server ended with no sign of getting past step 1 (a later TODO, or a bind, listen or accept error): it %s\n%s' \
            "$(how_it_ended "$EXIT_STATUS" "$LOGS/server.err")" "$(describe_logs server)")"
        return 1
    fi
}

@test "step 1 (socket): socket() gives an IPv4 TCP socket, setsockopt() turns SO_REUSEADDR on (seen with strace)" {
    require_strace
    # strace logs these calls and makes bind() and listen() fail, so that a
    # server written further stops there instead of waiting for a client.
    lab_run timeout -k 2 "$T_RUN" strace -qq -o "$LOGS/strace.out" \
        -e trace=socket,setsockopt,bind,listen -e inject=bind,listen:error=EADDRINUSE \
        "$LAB_DIR/server" 0 </dev/null 3>&- 4>&-
    local call calls=() fd="" reuse=""
    mapfile -t calls <"$LOGS/strace.out"
    for call in "${calls[@]}"; do
        if [[ -z $fd && $call =~ ^socket\(AF_INET,\ SOCK_STREAM[|A-Z_]*,\ [A-Z_0-9]+\)\ =\ ([0-9]+)$ ]]; then
            fd=${BASH_REMATCH[1]}
        elif [[ -n $fd && $call =~ ^setsockopt\($fd,\ SOL_SOCKET,\ SO_REUSEADDR,\ \[[1-9][0-9]*\],\ [0-9]+\)\ =\ 0$ ]]; then
            reuse=1
        fi
    done
    local seen
    seen=$(printf '  strace saw:\n'
        printf '    %s\n' "${calls[@]:-(none of socket, setsockopt, bind, listen)}"
        printf "  the server's standard error:\n"
        printf '    %s\n' "${stderr_lines[@]:-(nothing)}")
    if [[ -z $fd ]]; then
        fail "$(printf 'no socket(AF_INET, SOCK_STREAM, ...) gave a descriptor\n%s' "$seen")"
        return 1
    fi
    if [[ -z $reuse ]]; then
        fail "$(printf 'no setsockopt(%s, SOL_SOCKET, SO_REUSEADDR, [1], ...) succeeded on that socket\n%s' "$fd" "$seen")"
        return 1
    fi
}

@test "step 2 (bind): a port already taken gives 'bind: Address already in use' and exit 1" {
    expect_bind_in_use
}

@test "step 3 (listen): with port 0 the server prints the real port, as its first line" {
    server_start 0
    server_wait_ready
    ((PORT > 0)) || fail "the server printed port $PORT: print the port getsockname() gives"
    expect_equal "first line of the server" "listening on port $PORT" "$(head -n 1 "$LOGS/server.out")"
}

@test "step 3 (listen): without PORT the server listens on 12800" {
    server_start
    if ! server_wait_started; then
        if [[ $(cat "$LOGS/server.err") == "bind: Address already in use" ]]; then
            skip "port 12800 is used by another program on this machine"
        fi
        fail "$(printf 'the server ended instead of listening: it %s\n%s' "$(how_it_ended "$EXIT_STATUS" "$LOGS/server.err")" "$(describe_logs server)")"
    fi
    expect_equal "the listening line" "listening on port 12800" "$(head -n 1 "$LOGS/server.out")"
}

@test "step 4 (accept): the server prints 'client connected from IP:PORT'" {
    server_start_ready 0
    talk close
    wait_for_output server '^client connected from '
    run grep -E '^client connected from 127\.0\.0\.1:[0-9]+$' "$LOGS/server.out"
    assert_success
}

@test "step 5 (recv): each line is printed as 'received: <line>' and answered OK" {
    server_start_ready 0
    talk send 'hello\n' expect 'OK' send 'second line\n' expect 'OK'
    wait_for_output server '^received: second line$'
    run cat "$LOGS/server.out"
    assert_line --index 0 "listening on port $PORT"
    assert_line --index 2 "received: hello"
    assert_line --index 3 "received: second line"
}

@test "step 5 (recv): several lines in one packet are each answered, in order" {
    server_start_ready 0
    talk send 'one\ntwo\nthree\n' expect 'OK' expect 'OK' expect 'OK'
    wait_for_output server '^received: three$'
    run grep '^received: ' "$LOGS/server.out"
    assert_output $'received: one\nreceived: two\nreceived: three'
}

@test "step 5 (recv): a line that arrives in pieces is answered once, when complete" {
    server_start_ready 0
    talk pieces 4 20 'hello world\n' expect 'OK' expect-silence 100
    run grep -c '^received: hello world$' "$LOGS/server.out"
    assert_output 1
}

@test "step 5 (recv): a \\r before \\n is stripped (nc -C, telnet)" {
    server_start_ready 0
    talk send 'hello\r\n' expect 'OK' send 'world\r\n' expect 'OK'
    wait_for_output server '^received: world'
    run grep '^received: ' "$LOGS/server.out"
    expect_equal "received lines" $'received: hello\nreceived: world' "$output"
}

@test "step 6 (fin): fin is answered bye, then the session and the server end" {
    server_start_ready 0
    talk send 'hello\n' expect 'OK' send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    run cat "$LOGS/server.out"
    assert_line --index 2 "received: hello"
    assert_line --index 3 "received: fin"
    assert_line --index 4 "connection closed"
    assert_line --index 5 "server stopped"
    assert_equal "${#lines[@]}" 6
}

@test "step 6 (fin): fin in any letter case ends the session" {
    for word in FIN Fin fIn; do
        server_start_ready 0
        talk send "$word\\n" expect 'bye' expect-eof
        server_wait_end
    done
}

@test "step 6 (fin): a piece without \\n before the end of file is not a line: not printed, not answered" {
    server_start_ready 0
    talk send 'one\nhalf' expect 'OK' shut-write expect-eof
    server_wait_end
    run grep -c '^received: ' "$LOGS/server.out"
    assert_output 1
}

@test "step 6 (fin): a client's end of file ends the session cleanly" {
    server_start_ready 0
    talk send 'hello\n' expect 'OK' shut-write expect-eof
    server_wait_end
    assert_equal "$(tail -n 2 "$LOGS/server.out")" $'connection closed\nserver stopped'
}

@test "step 6 (fin): a client's connection reset ends the session cleanly" {
    server_start_ready 0
    talk send 'hello\n' expect 'OK' reset
    server_wait_end
    assert_equal "$(tail -n 2 "$LOGS/server.out")" $'connection closed\nserver stopped'
}

@test "step 6 (fin): a client that leaves without reading its answers does not kill the server (SIGPIPE)" {
    server_start_ready 0
    # The server gets our end of file, then a reset while it still has lines
    # to answer: its next send fails with EPIPE, which raises SIGPIPE.
    talk repeat 20000 'x\n' shut-write expect 'OK' reset
    server_wait_end
}

@test "step 6 (end of session): the server restarts at once on the same port (SO_REUSEADDR, step 1)" {
    server_start 0
    server_wait_ready
    # The server closes first, so its side of the connection stays in TIME_WAIT.
    talk send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    local port=$PORT
    server_start --role again "$port"
    server_wait_ready again
    expect_equal "restarted server's port" "$port" "$PORT_again"
}

@test "step 6 (end of session): -q and --quiet print only the listening and stopped lines" {
    for option in -q --quiet; do
        server_start_ready "$option" 0
        talk send 'hello\n' expect 'OK' send 'fin\n' expect 'bye' expect-eof
        server_wait_end
        expect_equal "output of server $option" $'listening on port '"$PORT"$'\nserver stopped' \
            "$(cat "$LOGS/server.out")"
    done
}

@test "step 6 (end of session): the server answers a real client (nc, ncat or socat)" {
    server_start_ready 0
    real_client_run $'hello\nfin\n'
    expect_equal "what $REAL_CLIENT printed" $'OK\nbye' "$output"
    server_wait_end
}

# ---- the server: signals ----------------------------------------------------

@test "step 7 (signals): SIGTERM while waiting in accept() stops the server cleanly" {
    server_start_ready 0
    server_stop --signal TERM
}

@test "step 7 (signals): SIGINT while waiting in accept() stops the server cleanly" {
    server_start_ready 0
    server_stop --signal INT
}

@test "step 7 (signals): SIGTERM right after the listening line, five times in a row" {
    for _ in 1 2 3 4 5; do
        server_start_ready 0
        server_stop --signal TERM
    done
}

@test "step 7 (signals): SIGTERM while waiting in recv() stops the server; the client sees end of file" {
    server_start_ready 0
    peer_start client1 send 'hello\n' expect 'OK' expect-eof
    wait_for_output server '^received: hello$'
    server_stop --signal TERM
    peer_wait client1
}

@test "step 7 (signals): SIGINT while waiting in recv() stops the server; the client sees end of file" {
    server_start_ready 0
    peer_start client1 send 'hello\n' expect 'OK' expect-eof
    wait_for_output server '^received: hello$'
    server_stop --signal INT
    peer_wait client1
}

# An interrupted call (EINTR) without a stop request is resumed and loses
# nothing. strace injects the EINTR: no signal handler here would cause one
# without also asking the server to stop. The session ends with SIGTERM once
# strace has let go (a sanitizer's leak check does not work under strace).

@test "step 7 (signals): a read interrupted (EINTR) in the middle of a line loses nothing" {
    require_strace
    strace_server_start_ready 0
    # The 1st read gets "one\nhel"; the 2nd, made with "hel" waiting in
    # stdio's buffer, fails with EINTR.
    strace_attach read:error=EINTR:when=2
    peer_start client1 send 'one\nhel' expect 'OK' send 'lo\n' expect 'OK' send 'two\n' expect 'OK' expect-eof
    wait_for_output server '^received: two$'
    strace_detach
    expect_injected read '"one\nhel"'
    server_stop
    peer_wait client1
    run grep '^received: ' "$LOGS/server.out"
    expect_equal "what the server received" $'received: one\nreceived: hello\nreceived: two' "$output"
}

@test "step 7 (signals): a send interrupted (EINTR) is sent again, the session goes on" {
    require_strace
    strace_server_start_ready 0
    # glibc's send() is the system call sendto (send on a few systems).
    strace_attach '?send,sendto:error=EINTR:when=1'
    peer_start client1 send 'one\n' expect 'OK' send 'two\n' expect 'OK' expect-eof
    wait_for_output server '^received: two$'
    strace_detach
    expect_injected 'send|sendto'
    server_stop
    peer_wait client1
    expect_equal "server's stderr" "" "$(cat "$LOGS/server.err")"
}

# ---- the client -------------------------------------------------------------

# The tests of step 8 look at the connection only. With step 8 written and
# step 9 not yet, the client connects, prints its "connected to" line, then
# stops at the TODO of step 9: all that step 8 asks is done, so client_run
# --todo-after 8 takes that stop as the end of the run.

@test "step 8 (connect): the client prints 'connected to HOST:PORT' as given" {
    server_start_ready 0
    client_run --todo-after 8 127.0.0.1 "$PORT" <<<"fin"
    assert_line --index 0 "connected to 127.0.0.1:$PORT"
    server_wait_end
}

@test "step 8 (connect): the client resolves 'localhost'" {
    server_start_ready 0
    client_run --todo-after 8 localhost "$PORT" <<<"fin"
    assert_line --index 0 "connected to localhost:$PORT"
    server_wait_end
}

@test "step 8 (connect): nobody listening gives 'connect: Connection refused' and exit 1" {
    free_port
    client_run 127.0.0.1 "$PORT" <<<"hello"
    expect_equal "client's exit status" 1 "$status"
    expect_equal "client's stderr" "connect: Connection refused" "$stderr"
    expect_equal "client's stdout" "" "$output"
}

@test "step 9 (dialogue): the client talks with the lab's server, turn by turn, until bye" {
    server_start_ready 0
    client_run 127.0.0.1 "$PORT" <<<$'hello\nCafé au lait\nfin\nnever sent'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\nOK\nbye' "$output"
    expect_equal "client's stderr" "" "$stderr"
    server_wait_end
    run grep '^received: ' "$LOGS/server.out"
    expect_equal "what the server received" $'received: hello\nreceived: Café au lait\nreceived: fin' "$output"
}

@test "step 9 (dialogue): the client waits for each answer before sending the next line" {
    # A scripted server checks that nothing comes while it delays its answer.
    listener_start server expect 'one' expect-silence 200 send 'OK\n' \
        expect 'two' expect-silence 200 send 'OK\n' expect 'fin' send 'bye\n' close
    client_run 127.0.0.1 "$PORT" <<<$'one\ntwo\nfin'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\nOK\nbye' "$output"
    peer_wait server
}

@test "step 9 (dialogue): the client prints answers as they came (\\r kept)" {
    listener_start server expect 'one' send 'OK\r\n' expect 'fin' send 'bye\r\n' close
    client_run 127.0.0.1 "$PORT" <<<$'one\nfin'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\r\nbye\r' "$output"
    peer_wait server
}

@test "step 9 (dialogue): a server that closes before answering: 'connection closed by server', exit 0" {
    listener_start server expect 'hello' close
    client_run 127.0.0.1 "$PORT" <<<$'hello\nworld'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nconnection closed by server' "$output"
    peer_wait server
}

@test "step 9 (dialogue): a server that resets the connection: 'connection closed by server', exit 0" {
    listener_start server expect 'hello' reset
    client_run 127.0.0.1 "$PORT" <<<$'hello\nworld'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nconnection closed by server' "$output"
    peer_wait server
}

@test "step 9 (dialogue): the client shows a '> ' prompt only when stdin is a terminal" {
    command -v script >/dev/null || skip "needs script(1) from util-linux to give the client a terminal"
    listener_start server expect 'hello' send 'OK\n' expect 'fin' send 'bye\n' close
    client_run 127.0.0.1 "$PORT" <<<$'hello\nfin'
    assert_success
    refute_output --partial "> "
    peer_wait server
    # script(1) runs the client on a terminal and types its own input there.
    listener_start server expect 'hello' send 'OK\n' expect 'fin' send 'bye\n' close
    run timeout -k 2 "$T_RUN" script -qec "'$LAB_DIR/client' 127.0.0.1 $PORT" /dev/null <<<$'hello\nfin'
    assert_output --partial "> "
    peer_wait server
}

@test "step 9 (dialogue): the client talks with a real server (socat or ncat)" {
    real_listener_start
    client_run 127.0.0.1 "$PORT" <<<$'hello\nfin'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\nbye' "$output"
    wait_exit listener "$T_RUN"
}

@test "step 10 (end of input): the client half-closes, prints what still comes, exits 0 when the server closes" {
    listener_start server expect 'hello' send 'OK\n' expect-eof send 'late news\n' close
    client_run 127.0.0.1 "$PORT" <<<"hello"
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK\nlate news' "$output"
    peer_wait server
}
