/* fuzz_linebuf.c - libFuzzer harness for lab02's linebuf.c.
 * Each input describes a byte stream and a way to cut it (the format is
 * below and in README.md). The stream goes through a real socketpair to a
 * struct linebuf, twice: once written whole, once cut into the input's
 * pieces, each piece written when the reader asks for more. Both times the
 * results must be those of a plain splitter (oracle.c): the same lines, in
 * order, "\r" before "\n" dropped, LINEBUF_TOO_LONG once for a line over
 * LINE_MAX_BYTES, nothing for an unterminated last piece; no line longer
 * than LINE_MAX_BYTES; linebuf_pending() right after each LINEBUF_NONE.
 * A disagreement is written in words (report.c) and the harness aborts.
 * FUZZ_DESCRIBE=1 prints each input's stream first (replays);
 * FUZZ_FOCUS=linebuf_cut reports only what goes wrong when the stream is cut
 * and not when it comes whole (shrinking a finding keeps it of that kind).
 *
 * Input format:
 *   byte 0   flags: bit 0 set = the cut stream is read with
 *            linebuf_read_line() instead of linebuf_next()/linebuf_fill()
 *   byte 1   low 4 bits: N, the number of piece sizes that follow
 *   N bytes  piece sizes, used in turn: 0 = all the rest, 1..127 = that
 *            many bytes, 128..255 = (code - 128) * 1024 + 1021 bytes
 *   the rest the stream, byte for byte, except FF A B C: byte C repeated
 *            L times, L = A * 256 + B when A < 0x80, else
 *            49152 + (A & 0x7F) * 256 + B (49152..81919: around the limit).
 *            An FF byte is written FF 00 01 FF.
 * The stream stops at STREAM_MAX bytes; at most PIECES_MAX pieces are cut,
 * the rest going as one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "linebuf.h"
#include "oracle.h"
#include "report.h"

/* Longest stream an input expands to: room for two over-long lines. */
#define STREAM_MAX (3 * 65536)
/* Most pieces one run cuts (one recv() each): keeps a run fast. */
#define PIECES_MAX 4096
/* Most piece sizes an input gives. */
#define PLAN_MAX 15
/* The escape byte of a run in the input. */
#define RUN_ESCAPE 0xFF

struct input {
    int read_line;              /* cut run: linebuf_read_line() */
    size_t plan[PLAN_MAX];      /* piece sizes, in turn; 0 = the rest */
    size_t plan_len;            /* 0: the cut run is not made */
    unsigned char *stream;
    size_t len;
};

/* The writing end: the stream, sent piece by piece on request. */
struct writer {
    int fd;
    const struct input *input;
    const size_t *plan;         /* NULL: the whole stream at once */
    size_t plan_len, next_size; /* next_size: index of the next piece size */
    size_t sent;                /* bytes the socket has taken */
    size_t piece_end;           /* where the piece being sent ends */
    size_t pieces;              /* pieces begun */
    int shut;                   /* end of file sent */
};

static int describe = 0;
/* The stream of the input at hand, and what the oracle expects of it: one
 * allocation each for the whole run (a fresh one per input costs more than
 * the rest of the run). */
static unsigned char *stream;
static struct oracle_event *events;
static size_t event_count;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *value = getenv("FUZZ_DESCRIBE");

    (void)argc;
    (void)argv;
    describe = value != NULL && strcmp(value, "1") == 0;
    signal(SIGPIPE, SIG_IGN);
    stream = malloc(STREAM_MAX);
    events = malloc((STREAM_MAX + 1) * sizeof *events);
    if (stream == NULL || events == NULL) {
        perror("fuzz_linebuf: malloc");
        exit(2);
    }
    return 0;
}

/* Piece code -> bytes (see the format above). */
static size_t piece_size(unsigned char code)
{
    if (code < 128)
        return code;
    return (size_t)(code - 128) * 1024 + 1021;
}

