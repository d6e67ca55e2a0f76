#!/usr/bin/env bats
# faults: the servers and clients of every lab (LAB_ROOT, the solutions by
# default) under faults injected with real tools, beyond what each lab's
# own tests do:
#   - EINTR on every other call that POSIX lets a program resume (strace),
#     the middle of a line included: nothing lost, nothing ended;
#   - out of descriptors (prlimit --nofile=32) with 40 clients and more
#     knocking: no spinning, no crash, room again once clients leave;
#   - a 200 MB line without a newline: refused as soon as it passes the
#     limit, in constant memory, and the server goes on;
#   - 10,000 connect-and-reset loops during a conversation: every line
#     delivered, no descriptor left behind;
#   - 200 clients joining and leaving at random while 8 chat, under
#     AddressSanitizer with UBSan and under ThreadSanitizer: no report.
# Each test name starts with the lab it is about. FAULT_SCALE=N divides the
# counts (resets, churners, the flood's bytes) by N for a quick run.
# Run: make -C tests/helpers all faults; make -C solutions/labNN-...;
#      LAB_ROOT=$PWD/solutions bats tests/faults.bats

load helpers/lab

FAULTS_ROOT=${LAB_ROOT:-$REPO_DIR/solutions}
FAULT_CHAT="$REPO_DIR/tests/helpers/faults-chat"
FAULT_FLOOD="$REPO_DIR/tests/helpers/faults-flood"
FAULT_LABS=(lab01-blocking lab02-encoding lab03-select lab04-threads)

setup_file() {
    local lab
    for lab in "${FAULT_LABS[@]}"; do
        if ! make -s -C "$FAULTS_ROOT/$lab" >"$BATS_FILE_TMPDIR/build-$lab.log" 2>&1; then
            echo "# $FAULTS_ROOT/$lab does not build:" >&3
            sed 's/^/#   /' "$BATS_FILE_TMPDIR/build-$lab.log" >&3
        fi
    done
    lab_setup_file_helpers
    make -s -C "$REPO_DIR/tests/helpers" faults >/dev/null
}

setup() {
    # The lab named at the start of the test's name ("lab03: ...").
    local lab
    for lab in "${FAULT_LABS[@]}"; do
        [[ $BATS_TEST_DESCRIPTION == "${lab%%-*}:"* ]] && LAB=$lab
    done
    LAB_DIR=$FAULTS_ROOT/$LAB
    lab_setup
    SCALE=${FAULT_SCALE:-1}
    [[ $SCALE =~ ^[1-9][0-9]*$ ]] || fail "FAULT_SCALE=$SCALE: a whole number from 1 (it divides the counts)"
    CLIENT_IN="" CROWD_IN=""
}

teardown() {
    if [[ -n ${CLIENT_IN:-} ]]; then exec {CLIENT_IN}>&-; fi
    if [[ -n ${CROWD_IN:-} ]]; then exec {CROWD_IN}>&-; fi
    lab_teardown
}

# ---- helpers of this file -------------------------------------------------

# scaled COUNT [LEAST]: COUNT divided by FAULT_SCALE, LEAST (default 1) at least.
scaled() {
    local n=$(($1 / SCALE))
    echo $((n < ${2:-1} ? ${2:-1} : n))
}

# no_valgrind: skips under Valgrind, which strace, prlimit's figures and
# sanitizer builds do not go with (the plain and sanitizer passes run these).
no_valgrind() {
    [[ ${VALGRIND:-0} == 0 ]] || skip "not under Valgrind: strace and the measures here need the programs as they are"
}

# needs_proc: skips, saying why, where Linux's /proc cannot show the
# server's descriptors, threads and memory.
needs_proc() {
    [[ -d /proc/self/fd && -r /proc/self/status ]] ||
        skip "needs Linux's /proc to count the server's descriptors and measure its memory"
}

# fd_count ROLE: how many descriptors the role's process has open (/proc).
fd_count() {
    local fds=(/proc/"${LAB_PID[$1]}"/fd/*)
    echo "${#fds[@]}"
}

# expect_descriptors_back COUNT WHEN: the server's descriptors come back to
# COUNT (those it had before the clients came), within T_WAIT; fails with
# the ones left open.
expect_descriptors_back() {
    local want=$1 deadline=$((SECONDS + T_WAIT)) now
    while now=$(fd_count server) && ((now != want)); do
        if ((SECONDS >= deadline)); then
            fail "$(printf 'the server has %s descriptors open %s; it had %s before: %s left behind\n%s' \
                "$now" "$2" "$want" "$((now - want))" "$(ls -l "/proc/${LAB_PID[server]}/fd" | tail -n +2 | head -n 20 | sed 's/^/  /')")"
            return 1
        fi
        lab_sleep
    done
    echo "# descriptors of the server $2: $now, as before" >&3
}

# expect_threads_back COUNT WHEN: the same for the server's threads (lab04).
expect_threads_back() {
    local want=$1 deadline=$((SECONDS + T_WAIT)) now
    [[ -n $want ]] || return 0
    while now=$(proc_field server Threads) && ((now != want)); do
        ((SECONDS < deadline)) || {
            fail "the server runs $now threads $2; it ran $want before: does every client's thread end?"
            return 1
        }
        lab_sleep
    done
}

# expect_running WHEN: the server must still run.
expect_running() {
    is_running server && return 0
    wait_exit server "$T_STOP" || return 1
    fail "$(printf 'the server %s %s\n%s' "$(how_it_ended "$EXIT_STATUS" "$LOGS/server.err")" "$1" \
        "$(describe_logs server)")"
    return 1
}

# wait_for_match FILE REGEX WHAT [ROLE]: waits (T_WAIT) until FILE has a
# line matching REGEX (extended); fails saying WHAT did not happen, at once
# if ROLE has ended.
wait_for_match() {
    local deadline=$((SECONDS + T_WAIT))
    until grep -qE -- "$2" "$1" 2>/dev/null; do
        if [[ -n ${4:-} ]] && ! is_running "$4"; then
            reap "$4"
            fail "$(printf 'the %s %s: %s\n%s' "$4" "$(how_it_ended "$EXIT_STATUS" "$LOGS/$4.err")" "$3" \
                "$(describe_logs "$4")")"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            fail "$(printf 'timeout: %s within %s s; the last lines of %s:\n%s' "$3" "$T_WAIT" "${1##*/}" \
                "$(tail -n 10 "$1" 2>/dev/null | sed 's/^/  /')")"
            return 1
        fi
        lab_sleep
    done
}

