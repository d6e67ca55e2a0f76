#!/usr/bin/env bats
# lab02-encoding: bytes, characters and framing, as lab02-encoding/README.md describes it.
# Each test name starts with the README step it belongs to ("step N (topic)"),
# and passes once steps 1 to N are written: steps 1 to 4 are modules, each
# checked alone by its unit test; the server's tests (step 5) check them
# again through the whole server. "given" marks what the skeleton already
# provides (lab01's behaviour). lab02-encoding/steps.txt lists the steps.

load helpers/lab

setup_file() { lab_setup_file; }
setup() { lab_setup; }
teardown() { lab_teardown; }

# ---- helpers of this file -----------------------------------------------------
# Bash strings cannot hold a NUL byte, and comparing other bytes through them
# depends on the locale: what must match byte for byte goes through files.

# expect_bytes WHAT EXPECTED-FILE ACTUAL-FILE: the two files must hold the
# same bytes; otherwise shows both with od -c (the first 24 rows).
expect_bytes() {
    if ! cmp -s "$2" "$3"; then
        fail "$(printf '%s differs (%s)\n  expected (od -c):\n%s\n  got (od -c):\n%s' "$1" \
            "$(cmp "$2" "$3" 2>&1 | sed -e 's|^.* differ: |first difference at |' \
                -e 's|^cmp: EOF on .*\.expected.*|more bytes than expected|' -e 's|^cmp: EOF on .*|fewer bytes than expected|')" \
            "$(od -An -c "$2" | head -n 24 | sed 's/^/    /')" \
            "$(od -An -c "$3" | head -n 24 | sed 's/^/    /')")"
        return 1
    fi
}

# received_lines_file: writes the server's "received: " lines, bytes as
# printed, to $LOGS/received and prints that file's name.
received_lines_file() {
    LC_ALL=C sed -n '/^received: /p' "$LOGS/server.out" >"$LOGS/received"
    echo "$LOGS/received"
}

# expect_received FORMAT [ARGS...]: the server's "received: " lines must be
# exactly what printf FORMAT ARGS writes (\xHH and \0 allowed).
expect_received() {
    # shellcheck disable=SC2059
    printf "$@" >"$LOGS/received.expected"
    expect_bytes "the server's 'received: ' lines" "$LOGS/received.expected" "$(received_lines_file)"
}

# expect_client_output FORMAT [ARGS...]: the client's stdout (from
# client_run) must be exactly what printf FORMAT ARGS writes.
expect_client_output() {
    # shellcheck disable=SC2059
    printf "$@" >"$LOGS/client-stdout.expected"
    printf '%s\n' "$output" >"$LOGS/client-stdout"
    expect_bytes "the client's output" "$LOGS/client-stdout.expected" "$LOGS/client-stdout"
}

# connected_from_line: the server's "client connected from ..." line, with
# the client's port (a new one at each run) written N.
connected_from_line() {
    sed -n '/^client connected from /{s/:[0-9][0-9]*$/:N/;p;}' "$LOGS/server.out"
}

# server_memory FIELD: the server's VmRSS or VmHWM (peak) in kB.
server_memory() {
    awk -v field="$1:" '$1 == field { print $2 }' "/proc/${LAB_PID[server]}/status"
}

# unit_test_run PROGRAM MODULE [ARG]: builds tests/unit/PROGRAM.c with the
# lab's MODULE.c (sanitizers as in this mode) and runs it with ARG (under
# Valgrind in that mode); it must end with "N passed, 0 failed" and exit 0.
unit_test_run() {
    local program=$1 module=$2 exe="$LOGS/$1"
    shift 2
    local flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -g)
    [[ -n ${SANITIZE:-} ]] && flags+=("-fsanitize=$SANITIZE" -fno-omit-frame-pointer)
    run --separate-stderr "${JAIL[@]}" "${CC:-cc}" "${flags[@]}" -I"$LAB_DIR" -o "$exe" \
        "$REPO_DIR/tests/unit/$program.c" "$LAB_DIR/$module.c"
    if ((status != 0)); then
        fail "$(printf 'tests/unit/%s.c does not build with %s/%s.c:\n%s' "$program" "$LAB_DIR" "$module" "$stderr")"
        return 1
    fi
    lab_wrapper unit
    # Its own scenarios give up after 10 s each; this bound is a backstop.
    run --separate-stderr timeout -k 2 "$((T_RUN * 3))" "${WRAP[@]}" "$exe" "$@"
    if ((status != 0)) || [[ $(tail -n 1 <<<"$output") != *" passed, 0 failed" ]]; then
        fail "$(printf '%s %s; its report:\n%s\n%s' "$program${*:+ $*}" "$(how_it_ended "$status")" \
            "$output" "$stderr")"
        return 1
    fi
    check_tool_logs unit
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

