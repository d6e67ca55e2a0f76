# Shared by every tests/labNN-*.bats: starts the lab's programs, waits for
# them with bounds, talks to them, stops them and checks how they ended.
# The .bats files only show the conversations; the mechanics live here.
#
# Environment (set by `make check` / `make test`, or by hand):
#   LAB_ROOT   folder holding the lab folders: the repository (the student's
#              work, the default) or its solutions/ folder
#   VALGRIND=1 run every server and client under Valgrind memcheck
#              (VALGRIND=helgrind: under Helgrind, the thread checker)
#   SANITIZE   the programs were built with -fsanitize=$SANITIZE
#   LAB_PRELOAD a shared object preloaded (LD_PRELOAD) into every server,
#              not clients or peers; plain mode only (ASan and Valgrind have
#              their own preloads). tests/run sets it to
#              tests/helpers/nonblock_accept.so: BSD's accept() on Linux.
#   LAB_STOP_FILE a file of test names, one a line ("*": every test): a
#              test named there skips instead of running (make check stops
#              a step at its first failure, and a lab at its first failing
#              step)
#   LAB_BRIEF=1 a failed test does not print its logs (tests/run's run of
#              the skeletons, where only the count matters: fail fast)
#   LAB_JAIL   a command that runs a program as a graded student's (make
#              grade: tests/tools/jail, as another user, in the student's
#              cgroups, with limits); every build and run of the lab's code
#              goes through it. The logs folders are then made writable for
#              the programs' own logs (Valgrind's).
#   LAB_REPO_DIR the repository, for a test file outside tests/ (make grade
#              EXTRA_TESTS=DIR)

# (Without a process where the path allows: this file is loaded per test.)
REPO_DIR=${BASH_SOURCE[0]%/*}
if [[ -n ${LAB_REPO_DIR:-} ]]; then
    REPO_DIR=$LAB_REPO_DIR
elif [[ $REPO_DIR == /*/tests/helpers && $REPO_DIR != */../* && $REPO_DIR != */./* ]]; then
    REPO_DIR=${REPO_DIR%/tests/helpers}
else
    REPO_DIR=$(cd "$REPO_DIR/../.." && pwd)
fi
PEER="$REPO_DIR/tests/helpers/peer"
POLL_INTERVAL=0.02 # seconds between two looks at a log or a process

# Builds the lab once per file, before its tests. Call from setup_file.
lab_setup_file() {
    # (lab01-blocking.bats, or an instructor's lab01-blocking.more.bats)
    LAB=$(basename "$BATS_TEST_FILENAME" .bats)
    LAB=${LAB%%.*}
    LAB_DIR="${LAB_ROOT:-$REPO_DIR}/$LAB"
    export LAB LAB_DIR
    lab_jail
    if ! "${JAIL[@]}" make -s -C "$LAB_DIR" >"$BATS_FILE_TMPDIR/build.log" 2>&1; then
        echo "# $LAB_DIR does not build:" >&3
        sed 's/^/#   /' "$BATS_FILE_TMPDIR/build.log" >&3
    fi
    lab_setup_file_helpers
}

# The file's share of setup that does not depend on the lab: the test
# helpers built, lab_sleep's fifo, and the test libraries' parts. Called
# by lab_setup_file (and by a file that builds its labs itself).
lab_setup_file_helpers() {
    make -s -C "$REPO_DIR/tests/helpers" >/dev/null
    mkfifo "$BATS_FILE_TMPDIR/sleep.fifo" # see lab_sleep
    # The libraries' parts, found once for every test of the file (bats
    # runs each command of a test under a DEBUG trap: a loop costs).
    LIBRARY_PARTS=()
    library_parts bats-support && library_parts bats-assert &&
        library_allow_empty_lines &&
        printf '%s\n' "${LIBRARY_PARTS[@]}" >"$BATS_FILE_TMPDIR/library-parts"
}

# library_allow_empty_lines: bats-assert 2.1.0's assert_line and refute_line
# begin with : "${lines?}", to catch a call without run. When the output is
# empty, lines is an empty array, and ${lines?} (its element 0) is unset
# too: the test stops on the library's own error "lines: parameter not set"
# instead of saying which line was expected. In LIBRARY_PARTS, those two
# files are replaced by copies (in the file's temporary folder) that only
# check that lines exists. Without a process: mapfile and a substitution.
library_allow_empty_lines() {
    local i text=() guard=': "${lines?}"'
    for i in "${!LIBRARY_PARTS[@]}"; do
        [[ ${LIBRARY_PARTS[i]} == */assert_line.bash || ${LIBRARY_PARTS[i]} == */refute_line.bash ]] || continue
        mapfile -t text <"${LIBRARY_PARTS[i]}"
        text=("${text[@]/"$guard"/"declare -p lines >/dev/null 2>&1 || $guard"}")
        printf '%s\n' "${text[@]}" >"$BATS_FILE_TMPDIR/${LIBRARY_PARTS[i]##*/}"
        LIBRARY_PARTS[i]=$BATS_FILE_TMPDIR/${LIBRARY_PARTS[i]##*/}
    done
}

