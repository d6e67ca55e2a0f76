/* lab03, step 4: the tests of the answer queue (outbuf.c) alone.
 *
 * What it tests: queue_test SCENARIO calls the lab's outbuf_append() and
 * outbuf_flush() on one end of a socket pair and reads the other end.
 * The sending end is non-blocking with a small buffer, so that it fills up
 * soon. The scenarios: in-order, full, room, gone (see main). Prints what
 * went wrong on stderr and exits 1; exits 0 if all went as the contract in
 * outbuf.h says.
 *
 * How it is built: not by this folder's Makefile. queue_test in
 * tests/lab03-select.bats compiles it, for each test, with the outbuf.c of
 * the lab under test (LAB_DIR: your lab03-select/ or the solution's):
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -g [-fsanitize=...]
 *      -I LAB_DIR -o queue_test lab03-outbuf-unit.c LAB_DIR/outbuf.c
 * then runs it (under Valgrind in that mode). It builds without a warning
 * with the labs' own flags too (-Wextra -Wpedantic -Wshadow -Wformat=2). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "outbuf.h"

#define BOUND_SECONDS 3          /* one call that takes longer waits: a failure */
#define STREAM_MAX (8 * OUTBUF_SIZE) /* bytes a scenario sends, at most */

static struct {
    struct outbuf ob;
    unsigned char guard[4096];   /* stays 0: nothing may be written past data */
} queue;
static int reader_fd = -1;
static char expected[STREAM_MAX]; /* every byte sent, in order */
static size_t expected_len;
static char received[STREAM_MAX]; /* every byte the reader got */
static size_t received_len;

static void fail(const char *what)
{
    fprintf(stderr, "%s\n", what);
    exit(1);
}

static void on_alarm(int signal_number)
{
    static const char message[] = "outbuf_flush() did not return within 3 s: it waits\n";

    (void)signal_number;
    (void)!write(STDERR_FILENO, message, sizeof message - 1);
    _exit(1);
}

/* Opens the socket pair: the queue sends on a non-blocking end whose
 * buffer is as small as the system allows. */
static void open_pair(void)
{
    int fds[2], size = 4096;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1
        || setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == -1
        || fcntl(fds[0], F_SETFL, O_NONBLOCK) == -1 || fcntl(fds[1], F_SETFL, O_NONBLOCK) == -1)
        fail("the test could not open its socket pair");
    outbuf_init(&queue.ob, fds[0]);
    reader_fd = fds[1];
}

/* Appends len bytes of a recognisable pattern and checks the queue after. */
static void append(size_t len)
{
    char bytes[OUTBUF_SIZE];
    size_t pending = outbuf_pending(&queue.ob), i;
    char message[200];

    if (expected_len + len > STREAM_MAX)
        fail("the test sends too much");
    for (i = 0; i < len; i++)
        bytes[i] = (char)('a' + (expected_len + i) % 26);
    memcpy(expected + expected_len, bytes, len);
    expected_len += len;
    outbuf_append(&queue.ob, bytes, len);
    if (queue.ob.queued > OUTBUF_SIZE || queue.guard[0] != 0) {
        snprintf(message, sizeof message,
                 "after outbuf_append() of %zu bytes with %zu waiting, queued is %zu: past the "
                 "end of data (OUTBUF_SIZE %d); move the unsent bytes to the front first",
                 len, pending, queue.ob.queued, OUTBUF_SIZE);
        fail(message);
    }
    if (outbuf_pending(&queue.ob) != pending + len) {
        snprintf(message, sizeof message,
                 "after outbuf_append() of %zu bytes with %zu waiting, %zu are waiting; expected %zu",
                 len, pending, outbuf_pending(&queue.ob), pending + len);
        fail(message);
    }
}

/* outbuf_flush(), bounded: it must return 0 while the peer is there. */
static void flush(void)
{
    char message[200];
    int result;

    alarm(BOUND_SECONDS);
    result = outbuf_flush(&queue.ob);
    alarm(0);
    if (result != 0) {
        snprintf(message, sizeof message,
                 "outbuf_flush() returned %d (%s) while the peer is there and reading; expected 0",
                 result, strerror(errno));
        fail(message);
    }
}