# --- EINTR with strace ---

# eintr_attach ROLE CALLS: attaches strace to the running ROLE, all its
# threads and those it starts (-f), and makes the 1st, 3rd, 5th... call of
# each system call in CALLS (a comma-separated list; a leading ? marks one
# this system may lack) fail with EINTR, in each thread: each call that
# fails is followed by one that works, so a program that resumes its calls
# goes on, and one that gives up on EINTR shows it. Calls are counted from
# the attachment on (the loader's reads do not count). Those calls are
# logged in $LOGS/strace-ROLE.out, their data up to 4096 bytes.
# strace says "attached" before it has stopped the role: returns only once
# strace has seen a SIGCONT sent after that (a signal without a handler:
# the role's calls go on as if nothing happened), so that nothing the test
# does next escapes strace.
eintr_attach() {
    local role=$1 calls=$2 pid=${LAB_PID[$1]} deadline=$((SECONDS + T_READY)) why
    : >"$LOGS/strace-$role.out"
    : >"$LOGS/strace-$role.err"
    setsid strace -f -s 4096 -o "$LOGS/strace-$role.out" -e "trace=$calls" \
        -e "inject=$calls:error=EINTR:when=1+2" -p "$pid" \
        </dev/null >/dev/null 2>"$LOGS/strace-$role.err" 3>&- 4>&- &
    LAB_PID[strace-$role]=$!
    # ("Process PID attached", with " with N threads" for lab04's.)
    until grep -q "Process $pid attached" "$LOGS/strace-$role.err"; do
        if ! is_running "strace-$role"; then
            # Attached after all, and the role ended at once (its first
            # interrupted call ended it): the test's checks say so.
            grep -q "Process $pid attached" "$LOGS/strace-$role.err" && break
            if ! is_running "$role"; then
                fail "$(printf 'the %s exited before strace could attach\n%s' "$role" "$(describe_logs "$role")")"
                return 1
            fi
            reap "strace-$role"
            why=$(head -n 1 "$LOGS/strace-$role.err")
            skip "strace cannot attach to a running program here: $why"
        fi
        if ((SECONDS >= deadline)); then
            fail "timeout: strace did not attach to the $role within $T_READY s"
            return 1
        fi
        lab_sleep
    done
    kill -CONT "$pid" 2>/dev/null || true
    wait_for_match "$LOGS/strace-$role.out" '--- SIGCONT ' "strace did not see the SIGCONT sent to the $role" "$role"
}

# eintr_detach ROLE: strace lets go of the role, which runs on (before it
# ends: a sanitizer's leak check fails in a traced process).
eintr_detach() {
    kill -TERM "${LAB_PID[strace-$1]}" 2>/dev/null || true
    wait_exit "strace-$1" "$T_STOP"
}

