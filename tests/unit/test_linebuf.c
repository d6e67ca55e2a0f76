/* test_linebuf.c - unit tests for linebuf.c, the buffered line reader.
 * The test holds both ends of a socketpair: it writes bytes on one end and
 * checks what the reader does with them on the other.
 *   test_linebuf fill    step 1: linebuf_fill() alone. It never calls
 *                        linebuf_next(): it sets the reader's indexes by
 *                        hand where step 2 would have moved them, and looks
 *                        at the bytes pending, data[start..fill), after
 *                        each call.
 *   test_linebuf lines   step 2: linebuf_next() and linebuf_read_line(),
 *                        reading with linebuf_fill() (step 1, done first).
 *                        The bytes queued are written without blocking
 *                        whenever the reader needs more.
 *   test_linebuf         both.
 * Prints one line per failure and ends with "N passed, N failed"; exits 0
 * only if none failed. Leaves out real TCP (a socketpair is a byte stream too).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include "linebuf.h"

/* How long the reader waits for bytes before the test calls it stuck, in ms. */
#define WAIT_MS 2000
/* How long a scenario may take before the test gives up on it, in seconds. */
#define SCENARIO_SECONDS 10
/* The same for step 1's scenarios, which are small: a longer wait means
 * linebuf_fill() waits for bytes that are not coming. */
#define FILL_SECONDS 5
/* What the first SIGALRM of the EINTR scenario writes to the reader. */
#define LATE_BYTES "late\n"

enum action_kind {
    ACT_SEND,          /* queue bytes on the writer's end */
    ACT_SEND_MANY,     /* queue count copies of one byte */
    ACT_CLOSE,         /* the writer shuts down its end once all is sent */
    ACT_FILL,          /* one linebuf_fill() must bring bytes */
    ACT_NONE,          /* linebuf_next() must give LINEBUF_NONE */
    ACT_LINE,          /* the next result (next and fill as needed) must be this line */
    ACT_LINE_MANY,     /* ... a line of count copies of one byte */
    ACT_TOO_LONG,      /* ... LINEBUF_TOO_LONG */
    ACT_READ_LINE,     /* linebuf_read_line() must give this line */
    ACT_READ_EOF,      /* linebuf_read_line() must give 0, end of file */
    ACT_PENDING,       /* linebuf_pending() must be count */
    ACT_END
};

struct action {
    enum action_kind kind;
    const char *bytes;  /* the bytes, or the one byte of the _MANY kinds */
    size_t count;       /* how many bytes */
};

/* The actions of a scenario; a literal's length counts its NUL bytes. */
#define SEND(literal)       { ACT_SEND, literal, sizeof(literal) - 1 }
#define SEND_MANY(byte, n)  { ACT_SEND_MANY, byte, n }
#define CLOSE               { ACT_CLOSE, NULL, 0 }
#define FILL                { ACT_FILL, NULL, 0 }
#define NONE                { ACT_NONE, NULL, 0 }
#define LINE(literal)       { ACT_LINE, literal, sizeof(literal) - 1 }
#define LINE_MANY(byte, n)  { ACT_LINE_MANY, byte, n }
#define TOO_LONG            { ACT_TOO_LONG, NULL, 0 }
#define READ_LINE(literal)  { ACT_READ_LINE, literal, sizeof(literal) - 1 }
#define READ_EOF            { ACT_READ_EOF, NULL, 0 }
#define PENDING(n)          { ACT_PENDING, NULL, n }
#define END                 { ACT_END, NULL, 0 }

struct scenario {
    const char *name;
    const struct action *actions;
};

