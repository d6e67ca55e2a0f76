/* test_linebuf.c - unit tests for linebuf.c, the buffered line reader.
 * The test holds both ends of a socketpair: it queues bytes on one end,
 * written without blocking whenever the reader needs more, and checks step by
 * step what the reader hands out on the other end.
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
#include <sys/types.h>
#include <unistd.h>

#include "linebuf.h"

/* How long the reader waits for bytes before the test calls it stuck, in ms. */
#define WAIT_MS 2000
/* How long a scenario may take before the test gives up on it, in seconds. */
#define SCENARIO_SECONDS 10

enum step_kind {
    STEP_SEND,          /* queue bytes on the writer's end */
    STEP_SEND_MANY,     /* queue count copies of one byte */
    STEP_CLOSE,         /* the writer shuts down its end once all is sent */
    STEP_FILL,          /* one linebuf_fill() must bring bytes */
    STEP_NONE,          /* linebuf_next() must give LINEBUF_NONE */
    STEP_LINE,          /* the next result (next and fill as needed) must be this line */
    STEP_LINE_MANY,     /* ... a line of count copies of one byte */
    STEP_TOO_LONG,      /* ... LINEBUF_TOO_LONG */
    STEP_READ_LINE,     /* linebuf_read_line() must give this line */
    STEP_READ_EOF,      /* linebuf_read_line() must give 0, end of file */
    STEP_WOULD_BLOCK,   /* on a non-blocking socket with nothing to read,
                           linebuf_fill() must fail with EAGAIN */
    STEP_PENDING,       /* linebuf_pending() must be count */
    STEP_END
};

struct step {
    enum step_kind kind;
    const char *bytes;  /* the bytes, or the one byte of the _MANY kinds */
    size_t count;       /* how many bytes */
};

/* The rows of a scenario; a literal's length counts its NUL bytes. */
#define SEND(literal)       { STEP_SEND, literal, sizeof(literal) - 1 }
#define SEND_MANY(byte, n)  { STEP_SEND_MANY, byte, n }
#define CLOSE               { STEP_CLOSE, NULL, 0 }
#define FILL                { STEP_FILL, NULL, 0 }
#define NONE                { STEP_NONE, NULL, 0 }
#define LINE(literal)       { STEP_LINE, literal, sizeof(literal) - 1 }
#define LINE_MANY(byte, n)  { STEP_LINE_MANY, byte, n }
#define TOO_LONG            { STEP_TOO_LONG, NULL, 0 }
#define READ_LINE(literal)  { STEP_READ_LINE, literal, sizeof(literal) - 1 }
#define READ_EOF            { STEP_READ_EOF, NULL, 0 }
#define WOULD_BLOCK         { STEP_WOULD_BLOCK, NULL, 0 }
#define PENDING(n)          { STEP_PENDING, NULL, n }
#define END                 { STEP_END, NULL, 0 }

struct scenario {
    const char *name;
    const struct step *steps;
};