/* Reads at most max bytes of what the reader end holds now. */
static void take(size_t max)
{
    ssize_t got;

    while (max > 0 && received_len < STREAM_MAX) {
        got = read(reader_fd, received + received_len,
                   max < STREAM_MAX - received_len ? max : STREAM_MAX - received_len);
        if (got <= 0)
            return;
        received_len += (size_t)got;
        max -= (size_t)got;
    }
}

/* Flushes and reads until everything appended has arrived, then compares. */
static void deliver_all(void)
{
    struct pollfd readable = { .fd = 0, .events = POLLIN, .revents = 0 };
    int rounds;
    char message[200];
    size_t i;

    readable.fd = reader_fd;
    for (rounds = 0; received_len < expected_len && rounds < 100000; rounds++) {
        flush();
        take(STREAM_MAX);
        if (received_len < expected_len && outbuf_pending(&queue.ob) == 0
            && poll(&readable, 1, 1000) == 0)
            break;
    }
    if (outbuf_pending(&queue.ob) != 0) {
        snprintf(message, sizeof message,
                 "%zu bytes still wait after outbuf_flush() while the peer read everything",
                 outbuf_pending(&queue.ob));
        fail(message);
    }
    for (i = 0; i < received_len && i < expected_len; i++)
        if (received[i] != expected[i])
            break;
    if (i < received_len || received_len != expected_len) {
        snprintf(message, sizeof message,
                 "the peer received %zu bytes, %zu expected; the first %zu are right "
                 "(bytes lost, sent twice or out of order)",
                 received_len, expected_len, i);
        fail(message);
    }
}

/* Fills the socket with bytes of its own until it takes no more. */
static void fill_socket(void)
{
    char bytes[1024];
    ssize_t sent;
    size_t i;

    for (;;) {
        for (i = 0; i < sizeof bytes; i++)
            bytes[i] = (char)('a' + (expected_len + i) % 26);
        sent = send(queue.ob.fd, bytes, sizeof bytes, 0);
        if (sent == -1)
            break;
        memcpy(expected + expected_len, bytes, (size_t)sent);
        expected_len += (size_t)sent;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        fail("the test could not fill its socket");
}

int main(int argc, char *argv[])
{
    const char *scenario = argc == 2 ? argv[1] : "";
    char message[200];
    int round;

    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN); /* as the server does: EPIPE instead */
    open_pair();
    if (strcmp(scenario, "in-order") == 0) {
        /* Three answers, sent at once (they fit), in order; then nothing. */
        append(19);
        append(4);
        append(18);
        flush();
        if (outbuf_pending(&queue.ob) != 0)
            fail("41 bytes still wait after outbuf_flush() on an empty socket: send them all");
        flush();
        take(STREAM_MAX);
        deliver_all();
    } else if (strcmp(scenario, "full") == 0) {
        /* A full socket: outbuf_flush() returns at once, the bytes wait. */
        fill_socket();
        append(1000);
        flush();
        if (outbuf_pending(&queue.ob) == 0)
            fail("outbuf_flush() on a full socket says all was sent: what send() did not take must wait");
        deliver_all();
    } else if (strcmp(scenario, "room") == 0) {
        /* The queue full to OUTBUF_SIZE again and again while the socket
         * takes a little at a time: the unsent bytes must move to the front. */
        for (round = 0; round < 40; round++) {
            append(OUTBUF_SIZE - outbuf_pending(&queue.ob));
            take(STREAM_MAX);
            flush();
            if (outbuf_pending(&queue.ob) == OUTBUF_SIZE) {
                snprintf(message, sizeof message,
                         "outbuf_flush() sent nothing of %d bytes to an empty socket", OUTBUF_SIZE);
                fail(message);
            }
        }
        deliver_all();
    } else if (strcmp(scenario, "gone") == 0) {
        /* The peer closes: the next outbuf_flush() says it is gone. */
        append(100);
        close(reader_fd);
        reader_fd = -1;
        alarm(BOUND_SECONDS);
        if (outbuf_flush(&queue.ob) != -1)
            fail("outbuf_flush() to a peer that closed returned 0; expected -1 (EPIPE)");
        alarm(0);
        if (errno != EPIPE && errno != ECONNRESET) {
            snprintf(message, sizeof message,
                     "outbuf_flush() to a peer that closed returned -1 with errno %s; expected EPIPE",
                     strerror(errno));
            fail(message);
        }
    } else {
        fail("usage: queue_test in-order|full|room|gone");
    }
    close(queue.ob.fd);
    if (reader_fd != -1)
        close(reader_fd);
    return 0;
}