static const struct scenario scenarios[] = {
    { "several lines in one write", (const struct action[]) {
        SEND("one\ntwo\nthree\n"), FILL,
        LINE("one"), LINE("two"), LINE("three"), NONE, END } },
    { "bytes pending", (const struct action[]) {
        SEND("ab\ncd"), FILL, PENDING(5), LINE("ab"), PENDING(2), NONE,
        SEND("\n"), LINE("cd"), PENDING(0), END } },
    { "read_line", (const struct action[]) {
        SEND("first\nsecond\n"), CLOSE,
        READ_LINE("first"), READ_LINE("second"), READ_EOF, END } },
    { "one line byte by byte", (const struct action[]) {
        SEND("h"), FILL, NONE, SEND("i"), FILL, NONE, SEND("!"), FILL, NONE,
        SEND("\n"), FILL, LINE("hi!"), NONE, END } },
    { "cut inside a character", (const struct action[]) {
        SEND("Caf\xC3"), FILL, NONE, SEND("\xA9\n"), FILL, LINE("Caf\xC3\xA9"),
        SEND("\xF0\x9F"), FILL, NONE, SEND("\x98\x80\n"), FILL, LINE("\xF0\x9F\x98\x80"),
        END } },
    { "carriage returns", (const struct action[]) {
        SEND("dos\r\nmid\rdle\r\n\r\ntwo\r\r\n"),
        LINE("dos"), LINE("mid\rdle"), LINE(""), LINE("two\r"),
        SEND("cut\r"), FILL, NONE, SEND("\n"), LINE("cut"), END } },
    { "NUL inside a line", (const struct action[]) {
        SEND("a\0b\n\0\n"), LINE("a\0b"), LINE("\0"), END } },
    { "empty lines", (const struct action[]) {
        SEND("\n\nx\n"), LINE(""), LINE(""), LINE("x"), END } },
    { "65535 bytes", (const struct action[]) {
        SEND_MANY("a", 65535), SEND("\n"), LINE_MANY("a", 65535), END } },
    { "65536 bytes, the limit", (const struct action[]) {
        SEND_MANY("b", 65536), SEND("\nok\n"), LINE_MANY("b", 65536), LINE("ok"), END } },
    { "65537 bytes", (const struct action[]) {
        SEND_MANY("c", 65537), SEND("\nok\n"), TOO_LONG, LINE("ok"), END } },
    { "65536 bytes and CR LF", (const struct action[]) {
        SEND_MANY("d", 65536), SEND("\r\nok\n"), LINE_MANY("d", 65536), LINE("ok"), END } },
    { "65537 bytes and CR LF", (const struct action[]) {
        SEND_MANY("e", 65537), SEND("\r\nok\n"), TOO_LONG, LINE("ok"), END } },
    { "65538 bytes, a full buffer", (const struct action[]) {
        SEND_MANY("f", 65538), SEND("\nok\n"), TOO_LONG, LINE("ok"), END } },
    { "300 KB line after a short one", (const struct action[]) {
        SEND("before\n"), SEND_MANY("g", 300000), SEND("\nok\n"), CLOSE,
        LINE("before"), TOO_LONG, LINE("ok"), READ_EOF, END } },
    { "two long lines in a row", (const struct action[]) {
        SEND_MANY("h", 70000), SEND("\n"), SEND_MANY("i", 70000), SEND("\nok\n"),
        TOO_LONG, TOO_LONG, LINE("ok"), END } },
    { "unterminated piece at end of file", (const struct action[]) {
        SEND("whole\npart"), CLOSE, READ_LINE("whole"), READ_EOF, END } },
    { "long unterminated piece at end of file", (const struct action[]) {
        SEND_MANY("j", 70000), CLOSE, TOO_LONG, READ_EOF, END } },
    { "empty stream", (const struct action[]) {
        CLOSE, READ_EOF, END } },
};

/* The two ends of a socketpair, the bytes queued for the writer's end, and
 * the reader under test. */
struct rig {
    int reader_fd, writer_fd;
    char *queue;            /* bytes to send, malloc'd */
    size_t queued, sent;
    int close_wanted, closed;
    struct linebuf reader;
};

/* What an action gave, or is expected to give. */
enum outcome_kind {
    GOT_LINE, GOT_TOO_LONG, GOT_NONE, GOT_BYTES, GOT_EOF, GOT_ERROR, GOT_STUCK, GOT_PENDING
};

struct outcome {
    enum outcome_kind kind;
    const char *bytes;      /* GOT_LINE: the line, or its one byte if repeated */
    size_t len;             /* GOT_LINE: its length; GOT_BYTES, GOT_PENDING: bytes */
    int repeated;           /* GOT_LINE: bytes[0] len times (expected only) */
    int error;              /* GOT_ERROR: errno */
};

static int tests_passed = 0;
static int tests_failed = 0;
/* The scenario running, for the alarm handler. */
static const char *volatile current_scenario = "";
/* The most bytes a reader ever held, over all scenarios. */
static size_t most_pending = 0;