@test "given: the server listens on the port it prints and stops on SIGTERM" {
    server_start 0
    server_wait_ready
    expect_equal "first line of the server" "listening on port $PORT" "$(head -n 1 "$LOGS/server.out")"
    server_stop --signal TERM
}

# The server's socket is IPv6 with IPV6_V6ONLY off (net.c): it takes IPv6 and
# IPv4 clients alike. These two look only at what net.c prints; what happens
# after the connection is the steps' business. The client gets no input: it
# prints its "connected to" line, then may stop at the TODO of any step
# (step 6's in the skeleton), which client_run --todo-after 0 accepts.

@test "given: the server listens on IPv6 too: the lab's client reaches it at ::1 and it prints the client as [::1]:PORT" {
    require_ipv6_loopback
    server_start_ready 0
    client_run --todo-after 0 ::1 "$PORT" </dev/null
    expect_equal "client's first line" "connected to ::1:$PORT" "$(head -n 1 <<<"$output")"
    wait_for_output server '^client connected from '
    expect_equal "the server's line for the client (its port as N)" \
        "client connected from [::1]:N" "$(connected_from_line)"
}

@test "given: an IPv4 client of the same socket is printed 127.0.0.1:PORT, never as ::ffff:127.0.0.1" {
    server_start_ready 0
    client_run --todo-after 0 127.0.0.1 "$PORT" </dev/null
    expect_equal "client's first line" "connected to 127.0.0.1:$PORT" "$(head -n 1 <<<"$output")"
    wait_for_output server '^client connected from '
    expect_equal "the server's line for the client (its port as N)" \
        "client connected from 127.0.0.1:N" "$(connected_from_line)"
}

# ---- steps 1-4: the modules, each alone (tests/unit) ------------------------------

@test "step 1 (fill): linebuf_fill passes the unit tests (test_linebuf fill)" {
    unit_test_run test_linebuf linebuf fill
}

@test "step 2 (lines): linebuf_next passes the unit tests (test_linebuf lines)" {
    unit_test_run test_linebuf linebuf lines
}

@test "step 3 (send loop): send_all passes the unit tests (test_net)" {
    unit_test_run test_net net
}

@test "step 4 (UTF-8): utf8_check passes the unit tests (test_utf8 check)" {
    unit_test_run test_utf8 utf8 check
}

# ---- step 5: the server's answers -------------------------------------------------

@test "step 5 (answers): a valid line is printed 'received: <line>' and answered 'OK <B> bytes <C> chars'" {
    server_start_ready 0
    talk send 'Café\n' expect 'OK 5 bytes 4 chars' \
        send '\xf0\x9f\x98\x80\n' expect 'OK 4 bytes 1 chars' \
        send 'a\xf0\x9f\x98\x80b \xe2\x82\xac\n' expect 'OK 10 bytes 5 chars' \
        send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: Caf\xc3\xa9\nreceived: \xf0\x9f\x98\x80\nreceived: a\xf0\x9f\x98\x80b \xe2\x82\xac\nreceived: fin\n'
}

@test "step 5 (answers): a NUL byte is a character: a\\0b gives 'OK 3 bytes 3 chars' and is printed whole" {
    server_start_ready 0
    talk send 'a\0b\n' expect 'OK 3 bytes 3 chars' send '\0\n' expect 'OK 1 bytes 1 chars' \
        send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: a\0b\nreceived: \0\nreceived: fin\n'
}

@test "step 5 (answers): fin in any letter case still ends the session after over-long and invalid lines" {
    server_start_ready 0
    talk repeat 70000 x send '\n' expect 'ERR line too long' \
        send '\xff\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'fin \n' expect 'OK 4 bytes 4 chars' send 'FiN\r\n' expect 'bye' expect-eof
    server_wait_end
    expect_equal "the server's last lines" $'connection closed\nserver stopped' "$(tail -n 2 "$LOGS/server.out")"
}

