/* test_net.c - unit tests for net.c, the send loop send_all().
 * A socketpair stands for the connection: a forked child reads it slowly
 * (small reads, short pauses) and checks every byte, while a SIGALRM handler
 * installed without SA_RESTART fires every 10 ms, so that a blocked send()
 * returns fewer bytes than asked, or -1 with EINTR.
 * Prints one line per failure and ends with "N passed, N failed"; exits 0
 * only if none failed. Leaves out TCP (a socketpair is a byte stream too).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

/* How long one scenario may take before the test gives up on it, in seconds
 * (Valgrind makes a scenario about ten times slower than the 0.1 s it takes). */
#define SCENARIO_SECONDS 10
/* The interval of the SIGALRM that interrupts send(), in microseconds. Not
 * much shorter: under Valgrind, checking a 1 MB buffer before each send()
 * takes about 1 ms, and a signal during it restarts the send() from scratch. */
#define TICK_US 10000
/* The sender's socket buffer, in bytes: small, so that send() blocks often. */
#define SMALL_SNDBUF 4096
/* The slow reader: bytes per read(), and the pause after each one. */
#define READ_SIZE 4096
#define READ_PAUSE_NS 200000L
/* One megabyte, the largest message sent. */
#define MEGABYTE (1024 * 1024)

/* What the reader child saw, sent back to the parent through a pipe. */
struct reading {
    size_t received;        /* bytes read before end of file */
    size_t mismatch_at;     /* offset of the first wrong byte, or SIZE_MAX */
    unsigned char got;      /* that byte... */
    unsigned char wanted;   /* ...and the one expected there */
};

/* How the reader child behaves. */
enum reader_kind {
    READ_ALL,               /* reads slowly until end of file */
    READ_AFTER_SIGNAL,      /* reads nothing until the parent's first SIGALRM */
    READ_THEN_LEAVE,        /* reads a little, then closes its end */
};

static int tests_passed = 0;
static int tests_failed = 0;

/* Set for the scenario running; read by the SIGALRM handler. */
static const char *volatile current_scenario = "";
static volatile sig_atomic_t ticks = 0;          /* SIGALRMs so far */
static volatile sig_atomic_t signal_fd = -1;     /* first tick writes a byte here */
static struct timespec deadline;                 /* set before the timer runs */

/* The byte at offset i of every message: a period of 251 (a prime) so that a
 * piece sent twice, skipped or out of order shows as a wrong byte. */
static unsigned char pattern_byte(size_t i)
{
    return (unsigned char)(i % 251);
}

/* Writes text to standard output from a signal handler, where write() is
 * safe and printf() is not. A failure could not be reported anyway. */
static void write_text(const char *text)
{
    ssize_t written = write(STDOUT_FILENO, text, strlen(text));

    (void)written;
}

/* SIGALRM: counts the tick, wakes a waiting reader on the first one, and
 * gives up if the scenario runs past its deadline (send_all() blocked or
 * looped forever). Async-signal-safe calls only. */
static void on_alarm(int signo)
{
    int saved_errno = errno;
    struct timespec now;
    ssize_t written;

    (void)signo;
    ticks++;
    if (signal_fd >= 0) {
        written = write(signal_fd, "!", 1);
        (void)written;
        signal_fd = -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > deadline.tv_sec
        || (now.tv_sec == deadline.tv_sec && now.tv_nsec > deadline.tv_nsec)) {
        write_text("FAIL ");
        write_text(current_scenario);
        write_text(": still running after the time allowed (send_all() blocked or "
                   "looped forever), giving up\n");
        _exit(1);
    }
    errno = saved_errno;
}

/* Starts (interval_us > 0) or stops (0) the SIGALRM ticks. */
static void set_ticks(long interval_us)
{
    struct itimerval timer;

    memset(&timer, 0, sizeof timer);
    timer.it_interval.tv_usec = interval_us;
    timer.it_value.tv_usec = interval_us;
    setitimer(ITIMER_REAL, &timer, NULL);
}

/* Sleeps ns nanoseconds (less than a second), even if signals interrupt it. */
static void pause_ns(long ns)
{
    struct timespec left = { 0, ns };

    while (nanosleep(&left, &left) == -1 && errno == EINTR)
        ;
}