/* Reads the input's flags, piece sizes and stream (into stream) into in. */
static void decode_input(const uint8_t *data, size_t size, struct input *in)
{
    size_t pos = 0, run, i;

    in->read_line = size > 0 && (data[0] & 1);
    in->plan_len = 0;
    if (size >= 2) {
        in->plan_len = data[1] & 0x0F;
        pos = 2;
        for (i = 0; i < in->plan_len; i++)
            in->plan[i] = pos < size ? piece_size(data[pos++]) : 0;
    } else {
        pos = size;
    }
    in->len = 0;
    while (pos < size && in->len < STREAM_MAX) {
        if (data[pos] == RUN_ESCAPE && pos + 3 < size) {
            if (data[pos + 1] < 0x80)
                run = (size_t)data[pos + 1] * 256 + data[pos + 2];
            else
                run = 49152 + (size_t)(data[pos + 1] & 0x7F) * 256 + data[pos + 2];
            if (run > STREAM_MAX - in->len)
                run = STREAM_MAX - in->len;
            memset(stream + in->len, data[pos + 3], run);
            in->len += run;
            pos += 4;
        } else {
            stream[in->len++] = data[pos++];
        }
    }
    in->stream = stream;
}

/* Words for how the writer cuts the stream: "in one piece", "in pieces of
 * 3, 1, 70653 bytes, in turn". */
static void describe_cut(const size_t *plan, size_t plan_len, int read_line, char *out, size_t size)
{
    size_t used = 0, i;
    int written;

    if (plan == NULL) {
        snprintf(out, size, "written in one piece, read with %s",
                 read_line ? "linebuf_read_line()" : "linebuf_next() and linebuf_fill()");
        return;
    }
    written = snprintf(out, size, "written in pieces of ");
    used = written > 0 ? (size_t)written : 0;
    for (i = 0; i < plan_len && used < size; i++) {
        if (plan[i] == 0)
            written = snprintf(out + used, size - used, "%sall the rest", i > 0 ? ", " : "");
        else
            written = snprintf(out + used, size - used, "%s%zu", i > 0 ? ", " : "", plan[i]);
        used += written > 0 ? (size_t)written : 0;
    }
    if (used < size)
        snprintf(out + used, size - used, " %s (a piece each time the reader asks for more), read with %s",
                 plan_len > 1 ? "bytes in turn" : plan[0] == 1 ? "byte each" : "bytes each",
                 read_line ? "linebuf_read_line()" : "linebuf_next() and linebuf_fill()");
}

/* Adds the stream and the cut to the finding, then aborts. */
static void report_input(const struct input *in, const char *cut)
{
    char quoted[1200];

    report_line("  the stream: %s (%zu byte%s)", report_quote(in->stream, in->len, quoted, sizeof quoted), in->len,
                PLURAL(in->len));
    report_line("  %s", cut);
    report_abort();
}

/* Words for the oracle's event k: "line 2, "dos" (3 bytes)". */
static void describe_event(const struct input *in, size_t k, char *out, size_t size)
{
    const struct oracle_event *event = &events[k];
    char quoted[400];

    if (event->kind == ORACLE_LINE)
        snprintf(out, size, "%s (%zu byte%s)",
                 report_quote(in->stream + event->start, event->length, quoted, sizeof quoted), event->length,
                 PLURAL(event->length));
    else if (event->complete)
        snprintf(out, size, "LINEBUF_TOO_LONG, once (a line of %zu bytes, more than %d)",
                 event->length, ORACLE_LINE_MAX);
    else
        snprintf(out, size, "LINEBUF_TOO_LONG, once, as soon as %d bytes have come without \"\\n\" (the line starts at byte %zu)",
                 ORACLE_UNDECIDED_MAX, event->start);
}

/* Sends more of the stream: the rest of the piece being sent, else the next
 * piece, else end of file. Never blocks. Returns 0, or -1 on a socket error. */