@test "step 5 (answers): a client's end of file ends the session cleanly" {
    server_start_ready 0
    talk send 'Café\n' expect 'OK 5 bytes 4 chars' shut-write expect-eof
    server_wait_end
    expect_equal "the server's last lines" $'connection closed\nserver stopped' "$(tail -n 2 "$LOGS/server.out")"
}

@test "step 5 (answers): a client's reset, in the middle of a line, ends the session cleanly" {
    server_start_ready 0
    talk send 'Café\n' expect 'OK 5 bytes 4 chars' send 'half a li' reset
    server_wait_end
    expect_equal "the server's last lines" $'connection closed\nserver stopped' "$(tail -n 2 "$LOGS/server.out")"
}

@test "step 5 (answers): -q prints no line per client or per message" {
    server_start_ready -q 0
    talk send 'Café\n' expect 'OK 5 bytes 4 chars' send '\xff\n' expect 'ERR invalid UTF-8 at byte 0' \
        repeat 70000 x send '\n' expect 'ERR line too long' send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_equal "output of server -q" $'listening on port '"$PORT"$'\nserver stopped' "$(cat "$LOGS/server.out")"
}

# ---- step 5: framing (steps 1 and 2), seen through the whole server ----------------

@test "step 5 (framing): a line sent byte by byte, cut inside a character, is answered once, when complete" {
    server_start_ready 0
    # "Café crème" stops after the first byte of "é": no answer may come yet.
    talk pieces 1 20 'Caf\xc3' expect-silence 200 \
        pieces 1 20 '\xa9 cr\xc3\xa8me\n' expect 'OK 12 bytes 10 chars' \
        pieces 1 20 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: Caf\xc3\xa9 cr\xc3\xa8me\nreceived: fin\n'
}

@test "step 5 (framing): SIGTERM while the server waits for the rest of a line stops it; the client sees end of file" {
    server_start_ready 0
    peer_start client1 send 'Café\n' expect 'OK 5 bytes 4 chars' send 'half a li' expect-eof
    wait_for_output server '^received: Café$'
    server_stop --signal TERM
    peer_wait client1
}

# An interrupted recv() (EINTR) is not the end: strace makes one fail, as a
# signal without SA_RESTART would, with half a line (and half a character)
# buffered. The session ends with SIGTERM once strace has let go (a
# sanitizer's leak check does not work under strace).
@test "step 5 (framing): a recv() interrupted (EINTR) in the middle of a line is made again; nothing is lost" {
    require_strace
    strace_server_start_ready 0
    # The 1st recv gets "one\nCaf\xc3"; the 2nd, made with "Caf\xc3"
    # buffered, fails with EINTR. glibc's recv() is the system call recvfrom.
    strace_attach '?recv,recvfrom:error=EINTR:when=2'
    peer_start client1 send 'one\nCaf\xc3' expect 'OK 3 bytes 3 chars' \
        send '\xa9\n' expect 'OK 5 bytes 4 chars' send 'two\n' expect 'OK 3 bytes 3 chars' expect-eof
    wait_for_output server '^received: two$'
    strace_detach
    expect_injected 'recv|recvfrom' '"one\nCaf\303"'
    server_stop
    peer_wait client1
    expect_received 'received: one\nreceived: Caf\xc3\xa9\nreceived: two\n'
}

@test "step 5 (framing): several lines in one write are answered once each, in order (the empty line too)" {
    server_start_ready 0
    talk send 'one\nCafé\n\nlast line\n' expect 'OK 3 bytes 3 chars' expect 'OK 5 bytes 4 chars' \
        expect 'OK 0 bytes 0 chars' expect 'OK 9 bytes 9 chars' send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: one\nreceived: Café\nreceived: \nreceived: last line\nreceived: fin\n'
}

@test "step 5 (framing): a \\r right before \\n is stripped, any other \\r is kept" {
    server_start_ready 0
    talk send 'hello\r\n' expect 'OK 5 bytes 5 chars' send 'a\rb\n' expect 'OK 3 bytes 3 chars' \
        send '\r\r\n' expect 'OK 1 bytes 1 chars' send '\r\n' expect 'OK 0 bytes 0 chars' \
        send 'fin\r\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: hello\nreceived: a\rb\nreceived: \r\nreceived: \nreceived: fin\n'
}