/* read() that a signal cannot cut short. */
static ssize_t read_again(int fd, void *buf, size_t len)
{
    ssize_t n;

    do {
        n = read(fd, buf, len);
    } while (n == -1 && errno == EINTR);
    return n;
}

/* The child's part: reads socket fd as kind says, checks every byte against
 * the pattern, reports to result_fd, exits. Never returns. */
static void run_reader(int fd, enum reader_kind kind, int wake_fd, int result_fd)
{
    struct reading seen;
    unsigned char buf[READ_SIZE];
    char wake;
    ssize_t n, i;

    memset(&seen, 0, sizeof seen); /* its padding goes through the pipe too */
    seen.mismatch_at = SIZE_MAX;
    if (kind == READ_AFTER_SIGNAL && read_again(wake_fd, &wake, 1) != 1)
        _exit(2); /* the parent gave up before its first tick */
    for (;;) {
        n = read_again(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (i = 0; i < n; i++) {
            if (seen.mismatch_at == SIZE_MAX && buf[i] != pattern_byte(seen.received + (size_t)i)) {
                seen.mismatch_at = seen.received + (size_t)i;
                seen.got = buf[i];
                seen.wanted = pattern_byte(seen.mismatch_at);
            }
        }
        seen.received += (size_t)n;
        if (kind == READ_THEN_LEAVE && seen.received >= 3 * READ_SIZE)
            break;
        pause_ns(READ_PAUSE_NS);
    }
    close(fd);
    if (wake_fd >= 0)
        close(wake_fd);
    n = write(result_fd, &seen, sizeof seen);
    close(result_fd); /* Valgrind's --track-fds checks the child too */
    _exit(n == (ssize_t)sizeof seen ? 0 : 2);
}

/* The sending side of a scenario. */
struct rig {
    int writer_fd;          /* the end send_all() writes to */
    int result_fd;          /* the reader's report */
    int wake_fd;            /* READ_AFTER_SIGNAL: the handler writes here */
    pid_t reader;           /* the child, or -1 */
};

/* Counts one check and prints its failure, if any. */
static void check(int ok, const char *scenario, const char *what)
{
    if (ok) {
        tests_passed++;
        return;
    }
    tests_failed++;
    printf("FAIL %s: %s\n", scenario, what);
}

/* Opens the socketpair (a small send buffer on the writer's end) and forks
 * the reader child. Returns 0, or -1 after printing why. */
static int rig_open(struct rig *rig, enum reader_kind kind)
{
    int pair[2], results[2], wake[2] = { -1, -1 };
    int small = SMALL_SNDBUF;

    rig->reader = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1 || pipe(results) == -1
        || (kind == READ_AFTER_SIGNAL && pipe(wake) == -1)) {
        printf("FAIL %s: set-up: %s\n", current_scenario, strerror(errno));
        tests_failed++;
        return -1;
    }
    setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    fflush(stdout); /* the child must not print the parent's buffered text */
    rig->reader = fork();
    if (rig->reader == -1) {
        printf("FAIL %s: set-up: fork: %s\n", current_scenario, strerror(errno));
        tests_failed++;
        return -1;
    }
    if (rig->reader == 0) {
        close(pair[1]);
        close(results[0]);
        if (wake[1] >= 0)
            close(wake[1]);
        run_reader(pair[0], kind, wake[0], results[1]);
    }
    close(pair[0]);
    close(results[1]);
    if (wake[0] >= 0)
        close(wake[0]);
    rig->writer_fd = pair[1];
    rig->result_fd = results[0];
    rig->wake_fd = wake[1];
    return 0;
}

/* Closes the writer's end (the reader sees end of file), collects the
 * reader's report into *seen and the child itself. Returns 0, or -1 if the
 * reader did not report. */