/* Adds count bytes (or count copies of bytes[0] if repeated) to the queue.
 * Returns 0, or -1 if out of memory. */
static int queue_bytes(struct rig *rig, const char *bytes, size_t count, int repeated)
{
    char *bigger = realloc(rig->queue, rig->queued + count + 1);

    if (bigger == NULL)
        return -1;
    rig->queue = bigger;
    if (repeated)
        memset(rig->queue + rig->queued, bytes[0], count);
    else
        memcpy(rig->queue + rig->queued, bytes, count);
    rig->queued += count;
    return 0;
}

/* Sends as much of the queue as the socket takes without blocking; once all
 * is sent and a close was asked for, shuts the writer's end down.
 * Returns 0, or -1 on error with errno set. */
static int flush_queue(struct rig *rig)
{
    while (rig->sent < rig->queued) {
        ssize_t n = send(rig->writer_fd, rig->queue + rig->sent, rig->queued - rig->sent, 0);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;       /* the socket is full: the reader must read first */
        if (n == -1)
            return -1;
        rig->sent += (size_t)n;
    }
    if (rig->close_wanted && !rig->closed) {
        if (shutdown(rig->writer_fd, SHUT_WR) == -1)
            return -1;
        rig->closed = 1;
    }
    return 0;
}

/* Flushes the queue, waits up to WAIT_MS for the reader's end to have
 * something, then calls linebuf_fill() once. Stores what happened in *got.
 * Returns 1 if bytes came, else 0. */
static int fill_reader(struct rig *rig, struct outcome *got)
{
    struct pollfd readable = { .fd = rig->reader_fd, .events = POLLIN };
    ssize_t received;

    memset(got, 0, sizeof *got);
    if (flush_queue(rig) == -1) {
        got->kind = GOT_ERROR;
        got->error = errno;
        return 0;
    }
    if (poll(&readable, 1, WAIT_MS) <= 0) {
        got->kind = GOT_STUCK;
        return 0;
    }
    received = linebuf_fill(&rig->reader);
    if (linebuf_pending(&rig->reader) > most_pending)
        most_pending = linebuf_pending(&rig->reader);
    if (received > 0) {
        got->kind = GOT_BYTES;
        got->len = (size_t)received;
        return 1;
    }
    got->kind = received == 0 ? GOT_EOF : GOT_ERROR;
    got->error = errno;
    return 0;
}

/* Turns a linebuf_next() or linebuf_read_line() result into *got. */
static void store_result(int result, const char *line, size_t len, struct outcome *got)
{
    memset(got, 0, sizeof *got);
    if (result == LINEBUF_LINE) {
        got->kind = GOT_LINE;
        got->bytes = line;
        got->len = len;
    } else if (result == LINEBUF_TOO_LONG) {
        got->kind = GOT_TOO_LONG;
    } else if (result == LINEBUF_NONE) {
        got->kind = GOT_NONE;
    } else {
        got->kind = GOT_ERROR;
        got->error = errno;
    }
}

/* Asks for the next result, filling the reader while it has none. */
static void next_result(struct rig *rig, struct outcome *got)
{
    const char *line;
    size_t len;
    enum linebuf_result result;

    while ((result = linebuf_next(&rig->reader, &line, &len)) == LINEBUF_NONE)
        if (!fill_reader(rig, got))
            return;
    store_result((int)result, line, len, got);
}

/* Runs an action that checks something; stores what it gave in *got. */
static void run_action(struct rig *rig, const struct action *action, struct outcome *got)
{
    const char *line;
    size_t len;
    int result;

    switch (action->kind) {
    case ACT_FILL:
        fill_reader(rig, got);
        break;
    case ACT_NONE:
        result = (int)linebuf_next(&rig->reader, &line, &len);
        store_result(result, line, len, got);
        break;
    case ACT_READ_LINE:
    case ACT_READ_EOF:
        /* linebuf_read_line() blocks, so these actions come only where all
         * the bytes queued fit in the socket at once: one flush sends them. */
        flush_queue(rig);
        result = linebuf_read_line(&rig->reader, &line, &len);
        if (result == 0) {
            memset(got, 0, sizeof *got);
            got->kind = GOT_EOF;
        } else {
            store_result(result, line, len, got);
        }
        break;
    case ACT_PENDING:
        memset(got, 0, sizeof *got);
        got->kind = GOT_PENDING;
        got->len = linebuf_pending(&rig->reader);
        break;
    case ACT_LINE:
    case ACT_LINE_MANY:
    case ACT_TOO_LONG:
        next_result(rig, got);
        break;
    default:
        break;
    }
}