@test "step 5 (framing): lines of 65535 and 65536 bytes are accepted, 65537 is too long, the next line is answered" {
    server_start_ready 0
    talk repeat 65535 x send '\n' expect 'OK 65535 bytes 65535 chars' \
        repeat 65536 y send '\n' expect 'OK 65536 bytes 65536 chars' \
        repeat 65537 z send '\n' expect 'ERR line too long' \
        send 'Café\n' expect 'OK 5 bytes 4 chars' send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    # The server printed the two long lines whole, and nothing of the third.
    expect_equal "first byte and length of each 'received: ' line" \
        $'x 65535\ny 65536\nC 5\nf 3' "$(LC_ALL=C awk '/^received: / { print substr($0, 11, 1) " " length($0) - 10 }' "$LOGS/server.out")"
}

@test "step 5 (framing): a 65536-byte line ending in \\r\\n is accepted; 65537 bytes and \\r\\n are too long" {
    server_start_ready 0
    talk repeat 65536 x send '\r\n' expect 'OK 65536 bytes 65536 chars' \
        repeat 65537 x send '\r\n' expect 'ERR line too long' \
        send 'next\r\n' expect 'OK 4 bytes 4 chars' send 'fin\n' expect 'bye' expect-eof
    server_wait_end
}

@test "step 5 (framing): a 300 KB line is answered 'ERR line too long' once, then the next line normally" {
    server_start_ready 0
    talk repeat 300000 x send '\n' expect 'ERR line too long' \
        send 'after\n' expect 'OK 5 bytes 5 chars' send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: after\nreceived: fin\n'
}

@test "step 5 (framing): a 200 MB line is refused as soon as it is too long, in constant memory; the session goes on" {
    plain_only
    server_start_ready 0
    local peak_before peak_after
    [[ -r /proc/${LAB_PID[server]}/status ]] && peak_before=$(server_memory VmHWM)
    # The answer must come without a newline: the line is already too long.
    peer_start client1 repeat 70000 x expect 'ERR line too long' \
        repeat 200000000 x send '\nCafé\n' expect 'OK 5 bytes 4 chars' expect-eof
    if ! wait_for_output server '^received: Café$'; then
        peer_wait client1 # shows the conversation
        return 1
    fi
    [[ -r /proc/${LAB_PID[server]}/status ]] && peak_after=$(server_memory VmHWM)
    server_stop
    peer_wait client1
    expect_received 'received: Caf\xc3\xa9\n'
    # The memory figure: the server needs one 64 KiB buffer, whatever the
    # line. 8 MB of growth leaves room for libc, stdio and sanitizers' noise,
    # and is 25 times less than the line: a server that keeps it fails.
    if [[ -z ${peak_before:-} || -z ${peak_after:-} ]]; then
        echo "# memory not measured: no /proc/PID/status on this system" >&3
    else
        echo "# server's peak memory (VmHWM): ${peak_before} kB before the 200 MB line, ${peak_after} kB after" >&3
        if ((peak_after - peak_before > 8 * 1024)); then
            fail "the server's peak memory grew by $((peak_after - peak_before)) kB during a 200 MB line (bound: 8192 kB): drop the bytes of an over-long line as they come, do not keep them"
        fi
    fi
}

@test "step 5 (framing): 40,000 lines of 250 bytes sent without waiting are all answered, in order" {
    plain_only
    server_start_ready 0
    local line start
    line=$(printf '%250s' '' | tr ' ' a)
    start=$EPOCHREALTIME
    talk repeat 40000 "$line\\n" expect-repeat 40000 'OK 250 bytes 250 chars' \
        send 'fin\n' expect 'bye' expect-eof
    report_time "40,000 pipelined lines of 250 bytes (10 MB) answered" "$start"
    server_wait_end
    expect_equal "number of 'received: a...a' lines" 40000 "$(grep -c "^received: $line\$" "$LOGS/server.out")"
}