static int writer_give(struct writer *w)
{
    const struct input *in = w->input;
    size_t size;
    ssize_t sent;

    if (w->sent == w->piece_end) {
        if (w->sent == in->len) {
            if (!w->shut && shutdown(w->fd, SHUT_WR) == -1)
                return -1;
            w->shut = 1;
            return 0;
        }
        size = w->plan == NULL ? 0 : w->plan[w->next_size++ % w->plan_len];
        if (size == 0 || w->pieces + 1 >= PIECES_MAX || size > in->len - w->sent)
            size = in->len - w->sent;
        w->piece_end = w->sent + size;
        w->pieces++;
    }
    do {
        sent = send(w->fd, in->stream + w->sent, w->piece_end - w->sent, 0);
    } while (sent == -1 && errno == EINTR);
    if (sent == -1)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    w->sent += (size_t)sent;
    return 0;
}

/* Once k results are handed out and received bytes have come: stores in
 * *from where the unfinished line starts and returns 1, or returns 0 while
 * the bytes are those of an over-long line being dropped (linebuf_pending()
 * then depends on how the reader drops them). */
static int unfinished_line_start(size_t k, size_t received, size_t *from)
{
    const struct oracle_event *last = k > 0 ? &events[k - 1] : NULL;

    if (last == NULL)
        *from = 0;
    else if (last->kind == ORACLE_LINE || last->complete)
        *from = last->end;
    else if (last->dropped_to <= received)
        *from = last->dropped_to;
    else
        return 0;
    return 1;
}

/* Checks result number k (LINEBUF_LINE or LINEBUF_TOO_LONG) against the
 * oracle. Returns 0, or 1 with the finding's lines written. */
static int check_result(const struct input *in, const struct linebuf *lb, size_t k, int result,
                        const char *line, size_t len)
{
    char want[600], got[600];
    const struct oracle_event *event = k < event_count ? &events[k] : NULL;
    const bool is_line = result == LINEBUF_LINE; /* otherwise LINEBUF_TOO_LONG */

    if (is_line) {
        if (line == NULL) {
            report_line("your linebuf hands out line %zu with a NULL pointer", k + 1);
            return 1;
        }
        if (line < (const char *)lb || line + len > (const char *)lb + sizeof *lb) {
            report_line("your linebuf hands out line %zu pointing outside the struct linebuf; linebuf.h says it points into lb",
                        k + 1);
            return 1;
        }
        if (len > LINE_MAX_BYTES) {
            report_line("your linebuf hands out line %zu of %zu bytes, more than LINE_MAX_BYTES (%d): it must be refused with LINEBUF_TOO_LONG",
                        k + 1, len, LINE_MAX_BYTES);
            return 1;
        }
    }
    if (is_line && (event == NULL || event->kind != ORACLE_LINE || len != event->length ||
                                   memcmp(line, in->stream + event->start, len) != 0))
        report_quote((const unsigned char *)line, len, got, sizeof got);
    if (event == NULL) {
        if (is_line)
            report_line("your linebuf hands out a line %zu, %s (%zu byte%s); the stream holds only %zu result%s",
                        k + 1, got, len, PLURAL(len), event_count, PLURAL(event_count));
        else
            report_line("your linebuf says LINEBUF_TOO_LONG as result %zu; the stream holds only %zu result%s%s",
                        k + 1, event_count, PLURAL(event_count),
                        event_count > 0 && events[event_count - 1].kind == ORACLE_TOO_LONG
                            ? " (an over-long line is reported once, and the rest of it dropped up to its \"\\n\")" : "");
        return 1;
    }
    if (event->kind == ORACLE_TOO_LONG && !is_line)
        return 0;
    if (event->kind == ORACLE_LINE && is_line && len == event->length &&
        memcmp(line, in->stream + event->start, len) == 0)
        return 0;
    describe_event(in, k, want, sizeof want);
    if (!is_line) {
        report_line("your linebuf says LINEBUF_TOO_LONG as result %zu; expected %s", k + 1, want);
        if (event->length >= ORACLE_LINE_MAX - 1)
            report_line("  a line of up to %d bytes without its \"\\n\" (and a \"\\r\" before it) is accepted",
                        ORACLE_LINE_MAX);
        return 1;
    }
    report_line("your linebuf hands out %s (%zu byte%s) as result %zu; expected %s", got, len, PLURAL(len), k + 1, want);
    if (event->kind == ORACLE_LINE && len == event->length + 1 && line[len - 1] == '\r' &&
        memcmp(line, in->stream + event->start, event->length) == 0)
        report_line("  a \"\\r\" right before \"\\n\" is not part of the line (README step 2)");
    else if (event->kind == ORACLE_LINE && len + 1 == event->length && in->stream[event->start + len] == '\r' &&
             memcmp(line, in->stream + event->start, len) == 0)
        report_line("  only a \"\\r\" right before \"\\n\" is dropped: this one is not (README step 2)");
    else if (event->kind == ORACLE_TOO_LONG)
        report_line("  a line of more than %d bytes is refused once with LINEBUF_TOO_LONG, and dropped up to its \"\\n\"",
                    ORACLE_LINE_MAX);
    return 1;
}