# library_parts NAME: adds to LIBRARY_PARTS the files that the load.bash of
# the Bats library NAME (in BATS_LIB_PATH) sources. Their load.bash source
# each part through "$(dirname ...)": a process each, and starting one
# takes 30 to 50 ms on a small virtual machine, half a second a test in
# all; the parts are sourced directly instead (see lab_setup). Returns 1,
# adding nothing, unless load.bash does nothing else.
library_parts() {
    local name=$1 dir libdir="" line parts=() path_dirs=()
    local pattern='^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)/(src/[A-Za-z0-9_.-]+\.bash)"$'
    IFS=: read -ra path_dirs <<<"${BATS_LIB_PATH:-/usr/lib/bats}"
    for dir in "${path_dirs[@]}"; do
        if [[ -n $dir && -f $dir/$name/load.bash ]]; then
            libdir=$dir/$name
            break
        fi
    done
    [[ -n $libdir ]] || return 1
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
        [[ $line =~ $pattern && -f $libdir/${BASH_REMATCH[1]} ]] || return 1
        parts+=("$libdir/${BASH_REMATCH[1]}")
    done <"$libdir/load.bash"
    ((${#parts[@]} > 0)) || return 1
    LIBRARY_PARTS+=("${parts[@]}")
}

# lab_sleep [SECONDS]: waits SECONDS (default POLL_INTERVAL) without
# starting a process: a read with a timeout on a FIFO nobody writes to.
lab_sleep() {
    if [[ -n ${LAB_SLEEP_FD:-} ]]; then
        read -r -t "${1:-$POLL_INTERVAL}" -u "$LAB_SLEEP_FD" _ || true
    else
        sleep "${1:-$POLL_INTERVAL}"
    fi
}

# Loads the assertion libraries and picks timeouts and the wrapper for the
# mode. Call from setup.
lab_setup() {
    local part parts=()
    # make check stops a step at its first failing test, and a lab at its
    # first failing step: tests/tools/check then names the tests to skip in
    # this file (a process a test, only once something failed).
    if [[ -n ${LAB_STOP_FILE:-} && -s $LAB_STOP_FILE ]] &&
        grep -Fxq -e "$BATS_TEST_DESCRIPTION" -e '*' "$LAB_STOP_FILE"; then
        declare -gA LAB_PID=()
        skip "not run: an earlier test failed (ALL=1 runs every test)"
    fi
    if [[ -f $BATS_FILE_TMPDIR/library-parts ]]; then
        mapfile -t parts <"$BATS_FILE_TMPDIR/library-parts"
        for part in "${parts[@]}"; do
            # shellcheck disable=SC1090
            source "$part"
        done
    else
        bats_load_library bats-support
        bats_load_library bats-assert
    fi
    bats_require_minimum_version 1.5.0
    # Opened read-write, so that the opening does not wait for a writer.
    LAB_SLEEP_FD=""
    if [[ -p $BATS_FILE_TMPDIR/sleep.fifo ]]; then
        exec {LAB_SLEEP_FD}<>"$BATS_FILE_TMPDIR/sleep.fifo"
    fi

    # Bounds, in seconds. Nothing waits for them unless something hangs, so
    # they are generous; Valgrind and sanitizers make programs slower.
    local scale=1
    [[ ${VALGRIND:-0} != 0 ]] && scale=10
    [[ -n ${SANITIZE:-} ]] && scale=3
    T_READY=$((5 * scale))  # a server starts and prints its listening line
    T_RUN=$((5 * scale))    # a client or a peer finishes its conversation
    T_STOP=$((2 * scale))   # a signalled server exits (the contract says 1 s)
    T_WAIT=$((3 * scale))   # one answer arrives (peer's bound per wait)
    LAB_SCALE=$scale        # for a test's own bounds (e.g. 2.5 s becomes 25 s)

    declare -gA LAB_PID=() LAB_REAPED=()
    quiet_job_reports
    LOGS="$BATS_TEST_TMPDIR"
    lab_jail
    if [[ -n ${LAB_JAIL:-} ]]; then
        # A jailed program writes its Valgrind log here: the folders up to
        # it can be crossed (not listed), the logs folder written (sticky:
        # nobody else's file can be removed).
        local dir
        for dir in "$LOGS" "$BATS_FILE_TMPDIR"; do
            while [[ $dir == "$BATS_RUN_TMPDIR"* ]]; do
                chmod o+x "$dir"
                dir=${dir%/*}
            done
        done
        chmod 1733 "$LOGS"
    fi
    if [[ ! -x $LAB_DIR/server || ! -x $LAB_DIR/client ]]; then
        fail "$LAB_DIR/server and client are not built: run 'make -C $LAB_DIR' and read its errors"
    fi
}

# quiet_job_reports: when bash reaps a program it started in the background
# and a signal ended it, it prints a line such as "lab.bash: line 204:
# 19940 Killed  setsid ..." on the test's output, wherever the test then is:
# harness noise in the middle of a failure (the failure message says what
# ended the program: see how_it_ended). A 2>/dev/null on wait is not enough:
# bash reaps by itself, and reports after whatever command then runs (a
# grep, a peer). Bash says nothing about a signal the shell traps, so the
# test's shell traps, with a command that does nothing, the signals that end
# programs here (bash never reports INT, TERM and PIPE). The programs it
# starts get the default actions back (exec resets caught signals), and
# wait still gives 128 + the signal's number. ABRT is left alone when bats
# traps it (BATS_TEST_TIMEOUT): that trap quiets it too.
quiet_job_reports() {
    # shellcheck disable=SC2173 # KILL: bash records the trap, and that is all it takes
    trap : KILL SEGV BUS FPE ILL TRAP SYS XCPU XFSZ
    [[ -n ${BATS_TEST_TIMEOUT:-} ]] || trap : ABRT
}

# Kills whatever a test left running, prints the logs of a failed test.
# Never fails: assertions belong in the test body.
lab_teardown() {
    local role
    for role in "${!LAB_PID[@]}"; do
        if is_running "$role"; then
            kill_role "$role"
        fi
    done
    if [[ -z ${BATS_TEST_COMPLETED:-} && ${LAB_BRIEF:-0} != 1 ]]; then
        lab_print_logs
        if [[ -n ${CLIENT_RAN:-} ]]; then
            echo "--- the last client run: exit status $CLIENT_STATUS ---"
            printf '%s\n' "stdout:" "$CLIENT_OUTPUT" "stderr:" "$CLIENT_STDERR" >"$LOGS/.client-run"
            last_lines 100 "" "" "$LOGS/.client-run"
        fi
    fi
    return 0
}

# Prints every log of this test, with invisible bytes shown (cat -v).
lab_print_logs() {
    local file files=()
    for file in "$LOGS"/*.out "$LOGS"/*.err "$LOGS"/vg.*.log "$LOGS"/san.*; do
        [[ -s $file ]] && files+=("$file")
    done
    ((${#files[@]} > 0)) || return 0
    last_lines 40 "--- %s (last lines) ---" "" "${files[@]}"
}

# last_lines COUNT HEADER INDENT FILE...: for each FILE, HEADER (a printf
# format given the file's name; "" for none), "...(N lines before)" if it
# has more than COUNT lines, then its last COUNT lines with invisible bytes
# shown as cat -v does, each after INDENT. One awk for all: starting a
# process costs 30 to 50 ms on a small virtual machine, tail, cat -v and
# sed for each file would be many.
last_lines() {
    local count=$1 header=$2 indent=$3
    shift 3
    LC_ALL=C awk -v count="$count" -v header="$header" -v indent="$indent" '
        function visible(s,    out, i, c, n) {
            out = ""
            for (i = 1; i <= length(s); i++) {
                c = substr(s, i, 1); n = code[c]
                if (n >= 128) { out = out "M-"; n -= 128; c = sprintf("%c", n) }
                if (n < 32 && n != 9) out = out "^" sprintf("%c", n + 64)
                else if (n == 127) out = out "^?"
                else out = out c
            }
            return out
        }
        function flush(    i, first) {
            if (name == "") return
            if (header != "") { shown = name; sub(/.*\//, "", shown); printf header "\n", shown }
            if (lines > count) printf "%s...(%d lines before)\n", indent, lines - count
            first = lines > count ? lines - count + 1 : 1
            for (i = first; i <= lines; i++) print indent visible(kept[i % count])
        }
        BEGIN { for (i = 1; i < 256; i++) code[sprintf("%c", i)] = i }
        FNR == 1 { flush(); name = FILENAME; lines = 0 }
        { kept[++lines % count] = $0 }
        END { flush() }' "$@"
}

# lab_jail: JAIL, the command prefix that runs the lab's code as a graded
# student's (LAB_JAIL, see the top), or nothing.
lab_jail() {
    JAIL=()
    [[ -z ${LAB_JAIL:-} ]] || JAIL=("$LAB_JAIL")
}

# The command prefix that runs a program of the lab in the current mode,
# in the array WRAP. $1: the role, used to name the logs.
lab_wrapper() {
    lab_jail
    WRAP=("${JAIL[@]}")
    if [[ ${VALGRIND:-0} == 1 ]]; then
        WRAP+=(valgrind --error-exitcode=99 --leak-check=full
              --show-leak-kinds=definite,indirect
              --errors-for-leak-kinds=definite,indirect
              --track-fds=yes "--log-file=$LOGS/vg.$1.%p.log")
    elif [[ ${VALGRIND:-0} == helgrind ]]; then
        WRAP+=(valgrind --tool=helgrind --error-exitcode=99
              --track-fds=yes "--log-file=$LOGS/vg.$1.%p.log")
    fi
    if [[ -n ${SANITIZE:-} ]]; then
        export ASAN_OPTIONS="log_path=$LOGS/san.$1:exitcode=66:detect_leaks=1"
        # (exitcode: UBSan's own is 1, which a test could take for the
        # program's; UBSan writes to stderr whatever log_path says.)
        export UBSAN_OPTIONS="log_path=$LOGS/san.$1:halt_on_error=1:print_stacktrace=1:exitcode=66"
        export TSAN_OPTIONS="log_path=$LOGS/san.$1:halt_on_error=1:exitcode=66"
    fi
}

# server_start [--role NAME] [--one-cpu] ARGS...: starts the lab's server in
# the background, in its own process group, stdin from /dev/null, output in
# $LOGS/NAME.out and NAME.err, with $LAB_PRELOAD preloaded if set. Does not
# wait: see server_wait_ready. --one-cpu: on one CPU (taskset, where there
# is one), for a test of capacity whose threads mostly wake one another:
# on a small virtual machine a wake-up across CPUs costs more than the
# second CPU gives, and the other tests running meanwhile need it.
server_start() {
    local role=server preload=() one_cpu=() cpus
    while (($# > 0)); do
        case $1 in
            --role) role=$2; shift 2 ;;
            --one-cpu)
                # The first CPU this shell may run on, as the kernel says
                # ("pid N's current affinity list: 0-1"); where taskset is
                # missing, cannot tell or cannot pin (some sandboxes), the
                # server runs unpinned.
                if command -v taskset >/dev/null &&
                    cpus=$(taskset -pc "$BASHPID" 2>/dev/null); then
                    cpus=${cpus##*: }
                    cpus=${cpus%%[-,]*}
                    if [[ $cpus =~ ^[0-9]+$ ]] && taskset -c "$cpus" true 2>/dev/null; then
                        one_cpu=(taskset -c "$cpus")
                    fi
                fi
                shift ;;
            *) break ;;
        esac
    done
    lab_wrapper "$role"
    if [[ -n ${LAB_PRELOAD:-} ]]; then
        # The dynamic loader only warns about a missing file and runs the
        # server as is: the test would pass without what it simulates.
        if [[ ! -f $LAB_PRELOAD || ${VALGRIND:-0} != 0 || -n ${SANITIZE:-} ]]; then
            fail "LAB_PRELOAD=$LAB_PRELOAD: needs an existing file, and plain mode (no VALGRIND, no SANITIZE)"
            return 1
        fi
        preload=(env "LD_PRELOAD=$LAB_PRELOAD")
    fi
    # Empty the logs here, not in the child: a waiter must never read the
    # previous server's lines.
    : >"$LOGS/$role.out"
    : >"$LOGS/$role.err"
    setsid "${preload[@]}" "${one_cpu[@]}" "${WRAP[@]}" "$LAB_DIR/server" "$@" \
        </dev/null >"$LOGS/$role.out" 2>"$LOGS/$role.err" 3>&- 4>&- &
    LAB_PID[$role]=$!
}

# Returns 0 while the process of role $1 runs (a zombie counts as ended).
is_running() {
    local pid=${LAB_PID[$1]} state
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r /proc/$pid/stat ]]; then
        read -r _ _ state _ 2>/dev/null <"/proc/$pid/stat" || return 1
        [[ $state != Z ]] || return 1
    fi
    return 0
}

# reap ROLE: sets EXIT_STATUS to the exit status of the role's process,
# waiting for it to end. Bash gives a process's status to one wait only:
# it is kept in LAB_REAPED (by process id) for the next caller.
reap() {
    local pid=${LAB_PID[$1]} status=0
    if [[ -z ${LAB_REAPED[$pid]:-} ]]; then
        wait "$pid" 2>/dev/null || status=$?
        LAB_REAPED[$pid]=$status
    fi
    EXIT_STATUS=${LAB_REAPED[$pid]}
}

# kill_role ROLE: kills the role's process group (or the process, if it has
# no group of its own) with SIGKILL, and reaps it.
kill_role() {
    local pid=${LAB_PID[$1]}
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    reap "$1"
}

# server_wait_ready [ROLE]: waits for "listening on port N" and sets PORT
# (for role server) and PORT_<ROLE>. Fails at once if the server ended.
server_wait_ready() {
    local role=${1:-server} deadline=$((SECONDS + T_READY)) ended=""
    scan_start "$LOGS/$role.out"
    while :; do
        # Whether it ended, before the look: a server may print the line and
        # end at once.
        is_running "$role" || ended=1
        if scan_listening; then
            printf -v "PORT_$role" '%s' "$SCAN_MATCH"
            [[ $role == server ]] && PORT=$SCAN_MATCH
            return 0
        fi
        if [[ -n $ended ]]; then
            reap "$role"
            tool_report "$role"
            local note
            note=$(listening_line_note "$role")
            fail "$(printf 'the %s ended before printing "listening on port N": it %s\n%s%s%s' \
                "$role" "$(how_it_ended "$EXIT_STATUS" "$LOGS/$role.err")" \
                "${note:+$note$'\n'}" \
                "${TOOL_REPORT:+$TOOL_REPORT$'\n'}" "$(describe_logs "$role")")"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            fail "$(not_listening "$role")"
            return 1
        fi
        lab_sleep
    done
}

# not_listening ROLE: the message for a server still running, without its
# listening line, when T_READY has passed.
not_listening() {
    printf 'timeout: the %s did not print "listening on port N" within %s s\n' "$1" "$T_READY"
    if [[ ! -s $LOGS/$1.out ]]; then
        # The most common cause, when the server does listen.
        printf '  (nothing at all on its standard output: if it printed the line, the line is\n'
        printf '  still in stdio'"'"'s buffer. Standard output is a file here, not a terminal,\n'
        printf '  so it is fully buffered: setvbuf(stdout, NULL, _IOLBF, 0) at the start, or fflush(stdout).)\n'
    fi
    listening_line_note "$1"
    describe_logs "$1"
}

# listening_line_note ROLE: when the role printed something, but not the
# listening line, its first line with invisible bytes shown, and whether
# its output lacks the final newline: a typo or a missing "\n" is hard to
# see in a log. (Each line of the note ends with a newline.)
listening_line_note() {
    local file=$LOGS/$1.out first=""
    [[ -s $file ]] || return 0
    IFS= read -r first <"$file" || true
    # (sed's l shows a \r as \r, any byte that is not printable as \ooo.)
    first=$(printf '%s\n' "$first" | LC_ALL=C sed -n 'l' | sed 's/\$$//')
    printf '  its first line is "%s"; expected "listening on port N" then a newline\n' "$first"
    if [[ -n $(tail -c 1 "$file") ]]; then
        printf '  (its output does not end with a newline: end the line with "\\n")\n'
    fi
}

# scan_listening: looks through the lines of the log being scanned (see
# scan_start) for "listening on port N"; 0 and SCAN_MATCH=N if found.
scan_listening() {
    local line ready='^listening on port ([0-9]+)$'
    scan_more
    for line in "${SCAN_LINES[@]}"; do
        if [[ $line =~ $ready ]]; then
            SCAN_MATCH=${BASH_REMATCH[1]}
            return 0
        fi
    done
    return 1
}

# Reading a growing log without starting a process at each look (grep would
# be one, and starting one takes 30 to 50 ms on a small virtual machine):
# scan_start FILE starts at its beginning; each scan_more then puts in the
# array SCAN_LINES the lines completed since the last look, without their
# newline (a line still being written waits for its end, unless the writer
# has ended: see scan_more --all). Each look reads the file again (mapfile
# does that fast), so a file emptied and written again is read from its
# start. Under bats every command costs a third of a millisecond (its
# DEBUG trap), so a file of more than SCAN_BIG_LINES lines sets SCAN_BIG
# (the lines after those are not looked at), and the caller goes on with
# grep: one process a look, but it reads a long log fast.
scan_start() {
    SCAN_FILE=$1
    SCAN_SEEN=0
    SCAN_LINES=()
    SCAN_BIG=""
}
SCAN_BIG_LINES=100 # lines looked at in bash, at most

# scan_more [--all]: the next lines of the log (see scan_start). --all: the
# writer has ended, a last line without a newline counts too.
scan_more() {
    local all=() count
    SCAN_LINES=()
    # (A background process may not have created it yet.)
    [[ -e $SCAN_FILE ]] || return 0
    mapfile -n $((SCAN_BIG_LINES + 1)) all <"$SCAN_FILE"
    count=${#all[@]}
    if ((count > SCAN_BIG_LINES)); then
        SCAN_BIG=1
        count=$SCAN_BIG_LINES
    elif ((count > 0)) && [[ ${all[count - 1]} != *$'\n' && ${1:-} != --all ]]; then
        count=$((count - 1))
    fi
    ((count >= SCAN_SEEN)) || SCAN_SEEN=0 # emptied, then written again
    SCAN_LINES=("${all[@]:SCAN_SEEN:count - SCAN_SEEN}")
    SCAN_LINES=("${SCAN_LINES[@]%$'\n'}")
    SCAN_SEEN=$count
}

# Shows what a role printed (the last lines), for failure messages.
describe_logs() {
    local stream file
    for stream in out err; do
        file="$LOGS/$1.$stream"
        [[ $stream == out ]] && echo "  its standard output:" || echo "  its standard error:"
        [[ -s $file ]] && last_lines 20 "" "    " "$file"
    done
    return 0
}

# how_it_ended STATUS [STDERR-FILE]: how a program ended, in words that follow
# "the server" or "the client": "exited with status 1", "crashed: killed by
# SIGSEGV (...)", "stopped at TODO step 4: ...". The one place where exit
# statuses are read for people. STDERR-FILE is the program's standard error,
# where a TODO step says which step it is.
how_it_ended() {
    local status=$1 err=${2:-} signal
    case $status in
        3)
            if todo_step "$err"; then
                echo "stopped at TODO step $TODO_STEP: $TODO_WHAT"
                return 0
            fi
            echo "exited with status 3 (the status of a TODO step not done yet)" ;;
        66) echo "exited with status 66: the sanitizer found an error" ;;
        99) echo "exited with status 99: Valgrind found errors" ;;
        124) echo "was stopped by timeout(1) (status 124): it did not finish in time" ;;
        126 | 127) echo "could not be started (status $status: not executable, or not found)" ;;
        *)
            if ((status <= 128 || status >= 192)); then
                echo "exited with status $status"
                return 0
            fi
            signal=$(kill -l $((status - 128)) 2>/dev/null) || signal=$((status - 128))
            case $signal in
                SEGV) echo "crashed: killed by SIGSEGV (segmentation fault) — usually a NULL, freed or uninitialised pointer, or writing past the end of an array; make check with SANITIZE=address,undefined shows the line" ;;
                ABRT) echo "crashed: killed by SIGABRT (abort) — an assert() failed, or the C library found its heap corrupted (e.g. a double free, or a write past the end of a malloc'd block)" ;;
                BUS) echo "crashed: killed by SIGBUS (bus error) — usually a bad pointer, as for a segmentation fault; make check with SANITIZE=address,undefined shows the line" ;;
                FPE) echo "crashed: killed by SIGFPE (arithmetic error) — usually an integer division by zero (/ or %)" ;;
                ILL) echo "crashed: killed by SIGILL (illegal instruction) — usually a smashed stack (a local array written past its end) or a bad function pointer; make check with SANITIZE=address,undefined shows the line" ;;
                TRAP) echo "crashed: killed by SIGTRAP — a trap instruction (__builtin_trap, or a sanitizer built to trap)" ;;
                PIPE) echo "crashed: killed by SIGPIPE — it wrote to a socket whose other end was closed; ignore SIGPIPE at the start (sigaction with SIG_IGN) and treat EPIPE as \"the peer is gone\"" ;;
                KILL) echo "was killed by SIGKILL (which no program can catch: the tests send it to a program that outlives its time bound)" ;;
                TERM | INT) echo "was killed by SIG$signal: no handler was installed for it (sigaction, before the listening line)" ;;
                *) echo "was killed by SIG$signal (status $status): no handler for it" ;;
            esac ;;
    esac
}

# todo_step STDERR-FILE: finds the line "TODO step N: WHAT" that a
# program's todo() printed (among the file's first 100 lines); sets
# TODO_STEP to N and TODO_WHAT to WHAT. Returns 1 if there is none.
todo_step() {
    local said=() line
    TODO_STEP="" TODO_WHAT=""
    [[ -n ${1:-} && -s $1 ]] && mapfile -n 100 -t said <"$1"
    for line in "${said[@]}"; do
        if [[ $line =~ ^TODO\ step\ ([0-9]+):\ (.*)$ ]]; then
            TODO_STEP=${BASH_REMATCH[1]} TODO_WHAT=${BASH_REMATCH[2]}
            return 0
        fi
    done
    return 1
}

# server_start_ready ARGS...: server_start then server_wait_ready.
server_start_ready() {
    server_start "$@"
    server_wait_ready
}

# wait_for_output ROLE REGEX: waits until the role's stdout has a line
# matching REGEX (extended, as grep -E), e.g. that a client is connected.
# Bounded by T_WAIT.
wait_for_output() {
    wait_for_lines "$1" "$2" 1 "$T_WAIT"
}

# wait_for_count ROLE REGEX COUNT: waits until the role's stdout has COUNT
# lines matching REGEX. Bounded by T_RUN (for long streams).
wait_for_count() {
    wait_for_lines "$1" "$2" "$3" "$T_RUN"
}

# wait_for_lines ROLE REGEX COUNT BOUND: waits until the role's stdout has
# COUNT lines matching REGEX (extended, as grep -E), BOUND seconds at most;
# fails saying what the role printed if it ends or the bound passes first.
wait_for_lines() {
    local role=$1 regex=$2 count=$3 bound=$4 deadline=$((SECONDS + $4)) got=0 line ended=""
    scan_start "$LOGS/$role.out"
    while :; do
        # Once the role has ended, one more look at all it wrote.
        is_running "$role" || ended=--all
        if [[ -z $SCAN_BIG ]]; then
            scan_more $ended
            for line in "${SCAN_LINES[@]}"; do
                if [[ $line =~ $regex ]]; then
                    got=$((got + 1))
                fi
            done
        fi
        if [[ -n $SCAN_BIG ]]; then # a long log: grep counts faster
            got=$(grep -cE -- "$regex" "$LOGS/$role.out" || true)
        fi
        if ((got >= count)); then
            return 0
        fi
        if [[ -n $ended ]]; then
            reap "$role"
            tool_report "$role"
            local how
            how=$(how_it_ended "$EXIT_STATUS" "$LOGS/$role.err")
            if ((count == 1)); then
                fail "$(printf 'the %s ended before printing a line matching /%s/: it %s\n%s%s' \
                    "$role" "$regex" "$how" "${TOOL_REPORT:+$TOOL_REPORT$'\n'}" "$(describe_logs "$role")")"
            else
                fail "$(printf 'the %s ended after printing %s of the %s lines matching /%s/: it %s\n%s%s' \
                    "$role" "$got" "$count" "$regex" "$how" "${TOOL_REPORT:+$TOOL_REPORT$'\n'}" \
                    "$(describe_logs "$role")")"
            fi
            return 1
        fi
        if ((SECONDS >= deadline)); then
            if ((count == 1)); then
                fail "$(printf 'timeout: the %s did not print a line matching /%s/ within %s s\n%s' \
                    "$role" "$regex" "$bound" "$(describe_logs "$role")")"
            else
                fail "$(printf 'timeout: the %s did not print %s lines matching /%s/ within %s s (only %s)\n%s' \
                    "$role" "$count" "$regex" "$bound" "$got" "$(describe_logs "$role")")"
            fi
            return 1
        fi
        lab_sleep
    done
}

# wait_exit ROLE BOUND [WHEN]: waits at most BOUND seconds for the role to
# exit and sets EXIT_STATUS. Kills its group and fails if it is still
# running. WHEN (e.g. "after SIGTERM") is for the message.
wait_exit() {
    local role=$1 bound=$2 start=$SECONDS
    while is_running "$role"; do
        if ((SECONDS - start >= bound)); then
            kill_role "$role"
            fail "$(printf 'timeout: the %s did not exit within %s s%s (the test then killed it)\n%s' \
                "$role" "$bound" "${3:+ $3}" "$(describe_logs "$role")")"
            return 1
        fi
        lab_sleep
    done
    reap "$role"
}

# server_stop [--role ROLE] [--signal SIG]: sends SIGTERM (or SIG), then
# checks the contract: exit within the bound, status 0, "server stopped"
# printed, no Valgrind or sanitizer complaint.
server_stop() {
    local role=server signal=TERM when
    while (($#)); do
        case $1 in
            --role) role=$2; shift 2 ;;
            --signal) signal=$2; shift 2 ;;
            *) fail "server_stop: unknown argument $1"; return 1 ;;
        esac
    done
    when="after SIG$signal"
    # (It may have ended already, by a crash for one: then say so.)
    kill "-$signal" "${LAB_PID[$role]}" 2>/dev/null || when="before SIG$signal was sent"
    wait_exit "$role" "$T_STOP" "$when" || return 1
    server_check_end "$role" 0 "$when"
}

# server_wait_end [--role ROLE] [STATUS]: the server must exit by itself
# (e.g. lab01 after its client left) with STATUS (default 0).
server_wait_end() {
    local role=server
    if [[ $1 == --role ]]; then role=$2; shift 2; fi
    wait_exit "$role" "$T_RUN" "after its session" || return 1
    server_check_end "$role" "${1:-0}" "after its session"
}

# last_line FILE: sets LAST_LINE to the file's last line.
last_line() {
    local all=()
    # (mapfile is fast: no command per line; tail for thousands of lines.)
    mapfile -n 2000 -t all <"$1"
    if ((${#all[@]} == 2000)); then
        LAST_LINE=$(tail -n 1 "$1")
    elif ((${#all[@]} > 0)); then
        LAST_LINE=${all[-1]}
    else
        LAST_LINE=""
    fi
}

# Checks how the server ended (EXIT_STATUS, set by wait_exit): exit status,
# last line, tool reports. WHEN (e.g. "after SIGTERM") is for the messages.
server_check_end() {
    local role=$1 expected=$2 when=$3
    if ((EXIT_STATUS != expected)); then
        tool_report "$role"
        fail "$(printf '%s, the %s should exit with status %s; it %s\n%s%s' \
            "$when" "$role" "$expected" "$(how_it_ended "$EXIT_STATUS" "$LOGS/$role.err")" \
            "${TOOL_REPORT:+$TOOL_REPORT$'\n'}" "$(describe_logs "$role")")"
        return 1
    fi
    last_line "$LOGS/$role.out"
    if ((expected == 0)) && [[ $LAST_LINE != "server stopped" ]]; then
        fail "$(printf 'the %s did not print "server stopped" as its last line %s\n%s' \
            "$role" "$when" "$(describe_logs "$role")")"
        return 1
    fi
    check_tool_logs "$role"
}

# check_tool_logs ROLE [STDERR-FILE]: fails if Valgrind or a sanitizer
# reported anything about the processes of that role (see tool_report).
check_tool_logs() {
    tool_report "$@"
    if [[ -n $TOOL_REPORT ]]; then
        fail "$TOOL_REPORT"
        return 1
    fi
}

# tool_report ROLE [STDERR-FILE]: sets TOOL_REPORT to what matters in the
# Valgrind logs ($LOGS/vg.ROLE.PID.log) and the sanitizer logs (san.ROLE.PID)
# of the role's processes, or to "" if they are clean. For each process with
# a problem: its first error with the frames in the lab's own files, each
# leak and each descriptor left open with where it was allocated or opened,
# and the name of the log that has it all. STDERR-FILE (default
# $LOGS/ROLE.err): UBSan writes there, whatever log_path says. Starts no
# process in plain mode (no log to read).
tool_report() {
    local role=$1 err=${2:-$LOGS/$1.err} log logs=() own="" file below=", its last lines are below"
    TOOL_REPORT=""
    for log in "$LOGS"/vg."$role".*.log "$LOGS"/san."$role".*; do
        [[ -s $log ]] && logs+=("$log")
    done
    [[ -n ${SANITIZE:-} && -s $err ]] && logs+=("$err")
    ((${#logs[@]} > 0)) || return 0
    for file in "$LAB_DIR"/*.[ch]; do
        own+=" ${file##*/}"
    done
    [[ ${LAB_BRIEF:-0} == 1 ]] && below=""
    TOOL_REPORT=$(LC_ALL=C awk -v role="$role" -v own="$own " -v below="$below" '
        function is_own(loc,    file) {
            file = loc
            sub(/:[0-9]+(:[0-9]+)?$/, "", file)
            sub(/.*\//, "", file)
            return index(own, " " file " ") > 0
        }
        # A Valgrind frame "   by 0x10A059: main (server.c:344)": "main (server.c:344)".
        function vg_frame(t) {
            sub(/^ *(at|by) 0x[0-9A-Fa-f]+: /, "", t)
            return t
        }
        function vg_own(f) {
            if (!match(f, /\([^()]*:[0-9]+\)$/)) return 0
            return is_own(substr(f, RSTART + 1, RLENGTH - 2))
        }
        # A sanitizer frame "#1 0x55d9 in main /x/server.c:12:5" or "#0 worker
        # /x/server.c:20 (server+0x12)": "main (server.c:12)"; FRAME_OWN says whose.
        function san_frame(t,    n, w, i, loc, name) {
            n = split(t, w, " ")
            FRAME_OWN = 0
            for (i = 2; i <= n; i++) {
                if (w[i] ~ /[^\/]\.[A-Za-z]+:[0-9]+(:[0-9]+)?$/) {
                    loc = w[i]
                    FRAME_OWN = is_own(loc)
                    sub(/.*\//, "", loc)
                    if (loc ~ /:[0-9]+:[0-9]+$/) sub(/:[0-9]+$/, "", loc)   # no column
                    name = w[i - 1]
                    return (name ~ /^(in|0x[0-9a-f]+|#[0-9]+)$/ ? "" : name " ") "(" loc ")"
                }
            }
            return w[n]
        }
        # Paths in a line of a sanitizer: their last part only.
        function short_paths(t) {
            gsub(/[^ :]*\//, "", t)
            return t
        }
        # Addresses such as 0x4a44400 mean nothing to a reader (0x0 does: NULL).
        function no_address(t) {
            gsub(/ at 0x[0-9A-Fa-f]+/, "", t)
            sub(/^Address 0x[0-9A-Fa-f][0-9A-Fa-f]+ is/, "The address is", t)
            return t
        }
        function say(text) { said[++nsaid] = text }
        function begin_file(name,    parts) {
            file = name
            short = name; sub(/.*\//, "", short)
            split(short, parts, ".")
            kind = parts[1] == "vg" ? "vg" : parts[1] == "san" ? "san" : "err"
            pid = kind == "err" ? "" : parts[3]
            command = ""; summary = ""; summarised = 0; errors = 0; terminated = ""
            nsaid = 0; problems = 0
            reports = 0; nown = 0; any = ""; context = ""; context_at = ""; in_context = 0
            block = ""; sections = 0; nfirst = 0
        }
        # Ends a leak or descriptor block of Valgrind, or a section of a sanitizer.
        function end_block() {
            if (block == "leak") {
                say("leak: " item (item_at != "" ? ", allocated at " item_at : ""))
                problems++
            } else if (block == "fd" && !inherited) {
                say("descriptor left open: " item (item_at != "" ? ", opened at " item_at : ""))
                problems++
            } else if (block == "term") {
                terminated = item (item_at != "" ? ", at " item_at : "")
            }
            block = ""; item = ""; item_at = ""; inherited = 0
        }
        function end_file(    i, who) {
            if (file == "") return
            end_block()
            if (kind == "vg" && !summarised) {
                say("no ERROR SUMMARY: Valgrind did not finish its report (the process was killed?)")
                problems++
            }
            if (kind == "vg" && errors > 0) problems++
            if (reports > 0) problems++
            # A log of a sanitizer in a form not known here: its first lines.
            if (kind == "san" && !problems && nfirst > 0) {
                problems++
                for (i = 1; i <= nfirst; i++) say(first_lines[i])
            }
            if (!problems) { file = ""; return }
            who = "the " role (pid != "" ? " (process " pid (command != "" ? ": " command : "") ")" : "")
            if (kind == "vg")
                print who " is not clean under Valgrind" (summarised ? " (" summary ")" : "") ":"
            else
                print who " is not clean: the sanitizer reported an error:"
            if (reports > 0) {
                print "  " (kind == "vg" ? "the first error: " : "") first
                if (access != "") print "    " access
                if (nown == 0 && any != "") print "    at " any
                for (i = 1; i <= nown; i++) print "    " (i == 1 ? "at " : "by ") own_frames[i]
                if (context != "") print "    (" context (context_at != "" ? " at " context_at : "") ")"
                for (i = 1; i <= sections; i++) print "    (" section[i] ")"
            }
            if (terminated != "") print "  " terminated
            for (i = 1; i <= nsaid; i++) print "  " said[i]
            if (summary != "" && kind != "vg") print "  " summary
            print "  (the whole report: " (kind == "err" ? "in its standard error" : short) below ")"
            file = ""
        }
        function first_report(text) {
            reports++
            if (reports > 1) return 0
            first = text; access = ""; nown = 0; any = ""; context = ""; context_at = ""
            return 1
        }

        FNR == 1 { end_file(); begin_file(FILENAME) }

        # ---- Valgrind ---------------------------------------------------------------
        kind == "vg" {
            t = $0
            if (!sub(/^==[0-9]+== ?/, "", t)) next
            if (t == "") {  # the parts of an error are apart: its block goes on
                if (block != "error") end_block()
                next
            }
            if (t ~ /^Command: /) { command = substr(t, 10); sub(/^[^ ]*\//, "", command); next }
            if (t ~ /^ERROR SUMMARY: /) {
                summarised = 1; summary = t; sub(/ \(suppressed.*/, "", summary)
                split(t, w, " "); errors = w[3] + 0
                next
            }
            if (t ~ /are (definitely|indirectly) lost in loss record/) {
                end_block(); block = "leak"; item = t; sub(/ in loss record.*/, "", item)
                next
            }
            if (t ~ /^Open [A-Za-z0-9_ ]* [0-9]+:/) {
                end_block(); block = "fd"
                match(t, / [0-9]+:/)
                number = substr(t, RSTART + 1, RLENGTH - 2)
                what = substr(t, 6, RSTART - 6)
                rest = substr(t, RSTART + RLENGTH); sub(/^ */, "", rest)
                item = "file descriptor " number ": " (what != "file descriptor" ? what " " : "") rest
                next
            }
            if (t ~ /^Process terminating/) { end_block(); block = "term"; item = t; next }
            if (t ~ /^(Invalid |Mismatched |Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Argument |Possible data race|Jump to the invalid|Thread #[0-9]+|Lock at |Bad |Attempt to )/ &&
                t !~ /^Thread #[0-9]+ (was created|is the program)/) {
                end_block()
                block = first_report(no_address(t)) ? "error" : "other"
                in_context = 0
                next
            }
            if (t ~ /^ *(at|by) 0x/) {
                f = vg_frame(t)
                if (block == "error" && !in_context) {
                    if (any == "") any = f
                    if (vg_own(f) && nown < 3) own_frames[++nown] = f
                } else if (block == "error") {
                    if (context_at == "" && vg_own(f)) context_at = f
                } else if (block == "leak" || block == "fd" || block == "term") {
                    if (item_at == "" && vg_own(f)) item_at = f
                }
                next
            }
            if (t ~ /<inherited from parent>/) { inherited = 1; next }
            # After the stack of the error, what it is about (an address, a block,
            # the access of the other thread) and where that comes from.
            if (block == "error" && any != "" && context == "" && t !~ /^Locks held/) {
                sub(/^ +/, "", t)
                in_context = 1; context = no_address(t)
                next
            }
            next
        }

        # ---- sanitizers (a log, or standard error) --------------------------------------
        {
            t = $0
            if (kind == "san" && nfirst < 5 && t !~ /^[ =]*$/) first_lines[++nfirst] = t
            if (t ~ /(ERROR|WARNING): [A-Za-z]*Sanitizer: / || t ~ /: runtime error: /) {
                end_block()
                sub(/^.*(ERROR|WARNING): /, "", t)
                sub(/ on (unknown )?address .*/, "", t)
                sub(/ \(pid=[0-9]+\)/, "", t)
                if (t ~ /^LeakSanitizer/) { block = "none"; next }
                block = first_report(short_paths(t)) ? "main" : "other"
                next
            }
            if (block == "") next   # standard error before any report
            if (t ~ /^SUMMARY: /) { end_block(); summary = short_paths(t); next }
            if (t ~ /^(Direct|Indirect) leak of /) {
                end_block(); block = "leak"; item = t; sub(/ allocated from:$/, "", item)
                next
            }
            if (t ~ /^ *#[0-9]+ /) {
                f = san_frame(t)
                if (block == "main") {
                    if (any == "") any = f
                    if (FRAME_OWN && nown < 3) own_frames[++nown] = f
                } else if (block == "section") {
                    if (FRAME_OWN && item_at == "") { item_at = f; if (sections < 3) section[++sections] = item " at " f }
                } else if (block == "leak") {
                    if (FRAME_OWN && item_at == "") item_at = f
                }
                next
            }
            if (t ~ /^ *$/) {
                if (block == "main" && nown + (any != "") > 0) block = "after"
                else if (block == "section") block = "after"
                next
            }
            if (block == "main" && access == "" && any == "") {
                access = no_address(t); sub(/^ +/, "", access); sub(/:$/, "", access)
                sub(/ thread T0$/, "", access); sub(/ thread T/, " by thread T", access)
                next
            }
            # "0x6020... is located 0 bytes to the right of 16-byte region [...)"
            if (block == "after" && context == "" && t ~ /^0x[0-9a-f]+ is located /) {
                context = t; sub(/^0x[0-9a-f]+/, "the address", context); sub(/ \[.*$/, "", context)
                next
            }
            if ((block == "main" || block == "after" || block == "section") && t ~ /:$/) {
                if (block == "main") block = "after"
                item = no_address(t); sub(/^ +/, "", item); sub(/:$/, "", item)
                sub(/ here$/, "", item); sub(/ at$/, "", item); sub(/ \(tid=[^)]*\)/, "", item)
                item_at = ""; block = "section"
                next
            }
        }
        END { end_file() }
        ' "${logs[@]}")
}

# lab_run COMMAND...: runs COMMAND as bats' run --separate-stderr does
# (status, output, stderr, lines and stderr_lines), with the caller's
# standard input, but without the two processes run starts besides the
# command (mktemp, a subshell): on a small virtual machine each costs 30
# to 50 ms. Never fails by itself.
lab_run() {
    # (Dot files: lab_print_logs shows the roles' logs, not these.)
    local out="$BATS_TEST_TMPDIR/.run.out" err="$BATS_TEST_TMPDIR/.run.err"
    # The braces' 2>/dev/null is the shell's own standard error while it
    # waits: where it would say "Segmentation fault" when a signal ends the
    # command (timeout(1) ends itself with the signal that ended its
    # program). The failure messages say it better (how_it_ended).
    { "$@" >"$out" 2>"$err" && status=0 || status=$?; } 2>/dev/null
    lab_slurp "$out"
    output=$LAB_SLURP
    lab_slurp "$err"
    stderr=$LAB_SLURP
    # shellcheck disable=SC2034 # as run: the lines, empty ones left out
    IFS=$'\n' read -d '' -r -a lines <<<"$output" || true
    # shellcheck disable=SC2034
    IFS=$'\n' read -d '' -r -a stderr_lines <<<"$stderr" || true
    return 0
}

# lab_slurp FILE: sets LAB_SLURP to what $(<FILE) gives:
# the text, its newlines at the end removed, NUL bytes dropped. Without a
# process when the text is short and holds no NUL; with $(...) otherwise
# (bash's own string work takes seconds on megabytes).
lab_slurp() {
    local parts=()
    LAB_SLURP=""
    mapfile -d '' -t parts <"$1"
    if ((${#parts[@]} == 1 && ${#parts[0]} < 65536)); then
        LAB_SLURP=${parts[0]}
        while [[ $LAB_SLURP == *$'\n' ]]; do
            LAB_SLURP=${LAB_SLURP%$'\n'}
        done
    elif ((${#parts[@]} > 0)); then
        LAB_SLURP=$(<"$1")
    fi
}

# client_run [--todo-after N] ARGS... < INPUT: runs the lab's client to its
# end, bounded. Sets status, output (stdout), stderr and lines like bats'
# run. Fails if the client hangs, crashes, stops at a TODO step, or is not
# clean under Valgrind or a sanitizer; any other status is the test's to
# check.
# --todo-after N: for a test that needs only the client's steps up to N
# (or, with N 0, only the code given in the skeleton). A stop at a later
# step's TODO ("TODO step M" with M > N, status 3) is then the end of the
# run, not a failure: status stays 3 for the test, which looks at what the
# client did before. A stop at step N or before, or any other end, gets
# the usual checks.
client_run() {
    local todo_after=""
    if [[ ${1:-} == --todo-after ]]; then
        todo_after=$2
        shift 2
    fi
    lab_wrapper client
    lab_run timeout -k 2 "$T_RUN" "${WRAP[@]}" "$LAB_DIR/client" "$@" 3>&- 4>&-
    CLIENT_RAN=1 CLIENT_STATUS=$status CLIENT_OUTPUT=$output CLIENT_STDERR=$stderr
    # (No tool check then: a program stopped at a TODO leaves its socket open.)
    if [[ -n $todo_after ]] && ((status == 3)) && todo_step "$BATS_TEST_TMPDIR/.run.err" &&
        ((TODO_STEP > todo_after)); then
        return 0
    fi
    # (137: timeout's SIGKILL, 2 s after its SIGTERM did not end the client.)
    if ((status == 124 || status == 137)); then
        fail "$(printf 'timeout: the client did not finish within %s s (it hangs)\n  its output so far:\n%s\n  its errors:\n%s' \
            "$T_RUN" "$output" "$stderr")"
        return 1
    fi
    tool_report client "$BATS_TEST_TMPDIR/.run.err"
    if ((status == 3 || status == 66 || status == 99 || status > 128)); then
        fail "$(printf 'the client %s\n%s  its output:\n%s\n  its errors:\n%s' \
            "$(how_it_ended "$status" "$BATS_TEST_TMPDIR/.run.err")" \
            "${TOOL_REPORT:+$TOOL_REPORT$'\n'}" "$output" "$stderr")"
        return 1
    fi
    if [[ -n $TOOL_REPORT ]]; then
        fail "$TOOL_REPORT"
        return 1
    fi
}

# talk PEER-COMMAND...: talks to the server on $PORT with tests/helpers/peer
# (exact bytes, bounded waits; see peer.c for the commands). Fails with the
# conversation so far and the bytes that differ. peer's stdout is in $output,
# or in the file TALK_OUT when set (for megabytes). The whole conversation
# is bounded by T_RUN, or TALK_BOUND when set (peer's -T: no timeout(1) to
# start). TALK_LAZY=1: peer --lazy (for hundreds of connections).
talk() {
    local bound=${TALK_BOUND:-$T_RUN} options=()
    options=(-T "$bound" -t "$T_WAIT")
    [[ -n ${TALK_LAZY:-} ]] && options+=(--lazy)
    if [[ -n ${TALK_OUT:-} ]]; then
        "$PEER" "${options[@]}" 127.0.0.1 "$PORT" "$@" \
            >"$TALK_OUT" 2>"$LOGS/.talk.err" 3>&- 4>&- && status=0 || status=$?
        lab_slurp "$LOGS/.talk.err"
        stderr=$LAB_SLURP
        output=""
    else
        lab_run "$PEER" "${options[@]}" 127.0.0.1 "$PORT" "$@" 3>&- 4>&-
    fi
    if ((status != 0)); then
        went_wrong "the conversation with the server went wrong" "$stderr"
        fail "$WENT_WRONG"
        return 1
    fi
}

# peer_says WHAT MESSAGE: MESSAGE (from peer) after WHAT and a colon; but
# a message that starts "peer: timeout: " stands alone, without "peer: ":
# the failure then starts with what did not happen.
peer_says() {
    if [[ $2 =~ ^[a-z0-9-]+:\ timeout:\  ]]; then
        printf 'timeout: %s' "${2#*: timeout: }"
    else
        printf '%s:\n%s' "$1" "$2"
    fi
}

# went_wrong WHAT MESSAGE: sets WENT_WRONG to the failure message of a
# conversation (WHAT, e.g. "the conversation with the server went wrong")
# whose tool said MESSAGE. If the server has ended meanwhile with a status
# other than 0, that comes first: a crash, or a TODO of this test's step or
# an earlier one, explains the rest. A TODO of a later step comes after:
# the conversation went wrong before the server got that far. (Status 0:
# the test may have stopped it.) Otherwise a timeout's message comes first
# (peer_says). In the test's shell, not in $(...): only it can wait for the
# server.
went_wrong() {
    local this_step=""
    [[ ${BATS_TEST_DESCRIPTION:-} =~ ^step\ ([0-9]+)\  ]] && this_step=${BASH_REMATCH[1]}
    WENT_WRONG=$(peer_says "$1" "$2")
    if [[ -n ${LAB_PID[server]:-} ]] && ! is_running server; then
        reap server
        if ((EXIT_STATUS == 3)) && [[ -n $this_step ]] && todo_step "$LOGS/server.err" &&
            ((TODO_STEP > this_step)); then
            WENT_WRONG=$(printf '%s\n(then the server %s)' "$WENT_WRONG" \
                "$(how_it_ended "$EXIT_STATUS" "$LOGS/server.err")")
        elif ((EXIT_STATUS != 0)); then
            tool_report server
            WENT_WRONG=$(printf 'the server %s\n%s:\n%s%s' "$(how_it_ended "$EXIT_STATUS" "$LOGS/server.err")" \
                "$1" "$2" "${TOOL_REPORT:+$'\n'$TOOL_REPORT}")
        fi
    fi
}

# peer_start ROLE PEER-COMMAND...: like talk, in the background (a client
# that stays connected while the test does something else). One process,
# bounded by its -T: no setsid or timeout to start.
peer_start() {
    local role=$1
    shift
    : >"$LOGS/$role.out"
    : >"$LOGS/$role.err"
    "$PEER" -T "$T_RUN" -t "$T_WAIT" 127.0.0.1 "$PORT" "$@" \
        </dev/null >"$LOGS/$role.out" 2>"$LOGS/$role.err" 3>&- 4>&- &
    LAB_PID[$role]=$!
}

# peer_wait ROLE: waits for a background peer to end; fails unless its whole
# script went as expected.
peer_wait() {
    wait_exit "$1" "$T_RUN" || return 1
    if ((EXIT_STATUS != 0)); then
        # (A peer named server plays the server: no lab server to look at.)
        local said
        said=$(cat "$LOGS/$1.err")
        if [[ $1 == server ]]; then
            fail "$(peer_says "the conversation went wrong (seen from the scripted server)" "$said")"
        else
            went_wrong "the conversation went wrong (seen from the scripted peer \"$1\")" "$said"
            fail "$WENT_WRONG"
        fi
        return 1
    fi
}

# listener_start ROLE PEER-COMMAND...: a scripted server (peer --listen) for
# testing the client; sets PORT once it listens.
listener_start() {
    local role=$1
    shift
    : >"$LOGS/$role.out"
    : >"$LOGS/$role.err"
    "$PEER" -T "$T_RUN" -t "$T_WAIT" --listen 0 "$@" \
        </dev/null >"$LOGS/$role.out" 2>"$LOGS/$role.err" 3>&- 4>&- &
    LAB_PID[$role]=$!
    server_wait_ready "$role"
    local port_var="PORT_$role"
    PORT=${!port_var}
}

# visible TEXT: TEXT in quotes, or, if it holds invisible bytes, in the
# shell's $'...' form that shows them (\r, \t, \E...).
visible() {
    if [[ $1 == *[![:print:]]* ]]; then
        printf '%q' "$1"
    else
        printf '"%s"' "$1"
    fi
}

# expect_equal WHAT EXPECTED ACTUAL: like assert_equal, but shows both
# values with invisible bytes made visible.
expect_equal() {
    if [[ $2 != "$3" ]]; then
        fail "$(printf '%s differs\n  expected: %s\n  got:      %s' "$1" "$(visible "$2")" "$(visible "$3")")"
        return 1
    fi
}

# expect_usage_error server|client ARGS...: the program must print nothing
# on stdout, a usage line on stderr, and exit 2.
expect_usage_error() {
    local program=$1
    shift
    lab_run timeout -k 2 "$T_RUN" "${JAIL[@]}" "$LAB_DIR/$program" "$@" </dev/null 3>&- 4>&-
    local shown
    shown="$program$(printf ' %q' "$@")"
    if ((status != 2)); then
        fail "$(printf '%s %s; a usage error must exit with status 2\n  stdout: %s\n  stderr: %s' \
            "$shown" "$(ran_how "$status")" "$output" "$stderr")"
        return 1
    fi
    expect_equal "stdout of $shown" "" "$output"
    if [[ $stderr != *usage* ]]; then
        fail "$(printf '%s printed no usage line on stderr; it printed: %q' "$shown" "$stderr")"
        return 1
    fi
}

# ran_how STATUS: how_it_ended for a command run by lab_run under
# timeout -k 2 T_RUN (its standard error in .run.err): 124 and 137 are
# timeout's.
ran_how() {
    if (($1 == 124 || $1 == 137)); then
        echo "did not finish within $T_RUN s (timeout)"
    else
        how_it_ended "$1" "$BATS_TEST_TMPDIR/.run.err"
    fi
}

# server_wait_started [ROLE]: like server_wait_ready, but returns 1 (with
# EXIT_STATUS set) instead of failing when the server exits first. A server
# that does neither within T_READY has no status to give: the test ends
# there, with that one message (exit: the caller's "exited" branch would
# contradict it).
server_wait_started() {
    local role=${1:-server} deadline=$((SECONDS + T_READY)) ended=""
    scan_start "$LOGS/$role.out"
    while :; do
        is_running "$role" || ended=1
        scan_listening && break
        if [[ -n $ended ]]; then
            reap "$role"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            fail "$(not_listening "$role")"
            exit 1
        fi
        lab_sleep
    done
    server_wait_ready "$role"
}

# free_port: sets PORT to a port where nothing listens (one the system just
# gave to a listener that is gone).
free_port() {
    listener_start gone expect-eof
    kill -TERM "${LAB_PID[gone]}"
    reap gone
    PORT=$PORT_gone
}

# real_client_run INPUT: sends INPUT to the server on $PORT with a real
# client program (ncat, socat or OpenBSD nc) and sets output to what came
# back. Skips, saying why, when none is installed.
real_client_run() {
    local input=$1
    if command -v ncat >/dev/null; then
        REAL_CLIENT=ncat
        run --separate-stderr timeout -k 2 "$T_RUN" ncat 127.0.0.1 "$PORT" < <(printf '%s' "$input")
    elif command -v socat >/dev/null; then
        REAL_CLIENT=socat
        run --separate-stderr timeout -k 2 "$T_RUN" socat - "TCP:127.0.0.1:$PORT" < <(printf '%s' "$input")
    elif nc -h 2>&1 | grep -q 'Shutdown the network socket after EOF'; then
        REAL_CLIENT="nc -N"
        run --separate-stderr timeout -k 2 "$T_RUN" nc -N 127.0.0.1 "$PORT" < <(printf '%s' "$input")
    else
        skip "no real client installed: install ncat, socat or netcat-openbsd to run this test"
    fi
    if ((status != 0)); then
        fail "$(printf '%s exited with status %s\n  its output: %q\n  its errors: %s' \
            "$REAL_CLIENT" "$status" "$output" "$stderr")"
        return 1
    fi
}

# real_listener_start: a real server program (socat) that answers OK to each
# line and bye to fin, on a port the system chooses; sets PORT. Skips, saying
# why, when socat is not installed.
real_listener_start() {
    command -v socat >/dev/null || skip "socat is not installed: install it to run this test"
    cat >"$LOGS/answerer" <<'SCRIPT'
#!/bin/sh
# Answers like the lab01 server: OK to each line, bye to fin.
while IFS= read -r line; do
    case $line in
        [Ff][Ii][Nn]) echo bye; exit 0 ;;
        *) echo OK ;;
    esac
done
SCRIPT
    chmod +x "$LOGS/answerer"
    setsid socat -d -d TCP-LISTEN:0,bind=127.0.0.1 "EXEC:$LOGS/answerer" \
        </dev/null >"$LOGS/listener.out" 2>"$LOGS/listener.err" 3>&- 4>&- &
    LAB_PID[listener]=$!
    local deadline=$((SECONDS + T_READY)) line
    until line=$(grep -m1 -oE 'listening on .*:[0-9]+$' "$LOGS/listener.err"); do
        if ! is_running listener; then
            reap listener
            fail "$(printf 'socat %s before listening\n%s' "$(how_it_ended "$EXIT_STATUS")" "$(describe_logs listener)")"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            fail "$(printf 'timeout: socat did not start listening within %s s\n%s' "$T_READY" "$(describe_logs listener)")"
            return 1
        fi
        lab_sleep
    done
    PORT=${line##*:}
}

# expect_help server|client: -h and --help (anywhere on the command line)
# print the usage on stdout, nothing on stderr, and exit 0.
expect_help() {
    local program=$1 option
    for option in -h --help; do
        lab_run timeout -k 2 "$T_RUN" "${JAIL[@]}" "$LAB_DIR/$program" "$option" </dev/null 3>&- 4>&-
        if ((status != 0)) || [[ $output != *usage* ]] || [[ -n $stderr ]]; then
            fail "$(printf '%s %s must print the usage on stdout and exit 0; it %s\n  stdout: %s\n  stderr: %s' \
                "$program" "$option" "$(ran_how "$status")" "$(visible "$output")" "$(visible "$stderr")")"
            return 1
        fi
    done
}

# expect_bind_in_use: with a port held by a scripted listener, the server
# must print exactly "bind: Address already in use" on stderr, nothing on
# stdout, exit 1, and leave nothing open or allocated. Twice, with two
# ports: a server that binds the wrong port (no htons()) may find that one
# taken too, by chance, on a busy machine; not twice.
expect_bind_in_use() {
    local round
    for round in "" _again; do
        listener_start "holder$round" expect-eof
        server_start --role "server$round" "$PORT"
        wait_exit "server$round" "$T_RUN" "with its port taken" || return 1
        if ((EXIT_STATUS != 1)); then
            fail "$(printf 'with its port taken, the server should exit with status 1; it %s\n%s' \
                "$(how_it_ended "$EXIT_STATUS" "$LOGS/server$round.err")" "$(describe_logs "server$round")")"
            return 1
        fi
        expect_equal "server's stderr" "bind: Address already in use" "$(cat "$LOGS/server$round.err")" || return 1
        expect_equal "server's stdout" "" "$(cat "$LOGS/server$round.out")" || return 1
        check_tool_logs "server$round" || return 1
    done
}

# expect_same_lines WHAT EXPECTED-FILE ACTUAL-FILE: for long texts; shows the
# first lines of the difference.
expect_same_lines() {
    if ! cmp -s "$2" "$3"; then
        fail "$(printf '%s differs (diff expected got, first lines):\n%s' "$1" \
            "$(diff -a "$2" "$3" | head -n 20 | cut -c 1-200 | cat -v)")"
        return 1
    fi
}

# report_time WHAT START: prints "# WHAT: N.NN s" in the test output, START
# being an earlier $EPOCHREALTIME.
report_time() {
    [[ -n ${EPOCHREALTIME:-} ]] || return 0 # bash 4 and older
    awk -v what="$1" -v start="$2" -v end="$EPOCHREALTIME" 'BEGIN {
        gsub(",", ".", start); gsub(",", ".", end)
        printf "# %s: %.2f s\n", what, end - start }' >&3
}

# plain_only: skips a load test (thousands of clients or millions of lines)
# under Valgrind or a sanitizer, saying so. Those passes look for memory and
# thread errors in the functional tests, with every bound scaled; the load
# itself is checked in the plain pass, where its figures mean something.
plain_only() {
    if [[ ${VALGRIND:-0} != 0 || -n ${SANITIZE:-} ]]; then
        skip "a load test: run in the plain pass only (no VALGRIND, no SANITIZE)"
    fi
}

# require_ipv6_loopback: skips the test, saying why, when this machine has no
# IPv6 loopback address (::1), as in some containers.
require_ipv6_loopback() {
    if [[ -r /proc/net/if_inet6 ]] && ! grep -q '^0\{31\}1 ' /proc/net/if_inet6; then
        skip "this machine has no IPv6 loopback address (::1)"
    fi
}

# --- lab01: EINTR injection ---
# strace(1) can make one system call of a running server fail with EINTR,
# as a signal would, without any signal (strace -e inject=...): the way to
# check that an interrupted call is resumed and loses nothing.

# require_strace: skips the test, saying why, unless strace is installed and
# may trace here (ptrace can be forbidden, in a container for one).
require_strace() {
    command -v strace >/dev/null || skip "strace is not installed: install it to inject EINTR"
    strace -o /dev/null true 2>/dev/null ||
        skip "strace cannot trace here: $(strace -o /dev/null true 2>&1 | head -n 1)"
}

# strace_server_start_ready ARGS...: server_start_ready for strace_attach.
# Under Valgrind: --fair-sched=yes, because Valgrind's default scheduler lock
# is a pipe it reads around each system call, and strace would count those
# reads with the server's.
strace_server_start_ready() {
    VALGRIND_OPTS="${VALGRIND_OPTS:+$VALGRIND_OPTS }--fair-sched=yes" server_start_ready "$@"
}

# strace_attach INJECTION...: attaches strace to the running server; each
# INJECTION is an `-e inject=` expression (read:error=EINTR:when=2 makes the
# 2nd read fail). Calls are counted from the attachment on, so the reads of
# the start-up (the loader's, Valgrind's, a sanitizer's) do not count. The
# server's read, recv, recvfrom, send and sendto calls are logged in
# $LOGS/strace.out.
# Returns once strace is attached; skips the test if it may not attach here.
strace_attach() {
    local args=(-o "$LOGS/strace.out" -e 'trace=read,?recv,recvfrom,?send,sendto') injection
    local pid=${LAB_PID[server]} deadline=$((SECONDS + T_READY))
    for injection; do
        args+=(-e "inject=$injection")
    done
    : >"$LOGS/strace.out"
    : >"$LOGS/strace.err"
    setsid strace "${args[@]}" -p "$pid" </dev/null >/dev/null 2>"$LOGS/strace.err" 3>&- 4>&- &
    LAB_PID[strace]=$!
    until grep -q "Process $pid attached" "$LOGS/strace.err"; do
        if ! is_running server; then
            fail "$(printf 'the server exited before strace could attach\n%s' "$(describe_logs server)")"
            return 1
        fi
        if ! is_running strace; then
            reap strace
            local why yama=/proc/sys/kernel/yama/ptrace_scope
            why=$(head -n 1 "$LOGS/strace.err")
            if [[ -r $yama ]] && (($(cat "$yama") > 0)); then
                why+=" (kernel.yama.ptrace_scope is $(cat "$yama"): only root may attach)"
            fi
            skip "strace cannot attach to a running server here: $why"
        fi
        if ((SECONDS >= deadline)); then
            fail "timeout: strace did not attach to the server within $T_READY s"
            return 1
        fi
        lab_sleep
    done
}

# strace_detach: makes strace let go of the server, which runs on. Call it
# before the server ends: a sanitizer's leak check fails in a traced process.
strace_detach() {
    kill -TERM "${LAB_PID[strace]}" 2>/dev/null || true # gone with the server
    wait_exit strace "$T_STOP"
}

# expect_injected CALLS [AFTER]: strace's log must show one of CALLS (an
# extended regex: 'send|sendto') failing with the injected EINTR and, if
# AFTER is given, the call of those just before it holding the text AFTER.
# Otherwise the injection missed its mark and the test proved nothing.
expect_injected() {
    # Through the environment: awk -v would turn the \n of AFTER into a newline.
    if ! CALLS="^($1)[(]" AFTER=${2:-} awk '
            $0 !~ ENVIRON["CALLS"] { next }
            /= -1 EINTR .*[(]INJECTED[)]/ && (ENVIRON["AFTER"] == "" || index(previous, ENVIRON["AFTER"])) { found = 1 }
            { previous = $0 }
            END { exit !found }' "$LOGS/strace.out"; then
        fail "$(printf 'strace injected no EINTR into %s%s; its log:\n%s' "$1" \
            "${2:+ right after $2}" "$(tail -n 20 "$LOGS/strace.out" | sed 's/^/  /')")"
        return 1
    fi
}

# --- CPU time and descriptor limits of a running server (Linux /proc) ---

# cpu_ms ROLE: CPU time (user + system) the process has used so far, in ms
# (/proc/PID/stat fields 14 and 15, in clock ticks).
cpu_ms() {
    local stat fields
    read -r stat <"/proc/${LAB_PID[$1]}/stat" || return 1
    read -ra fields <<<"${stat##*) }"
    echo $(((fields[11] + fields[12]) * 1000 / $(getconf CLK_TCK)))
}

# expect_no_spin SECONDS WHEN [ADVICE]: over SECONDS s the server, still
# running, uses under 100 ms of CPU; prints what it used. The wait is the
# measurement itself (no event is awaited): a server that spins (on a
# readable listener it cannot serve, say) uses CPU here. WHEN says when
# ("while full"), ADVICE what to do about a spin.
expect_no_spin() {
    local seconds=$1 when=$2 advice=${3:-} before after
    before=$(cpu_ms server)
    sleep "$seconds"
    if ! is_running server; then
        wait_exit server "$T_STOP" || return 1
        fail "$(printf 'the server %s %s\n%s' "$(how_it_ended "$EXIT_STATUS" "$LOGS/server.err")" \
            "$when" "$(describe_logs server)")"
        return 1
    fi
    after=$(cpu_ms server)
    echo "# $when, $seconds s: $((after - before)) ms of CPU" >&3
    ((after - before < 100)) ||
        fail "the server used $((after - before)) ms of CPU in $seconds s $when: it spins${advice:+ ($advice)}"
}

# proc_field ROLE FIELD: a field of the role's /proc/PID/status (Threads,
# VmRSS in kB), or nothing.
proc_field() {
    local key value _
    [[ -r /proc/${LAB_PID[$1]}/status ]] || return 0
    while read -r key value _; do
        if [[ $key == "$2:" ]]; then
            echo "$value"
            return 0
        fi
    done <"/proc/${LAB_PID[$1]}/status"
}

# needs_prlimit: skips, saying why, unless the test can see the server's
# descriptors and CPU time (Linux's /proc) and change its descriptor limit
# while it runs (prlimit).
needs_prlimit() {
    [[ -r /proc/self/stat && -d /proc/self/fd ]] || skip "needs Linux's /proc to see the server's descriptors and CPU time"
    command -v prlimit >/dev/null || skip "needs prlimit (util-linux) to lower the running server's descriptor limit"
}

# server_lose_descriptors: lowers the running server's descriptor limit to
# the lowest number it has free, or to its spare descriptor (on /dev/null)
# if that is lower: every number below the limit is taken, and so is the
# spare's. Then even a freed spare cannot be reopened (EMFILE: the spare is
# unavailable), as when another process takes it (ENFILE) or another thread
# does. Keeps the old limit in OLD_LIMIT for server_regain_descriptors.
server_lose_descriptors() {
    local pid=${LAB_PID[server]} fd path spare="" lowest=0 limit open=()
    # (A sparse array lists its indexes in order: the open ones, sorted.)
    for path in /proc/"$pid"/fd/*; do
        open[${path##*/}]=1
    done
    for fd in "${!open[@]}"; do
        ((fd == lowest)) && lowest=$((fd + 1))
        if ((fd > 2)) && [[ -z $spare && /proc/$pid/fd/$fd -ef /dev/null ]]; then spare=$fd; fi
    done
    limit=$lowest
    [[ -n $spare ]] && ((spare < limit)) && limit=$spare
    OLD_LIMIT=$(prlimit --pid "$pid" --nofile --output SOFT --noheadings | tr -d ' ')
    prlimit --pid "$pid" --nofile="$limit:" || skip "prlimit may not change the server's limit here"
    echo "# descriptor limit lowered from $OLD_LIMIT to $limit (lowest free $lowest, spare ${spare:-none})" >&3
}

# server_regain_descriptors: gives the server its old descriptor limit back.
server_regain_descriptors() {
    prlimit --pid "${LAB_PID[server]}" --nofile="$OLD_LIMIT:"
}