@test "step 5 (framing): 8 MB of lines of every size and width, sent without waiting, are answered in order" {
    server_start_ready 0
    local block big start i
    # Four lines of 1000 to 1200 bytes (1- to 4-byte characters), then
    # lines of 65536 bytes that are 32768 "é": each cut in several recv().
    block="$(printf '%1000s' '' | tr ' ' x)\\n$(printf 'é%.0s' {1..500})\\n"
    block+="$(printf '€%.0s' {1..400})\\n$(printf '😀%.0s' {1..300})\\n"
    big=$(printf 'é%.0s' {1..32768})
    start=$EPOCHREALTIME
    talk repeat 1200 "$block" repeat 50 "$big\\n" send 'fin\n' drain
    report_time "4,850 pipelined lines (8.6 MB) answered" "$start"
    printf '%s\n' "$output" >"$LOGS/answers"
    for ((i = 0; i < 1200; i++)); do
        printf '%s\n' 'OK 1000 bytes 1000 chars' 'OK 1000 bytes 500 chars' \
            'OK 1200 bytes 400 chars' 'OK 1200 bytes 300 chars'
    done >"$LOGS/answers.expected"
    for ((i = 0; i < 50; i++)); do echo 'OK 65536 bytes 32768 chars'; done >>"$LOGS/answers.expected"
    echo bye >>"$LOGS/answers.expected"
    expect_same_lines "the answers" "$LOGS/answers.expected" "$LOGS/answers"
    server_wait_end
}

# ---- step 5: strict UTF-8 (step 4), seen through the whole server ------------------

@test "step 5 (UTF-8): overlong forms are refused at their first byte; the session goes on" {
    server_start_ready 0
    talk send '\xc0\xaf\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'ab\xc0\xaf\n' expect 'ERR invalid UTF-8 at byte 2' \
        send '\xc1\xbf\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'x\xe0\x80\xaf\n' expect 'ERR invalid UTF-8 at byte 1' \
        send 'xyz\xf0\x80\x80\xafok\n' expect 'ERR invalid UTF-8 at byte 3' \
        send 'still here\n' expect 'OK 10 bytes 10 chars' send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: still here\nreceived: fin\n'
}

@test "step 5 (UTF-8): surrogates and code points above U+10FFFF are refused; their neighbours pass" {
    server_start_ready 0
    talk send 'a\xed\xa0\x80\n' expect 'ERR invalid UTF-8 at byte 1' \
        send '\xed\xbf\xbf\n' expect 'ERR invalid UTF-8 at byte 0' \
        send '\xed\x9f\xbf\xee\x80\x80\n' expect 'OK 6 bytes 2 chars' \
        send '\xf4\x90\x80\x80\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'ok \xf4\x90\x80\x80\n' expect 'ERR invalid UTF-8 at byte 3' \
        send 'ok \xf4\x8f\xbf\xbf\n' expect 'OK 7 bytes 4 chars' \
        send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: \xed\x9f\xbf\xee\x80\x80\nreceived: ok \xf4\x8f\xbf\xbf\nreceived: fin\n'
}

@test "step 5 (UTF-8): bytes F5 to FF and lone continuation bytes are refused where they stand" {
    server_start_ready 0
    talk send '\xf5\x80\x80\x80\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'a\xf8\x88\x80\x80\x80\n' expect 'ERR invalid UTF-8 at byte 1' \
        send 'abc\xfe\n' expect 'ERR invalid UTF-8 at byte 3' \
        send '\xff\n' expect 'ERR invalid UTF-8 at byte 0' \
        send '\x80abc\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'ab\x80cd\n' expect 'ERR invalid UTF-8 at byte 2' \
        send '\xc3\xa9\xa9\n' expect 'ERR invalid UTF-8 at byte 2' \
        send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: fin\n'
}

@test "step 5 (UTF-8): a sequence cut short, by the end of the line or by another byte, is refused" {
    server_start_ready 0
    talk send 'a\xe2\x82\n' expect 'ERR invalid UTF-8 at byte 1' \
        send '\xf0\x9f\x98\n' expect 'ERR invalid UTF-8 at byte 0' \
        send 'abc\xc3\r\n' expect 'ERR invalid UTF-8 at byte 3' \
        send '\xe2\x82x\n' expect 'ERR invalid UTF-8 at byte 0' \
        send '\xe2\x82\xac\xe2\n' expect 'ERR invalid UTF-8 at byte 3' \
        send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: fin\n'
}