/* Stores in *expected what an action that checks something must give. */
static void expect_action(const struct action *action, struct outcome *expected)
{
    memset(expected, 0, sizeof *expected);
    switch (action->kind) {
    case ACT_FILL:
        expected->kind = GOT_BYTES;
        break;
    case ACT_NONE:
        expected->kind = GOT_NONE;
        break;
    case ACT_LINE_MANY:
        expected->repeated = 1;
        /* fall through */
    case ACT_LINE:
    case ACT_READ_LINE:
        expected->kind = GOT_LINE;
        expected->bytes = action->bytes;
        expected->len = action->count;
        break;
    case ACT_TOO_LONG:
        expected->kind = GOT_TOO_LONG;
        break;
    case ACT_READ_EOF:
        expected->kind = GOT_EOF;
        break;
    case ACT_PENDING:
        expected->kind = GOT_PENDING;
        expected->len = action->count;
        break;
    default:
        break;
    }
}

/* Returns 1 if got matches expected. */
static int outcome_matches(const struct outcome *expected, const struct outcome *got)
{
    size_t i;

    if (got->kind != expected->kind)
        return 0;
    if (got->kind == GOT_ERROR)
        return got->error == expected->error;
    if (got->kind == GOT_PENDING)
        return got->len == expected->len;
    if (got->kind != GOT_LINE)
        return 1;   /* GOT_BYTES: any number of bytes will do */
    if (got->len != expected->len)
        return 0;
    if (!expected->repeated)
        return memcmp(got->bytes, expected->bytes, got->len) == 0;
    for (i = 0; i < got->len; i++)
        if (got->bytes[i] != expected->bytes[0])
            return 0;
    return 1;
}

/* Prints up to 24 bytes as a C string literal, \xHH for all but printable
 * ASCII, and "..." if there are more. */
static void print_bytes(const char *bytes, size_t len)
{
    size_t i;

    putchar('"');
    for (i = 0; i < len && i < 24; i++) {
        unsigned char byte = (unsigned char)bytes[i];

        if (byte >= 0x20 && byte < 0x7F && byte != '"' && byte != '\\')
            putchar(byte);
        else
            printf("\\x%02X", byte);
    }
    printf(len > 24 ? "\"..." : "\"");
}

/* Prints an outcome in words. */
static void print_outcome(const struct outcome *outcome)
{
    switch (outcome->kind) {
    case GOT_LINE:
        printf("line ");
        if (outcome->repeated) {
            printf("of %zu x ", outcome->len);
            print_bytes(outcome->bytes, 1);
        } else {
            print_bytes(outcome->bytes, outcome->len);
            printf(" (%zu bytes)", outcome->len);
        }
        break;
    case GOT_TOO_LONG:
        printf("LINEBUF_TOO_LONG");
        break;
    case GOT_NONE:
        printf("LINEBUF_NONE");
        break;
    case GOT_BYTES:
        if (outcome->len > 0)
            printf("%zu bytes received", outcome->len);
        else
            printf("some bytes received");
        break;
    case GOT_EOF:
        printf("end of file");
        break;
    case GOT_ERROR:
        printf("error: %s", strerror(outcome->error));
        break;
    case GOT_STUCK:
        printf("nothing to read within %d ms", WAIT_MS);
        break;
    case GOT_PENDING:
        printf("%zu bytes pending", outcome->len);
        break;
    }
}

/* Writes text to standard output from a signal handler, where write() is
 * safe and printf() is not. A failure could not be reported anyway. */
static void write_text(const char *text)
{
    ssize_t written = write(STDOUT_FILENO, text, strlen(text));

    (void)written;
}

/* Set by the EINTR scenario of step 1: the first SIGALRM writes LATE_BYTES
 * there (write() is async-signal-safe), then sets it back to -1. */
static volatile sig_atomic_t late_fd = -1;

/* SIGALRM, installed without SA_RESTART. In the EINTR scenario, the first
 * one interrupts the recv() that linebuf_fill() waits in, and writes the
 * bytes it waits for. Otherwise a scenario hung (linebuf_fill() or
 * linebuf_read_line() blocked or looped forever): says which one, with
 * async-signal-safe calls only, and gives up. */