static int rig_close(struct rig *rig, struct reading *seen)
{
    int status = 0;
    ssize_t n;

    signal_fd = -1;
    if (rig->wake_fd >= 0)
        close(rig->wake_fd);    /* a reader still waiting to start gives up */
    close(rig->writer_fd);
    n = read_again(rig->result_fd, seen, sizeof *seen);
    close(rig->result_fd);
    while (waitpid(rig->reader, &status, 0) == -1 && errno == EINTR)
        ;
    return n == (ssize_t)sizeof *seen && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Starts a scenario: its name for the messages, its deadline, its ticks. */
static void scenario_begin(const char *name, long tick_us)
{
    current_scenario = name;
    ticks = 0;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += SCENARIO_SECONDS;
    set_ticks(tick_us);
}

/* A message of len pattern bytes, or NULL after printing why. */
static unsigned char *make_message(size_t len)
{
    unsigned char *message = malloc(len > 0 ? len : 1);
    size_t i;

    if (message == NULL) {
        printf("FAIL %s: set-up: out of memory\n", current_scenario);
        tests_failed++;
        return NULL;
    }
    for (i = 0; i < len; i++)
        message[i] = pattern_byte(i);
    return message;
}

/* Checks what the reader saw: all len bytes, in order, nothing more. */
static void check_reading(const char *name, const struct reading *seen, size_t len)
{
    char what[200];

    if (seen->mismatch_at != SIZE_MAX) {
        snprintf(what, sizeof what,
                 "byte %zu arrived as 0x%02x, expected 0x%02x (a piece sent twice, "
                 "skipped or out of order: send the rest from where send() stopped)",
                 seen->mismatch_at, seen->got, seen->wanted);
        check(0, name, what);
        return;
    }
    snprintf(what, sizeof what, "%zu bytes arrived, expected %zu", seen->received, len);
    check(seen->received == len, name, what);
}

/* Sends len bytes with send_all() to a slow reader, under the ticks; the
 * reader must get them all, in order, and send_all() must return 0. */
static void test_send(const char *name, size_t len)
{
    struct rig rig;
    struct reading seen;
    unsigned char *message;
    char what[200];
    int result, error;

    scenario_begin(name, TICK_US);
    message = make_message(len);
    if (message == NULL || rig_open(&rig, READ_ALL) == -1) {
        set_ticks(0);
        free(message);
        return;
    }
    result = send_all(rig.writer_fd, message, len);
    error = errno;
    set_ticks(0);
    snprintf(what, sizeof what, "send_all() returned %d (%s), expected 0", result,
             result == 0 ? "no error" : strerror(error));
    check(result == 0, name, what);
    if (rig_close(&rig, &seen) == -1)
        check(0, name, "set-up: the reader did not report what it read");
    else
        check_reading(name, &seen, len);
    free(message);
}

/* The socket is full and nobody reads when SIGALRM interrupts the blocked
 * send(): it returns -1 with EINTR before taking a byte. The reader starts
 * only then; send_all() must go on and deliver everything. */
static void test_interrupted(const char *name)
{
    struct rig rig;
    struct reading seen;
    unsigned char *message;
    size_t len = 64 * 1024, before = 0, i;
    ssize_t sent;
    char what[200];
    int result, error, flags;

    scenario_begin(name, 0);
    message = make_message(len);
    if (message == NULL || rig_open(&rig, READ_AFTER_SIGNAL) == -1) {
        free(message);
        return;
    }
    /* Fill the socket without blocking: the pattern goes on from there. */
    flags = fcntl(rig.writer_fd, F_GETFL);
    fcntl(rig.writer_fd, F_SETFL, flags | O_NONBLOCK);
    for (;;) {
        unsigned char byte = pattern_byte(before);

        sent = send(rig.writer_fd, &byte, 1, 0);
        if (sent != 1)
            break;
        before++;
    }
    fcntl(rig.writer_fd, F_SETFL, flags);
    for (i = 0; i < len; i++)
        message[i] = pattern_byte(before + i);
    signal_fd = rig.wake_fd;
    set_ticks(50 * 1000); /* the first tick comes while send() is blocked */
    result = send_all(rig.writer_fd, message, len);
    error = errno;
    set_ticks(0);
    snprintf(what, sizeof what, "send_all() returned %d (%s), expected 0: a send() "
             "interrupted by a signal (EINTR) must be tried again",
             result, result == 0 ? "no error" : strerror(error));
    check(result == 0, name, what);
    check(ticks > 0, name, "set-up: no SIGALRM came during send_all()");
    if (rig_close(&rig, &seen) == -1)
        check(0, name, "set-up: the reader did not report what it read");
    else
        check_reading(name, &seen, before + len);
    free(message);
}

/* The reader closed its end before the first byte: send_all() must return
 * -1 with errno EPIPE (SIGPIPE is ignored), at once. */
static void test_reader_closed(const char *name)
{
    unsigned char *message;
    size_t len = MEGABYTE;
    char what[200];
    int pair[2], result, error;

    scenario_begin(name, TICK_US);
    message = make_message(len);
    if (message == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1) {
        if (message != NULL)
            check(0, name, "set-up: socketpair failed");
        set_ticks(0);
        free(message);
        return;
    }
    close(pair[0]);
    errno = 0;
    result = send_all(pair[1], message, len);
    error = errno;
    set_ticks(0);
    snprintf(what, sizeof what, "send_all() returned %d with errno %s, expected -1 with EPIPE",
             result, error == 0 ? "0" : strerror(error));
    check(result == -1 && error == EPIPE, name, what);
    close(pair[1]);
    free(message);
}

/* The reader leaves while we send 1 MB: send_all() must stop and return -1
 * with errno EPIPE, or ECONNRESET (the reader left unread bytes behind). */
static void test_reader_leaves(const char *name)
{
    struct rig rig;
    struct reading seen;
    unsigned char *message;
    size_t len = MEGABYTE;
    char what[200];
    int result, error;

    scenario_begin(name, TICK_US);
    message = make_message(len);
    if (message == NULL || rig_open(&rig, READ_THEN_LEAVE) == -1) {
        set_ticks(0);
        free(message);
        return;
    }
    errno = 0;
    result = send_all(rig.writer_fd, message, len);
    error = errno;
    set_ticks(0);
    snprintf(what, sizeof what, "send_all() returned %d with errno %s, expected -1 with "
             "EPIPE or ECONNRESET", result, error == 0 ? "0" : strerror(error));
    check(result == -1 && (error == EPIPE || error == ECONNRESET), name, what);
    if (rig_close(&rig, &seen) == -1)
        check(0, name, "set-up: the reader did not report what it read");
    free(message);
}

/* Not a test of send_all(): checks that the rig does what the tests below
 * count on, that send() itself takes fewer bytes than asked under the ticks
 * (it stops at the first short send). */
static void test_rig(const char *name)
{
    struct rig rig;
    struct reading seen;
    unsigned char *message;
    size_t len = MEGABYTE, done = 0, short_sends = 0, interrupted = 0;
    ssize_t sent;
    char what[200];

    scenario_begin(name, TICK_US);
    message = make_message(len);
    if (message == NULL || rig_open(&rig, READ_ALL) == -1) {
        set_ticks(0);
        free(message);
        return;
    }
    while (done < len && short_sends == 0) {
        sent = send(rig.writer_fd, message + done, len - done, 0);
        if (sent == -1 && errno == EINTR) {
            interrupted++;
            continue;
        }
        if (sent <= 0)
            break;
        if ((size_t)sent < len - done)
            short_sends++;
        done += (size_t)sent;
    }
    set_ticks(0);
    snprintf(what, sizeof what, "send() took all it was asked every time (%zu short, "
             "%zu interrupted): these tests cannot tell a send loop from one send()",
             short_sends, interrupted);
    check(short_sends > 0, name, what);
    if (rig_close(&rig, &seen) == -1)
        check(0, name, "set-up: the reader did not report what it read");
    free(message);
}

int main(void)
{
    struct sigaction action;

    /* Line-buffered, so that the failures printed survive a hung scenario. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_alarm;   /* no SA_RESTART: send() returns EINTR */
    sigaction(SIGALRM, &action, NULL);
    action.sa_handler = SIG_IGN;    /* a vanished reader gives EPIPE */
    sigaction(SIGPIPE, &action, NULL);

    test_rig("rig: send() under SIGALRM ticks takes fewer bytes than asked");
    test_send("0 bytes", 0);
    test_send("1 byte", 1);
    test_send("100003 bytes, interrupted", 100003);
    test_send("1 MB, interrupted", MEGABYTE);
    test_interrupted("a send() interrupted before it took a byte (EINTR)");
    test_reader_closed("the reader closed before the first byte (EPIPE)");
    test_reader_leaves("the reader leaves in the middle (EPIPE or ECONNRESET)");

    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