@test "step 5 (UTF-8): the offset counts bytes, where a strict decoder stops (the contract's examples)" {
    server_start_ready 0
    talk send '\x61\x62\xe0\x80\n' expect 'ERR invalid UTF-8 at byte 2' \
        send '\x63\x61\x66\xe9\n' expect 'ERR invalid UTF-8 at byte 3' \
        send 'Caf\xc3\xa9\xff\n' expect 'ERR invalid UTF-8 at byte 5' \
        send 'a\x80b\xff\n' expect 'ERR invalid UTF-8 at byte 1' \
        send 'fin\n' expect 'bye' expect-eof
    server_wait_end
    expect_received 'received: fin\n'
}

# ---- step 6: the client's framing ---------------------------------------------------

@test "step 6 (client framing): an answer that arrives in pieces is printed once, whole" {
    listener_start server expect 'Café' pieces 2 20 'OK 5 bytes 4 chars\n' \
        expect 'fin' pieces 1 20 'bye\n' close
    client_run 127.0.0.1 "$PORT" <<<$'Café\nfin'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK 5 bytes 4 chars\nbye' "$output"
    peer_wait server
}

@test "step 6 (client framing): two answers that arrive in one packet are printed one by one" {
    # The second answer is already there when the client sends its second line.
    listener_start server expect 'one' send 'first answer\nsecond answer\n' expect 'two' \
        expect 'fin' send 'bye\n' close
    client_run 127.0.0.1 "$PORT" <<<$'one\ntwo\nfin'
    assert_success
    expect_equal "client's output" \
        $'connected to 127.0.0.1:'"$PORT"$'\nfirst answer\nsecond answer\nbye' "$output"
    peer_wait server
}

@test "step 6 (client framing): a server that closes before answering (or mid-answer): 'connection closed by server', exit 0" {
    listener_start server expect 'hello' close
    client_run 127.0.0.1 "$PORT" <<<$'hello\nworld'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nconnection closed by server' "$output"
    peer_wait server
    # Half an answer is not an answer.
    listener_start server2 expect 'hello' send 'OK 5 by' close
    client_run 127.0.0.1 "$PORT" <<<$'hello\nworld'
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nconnection closed by server' "$output"
    peer_wait server2
}

@test "step 6 (client framing): the client sends long lines whole and prints the lab's server's answers" {
    server_start_ready 0
    {
        echo 'Café'
        printf '%65536s\n' '' | tr ' ' x
        printf '%100000s\n' '' | tr ' ' y
        printf '\xff\n'
        echo 'fin'
    } >"$LOGS/input"
    client_run 127.0.0.1 "$PORT" <"$LOGS/input"
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK 5 bytes 4 chars\nOK 65536 bytes 65536 chars\nERR line too long\nERR invalid UTF-8 at byte 0\nbye' "$output"
    expect_equal "client's stderr" "" "$stderr"
    server_wait_end
}

@test "step 6 (client framing): a last input line without \\n is sent as a line and answered" {
    listener_start server expect 'Café' send 'OK 5 bytes 4 chars\n' \
        expect 'last' send 'OK 4 bytes 4 chars\n' expect-eof close
    printf 'Café\nlast' >"$LOGS/input"
    client_run 127.0.0.1 "$PORT" <"$LOGS/input"
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nOK 5 bytes 4 chars\nOK 4 bytes 4 chars' "$output"
    peer_wait server
}

@test "step 6 (client framing): a line goes out in one piece with its \\n: 2000 piped lines are answered within 10 s, not 40 ms each" {
    # Sent in two pieces, the "\n" waits each time for the server's delayed
    # acknowledgement of the line (Nagle): about 45 ms a line, 90 s in all.
    local bound=$((T_RUN * 2)) start answered
    server_start_ready 0
    seq -f 'line %.0f' 2000 >"$LOGS/input"
    awk '{ printf "OK %d bytes %d chars\n", length($0), length($0) }' "$LOGS/input" >"$LOGS/answers.expected"
    # client_run, with this test's bound and its own message when it is hit
    # (not the ~200 answers that came: teardown would print them all).
    lab_wrapper client
    start=$EPOCHREALTIME
    run --separate-stderr timeout -k 2 "$bound" "${WRAP[@]}" "$LAB_DIR/client" 127.0.0.1 "$PORT" \
        <"$LOGS/input" 3>&- 4>&-
    if ((status == 124 || status == 137)); then
        answered=$(grep -c '^OK ' <<<"$output")
        fail "only $answered of the 2000 lines were answered in $bound s: does each line leave in one send_all() with its \\n? (README, step 6)"
        return 1
    fi
    CLIENT_RAN=1 CLIENT_STATUS=$status CLIENT_OUTPUT=$output CLIENT_STDERR=$stderr
    check_tool_logs client
    assert_success
    report_time "2000 piped lines through the client" "$start"
    expect_equal "client's first line" "connected to 127.0.0.1:$PORT" "$(head -n 1 <<<"$output")"
    tail -n +2 <<<"$output" >"$LOGS/answers"
    expect_same_lines "the client's answers" "$LOGS/answers.expected" "$LOGS/answers"
    server_wait_end
    sed 's/^/received: /' "$LOGS/input" >"$LOGS/received.expected"
    expect_same_lines "the server's 'received: ' lines" "$LOGS/received.expected" "$(received_lines_file)"
}