static void on_alarm(int signo)
{
    int saved_errno = errno;

    (void)signo;
    if (late_fd >= 0) {
        ssize_t written = write(late_fd, LATE_BYTES, sizeof LATE_BYTES - 1);

        (void)written;
        late_fd = -1;
        errno = saved_errno;
        return;
    }
    write_text("FAIL ");
    write_text(current_scenario);
    write_text(": still running after the time allowed, giving up\n");
    _exit(1);
}

/* Runs one scenario on a fresh socketpair; counts every checking action and
 * stops at the first that fails, printing it. */
static void run_scenario(const struct scenario *scenario)
{
    struct rig *rig = calloc(1, sizeof *rig);
    int fds[2];
    const struct action *action;
    struct outcome expected, got;

    if (rig == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1) {
        printf("FAIL %s: set-up: %s\n", scenario->name, strerror(errno));
        tests_failed++;
        free(rig);
        return;
    }
    rig->reader_fd = fds[0];
    rig->writer_fd = fds[1];
    fcntl(rig->writer_fd, F_SETFL, fcntl(rig->writer_fd, F_GETFL) | O_NONBLOCK);
    linebuf_init(&rig->reader, rig->reader_fd);
    current_scenario = scenario->name;
    alarm(SCENARIO_SECONDS);

    for (action = scenario->actions; action->kind != ACT_END; action++) {
        if (action->kind == ACT_SEND || action->kind == ACT_SEND_MANY) {
            if (queue_bytes(rig, action->bytes, action->count, action->kind == ACT_SEND_MANY) == 0)
                continue;
            printf("FAIL %s: set-up: out of memory\n", scenario->name);
            tests_failed++;
            break;
        }
        if (action->kind == ACT_CLOSE) {
            rig->close_wanted = 1;
            continue;
        }
        expect_action(action, &expected);
        run_action(rig, action, &got);
        if (outcome_matches(&expected, &got)) {
            tests_passed++;
            continue;
        }
        tests_failed++;
        printf("FAIL %s (action %ld of the scenario): expected ", scenario->name,
               (long)(action - scenario->actions) + 1);
        print_outcome(&expected);
        printf(", got ");
        print_outcome(&got);
        putchar('\n');
        break;
    }
    alarm(0);
    close(rig->reader_fd);
    close(rig->writer_fd);
    free(rig->queue);
    free(rig);
}

/* ---- step 1: linebuf_fill() alone ------------------------------------------ */

/* A reader on one end of a socketpair, the test writing on the other. */
struct fill_rig {
    int reader_fd, writer_fd;
    struct linebuf reader;
};

/* The byte at offset i of the bytes the test puts in data[] by hand: a
 * period of 251 (a prime), so that bytes moved to the wrong place show. */
static char pattern_byte(size_t i)
{
    return (char)('A' + i % 251);
}

/* Counts a check; if it failed, prints "FAIL scenario: what". Returns ok. */
static int check(int ok, const char *what)
{
    if (ok)
        tests_passed++;
    else {
        tests_failed++;
        printf("FAIL %s: %s\n", current_scenario, what);
    }
    return ok;
}

/* Starts a scenario: its name, its time limit, a fresh socketpair and a
 * reader at its start. Returns the rig, or NULL after printing why. */
static struct fill_rig *fill_begin(const char *name)
{
    struct fill_rig *rig = calloc(1, sizeof *rig);
    int fds[2];

    current_scenario = name;
    if (rig == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1) {
        check(0, "set-up: out of memory or no socketpair");
        free(rig);
        return NULL;
    }
    rig->reader_fd = fds[0];
    rig->writer_fd = fds[1];
    linebuf_init(&rig->reader, rig->reader_fd);
    alarm(FILL_SECONDS);
    return rig;
}

/* Ends a scenario. */
static void fill_end(struct fill_rig *rig)
{
    alarm(0);
    close(rig->reader_fd);
    close(rig->writer_fd);
    free(rig);
}

/* Writes len bytes on the writer's end for the reader (a socketpair holds
 * far more than these scenarios write). Returns 1, or 0 after a failure. */
static int put(struct fill_rig *rig, const char *bytes, size_t len)
{
    return check(write(rig->writer_fd, bytes, len) == (ssize_t)len, "set-up: write failed");
}