# eintr_counts ROLE: reads strace's log of the role; sets EINTR[CALL] to
# the calls of each name that failed with the injected EINTR, and
# MID_LINE[CALL] to those of a call that reads (read, recv...) that failed
# right after a call of the same name, thread and descriptor returned data
# without a "\n" at its end: in the middle of a line.
eintr_counts() {
    local call injected mid
    declare -gA EINTR=() MID_LINE=()
    while read -r call injected mid; do
        EINTR[$call]=$injected
        MID_LINE[$call]=$mid
    done < <(LC_ALL=C awk '
        {
            line = $0; pid = ""
            if (match(line, /^[0-9]+ +/)) { pid = substr(line, 1, RLENGTH); line = substr(line, RLENGTH + 1) }
            if (match(line, /^<\.\.\. [a-z0-9_]+ resumed>/)) {
                call = substr(line, 6, RLENGTH - 14); fd = pending[pid]; rest = substr(line, RLENGTH + 1)
            } else if (match(line, /^[a-z0-9_]+\(/)) {
                call = substr(line, 1, RLENGTH - 1); rest = substr(line, RLENGTH + 1)
                fd = rest; sub(/[^0-9].*/, "", fd)
                if (rest ~ /<unfinished \.\.\.>$/) { pending[pid] = fd; next }
            } else next
            key = pid " " call " " fd
            if (rest ~ /= -1 EINTR .*[(]INJECTED[)]$/) {
                injected[call]++
                if (partial[key]) mid[call]++
                partial[key] = 0
                next
            }
            # The data a successful read returned: its quoted string, whole
            # (not cut by strace: then "..." follows it).
            partial[key] = 0
            if (call ~ /^(read|recv|recvfrom)$/ && rest ~ /= [1-9][0-9]*$/ && match(rest, /"([^"\\]|\\.)*"/)) {
                data = substr(rest, RSTART, RLENGTH)
                if (substr(rest, RSTART + RLENGTH, 3) != "...") partial[key] = data !~ /\\n"$/
            }
        }
        END { for (call in injected) print call, injected[call], mid[call] + 0 }' "$LOGS/strace-$1.out")
}

# expect_eintr ROLE CALLS...: each CALLS (names separated by |, as
# 'select|pselect6') failed with the injected EINTR at least once; else the
# test proved nothing about it. A CALLS ending in :mid-line must have
# failed in the middle of a line too. Prints what was injected.
expect_eintr() {
    local role=$1 calls names name got mid summary=""
    shift
    eintr_counts "$role"
    for calls; do
        IFS='|' read -ra names <<<"${calls%:mid-line}"
        got=0 mid=0
        for name in "${names[@]}"; do
            got=$((got + ${EINTR[$name]:-0}))
            mid=$((mid + ${MID_LINE[$name]:-0}))
        done
        summary+="${summary:+, }${calls%:mid-line} $got"
        [[ $calls == *:mid-line ]] && summary+=" ($mid mid-line)"
        if ((got == 0)); then
            fail "$(printf 'strace injected no EINTR into %s of the %s: the test proved nothing; its log:\n%s' \
                "${calls%:mid-line}" "$role" "$(tail -n 20 "$LOGS/strace-$role.out" | cut -c 1-200 | sed 's/^/  /')")"
            return 1
        fi
        if [[ $calls == *:mid-line ]] && ((mid == 0)); then
            fail "$(printf 'no EINTR hit %s of the %s in the middle of a line: the test proved nothing; its log:\n%s' \
                "${calls%:mid-line}" "$role" "$(tail -n 20 "$LOGS/strace-$role.out" | cut -c 1-200 | sed 's/^/  /')")"
            return 1
        fi
    done
    echo "# EINTR injected into the $role's calls: $summary" >&3
}

# client_start_input ARGS...: starts the lab's client in the background,
# standard input a FIFO that the test holds open (client_type writes to it),
# output in client.out and client.err.
client_start_input() {
    mkfifo "$LOGS/client.in"
    lab_wrapper client
    : >"$LOGS/client.out"
    : >"$LOGS/client.err"
    setsid "${WRAP[@]}" "$LAB_DIR/client" "$@" \
        <"$LOGS/client.in" >"$LOGS/client.out" 2>"$LOGS/client.err" 3>&- 4>&- &
    LAB_PID[client]=$!
    exec {CLIENT_IN}>"$LOGS/client.in"
}

# client_type TEXT: the user types TEXT (printf escapes). A client that
# has exited closed its end of the FIFO: the write then meets EPIPE (in a
# subshell, so that SIGPIPE ends that alone); the test's own checks of the
# client's output and exit say what went wrong.
client_type() {
    (printf '%b' "$1" >&"$CLIENT_IN") 2>/dev/null || true
}

# type_in_two FIRST REST: types FIRST, waits until strace shows the client
# reading it alone, then types REST: a line read in two pieces.
type_in_two() {
    client_type "$1"
    wait_for_match "$LOGS/strace-client.out" "read\\(0, \"$1\"" "it did not read \"$1\" (strace's log)" client
    client_type "$2"
}

# client_end_input: end of file on the client's standard input.
client_end_input() {
    exec {CLIENT_IN}>&-
    CLIENT_IN=""
}

# client_wait_end: the client exits 0 by itself, clean, within T_RUN.
client_wait_end() {
    wait_exit client "$T_RUN" || return 1
    if ((EXIT_STATUS != 0)); then
        tool_report client
        fail "$(printf 'the client should exit with status 0; it %s\n%s%s' "$(how_it_ended "$EXIT_STATUS" "$LOGS/client.err")" \
            "${TOOL_REPORT:+$TOOL_REPORT$'\n'}" "$(describe_logs client)")"
        return 1
    fi
    check_tool_logs client
}

# eintr_bounds: strace slows every call it stops; longer bounds for the
# conversations that go on meanwhile.
eintr_bounds() {
    no_valgrind
    # (A ThreadSanitizer build of a one-thread server does not get SIGTERM
    # while it waits in select() or read(): the sanitizer holds the signal
    # back. The suite builds lab04 alone with it.)
    if [[ ${SANITIZE:-} == *thread* && $LAB != lab04-threads ]]; then
        skip "ThreadSanitizer is for lab04 (the only lab with threads)"
    fi
    require_strace
    T_RUN=$((T_RUN * 3))
    T_WAIT=$((T_WAIT * 2))
}

# --- the crowd (faults-chat crowd), driven through a FIFO ---

# crowd_start LAB [WAIT_MS]: starts faults-chat crowd against the server
# on $PORT (WAIT_MS: see faults-chat.c).
crowd_start() {
    mkfifo "$LOGS/crowd.in"
    : >"$LOGS/crowd.out"
    setsid timeout -k 2 120 "$FAULT_CHAT" -t "$T_WAIT" 127.0.0.1 "$PORT" crowd "$@" \
        <"$LOGS/crowd.in" >"$LOGS/crowd.out" 2>"$LOGS/crowd.err" 3>&- 4>&- &
    LAB_PID[crowd]=$!
    exec {CROWD_IN}>"$LOGS/crowd.in"
    CROWD_DONE=0
}

# crowd COMMAND...: runs one command, waits for its "ok" line (in
# CROWD_RESULT, also printed); fails with the crowd's message.
crowd() {
    local deadline=$((SECONDS + 30))
    (echo "$*" >&"$CROWD_IN") 2>/dev/null
    CROWD_DONE=$((CROWD_DONE + 1))
    until (($(wc -l <"$LOGS/crowd.out") >= CROWD_DONE)); do
        if ! is_running crowd; then
            fail "$(printf 'the crowd failed at "%s":\n%s\n  the server:\n%s' "$*" \
                "$(cat "$LOGS/crowd.err")" "$(describe_logs server)")"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            fail "timeout: the crowd's \"$*\" did not finish within 30 s"
            return 1
        fi
        lab_sleep
    done
    CROWD_RESULT=$(sed -n "${CROWD_DONE}p" "$LOGS/crowd.out")
    echo "# crowd: $CROWD_RESULT" >&3
}

# crowd_verdicts: SERVED, REFUSED, CLOSED, WAITING and SERVED_LIST from
# CROWD_RESULT.
crowd_verdicts() {
    local counts='([0-9]+) served, ([0-9]+) refused, ([0-9]+) closed, ([0-9]+) waiting: served (.*) refused '
    [[ $CROWD_RESULT =~ $counts ]] || { fail "the crowd said: $CROWD_RESULT"; return 1; }
    SERVED=${BASH_REMATCH[1]} REFUSED=${BASH_REMATCH[2]} CLOSED=${BASH_REMATCH[3]} WAITING=${BASH_REMATCH[4]}
    SERVED_LIST=${BASH_REMATCH[5]}
}

# crowd_end: the crowd closes every connection (end of its commands) and exits 0.
crowd_end() {
    exec {CROWD_IN}>&-
    CROWD_IN=""
    wait_exit crowd "$T_WAIT" || return 1
    ((EXIT_STATUS == 0)) || fail "$(printf 'the crowd ended with status %s:\n%s' "$EXIT_STATUS" "$(cat "$LOGS/crowd.err")")"
}

# out_of_descriptors LAB: the scenario of the EMFILE tests (see them).
# lab03 must refuse the connections beyond the limit ("ERR server full",
# CONTRACT section 4); the contract leaves lab04 free to refuse them or to
# leave them waiting (its reference refuses them): "waiting" there means no
# line within 1 s, and such a connection may be served once room is made.
out_of_descriptors() {
    local lab=$1 fds threads start cpu elapsed_ms full wait_ms=""
    [[ $lab == 4 ]] && wait_ms=1000
    server_start_ready 0
    fds=$(fd_count server) threads=$(proc_field server Threads)
    prlimit --pid "${LAB_PID[server]}" --nofile=32 || skip "prlimit may not change the server's limit here"
    crowd_start "$lab" $wait_ms
    # 40 clients at once: every one up to the limit is served, the others not.
    crowd open 40
    crowd_verdicts
    ((CLOSED == 0)) || fail "$CLOSED connections were closed without \"ERR server full\": $CROWD_RESULT"
    ((SERVED >= 16)) || fail "only $SERVED of 40 clients were served with 32 descriptors: $CROWD_RESULT"
    ((SERVED < 40)) || fail "40 clients cannot all be served with 32 descriptors: $CROWD_RESULT"
    expect_equal "the clients served (in the order they came)" "1-$SERVED" "$SERVED_LIST"
    full=$SERVED
    # At the limit, for 2 s: ten more knock, one every 200 ms, none served;
    # the server must not spin meanwhile (well under 10% of a core), and it
    # still serves those it took.
    start=$EPOCHREALTIME cpu=$(cpu_ms server)
    crowd knock 10 200
    crowd_verdicts
    ((SERVED == 0 && CLOSED == 0)) || fail "at the limit, the clients knocking were served or closed: $CROWD_RESULT"
    crowd ping
    expect_equal "the answer to ping" "ok ping: $full connections" "$CROWD_RESULT"
    expect_running "at the limit" || return 1
    cpu=$(($(cpu_ms server) - cpu))
    elapsed_ms=$(awk -v start="$start" -v end="$EPOCHREALTIME" 'BEGIN { gsub(",", ".", start); gsub(",", ".", end); printf "%d", (end - start) * 1000 }')
    echo "# at the limit, $elapsed_ms ms with 10 clients knocking: $cpu ms of CPU" >&3
    ((cpu * 10 < elapsed_ms)) ||
        fail "the server used $cpu ms of CPU in $elapsed_ms ms at the limit: it spins (10% of a core at most)"
    # Ten leave: once the server saw them go, ten others are served (new
    # ones, or those that waited).
    crowd leave 1 10
    if [[ $lab == 3 ]]; then
        wait_for_count server '^client ([1-9]|10) disconnected$' 10
    else
        wait_for_count server '^client-([1-9]|10) disconnected$' 10
    fi
    crowd open 10
    crowd served "$full"
    crowd ping
    expect_equal "the answer to ping" "ok ping: $full connections" "$CROWD_RESULT"
    # All leave: every descriptor the clients took is given back.
    crowd_end
    expect_descriptors_back "$fds" "once every client left"
    expect_threads_back "$threads" "once every client left"
    server_stop
}

# --- sanitizer builds ---

# sanitized KIND: builds (once per file) a copy of the lab with
# SANITIZE=KIND (address,undefined or thread) in BATS_FILE_TMPDIR, with cc,
# else clang; skips, saying why, if neither can. Points LAB_DIR at it,
# exports SANITIZE (lab_wrapper then sets the sanitizers' options and logs,
# tool_report reads them), and sets SAN_PREFIX: setarch -R where
# ThreadSanitizer cannot map its memory otherwise (TESTING.md, item 13).
sanitized() {
    local kind=$1 copy="$BATS_FILE_TMPDIR/${LAB}-${1//,/-}" cc errors="" out
    if [[ ! -x $copy/server ]]; then
        for cc in cc clang; do
            if ! command -v "$cc" >/dev/null; then
                errors+=" $cc: not installed;"
                continue
            fi
            rm -rf "$copy"
            cp -R "$LAB_DIR" "$copy"
            if out=$(make -s -B -C "$copy" CC="$cc" SANITIZE="$kind" 2>&1); then
                echo "# built with $cc -fsanitize=$kind" >&3
                errors=""
                break
            fi
            errors+=" $cc: $(head -n 1 <<<"$out");"
            rm -rf "$copy"
        done
        [[ -z $errors ]] || skip "no compiler here builds with -fsanitize=$kind:${errors%;}"
    fi
    LAB_DIR=$copy
    export SANITIZE=$kind
    SAN_PREFIX=()
    if [[ $kind == thread ]]; then
        out=$("$copy/server" -h 2>&1 </dev/null 3>&- 4>&- || true)
    fi
    if [[ $kind == thread && $out == *"unexpected memory mapping"* ]]; then
        command -v setarch >/dev/null || skip "ThreadSanitizer cannot map its memory here, and setarch is missing"
        SAN_PREFIX=(setarch "$(uname -m)" -R)
    fi
    # Sanitized programs are slower (ThreadSanitizer 5 to 15 times).
    T_READY=$((T_READY * 3)) T_RUN=$((T_RUN * 3)) T_STOP=$((T_STOP * 3)) T_WAIT=$((T_WAIT * 3))
}

# sanitized_server_start ARGS...: server_start with SAN_PREFIX.
sanitized_server_start() {
    lab_wrapper server
    : >"$LOGS/server.out"
    : >"$LOGS/server.err"
    setsid "${SAN_PREFIX[@]}" "${WRAP[@]}" "$LAB_DIR/server" "$@" \
        </dev/null >"$LOGS/server.out" 2>"$LOGS/server.err" 3>&- 4>&- &
    LAB_PID[server]=$!
    server_wait_ready
}

# churn_under KIND LAB: the churn test under the sanitizers KIND.
churn_under() {
    local kind=$1 lab=$2 churn start fds
    no_valgrind
    needs_proc
    sanitized "$kind"
    churn=$(scaled 200)
    sanitized_server_start -q 0
    fds=$(fd_count server)
    start=$EPOCHREALTIME
    lab_run timeout -k 2 300 "$FAULT_CHAT" -t "$T_WAIT" -T 290 127.0.0.1 "$PORT" chat "$lab" \
        chatters 8 lines 100 churn "$churn" at-once 12 resets "$(scaled 200)" seed 13 3>&- 4>&-
    if ((status != 0)); then
        went_wrong "the chat with $churn clients coming and going went wrong" "$stderr"
        fail "$WENT_WRONG"
        return 1
    fi
    echo "# $output" >&3
    report_time "the chat and its churn under -fsanitize=$kind" "$start"
    expect_running "after the churn" || return 1
    expect_descriptors_back "$fds" "once every client left"
    # The sanitizers' verdict comes at the end: a report, a leak (ASan), a race (TSan).
    server_stop
}

# ---- 1. EINTR on every other call ---------------------------------------------

@test "lab01: EINTR on every other accept, read and send of the server: the session goes on, lines cut anywhere, nothing lost" {
    eintr_bounds
    strace_server_start_ready 0
    eintr_attach server 'accept,?accept4,read,?send,sendto'
    peer_start client1 pieces 2 20 'hello world\n' expect 'OK' send 'one\ntwo\n' expect 'OK' expect 'OK' \
        pieces 3 15 'a longer line, in pieces\n' expect 'OK' expect-eof
    wait_for_output server '^received: a longer line, in pieces$'
    eintr_detach server
    expect_eintr server 'accept|accept4' 'read:mid-line' 'send|sendto'
    server_stop
    peer_wait client1
    run grep '^received: ' "$LOGS/server.out"
    expect_equal "what the server received" \
        $'received: hello world\nreceived: one\nreceived: two\nreceived: a longer line, in pieces' "$output"
    expect_equal "the server's stderr" "" "$(cat "$LOGS/server.err")"
}

@test "lab02: EINTR on every other accept, recv and send of the server: every line answered once, cut inside a character too" {
    eintr_bounds
    strace_server_start_ready 0
    eintr_attach server 'accept,?accept4,?recv,recvfrom,?send,sendto'
    peer_start client1 pieces 1 15 'Café crème\n' expect 'OK 12 bytes 10 chars' \
        send 'one\ntwo\n' expect 'OK 3 bytes 3 chars' expect 'OK 3 bytes 3 chars' \
        pieces 2 15 'ab\xe0\x80\n' expect 'ERR invalid UTF-8 at byte 2' \
        pieces 4 15 'the last line\n' expect 'OK 13 bytes 13 chars' expect-eof
    wait_for_output server '^received: the last line$'
    eintr_detach server
    expect_eintr server 'accept|accept4' 'recv|recvfrom:mid-line' 'send|sendto'
    server_stop
    peer_wait client1
    run grep '^received: ' "$LOGS/server.out"
    expect_equal "what the server received" \
        $'received: Café crème\nreceived: one\nreceived: two\nreceived: the last line' "$output"
    expect_equal "the server's stderr" "" "$(cat "$LOGS/server.err")"
}

@test "lab02: EINTR on every other recv and send of the client: every answer printed whole, none lost" {
    eintr_bounds
    # A scripted server answers in pieces: the client's recv() is cut mid-line.
    T_RUN=$((T_RUN * 2)) listener_start listener timeout 20 expect 'alpha' pieces 2 20 'OK 5 bytes 5 chars\n' \
        expect 'Café' pieces 1 15 'OK 5 bytes 4 chars\n' expect 'omega' send 'OK 5 bytes 5 chars\n' expect-eof
    client_start_input 127.0.0.1 "$PORT"
    wait_for_output client '^connected to '
    eintr_attach client '?recv,recvfrom,?send,sendto'
    client_type 'alpha\n'
    wait_for_output client '^OK 5 bytes 5 chars$'
    client_type 'Café\n'
    wait_for_output client '^OK 5 bytes 4 chars$'
    eintr_detach client
    client_type 'omega\n'
    client_end_input
    client_wait_end
    peer_wait listener
    expect_eintr client 'recv|recvfrom:mid-line' 'send|sendto'
    expect_equal "what the client printed" \
        "$(printf 'connected to 127.0.0.1:%s\nOK 5 bytes 5 chars\nOK 5 bytes 4 chars\nOK 5 bytes 5 chars' "$PORT")" \
        "$(cat "$LOGS/client.out")"
}

@test "lab03: EINTR on every other accept, select, recv and send of the server: two clients in pieces, each answered, in order" {
    eintr_bounds
    strace_server_start_ready 0
    eintr_attach server 'accept,?accept4,?select,?pselect6,?recv,recvfrom,?send,sendto'
    peer_start clients pieces 2 15 'hello world\n' connect two pieces 3 15 'Café crème\n' \
        use 1 expect 'OK 11 bytes 11 chars' use two expect 'OK 12 bytes 10 chars' \
        use 1 send 'one\ntwo\nthr' use two send 'x\n' expect 'OK 1 bytes 1 chars' \
        use 1 pieces 1 10 'ee\n' expect 'OK 3 bytes 3 chars' expect 'OK 3 bytes 3 chars' expect 'OK 5 bytes 5 chars' \
        send 'fin\n' expect 'bye' expect-eof use two pieces 2 10 'fin\n' expect 'bye' expect-eof
    peer_wait clients
    eintr_detach server
    expect_eintr server 'accept|accept4' 'select|pselect6' 'recv|recvfrom:mid-line' 'send|sendto'
    # Untraced now, it still serves.
    talk send 'after\n' expect 'OK 5 bytes 5 chars'
    expect_equal "client 1's lines in the server's log" \
        $'client 1: hello world\nclient 1: one\nclient 1: two\nclient 1: three\nclient 1: fin' \
        "$(grep '^client 1: ' "$LOGS/server.out")"
    expect_equal "client 2's lines in the server's log" $'client 2: Café crème\nclient 2: x\nclient 2: fin' \
        "$(grep '^client 2: ' "$LOGS/server.out")"
    server_stop
    expect_equal "the server's stderr" "" "$(cat "$LOGS/server.err")"
}

@test "lab03: EINTR on every other read, select, recv and send of the client: typed lines cut mid-line, answers in pieces, nothing lost" {
    eintr_bounds
    T_RUN=$((T_RUN * 2)) listener_start listener timeout 20 expect 'alpha' pieces 2 20 'OK 5 bytes 5 chars\n' \
        expect 'Café' pieces 1 15 'OK 5 bytes 4 chars\n' expect 'fin' send 'bye\n' expect-eof
    client_start_input 127.0.0.1 "$PORT"
    wait_for_output client '^connected to '
    eintr_attach client 'read,?select,?pselect6,?recv,recvfrom,?send,sendto'
    type_in_two 'alp' 'ha\n'
    wait_for_output client '^OK 5 bytes 5 chars$'
    type_in_two 'Caf' 'é\n'
    wait_for_output client '^OK 5 bytes 4 chars$'
    eintr_detach client
    client_type 'fin\n'
    client_wait_end
    peer_wait listener
    expect_eintr client 'read:mid-line' 'select|pselect6' 'recv|recvfrom:mid-line' 'send|sendto'
    expect_equal "what the client printed" \
        "$(printf 'connected to 127.0.0.1:%s\nOK 5 bytes 5 chars\nOK 5 bytes 4 chars\nbye' "$PORT")" \
        "$(cat "$LOGS/client.out")"
}

@test "lab04: EINTR on every other accept, poll, recv, writev and read of the relay (each thread): every line relayed whole, joins and leaves too" {
    eintr_bounds
    strace_server_start_ready 0
    eintr_attach server 'accept,?accept4,?poll,?ppoll,?recv,recvfrom,writev,?send,?sendto,read'
    peer_start chat expect 'welcome client-1' connect two expect 'welcome client-2' \
        use 1 expect '* client-2 joined' pieces 2 15 'hello world\n' \
        use two expect 'client-1> hello world' pieces 1 15 'Café crème\n' \
        use 1 expect 'client-2> Café crème' connect three expect 'welcome client-3' \
        use 1 expect '* client-3 joined' use two expect '* client-3 joined' \
        use three pieces 3 10 'one\ntwo\nthree\n' \
        use 1 expect 'client-3> one' expect 'client-3> two' expect 'client-3> three' \
        use two expect 'client-3> one' expect 'client-3> two' expect 'client-3> three' \
        use 1 send 'fin\n' expect 'bye' expect-eof \
        use two expect '* client-1 left' use three expect '* client-1 left' shut-write expect-eof \
        use two expect '* client-3 left' pieces 2 10 'fin\n' expect 'bye' expect-eof
    peer_wait chat
    wait_for_output server '^client-2 disconnected$'
    eintr_detach server
    expect_eintr server 'accept|accept4' 'poll|ppoll' 'recv|recvfrom:mid-line' 'writev|send|sendto' 'read'
    expect_running "after the chat" || return 1
    talk expect 'welcome client-4' send 'fin\n' expect 'bye' expect-eof
    expect_equal "the lines the server logged" \
        $'client-1> hello world\nclient-2> Café crème\nclient-3> one\nclient-3> two\nclient-3> three' \
        "$(grep -E '^client-[0-9]+> ' "$LOGS/server.out")"
    server_stop
    expect_equal "the server's stderr" "" "$(cat "$LOGS/server.err")"
}

@test "lab04: EINTR on every other read, select, recv and send of the client (both threads): typed lines cut mid-line, relayed lines in pieces, nothing lost" {
    eintr_bounds
    T_RUN=$((T_RUN * 2)) listener_start listener timeout 20 send 'welcome client-1\n' expect 'alpha' \
        pieces 2 20 'client-2> hello there\n' pieces 1 15 '* client-3 joined\n' expect 'Café' \
        pieces 3 10 'client-3> Café\n' expect-eof
    client_start_input 127.0.0.1 "$PORT"
    wait_for_output client '^welcome client-1$'
    eintr_attach client 'read,?select,?pselect6,?recv,recvfrom,?send,sendto'
    type_in_two 'alp' 'ha\n'
    wait_for_output client '^\* client-3 joined$'
    type_in_two 'Caf' 'é\n'
    wait_for_output client '^client-3> Café$'
    eintr_detach client
    client_end_input
    client_wait_end
    peer_wait listener
    expect_eintr client 'read:mid-line' 'select|pselect6' 'recv|recvfrom:mid-line' 'send|sendto'
    expect_equal "what the client printed" \
        "$(printf 'connected to 127.0.0.1:%s\nwelcome client-1\nclient-2> hello there\n* client-3 joined\nclient-3> Café' "$PORT")" \
        "$(cat "$LOGS/client.out")"
}

# ---- 2. out of descriptors -------------------------------------------------------
# Beyond the labs' own tests (80 clients at 64 descriptors for lab03, the
# spare lost for lab03 and lab04): 40 clients at 32 descriptors with the
# spare at hand, lab04 included; 2 s at the limit with clients knocking;
# and every descriptor given back at the end.

# bats test_tags=accept
@test "lab03: prlimit --nofile=32, 40 clients: the others refused 'ERR server full'; at the limit with more knocking, no spinning, the first still served; room again once ten leave; no descriptor leaked" {
    plain_only
    needs_prlimit
    out_of_descriptors 3
}

# bats test_tags=accept
@test "lab04: prlimit --nofile=32, 40 clients: those beyond refused (or left waiting); at the limit with more knocking, no spinning, the chat goes on; room again once ten leave; no descriptor or thread leaked" {
    plain_only
    needs_prlimit
    out_of_descriptors 4
}

# ---- 3. a 200 MB line ----------------------------------------------------------------
# faults-flood sends it with a 64 KiB send buffer: when the server has read
# the 65537 bytes that make the line too long, the flooder has sent at most
# those, its send buffer and the server's receive buffer (tcp_rmem's
# largest). So "ERR line too long" must come before that much is sent.

# flood LAB: the flood test, the server started on $PORT.
flood() {
    local lab=$1 bytes rmem=6291456 answer_at bound before peak hwm_before hwm_after growth
    needs_proc
    bytes=$(scaled 209715200 1048576)
    [[ -r /proc/sys/net/ipv4/tcp_rmem ]] && read -r _ _ rmem </proc/sys/net/ipv4/tcp_rmem
    lab_run timeout -k 2 120 "$FAULT_FLOOD" -t "$T_WAIT" -T 110 127.0.0.1 "$PORT" "$lab" "$bytes" \
        "${LAB_PID[server]}" 3>&- 4>&-
    if ((status != 0)); then
        went_wrong "the flood went wrong" "$stderr"
        fail "$WENT_WRONG"
        return 1
    fi
    printf '# %s\n' "${lines[@]}" >&3
    [[ $output =~ after\ ([0-9]+)\ bytes\ sent.*sndbuf\ ([0-9]+) ]] || { fail "faults-flood said: $output"; return 1; }
    answer_at=${BASH_REMATCH[1]}
    bound=$((65537 + BASH_REMATCH[2] + rmem))
    ((answer_at <= bound)) ||
        fail "\"ERR line too long\" came after $answer_at bytes were sent: the server must say it once more than 65536 bytes came without a newline (then at most $bound bytes can be sent)"
    if [[ $output =~ VmRSS\ before\ ([0-9]+)\ kB,\ peak\ ([0-9]+)\ kB\;\ VmHWM\ before\ ([0-9]+)\ kB,\ after\ ([0-9]+) ]]; then
        before=${BASH_REMATCH[1]} peak=${BASH_REMATCH[2]} hwm_before=${BASH_REMATCH[3]} hwm_after=${BASH_REMATCH[4]}
        growth=$((peak - before))
        ((hwm_after - hwm_before > growth)) && growth=$((hwm_after - hwm_before))
        echo "# memory growth of the server: $growth kB" >&3
        ((growth < 1024)) ||
            fail "the server's memory grew by $growth kB during the flood (VmRSS $before kB then up to $peak kB, VmHWM $hwm_before then $hwm_after kB): a line too long must be dropped as it comes, in constant memory"
    fi
}

@test "lab02: a 200 MB line without a newline: 'ERR line too long' while it is still coming, memory grows under 1 MB, the next line is answered" {
    plain_only
    server_start_ready 0
    flood 2
    server_wait_end
    expect_equal "the server's stderr" "" "$(cat "$LOGS/server.err")"
}

@test "lab03: a 200 MB line without a newline: 'ERR line too long' while it is still coming, memory grows under 1 MB, another client served meanwhile, the next line answered" {
    plain_only
    server_start_ready 0
    flood 3
    expect_running "after the flood" || return 1
    server_stop
    expect_equal "the server's stderr" "" "$(cat "$LOGS/server.err")"
}

@test "lab04: a 200 MB line without a newline: 'ERR line too long' while it is still coming, memory grows under 1 MB, the chat goes on meanwhile, the next line relayed" {
    plain_only
    server_start_ready 0
    flood 4
    expect_running "after the flood" || return 1
    server_stop
    expect_equal "the server's stderr" "" "$(cat "$LOGS/server.err")"
}

# ---- 4. connect-and-reset loops -------------------------------------------------

# resets LAB: the reset test, against a quiet server.
resets() {
    local lab=$1 count fds threads start
    plain_only
    needs_proc
    count=$(scaled 10000)
    server_start_ready -q 0
    fds=$(fd_count server) threads=$(proc_field server Threads)
    start=$EPOCHREALTIME
    lab_run timeout -k 2 200 "$FAULT_CHAT" -t "$T_WAIT" -T 190 127.0.0.1 "$PORT" chat "$lab" \
        chatters 8 lines 200 resets "$count" parallel 4 3>&- 4>&-
    if ((status != 0)); then
        went_wrong "the chat during $count connect-and-reset loops went wrong" "$stderr"
        fail "$WENT_WRONG"
        return 1
    fi
    echo "# $output" >&3
    report_time "$count resets during the chat" "$start"
    expect_running "after the resets" || return 1
    expect_descriptors_back "$fds" "once the resets and the chat are over"
    expect_threads_back "$threads" "once the resets and the chat are over"
    server_stop
}

# bats test_tags=accept
@test "lab03: 10,000 connect-and-reset loops (SO_LINGER 0) while 8 clients talk: every line answered in order; no descriptor leaked" {
    resets 3
}

# bats test_tags=accept
@test "lab04: 10,000 connect-and-reset loops (SO_LINGER 0) during a chat of 8: every line heard by every other chatter; no descriptor or thread leaked" {
    resets 4
}

# ---- 5. churn under the sanitizers ---------------------------------------------------
# 200 clients join and leave at random (fin, end of input, a reset, a
# close), 12 at most at once, with 200 connect-and-reset loops, while 8
# chat; the server built with the sanitizers. lab03 has one thread: no
# ThreadSanitizer run for it.

@test "lab03: AddressSanitizer and UBSan: 200 clients come and go at random while 8 talk: every line answered, no report, no leak" {
    churn_under address,undefined 3
}

@test "lab04: AddressSanitizer and UBSan: 200 clients join and leave at random while 8 chat: every line delivered, no report, no leak" {
    churn_under address,undefined 4
}

@test "lab04: ThreadSanitizer: 200 clients join and leave at random while 8 chat: every line delivered, no data race" {
    churn_under thread 4
}