@test "step 6 (client framing): without --latin1, bytes pass through unchanged both ways" {
    # Latin-1 on the way out, UTF-8 and Latin-1 on the way back: none converted.
    listener_start server expect 'Caf\xe9' send 'back: \xe9 \xc3\xa9 \xe2\x82\xac\n' \
        expect '\xc3\xa9t\xc3\xa9' send 'OK\n' expect 'fin' send 'bye\n' close
    printf 'Caf\xe9\n\xc3\xa9t\xc3\xa9\nfin\n' >"$LOGS/input"
    client_run 127.0.0.1 "$PORT" <"$LOGS/input"
    assert_success
    expect_client_output 'connected to 127.0.0.1:%s\nback: \xe9 \xc3\xa9 \xe2\x82\xac\nOK\nbye\n' "$PORT"
    peer_wait server
}

# ---- step 7: the client's --latin1 option ----------------------------------------------

@test "step 7 (--latin1): the Latin-1 conversions pass the unit tests" {
    unit_test_run test_utf8 utf8 latin1
}

@test "step 7 (--latin1): the input is converted from Latin-1 to UTF-8 before sending" {
    listener_start server expect 'Caf\xc3\xa9' send 'OK 5 bytes 4 chars\n' \
        expect 'A\xc2\xa0\xc3\x80\xc3\xbf' send 'OK\n' expect 'fin' send 'bye\n' close
    printf 'Caf\xe9\nA\xa0\xc0\xff\nfin\n' >"$LOGS/input"
    client_run --latin1 127.0.0.1 "$PORT" <"$LOGS/input"
    assert_success
    expect_client_output 'connected to 127.0.0.1:%s\nOK 5 bytes 4 chars\nOK\nbye\n' "$PORT"
    peer_wait server
}

@test "step 7 (--latin1): answers are printed in Latin-1, '?' for a character Latin-1 lacks" {
    # The answer comes byte by byte: its characters are cut between pieces.
    listener_start server expect 'hello' \
        pieces 1 10 '\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xbf\xc4\x80!\n' \
        expect 'fin' send 'bye\n' close
    printf 'hello\nfin\n' >"$LOGS/input"
    client_run --latin1 127.0.0.1 "$PORT" <"$LOGS/input"
    assert_success
    expect_client_output 'connected to 127.0.0.1:%s\n\xe9t\xe9 ? ? \xff?!\nbye\n' "$PORT"
    peer_wait server
}

@test "step 7 (--latin1): with the lab's server, Latin-1 'Café crème' is 12 bytes and 10 characters" {
    server_start_ready 0
    printf 'Caf\xe9 cr\xe8me\nfin\n' >"$LOGS/input"
    client_run --latin1 127.0.0.1 "$PORT" <"$LOGS/input"
    assert_success
    expect_client_output 'connected to 127.0.0.1:%s\nOK 12 bytes 10 chars\nbye\n' "$PORT"
    server_wait_end
    expect_received 'received: Caf\xc3\xa9 cr\xc3\xa8me\nreceived: fin\n'
}

@test "step 7 (--latin1): the option is accepted before HOST only" {
    listener_start server expect 'fin' send 'bye\n' close
    client_run --latin1 127.0.0.1 "$PORT" <<<"fin"
    assert_success
    expect_equal "client's output" $'connected to 127.0.0.1:'"$PORT"$'\nbye' "$output"
    peer_wait server
    expect_usage_error client 127.0.0.1 --latin1
    expect_usage_error client 127.0.0.1 12800 --latin1
    expect_usage_error client --latin1 127.0.0.1 0
}