/* Fills data[start..fill) with the pattern and sets the three indexes, as
 * if step 2 had handed out data[0..start) and searched data[start..scanned). */
static void set_buffer(struct linebuf *lb, size_t start, size_t scanned, size_t fill)
{
    size_t i;

    for (i = start; i < fill; i++)
        lb->data[i] = pattern_byte(i);
    lb->start = start;
    lb->scanned = scanned;
    lb->fill = fill;
}

/* Calls linebuf_fill() once; it must return want (> 0: that many bytes,
 * 0: end of file, -1: failure with errno want_errno; EWOULDBLOCK passes for
 * EAGAIN). why says what the right answer means. Returns 1 if it did. */
static int fill_gives(struct fill_rig *rig, ssize_t want, int want_errno, const char *why)
{
    char what[400], got_text[80], want_text[80];
    ssize_t got;
    int error;

    errno = 0;
    got = linebuf_fill(&rig->reader);
    error = errno;
    if (got == want && (want != -1 || error == want_errno
                        || (want_errno == EAGAIN && error == EWOULDBLOCK))) {
        tests_passed++;
        return 1;
    }
    if (got == -1)
        snprintf(got_text, sizeof got_text, "-1 (errno %s)", error == 0 ? "0" : strerror(error));
    else
        snprintf(got_text, sizeof got_text, "%zd", got);
    if (want == -1)
        snprintf(want_text, sizeof want_text, "-1 (errno %s)", strerror(want_errno));
    else
        snprintf(want_text, sizeof want_text, "%zd", want);
    snprintf(what, sizeof what, "linebuf_fill() returned %s, expected %s: %s", got_text,
             want_text, why);
    return check(0, what);
}

/* The reader must hold exactly want[0..want_len) pending, in
 * data[start..fill), and scanned must be scanned_offset bytes after start
 * (still on the same byte). Returns 1 if so. */
static int holds(const struct fill_rig *rig, const char *want, size_t want_len,
                 size_t scanned_offset)
{
    const struct linebuf *lb = &rig->reader;
    char what[400];
    size_t i, len;

    if (lb->start > lb->fill || lb->fill > LINEBUF_SIZE || lb->scanned < lb->start
        || lb->scanned > lb->fill) {
        snprintf(what, sizeof what, "the indexes are out of order: start %zu, scanned %zu, "
                 "fill %zu (0 <= start <= scanned <= fill <= %d)", lb->start, lb->scanned,
                 lb->fill, LINEBUF_SIZE);
        return check(0, what);
    }
    len = lb->fill - lb->start;
    for (i = 0; i < len && i < want_len; i++)
        if (lb->data[lb->start + i] != want[i])
            break;
    if (i < len || i < want_len) {
        if (i == len || i == want_len)
            snprintf(what, sizeof what, "%zu bytes pending in data[start..fill), expected "
                     "%zu (the bytes received go after those pending)", len, want_len);
        else
            snprintf(what, sizeof what, "pending byte %zu (data[start + %zu]) is 0x%02X, "
                     "expected 0x%02X: bytes lost, moved to the wrong place, or written "
                     "over", i, i, (unsigned char)lb->data[lb->start + i], (unsigned char)want[i]);
        return check(0, what);
    }
    snprintf(what, sizeof what, "scanned is start + %zu, expected start + %zu: it must "
             "still point at the same byte", lb->scanned - lb->start, scanned_offset);
    return check(lb->scanned - lb->start == scanned_offset, what);
}

/* Bytes that wait are received at the end of those pending, by one recv()
 * per call: a call never waits for more than is there. */
static void fill_receives(void)
{
    struct fill_rig *rig = fill_begin("4 bytes waiting, then 3 more (one recv() per call: "
                                      "it never waits for more)");

    if (rig == NULL)
        return;
    if (put(rig, "Caf\xC3", 4) && fill_gives(rig, 4, 0, "the 4 bytes waiting")
        && holds(rig, "Caf\xC3", 4, 0) && put(rig, "\xA9\0\n", 3)
        && fill_gives(rig, 3, 0, "the 3 bytes waiting, a NUL byte among them"))
        holds(rig, "Caf\xC3\xA9\0\n", 7, 0);
    fill_end(rig);
}