static const struct scenario scenarios[] = {
    { "several lines in one write", (const struct step[]) {
        SEND("one\ntwo\nthree\n"), FILL,
        LINE("one"), LINE("two"), LINE("three"), NONE, END } },
    { "bytes pending", (const struct step[]) {
        SEND("ab\ncd"), FILL, PENDING(5), LINE("ab"), PENDING(2), NONE,
        SEND("\n"), LINE("cd"), PENDING(0), END } },
    { "read_line", (const struct step[]) {
        SEND("first\nsecond\n"), CLOSE,
        READ_LINE("first"), READ_LINE("second"), READ_EOF, END } },
    { "one line byte by byte", (const struct step[]) {
        SEND("h"), FILL, NONE, SEND("i"), FILL, NONE, SEND("!"), FILL, NONE,
        SEND("\n"), FILL, LINE("hi!"), NONE, END } },
    { "cut inside a character", (const struct step[]) {
        SEND("Caf\xC3"), FILL, NONE, SEND("\xA9\n"), FILL, LINE("Caf\xC3\xA9"),
        SEND("\xF0\x9F"), FILL, NONE, SEND("\x98\x80\n"), FILL, LINE("\xF0\x9F\x98\x80"),
        END } },
    { "carriage returns", (const struct step[]) {
        SEND("dos\r\nmid\rdle\r\n\r\ntwo\r\r\n"),
        LINE("dos"), LINE("mid\rdle"), LINE(""), LINE("two\r"),
        SEND("cut\r"), FILL, NONE, SEND("\n"), LINE("cut"), END } },
    { "NUL inside a line", (const struct step[]) {
        SEND("a\0b\n\0\n"), LINE("a\0b"), LINE("\0"), END } },
    { "empty lines", (const struct step[]) {
        SEND("\n\nx\n"), LINE(""), LINE(""), LINE("x"), END } },
    { "65535 bytes", (const struct step[]) {
        SEND_MANY("a", 65535), SEND("\n"), LINE_MANY("a", 65535), END } },
    { "65536 bytes, the limit", (const struct step[]) {
        SEND_MANY("b", 65536), SEND("\nok\n"), LINE_MANY("b", 65536), LINE("ok"), END } },
    { "65537 bytes", (const struct step[]) {
        SEND_MANY("c", 65537), SEND("\nok\n"), TOO_LONG, LINE("ok"), END } },
    { "65536 bytes and CR LF", (const struct step[]) {
        SEND_MANY("d", 65536), SEND("\r\nok\n"), LINE_MANY("d", 65536), LINE("ok"), END } },
    { "65537 bytes and CR LF", (const struct step[]) {
        SEND_MANY("e", 65537), SEND("\r\nok\n"), TOO_LONG, LINE("ok"), END } },
    { "65538 bytes, a full buffer", (const struct step[]) {
        SEND_MANY("f", 65538), SEND("\nok\n"), TOO_LONG, LINE("ok"), END } },
    { "300 KB line after a short one", (const struct step[]) {
        SEND("before\n"), SEND_MANY("g", 300000), SEND("\nok\n"), CLOSE,
        LINE("before"), TOO_LONG, LINE("ok"), READ_EOF, END } },
    { "two long lines in a row", (const struct step[]) {
        SEND_MANY("h", 70000), SEND("\n"), SEND_MANY("i", 70000), SEND("\nok\n"),
        TOO_LONG, TOO_LONG, LINE("ok"), END } },
    { "unterminated piece at end of file", (const struct step[]) {
        SEND("whole\npart"), CLOSE, READ_LINE("whole"), READ_EOF, END } },
    { "long unterminated piece at end of file", (const struct step[]) {
        SEND_MANY("j", 70000), CLOSE, TOO_LONG, READ_EOF, END } },
    { "non-blocking socket", (const struct step[]) {
        WOULD_BLOCK, SEND("late\n"), LINE("late"), END } },
    { "empty stream", (const struct step[]) {
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

/* What a step gave, or is expected to give. */
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

/* Calls linebuf_fill() on the reader made non-blocking for the call. */
static void fill_without_blocking(struct rig *rig, struct outcome *got)
{
    int flags = fcntl(rig->reader_fd, F_GETFL);
    ssize_t received;

    fcntl(rig->reader_fd, F_SETFL, flags | O_NONBLOCK);
    received = linebuf_fill(&rig->reader);
    memset(got, 0, sizeof *got);
    got->kind = received > 0 ? GOT_BYTES : received == 0 ? GOT_EOF : GOT_ERROR;
    got->len = received > 0 ? (size_t)received : 0;
    got->error = errno;
    fcntl(rig->reader_fd, F_SETFL, flags);
}

/* Runs a step that checks something; stores what it gave in *got. */
static void run_step(struct rig *rig, const struct step *step, struct outcome *got)
{
    const char *line;
    size_t len;
    int result;

    switch (step->kind) {
    case STEP_FILL:
        fill_reader(rig, got);
        break;
    case STEP_NONE:
        result = (int)linebuf_next(&rig->reader, &line, &len);
        store_result(result, line, len, got);
        break;
    case STEP_READ_LINE:
    case STEP_READ_EOF:
        /* linebuf_read_line() blocks, so these steps come only where all
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
    case STEP_WOULD_BLOCK:
        fill_without_blocking(rig, got);
        break;
    case STEP_PENDING:
        memset(got, 0, sizeof *got);
        got->kind = GOT_PENDING;
        got->len = linebuf_pending(&rig->reader);
        break;
    case STEP_LINE:
    case STEP_LINE_MANY:
    case STEP_TOO_LONG:
        next_result(rig, got);
        break;
    default:
        break;
    }
}

/* Stores in *expected what a step that checks something must give. */
static void expect_step(const struct step *step, struct outcome *expected)
{
    memset(expected, 0, sizeof *expected);
    switch (step->kind) {
    case STEP_FILL:
        expected->kind = GOT_BYTES;
        break;
    case STEP_NONE:
        expected->kind = GOT_NONE;
        break;
    case STEP_LINE_MANY:
        expected->repeated = 1;
        /* fall through */
    case STEP_LINE:
    case STEP_READ_LINE:
        expected->kind = GOT_LINE;
        expected->bytes = step->bytes;
        expected->len = step->count;
        break;
    case STEP_TOO_LONG:
        expected->kind = GOT_TOO_LONG;
        break;
    case STEP_READ_EOF:
        expected->kind = GOT_EOF;
        break;
    case STEP_WOULD_BLOCK:
        expected->kind = GOT_ERROR;
        expected->error = EAGAIN;
        break;
    case STEP_PENDING:
        expected->kind = GOT_PENDING;
        expected->len = step->count;
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
    if (got->kind == GOT_ERROR)     /* EAGAIN and EWOULDBLOCK may differ */
        return got->error == expected->error
               || (expected->error == EAGAIN && got->error == EWOULDBLOCK);
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

/* SIGALRM: a scenario hung (linebuf_read_line() blocked or looped forever).
 * Says which one, with async-signal-safe calls only, and gives up. */
static void on_alarm(int signo)
{
    (void)signo;
    write_text("FAIL ");
    write_text(current_scenario);
    write_text(": still running after the time allowed, giving up\n");
    _exit(1);
}

/* Runs one scenario on a fresh socketpair; counts every checking step and
 * stops at the first that fails, printing it. */
static void run_scenario(const struct scenario *scenario)
{
    struct rig *rig = calloc(1, sizeof *rig);
    int fds[2];
    const struct step *step;
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

    for (step = scenario->steps; step->kind != STEP_END; step++) {
        if (step->kind == STEP_SEND || step->kind == STEP_SEND_MANY) {
            if (queue_bytes(rig, step->bytes, step->count, step->kind == STEP_SEND_MANY) == 0)
                continue;
            printf("FAIL %s: set-up: out of memory\n", scenario->name);
            tests_failed++;
            break;
        }
        if (step->kind == STEP_CLOSE) {
            rig->close_wanted = 1;
            continue;
        }
        expect_step(step, &expected);
        run_step(rig, step, &got);
        if (outcome_matches(&expected, &got)) {
            tests_passed++;
            continue;
        }
        tests_failed++;
        printf("FAIL %s, step %ld: expected ", scenario->name, (long)(step - scenario->steps) + 1);
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

int main(void)
{
    struct sigaction action;
    size_t i;

    /* Line-buffered, so that the failures printed survive a hung scenario. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_alarm;
    sigaction(SIGALRM, &action, NULL);

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

    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