/* Reads the stream from the socket with linebuf_next() and linebuf_fill(),
 * giving a piece each time the reader needs more. Returns 0 if all agrees,
 * else 1 with the finding's lines written. */
static int read_by_next(const struct input *in, struct writer *w, struct linebuf *lb)
{
    size_t k = 0, received = 0, decided = 0, pending, from;
    enum linebuf_result result;
    const char *line;
    size_t len;
    ssize_t got;
    int error;
    char want[600];

    for (;;) {
        line = (const char *)lb;
        len = 12345;
        result = linebuf_next(lb, &line, &len);
        if (result == LINEBUF_LINE || result == LINEBUF_TOO_LONG) {
            if (result == LINEBUF_TOO_LONG && (line != NULL || len != 0)) {
                report_line("your linebuf_next returns LINEBUF_TOO_LONG without setting *line to NULL and *len to 0");
                return 1;
            }
            if (check_result(in, lb, k, (int)result, line, len))
                return 1;
            k++;
            continue;
        }
        if (result != LINEBUF_NONE) {
            report_line("your linebuf_next returns %d; it returns LINEBUF_NONE, LINEBUF_LINE or LINEBUF_TOO_LONG",
                        (int)result);
            return 1;
        }
        if (line != NULL || len != 0) {
            report_line("your linebuf_next returns LINEBUF_NONE without setting *line to NULL and *len to 0");
            return 1;
        }
        /* The results that the bytes received so far decide. */
        while (decided < event_count && events[decided].end <= received)
            decided++;
        if (k < decided) {
            describe_event(in, k, want, sizeof want);
            report_line("your linebuf_next says LINEBUF_NONE (no complete line) after %zu bytes; result %zu, %s, is complete in them",
                        received, k + 1, want);
            return 1;
        }
        if (unfinished_line_start(k, received, &from)) {
            pending = linebuf_pending(lb);
            if (pending != received - from) {
                report_line("your linebuf_pending() says %zu after LINEBUF_NONE; %zu bytes of an unfinished line are waiting (of %zu received)",
                            pending, received - from, received);
                return 1;
            }
        }
        if (writer_give(w) == -1) {
            perror("fuzz_linebuf: send");
            exit(2);
        }
        got = linebuf_fill(lb);
        if (got > 0) {
            if ((size_t)got > w->sent - received) {
                report_line("your linebuf_fill says it received %zd bytes; only %zu were waiting in the socket",
                            got, w->sent - received);
                return 1;
            }
            received += (size_t)got;
        } else if (got == 0) {
            if (!w->shut) {
                report_line("your linebuf_fill returns 0 (end of file) while %zu bytes wait in the socket",
                            w->sent - received);
                return 1;
            }
            break;
        } else {
            error = errno;
            report_line("your linebuf_fill returns -1 (%s) after %zu bytes, with %zu more waiting in the socket",
                        strerror(error), received, w->sent - received);
            if (error == ENOBUFS)
                report_line("  a full buffer without \"\\n\" is a line too long: linebuf_next must say LINEBUF_TOO_LONG before");
            return 1;
        }
    }
    if (k < event_count) {
        describe_event(in, k, want, sizeof want);
        report_line("your linebuf hands out %zu result(s) before end of file; result %zu is missing: %s",
                    k, k + 1, want);
        return 1;
    }
    return 0;
}