/* At end of file, 0, and the bytes pending stay. */
static void fill_end_of_file(void)
{
    struct fill_rig *rig = fill_begin("end of file after 2 bytes");

    if (rig == NULL)
        return;
    if (put(rig, "ab", 2) && check(shutdown(rig->writer_fd, SHUT_WR) == 0, "set-up: shutdown")
        && fill_gives(rig, 2, 0, "the 2 bytes before the end of file") && holds(rig, "ab", 2, 0)
        && fill_gives(rig, 0, 0, "0 at end of file") && holds(rig, "ab", 2, 0))
        fill_gives(rig, 0, 0, "0 again: the end of file stays");
    fill_end(rig);
}

/* On a non-blocking socket with nothing to read: -1 with EAGAIN, at once,
 * and nothing lost. */
static void fill_would_block(void)
{
    struct fill_rig *rig = fill_begin("non-blocking socket with nothing to read (EAGAIN is "
                                      "returned, not retried)");
    int flags;

    if (rig == NULL)
        return;
    flags = fcntl(rig->reader_fd, F_GETFL);
    fcntl(rig->reader_fd, F_SETFL, flags | O_NONBLOCK);
    if (fill_gives(rig, -1, EAGAIN, "nothing to read yet, and lab03's select() loop waits "
                   "for the next bytes itself") && holds(rig, "", 0, 0)
        && put(rig, "xy", 2) && fill_gives(rig, 2, 0, "the 2 bytes waiting")
        && fill_gives(rig, -1, EAGAIN, "nothing more to read"))
        holds(rig, "xy", 2, 0);
    fill_end(rig);
}

/* A signal interrupts the recv() linebuf_fill() waits in: recv() fails with
 * EINTR, having received nothing, and must be made again. */
static void fill_interrupted(void)
{
    struct fill_rig *rig = fill_begin("a recv() interrupted by a signal (EINTR) is made again");
    struct itimerval timer;

    if (rig == NULL)
        return;
    if (!put(rig, "one", 3) || !fill_gives(rig, 3, 0, "the 3 bytes waiting")) {
        fill_end(rig);
        return;
    }
    /* The first tick comes while recv() waits, and writes the bytes it
     * waits for; a tick FILL_SECONDS later gives up. */
    memset(&timer, 0, sizeof timer);
    timer.it_value.tv_usec = 100 * 1000;
    timer.it_interval.tv_sec = FILL_SECONDS;
    late_fd = rig->writer_fd;
    setitimer(ITIMER_REAL, &timer, NULL);
    if (fill_gives(rig, sizeof LATE_BYTES - 1, 0, "a signal interrupted recv() before any "
                   "byte came (EINTR): nothing was lost, call recv() again")
        && check(late_fd == -1, "set-up: the signal never came"))
        holds(rig, "one" LATE_BYTES, 3 + sizeof LATE_BYTES - 1, 0);
    memset(&timer, 0, sizeof timer);
    setitimer(ITIMER_REAL, &timer, NULL);
    late_fd = -1;
    fill_end(rig);
}

/* Every byte handed out, up to the end of the buffer: the whole buffer is
 * free again. */
static void fill_starts_over(void)
{
    struct fill_rig *rig = fill_begin("all handed out, up to the end of the buffer "
                                      "(start == fill == LINEBUF_SIZE)");

    if (rig == NULL)
        return;
    set_buffer(&rig->reader, LINEBUF_SIZE, LINEBUF_SIZE, LINEBUF_SIZE);
    if (put(rig, "new", 3) && fill_gives(rig, 3, 0, "no byte is pending, so the whole "
                                         "buffer is free: start over at its front"))
        holds(rig, "new", 3, 0);
    fill_end(rig);
}

/* Room left at the end: the bytes received go right after those pending,
 * which stay where they are or move, but stay in order. */
static void fill_room_at_end(void)
{
    struct fill_rig *rig = fill_begin("5 bytes pending at data[5..10), room at the end");
    char want[7];
    size_t i;

    if (rig == NULL)
        return;
    set_buffer(&rig->reader, 5, 7, 10);
    for (i = 0; i < 5; i++)
        want[i] = pattern_byte(5 + i);
    memcpy(want + 5, "zz", 2);
    if (put(rig, "zz", 2) && fill_gives(rig, 2, 0, "the 2 bytes waiting"))
        holds(rig, want, sizeof want, 2);
    fill_end(rig);
}