/* The same with linebuf_read_line(): on a non-blocking socket it returns -1
 * (EAGAIN) when the reader needs more, and is called again. */
static int read_by_read_line(const struct input *in, struct writer *w, struct linebuf *lb)
{
    size_t k = 0, len;
    const char *line;
    int result;
    char want[600];

    for (;;) {
        result = linebuf_read_line(lb, &line, &len);
        if (result == LINEBUF_LINE || result == LINEBUF_TOO_LONG) {
            if (check_result(in, lb, k, result, line, len))
                return 1;
            k++;
        } else if (result == 0) {
            if (!w->shut) {
                report_line("your linebuf_read_line returns 0 (end of file) before the end of the stream");
                return 1;
            }
            break;
        } else if (result == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) && !w->shut) {
            if (writer_give(w) == -1) {
                perror("fuzz_linebuf: send");
                exit(2);
            }
        } else {
            report_line("your linebuf_read_line returns %d (%s)", result, strerror(errno));
            return 1;
        }
    }
    if (k < event_count) {
        describe_event(in, k, want, sizeof want);
        report_line("your linebuf hands out %zu result(s) before end of file; result %zu is missing: %s",
                    k, k + 1, want);
        return 1;
    }
    return 0;
}

/* One run: a socketpair, the stream written as plan says (NULL: whole),
 * read as read_line says. Returns 0 if all agrees, else 1 with the lines of
 * the finding written. */
static int run_reader(const struct input *in, const size_t *plan, size_t plan_len, int read_line)
{
    int fds[2], status;
    struct writer w;
    struct linebuf *lb;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1 ||
        fcntl(fds[0], F_SETFL, O_NONBLOCK) == -1 || fcntl(fds[1], F_SETFL, O_NONBLOCK) == -1) {
        perror("fuzz_linebuf: socketpair");
        exit(2);
    }
    lb = malloc(sizeof *lb);
    if (lb == NULL) {
        perror("fuzz_linebuf: malloc");
        exit(2);
    }
    memset(&w, 0, sizeof w);
    w.fd = fds[1];
    w.input = in;
    w.plan = plan;
    w.plan_len = plan_len;
    linebuf_init(lb, fds[0]);
    status = read_line ? read_by_read_line(in, &w, lb) : read_by_next(in, &w, lb);
    free(lb);
    close(fds[0]);
    close(fds[1]);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in;
    char cut[300], quoted[1200];

    decode_input(data, size, &in);
    event_count = oracle_split(in.stream, in.len, events, in.len + 1);
    if (describe) {
        describe_cut(in.plan_len > 0 ? in.plan : NULL, in.plan_len, in.read_line, cut, sizeof cut);
        fprintf(stderr, "input: the stream %s (%zu byte%s), %s\n",
                report_quote(in.stream, in.len, quoted, sizeof quoted), in.len, PLURAL(in.len), cut);
    }
    report_check("linebuf_whole");
    if (LINE_MAX_BYTES != ORACLE_LINE_MAX) {
        report_line("your linebuf.h sets LINE_MAX_BYTES to %d; the contract says %d", LINE_MAX_BYTES, ORACLE_LINE_MAX);
        report_abort();
    }
    if (run_reader(&in, NULL, 0, 0)) {
        if (!report_focus("linebuf_whole"))
            return 0;       /* shrinking a finding of the cut run alone */
        describe_cut(NULL, 0, 0, cut, sizeof cut);
        report_input(&in, cut);
    }
    if ((in.plan_len > 0 || in.read_line) && report_focus("linebuf_cut")) {
        report_check("linebuf_cut");
        if (run_reader(&in, in.plan_len > 0 ? in.plan : NULL, in.plan_len, in.read_line)) {
            describe_cut(in.plan_len > 0 ? in.plan : NULL, in.plan_len, in.read_line, cut, sizeof cut);
            report_line("  (written in one piece and read with linebuf_next(), the same stream gives the right results)");
            report_input(&in, cut);
        }
    }
    return 0;
}