/* The bytes pending reach the end of the buffer, with bytes handed out
 * before them: they must move to the front to make room (compaction). */
static void fill_compacts(void)
{
    struct fill_rig *rig = fill_begin("bytes pending at data[1000..LINEBUF_SIZE): move them "
                                      "to the front to make room");
    size_t pending = LINEBUF_SIZE - 1000, i;
    char *want = malloc(pending + 4);

    if (rig == NULL || want == NULL) {
        if (rig != NULL) {
            check(0, "set-up: out of memory");
            fill_end(rig);
        }
        free(want);
        return;
    }
    set_buffer(&rig->reader, 1000, 3000, LINEBUF_SIZE);
    for (i = 0; i < pending; i++)
        want[i] = pattern_byte(1000 + i);
    memcpy(want + pending, "tail", 4);
    if (put(rig, "tail", 4) && fill_gives(rig, 4, 0, "the 4 bytes waiting, once the "
                                          "pending bytes are at the front"))
        holds(rig, want, pending + 4, 2000);
    free(want);
    fill_end(rig);
}

/* Only the free space is filled; a buffer full of one unfinished line has
 * none: -1 with ENOBUFS. */
static void fill_free_space_only(void)
{
    struct fill_rig *rig = fill_begin("3 bytes free at the end, 100 waiting, then a full "
                                      "buffer (start 0)");
    size_t pending = LINEBUF_SIZE - 3, i;
    char *want = malloc(LINEBUF_SIZE), waiting[100];

    if (rig == NULL || want == NULL) {
        if (rig != NULL) {
            check(0, "set-up: out of memory");
            fill_end(rig);
        }
        free(want);
        return;
    }
    set_buffer(&rig->reader, 0, 10, pending);
    for (i = 0; i < pending; i++)
        want[i] = pattern_byte(i);
    memset(want + pending, 'x', 3);
    memset(waiting, 'x', sizeof waiting);
    if (put(rig, waiting, sizeof waiting)
        && fill_gives(rig, 3, 0, "3 bytes, all the room there is: recv() may write "
                      "LINEBUF_SIZE - fill bytes at most")
        && holds(rig, want, LINEBUF_SIZE, 10)
        && fill_gives(rig, -1, ENOBUFS, "one unfinished line fills the buffer: there is "
                      "nothing to read into"))
        holds(rig, want, LINEBUF_SIZE, 10);
    free(want);
    fill_end(rig);
}

/* Step 1's scenarios, in order. */
static void test_fill(void)
{
    fill_receives();
    fill_end_of_file();
    fill_would_block();
    fill_interrupted();
    fill_starts_over();
    fill_room_at_end();
    fill_compacts();
    fill_free_space_only();
}

/* test_linebuf [fill|lines]: step 1's tests, step 2's, or both. */
int main(int argc, char *argv[])
{
    int fill_only = argc > 1 && strcmp(argv[1], "fill") == 0;
    int lines_only = argc > 1 && strcmp(argv[1], "lines") == 0;
    struct sigaction alarm_action;
    size_t i;

    if (argc > 2 || (argc == 2 && !fill_only && !lines_only)) {
        fprintf(stderr, "usage: %s [fill|lines]\n", argv[0]);
        return 2;
    }
    /* Line-buffered, so that the failures printed survive a hung scenario. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&alarm_action, 0, sizeof alarm_action);
    sigemptyset(&alarm_action.sa_mask);
    alarm_action.sa_handler = on_alarm;   /* no SA_RESTART: a blocked recv() gives EINTR */
    sigaction(SIGALRM, &alarm_action, NULL);

    if (!lines_only)
        test_fill();
    if (!fill_only) {
        for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
            run_scenario(&scenarios[i]);

        /* The reader is its buffer and a few counters, whatever the input. */
        if (sizeof(struct linebuf) <= LINEBUF_SIZE + 64 && most_pending <= LINEBUF_SIZE) {
            tests_passed++;
        } else {
            tests_failed++;
            printf("FAIL memory bound: expected a reader of at most %d + 64 bytes holding at "
                   "most %d, got %zu bytes holding up to %zu\n",
                   LINEBUF_SIZE, LINEBUF_SIZE, sizeof(struct linebuf), most_pending);
        }
    }

    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
