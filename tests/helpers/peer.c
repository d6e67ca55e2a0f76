/*
 * peer - a scripted TCP peer for the tests of this course
 * ========================================================
 *
 * The Bats tests use this program to talk to your server (or, with --listen,
 * to your client) byte for byte, with bounded waits.  When a test fails, the
 * message on stderr that shows the conversation comes from here.
 *
 * USAGE
 *   peer [-t SECONDS] [-T SECONDS] [--lazy] HOST PORT COMMAND...
 *       Connects to HOST:PORT (the connection is named "1"), then runs the
 *       commands.
 *   peer [-t SECONDS] [-T SECONDS] [--lazy] --listen PORT COMMAND...
 *       Listens on 127.0.0.1:PORT (0 = any free port), prints
 *       "listening on port N" on stdout, accepts ONE connection (named "1"),
 *       stops listening, then runs the commands.
 *
 *   -t SECONDS is the bound of each wait (default 5, decimals allowed: 0.5).
 *   -T SECONDS bounds the whole run (whole seconds): past it, peer stops at
 *   once, saying so, with exit status 124 (as timeout(1) would, without
 *   another process to start).
 *   --lazy: read only the connection the running command is about; what
 *   the others receive waits in the system's buffers until their turn (see
 *   READING).  For many connections that each receive little: far fewer
 *   reads and polls.  Not for a connection that receives more than its
 *   buffers hold before its turn: the other side would wait on it.
 *   Exit status: 0 everything went as expected; 1 an expectation failed or a
 *   connection could not be made; 2 bad usage; 124 the whole run's bound
 *   passed.  The whole script is checked before connecting, so a usage
 *   error never sends anything.
 *
 * TEXT arguments understand the escapes \n \r \t \0 \\ and \xHH (two hex
 * digits).  Quote them for the shell: peer localhost 5000 send 'hi\r\n'.
 *
 * COMMANDS (a command word followed by its argument words)
 *   send TEXT                 send the bytes of TEXT
 *   repeat COUNT TEXT         send TEXT COUNT times, streamed in 64 KiB chunks
 *   pieces SIZE MS TEXT       send TEXT SIZE bytes at a time, MS ms apart
 *   pause MS                  wait MS milliseconds
 *   expect TEXT               the next line, without its \n, must be TEXT
 *                             (a \r is not removed: put \r in TEXT if sent)
 *   expect-within MS TEXT     like expect, the line must arrive within MS ms
 *   expect-repeat COUNT TEXT  the next COUNT lines must all be TEXT
 *   expect-eof                the other side must close without sending
 *                             anything more (a reset counts as a close)
 *   expect-silence MS         nothing may arrive for MS ms, and the
 *                             connection must stay open
 *   line                      read the next line, print it escaped on stdout
 *   drain                     read until end of file (or a reset), print
 *                             each line escaped on stdout; an unfinished last
 *                             line is followed by " [no newline]"; fails
 *                             after 64 MiB without end of file
 *   shut-write                shutdown(SHUT_WR): the other side reads EOF
 *                             (sending on this connection later is an error)
 *   reset                     abortive close: the other side gets a reset
 *   close                     close the connection normally
 *                             (using it after reset or close is an error)
 *   connect NAME              (not with --listen) open another connection to
 *                             HOST PORT, named NAME (a new name, at most 2048
 *                             connections), and make it current
 *   use NAME                  make connection NAME current
 *   timeout SECONDS           change the bound of the following waits
 * MS, COUNT and SIZE are whole numbers: MS up to 86400000 (a day), COUNT up
 * to 10^12, SIZE from 1.  SECONDS is at most 86400.
 *
 * WAITS.  expect, line, expect-eof, connecting and accepting must finish
 * within the bound.  expect-repeat and drain fail when no new line arrived
 * for the bound; a send fails when the other side read nothing for the bound.
 *
 * READING.  Each connection has an input buffer.  Whenever peer waits for
 * anything (a full socket while sending, pause, expect...) it reads what
 * arrives on every open connection into its buffer, so a server answering
 * while we are still sending never blocks us.  Commands that read take their
 * lines from the front of that buffer.  At most 64 MiB may be left unread.
 *
 * A BROKEN SEND.  If the other side closes the connection while peer sends,
 * the command fails, unless the next command reads from that connection
 * (expect..., line, drain): that command then judges what was received.
 *
 * ESCAPED OUTPUT.  line, drain and failure messages show bytes as printable
 * ASCII, \n \r \t \0 \\ \" or \xHH (line and drain without surrounding
 * quotes).  Failure messages also shorten long texts in the middle:
 * "first 60 bytes…(N bytes)…last 60 bytes".
 *
 * FAILURE MESSAGES show the last exchanges of the connection's
 * conversation, then what was expected and what came instead, e.g.:
 *   peer: connection 1: expectation failed at command 3 (expect "bye")
 *     sent      "hello\n"
 *     received  "OK\n"
 *     expected  "bye"
 *     got       "BYE\r"
 * When a wait's bound passes, the first line starts with what did not
 * happen, as "peer: timeout: the server sent no line within 3 s
 * (connection 1, command 3: expect "bye")".
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define PRINTF_LIKE(fmt, first)
#endif

#define CHUNK_SIZE (64 * 1024)              /* bytes per read; repeat chunk */
#define INPUT_LIMIT (64 * 1024 * 1024)      /* unread bytes per connection */
#define MAX_CONNS 2048
#define KEPT_ENTRIES 10                     /* transcript entries kept */
#define SHOW_EDGE 60                        /* bytes shown at each end... */
#define SHOW_WHOLE (2 * SHOW_EDGE + 20)     /* ...of texts longer than this */
#define DEFAULT_BOUND_MS 5000
#define LIMIT_MS 86400000ULL                /* one day */
#define LIMIT_COUNT 1000000000000ULL
#define TEXT_ELLIPSIS "\xe2\x80\xa6"        /* UTF-8 "…" */
#define TEXT_TIMES "\xc3\x97"               /* UTF-8 "×" */

enum op {
    OP_SEND, OP_REPEAT, OP_PIECES, OP_PAUSE, OP_EXPECT, OP_EXPECT_WITHIN,
    OP_EXPECT_REPEAT, OP_EXPECT_EOF, OP_EXPECT_SILENCE, OP_LINE, OP_DRAIN,
    OP_SHUT_WRITE, OP_RESET, OP_CLOSE, OP_CONNECT, OP_USE, OP_TIMEOUT
};

/* What a command does, for checking and running scripts. */
enum command_flags {
    NEEDS_CONN = 1,     /* needs the current connection to be open */
    SENDS = 2,          /* writes to it */
    READS = 4,          /* reads from it (a send broken just before is ok) */
    CHECKS = 8,         /* an expectation: "expectation failed" if not met */
};

/* What a command looks like.  args has one letter per argument word:
 * T TEXT, C COUNT, S SIZE, M MS (milliseconds), D SECONDS, W NAME. */
struct command_spec {
    const char *word;
    enum op op;
    const char *args;
    int flags;
};

static const struct command_spec command_specs[] = {
    {"send", OP_SEND, "T", NEEDS_CONN | SENDS},
    {"repeat", OP_REPEAT, "CT", NEEDS_CONN | SENDS},
    {"pieces", OP_PIECES, "SMT", NEEDS_CONN | SENDS},
    {"pause", OP_PAUSE, "M", 0},
    {"expect", OP_EXPECT, "T", NEEDS_CONN | READS | CHECKS},
    {"expect-within", OP_EXPECT_WITHIN, "MT", NEEDS_CONN | READS | CHECKS},
    {"expect-repeat", OP_EXPECT_REPEAT, "CT", NEEDS_CONN | READS | CHECKS},
    {"expect-eof", OP_EXPECT_EOF, "", NEEDS_CONN | READS | CHECKS},
    {"expect-silence", OP_EXPECT_SILENCE, "M", NEEDS_CONN | CHECKS},
    {"line", OP_LINE, "", NEEDS_CONN | READS | CHECKS},
    {"drain", OP_DRAIN, "", NEEDS_CONN | READS | CHECKS},
    {"shut-write", OP_SHUT_WRITE, "", NEEDS_CONN},
    {"reset", OP_RESET, "", NEEDS_CONN},
    {"close", OP_CLOSE, "", NEEDS_CONN},
    {"connect", OP_CONNECT, "W", 0},
    {"use", OP_USE, "W", 0},
    {"timeout", OP_TIMEOUT, "D", 0},
};

/* One parsed command of the script. */
struct command {
    const struct command_spec *spec;
    int argi;                   /* index in argv of the command word */
    int conn;                   /* index of the connection it acts on */
    unsigned long long num[2];  /* numbers in order (seconds stored as ms) */
    unsigned char *text;        /* decoded TEXT (never NULL if it has one) */
    size_t text_len;
    const char *name;           /* NAME argument */
};

/* A text as remembered for messages: whole, or only both ends if long. */
struct excerpt {
    unsigned char bytes[SHOW_WHOLE];
    size_t total;
};

enum entry_kind { KIND_SENT, KIND_RECEIVED };

/* One exchange of a conversation, for the transcript of failure messages. */
struct log_entry {
    enum entry_kind kind;
    struct excerpt text;
    const char *note;               /* shown instead of text when not NULL */
    uint64_t hash;                  /* of the whole text, to merge repeats */
    unsigned long long count;       /* times in a row */
    bool cut_short;                 /* a send that did not complete */
    unsigned long long bytes_done;  /* bytes that went out, if cut_short */
};

struct conn {
    const char *name;
    int fd;                 /* -1 before connecting and once closed */
    unsigned char *buf;     /* unread input is buf[start .. start + len) */
    size_t start, len, cap;
    size_t scanned;         /* the first `scanned` unread bytes have no \n */
    bool eof;               /* nothing more will arrive */
    int read_error;         /* why input ended: 0 end of file, or an errno */
    struct log_entry log[KEPT_ENTRIES];
    unsigned long long log_total;   /* entries ever added */
};

/* The whole state of the program (it is small and single-threaded). */
static struct {
    char **argv;
    const char *host, *port;
    long long bound_ms;
    struct conn conns[MAX_CONNS];
    int conn_count;
    struct command *commands;
    int command_count;
    int current;            /* index of the running command, -1 before */
    bool lazy;              /* --lazy: read only the current connection */
    bool listening;         /* --listen: the other side is a client */
} peer = {.bound_ms = DEFAULT_BOUND_MS, .current = -1};

/* ---------------------------------------------------------------- basics */

/* Closes every connection and frees all memory. */
static void cleanup(void)
{
    for (int i = 0; i < peer.conn_count; i++) {
        if (peer.conns[i].fd >= 0)
            close(peer.conns[i].fd);
        peer.conns[i].fd = -1;
        free(peer.conns[i].buf);
        peer.conns[i].buf = NULL;
    }
    for (int i = 0; i < peer.command_count; i++)
        free(peer.commands[i].text);
    free(peer.commands);
    peer.commands = NULL;
    peer.command_count = 0;
}

static void print_usage(FILE *out)
{
    fputs("usage: peer [-t SECONDS] [-T SECONDS] [--lazy] HOST PORT COMMAND...\n"
          "       peer [-t SECONDS] [-T SECONDS] [--lazy] --listen PORT COMMAND...\n"
          "(the commands are described at the top of tests/helpers/peer.c)\n",
          out);
}

/* Prints "peer: MESSAGE" on stderr and exits with status: 1 for a failure
 * that is not about the conversation, 2 for bad usage (adds the usage). */
static _Noreturn PRINTF_LIKE(2, 3) void quit(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("peer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (status == 2)
        print_usage(stderr);
    cleanup();
    exit(status);
}

/* malloc that never returns NULL. */
static void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        quit(1, "out of memory (%zu bytes)", size);
    return p;
}

/* Writes a bound for messages: "5 s", "0.25 s". */
static void format_bound(char *out, size_t size, long long ms)
{
    snprintf(out, size, "%g s", (double)ms / 1000.0);
}

/* ----------------------------------------------------- parsing arguments */

/* Parses a whole decimal number in [lo, hi]; false if WORD is not one. */
static bool parse_number(const char *word, unsigned long long lo,
                         unsigned long long hi, unsigned long long *out)
{
    unsigned long long value = 0;
    if (*word == '\0' || strlen(word) > 19)
        return false;
    for (const char *p = word; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        value = value * 10 + (unsigned long long)(*p - '0');
    }
    *out = value;
    return value >= lo && value <= hi;
}

/* Parses seconds such as "5", "0.5" or ".25" (at most a day) into ms. */
static bool parse_seconds(const char *word, unsigned long long *ms)
{
    const char *dot = strchr(word, '.');
    size_t int_len = dot ? (size_t)(dot - word) : strlen(word);
    unsigned long long whole = 0, frac = 0, scale = 100;
    if (int_len > 6 || (int_len == 0 && (dot == NULL || dot[1] == '\0')))
        return false;
    for (size_t i = 0; i < int_len; i++) {
        if (word[i] < '0' || word[i] > '9')
            return false;
        whole = whole * 10 + (unsigned long long)(word[i] - '0');
    }
    for (const char *p = dot ? dot + 1 : ""; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        frac += scale * (unsigned long long)(*p - '0');
        scale /= 10;
    }
    *ms = whole * 1000 + frac;
    return *ms <= LIMIT_MS;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the escapes of a TEXT argument into a new buffer (*out, *len).
 * Returns NULL, or a pointer to the bad escape in WORD (nothing allocated). */
static const char *decode_text(const char *word, unsigned char **out,
                               size_t *len)
{
    unsigned char *text = xmalloc(strlen(word) + 1);
    size_t n = 0;
    for (const char *p = word; *p; p++) {
        if (*p != '\\') {
            text[n++] = (unsigned char)*p;
            continue;
        }
        switch (p[1]) {
        case 'n': text[n++] = '\n'; break;
        case 'r': text[n++] = '\r'; break;
        case 't': text[n++] = '\t'; break;
        case '0': text[n++] = '\0'; break;
        case '\\': text[n++] = '\\'; break;
        case 'x':
            if (hex_value(p[2]) < 0 || hex_value(p[3]) < 0) {
                free(text);
                return p;
            }
            text[n++] = (unsigned char)(16 * hex_value(p[2])
                                        + hex_value(p[3]));
            p += 2;
            break;
        default:
            free(text);
            return p;
        }
        p++;
    }
    *out = text;
    *len = n;
    return NULL;
}

/* ----------------------------------------------- showing bytes to people */

/* Writes bytes escaped: printable ASCII as is, else \n \r \t \0 \\ \" \xHH. */
static void write_escaped(FILE *out, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        case '\0': fputs("\\0", out); break;
        case '\\': fputs("\\\\", out); break;
        case '"': fputs("\\\"", out); break;
        default:
            if (p[i] >= 0x20 && p[i] < 0x7f)
                fputc(p[i], out);
            else
                fprintf(out, "\\x%02x", p[i]);
        }
    }
}

/* Remembers p[0..n): whole if short, else its first and last SHOW_EDGE. */
static void excerpt_make(struct excerpt *x, const unsigned char *p, size_t n)
{
    x->total = n;
    if (n <= SHOW_WHOLE) {
        if (n > 0)
            memcpy(x->bytes, p, n);
    } else {
        memcpy(x->bytes, p, SHOW_EDGE);
        memcpy(x->bytes + SHOW_EDGE, p + n - SHOW_EDGE, SHOW_EDGE);
    }
}

/* Prints an excerpt on stderr, quoted, with "…(N bytes)…" for the middle. */
static void excerpt_print(const struct excerpt *x)
{
    fputc('"', stderr);
    if (x->total <= SHOW_WHOLE) {
        write_escaped(stderr, x->bytes, x->total);
    } else {
        write_escaped(stderr, x->bytes, SHOW_EDGE);
        fprintf(stderr, TEXT_ELLIPSIS "(%zu bytes)" TEXT_ELLIPSIS,
                x->total - 2 * SHOW_EDGE);
        write_escaped(stderr, x->bytes + SHOW_EDGE, SHOW_EDGE);
    }
    fputc('"', stderr);
}

/* Prints p[0..n) on stderr, quoted and shortened. */
static void print_quoted(const unsigned char *p, size_t n)
{
    struct excerpt x;
    excerpt_make(&x, p, n);
    excerpt_print(&x);
}

/* ------------------------------------------------------------ transcripts */

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037u;     /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

/* Adds "COUNT times p[0..n)" to c's transcript, merged into the previous
 * entry when that one is the same text in the same direction. */
static struct log_entry *log_add(struct conn *c, enum entry_kind kind,
                                 const unsigned char *p, size_t n,
                                 unsigned long long count)
{
    uint64_t h = hash_bytes(p, n);
    if (c->log_total > 0) {
        struct log_entry *last = &c->log[(c->log_total - 1) % KEPT_ENTRIES];
        if (last->kind == kind && !last->note && !last->cut_short &&
            last->hash == h && last->text.total == n) {
            last->count += count;
            return last;
        }
    }
    struct log_entry *e = &c->log[c->log_total++ % KEPT_ENTRIES];
    *e = (struct log_entry){.kind = kind, .hash = h, .count = count};
    excerpt_make(&e->text, p, n);
    return e;
}

/* Adds an event such as "end of file" to c's transcript. */
static void log_note(struct conn *c, enum entry_kind kind, const char *note)
{
    struct log_entry *e = &c->log[c->log_total++ % KEPT_ENTRIES];
    *e = (struct log_entry){.kind = kind, .note = note, .count = 1};
}

/* Prints the last entries of c's transcript on stderr. */
static void print_transcript(const struct conn *c)
{
    unsigned long long first = 0;
    if (c->log_total > KEPT_ENTRIES) {
        first = c->log_total - KEPT_ENTRIES;
        fprintf(stderr, "  (%llu earlier entries not shown)\n", first);
    }
    for (unsigned long long i = first; i < c->log_total; i++) {
        const struct log_entry *e = &c->log[i % KEPT_ENTRIES];
        fprintf(stderr, "  %-10s", e->kind == KIND_SENT ? "sent" : "received");
        if (e->note) {
            fprintf(stderr, "%s\n", e->note);
            continue;
        }
        excerpt_print(&e->text);
        if (e->count != 1)
            fprintf(stderr, " " TEXT_TIMES " %llu", e->count);
        if (e->cut_short)
            fprintf(stderr, " (only %llu bytes went out)", e->bytes_done);
        fputc('\n', stderr);
    }
}

/* ---------------------------------------------------------- failing well */

/* Prints one field label of a failure message ("  expected  "). */
static void field(const char *label)
{
    fprintf(stderr, "  %-10s", label);
}

/* Prints the running command as written: expect "bye". */
static void print_command(void)
{
    const struct command *cmd = &peer.commands[peer.current];
    const char *args = cmd->spec->args;
    fputs(cmd->spec->word, stderr);
    for (int k = 0; args[k]; k++) {
        fputc(' ', stderr);
        if (args[k] == 'T')
            print_quoted(cmd->text, cmd->text_len);
        else
            fputs(peer.argv[cmd->argi + 1 + k], stderr);
    }
}

/* Starts a failure message about connection c: header and transcript. */
static void fail_begin(const struct conn *c)
{
    fflush(stdout);
    fprintf(stderr, "peer: connection %s: ", c->name);
    if (peer.current < 0) {
        fputs("failed before the first command\n", stderr);
    } else {
        const struct command *cmd = &peer.commands[peer.current];
        fprintf(stderr, (cmd->spec->flags & CHECKS)
                ? "expectation failed at command %d (" : "command %d failed (",
                peer.current + 1);
        print_command();
        fputs(")\n", stderr);
    }
    print_transcript(c);
}

/* The program at the other end of the connections, for messages. */
static const char *other_side(void)
{
    return peer.listening ? "the client" : "the server";
}

/* Starts a failure message about a wait on c whose bound passed: "peer:
 * timeout: the server WHAT within WAITED (connection 1, command 3: expect
 * "bye")", then the transcript. */
static void fail_begin_timeout(const struct conn *c, const char *what,
                               const char *waited)
{
    fflush(stdout);
    fprintf(stderr, "peer: timeout: %s %s within %s (connection %s",
            other_side(), what, waited, c->name);
    if (peer.current >= 0) {
        fprintf(stderr, ", command %d: ", peer.current + 1);
        print_command();
    }
    fputs(")\n", stderr);
    print_transcript(c);
}

/* Ends a failure message: exits 1. */
static _Noreturn void fail_end(void)
{
    cleanup();
    exit(1);
}

/* Prints the "got" field when no line came: why, and any partial line. */
static void print_no_line(const struct conn *c, const char *waited)
{
    field("got");
    if (!c->eof)
        fprintf(stderr, "no whole line within %s (the connection is open)\n",
                waited);
    else if (c->read_error == ECONNRESET)
        fputs("connection reset\n", stderr);
    else if (c->read_error != 0)
        fprintf(stderr, "connection error: %s\n", strerror(c->read_error));
    else
        fputs("end of file (the other side closed the connection)\n", stderr);
    if (c->len > 0) {
        fprintf(stderr, "%12s(partial line so far: ", "");
        print_quoted(c->buf + c->start, c->len);
        fputs(")\n", stderr);
    }
}

/* ------------------------------------------------------------- receiving */

/* Tells whether err only means "not now" on a non-blocking socket. */
static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

/* Makes room for `want` more bytes after the unread input of c. */
static void make_room(struct conn *c, size_t want)
{
    if (c->cap - c->start - c->len >= want)
        return;
    if (c->start >= c->len && c->cap - c->len >= want) {
        memmove(c->buf, c->buf + c->start, c->len);  /* cheap: len <= start */
        c->start = 0;
        return;
    }
    size_t cap = 2 * c->len + want;
    unsigned char *buf = xmalloc(cap);
    if (c->len > 0)
        memcpy(buf, c->buf + c->start, c->len);
    free(c->buf);
    c->buf = buf;
    c->cap = cap;
    c->start = 0;
}

/* Reads once from c into its buffer; notes end of file and errors. */
static void conn_read(struct conn *c)
{
    size_t want = INPUT_LIMIT - c->len < CHUNK_SIZE ? INPUT_LIMIT - c->len
                                                    : CHUNK_SIZE;
    unsigned char peek;
    ssize_t n;
    if (want == 0) {    /* full: only look whether more is coming */
        n = recv(c->fd, &peek, 1, MSG_PEEK);
        if (n > 0) {
            fail_begin(c);
            field("failed");
            fputs("more than 64 MiB arrived that the script did not read\n",
                  stderr);
            fail_end();
        }
    } else {
        make_room(c, want);
        n = recv(c->fd, c->buf + c->start + c->len, want, 0);
    }
    if (n > 0) {
        c->len += (size_t)n;
    } else if (n == 0) {
        c->eof = true;
    } else if (!would_block(errno) && errno != EINTR) {
        c->eof = true;
        c->read_error = errno;
    }
}

/* Waits at most timeout_ms for something to happen, reading whatever
 * arrives on every open connection into its buffer.  If write_fd >= 0, also
 * waits for it to be writable (or broken) and then returns true. */
static bool pump(long long timeout_ms, int write_fd)
{
    struct pollfd fds[MAX_CONNS + 1];
    struct conn *owner[MAX_CONNS + 1];
    nfds_t n = 0;
    nfds_t write_slot = MAX_CONNS + 1;
    int only = peer.lazy && peer.current >= 0
               ? peer.commands[peer.current].conn : -1;
    for (int i = 0; i < peer.conn_count; i++) {
        struct conn *c = &peer.conns[i];
        if (only >= 0 && i != only && c->fd != write_fd)
            continue;   /* --lazy: the others wait in the system's buffers */
        short events = (c->fd >= 0 && !c->eof) ? POLLIN : 0;
        if (c->fd >= 0 && c->fd == write_fd) {
            events |= POLLOUT;
            write_slot = n;
        }
        if (events == 0)
            continue;
        fds[n] = (struct pollfd){.fd = c->fd, .events = events};
        owner[n++] = c;
    }
    if (write_fd >= 0 && write_slot > MAX_CONNS) {
        fds[n] = (struct pollfd){.fd = write_fd, .events = POLLOUT};
        owner[n] = NULL;
        write_slot = n++;
    }
    if (timeout_ms < 0)
        timeout_ms = 0;
    int ready = poll(fds, n, timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms);
    if (ready < 0) {
        if (errno == EINTR)
            return false;
        quit(1, "poll: %s", strerror(errno));
    }
    bool writable = false;
    for (nfds_t i = 0; i < n; i++) {
        short got = fds[i].revents;
        if (owner[i] && !owner[i]->eof && (got & (POLLIN | POLLHUP | POLLERR)))
            conn_read(owner[i]);
        if (i == write_slot
            && (got & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)))
            writable = true;
    }
    return writable;
}

/* Keeps reading all connections until the clock reaches deadline. */
static void pump_until(long long deadline)
{
    for (long long left; (left = deadline - tool_now_ms()) > 0;)
        pump(left, -1);
}

/* Tells whether a whole line is buffered; if so *n is its length
 * without the \n. */
static bool find_line(struct conn *c, size_t *n)
{
    if (c->scanned >= c->len)
        return false;
    unsigned char *from = c->buf + c->start + c->scanned;
    unsigned char *nl = memchr(from, '\n', c->len - c->scanned);
    if (nl == NULL) {
        c->scanned = c->len;
        return false;
    }
    *n = (size_t)(nl - (c->buf + c->start));
    return true;
}

/* Drops the first n unread bytes of c. */
static void consume(struct conn *c, size_t n)
{
    c->start += n;
    c->len -= n;
    c->scanned = 0;
    if (c->len == 0)
        c->start = 0;
}

enum line_wait { GOT_LINE, GOT_END, GOT_NOTHING };

/* Waits until c has a whole line (*n = its length), has ended, or the
 * clock passes deadline. */
static enum line_wait wait_line(struct conn *c, long long deadline, size_t *n)
{
    for (;;) {
        if (find_line(c, n))
            return GOT_LINE;
        if (c->eof)
            return GOT_END;
        long long left = deadline - tool_now_ms();
        if (left < 0)
            return GOT_NOTHING;
        pump(left, -1);
    }
}

/* --------------------------------------------------------------- sending */

/* Sends all of p[0..n) on c, reading every connection while the socket is
 * full; adds the bytes sent to *done.  Returns 0, or an errno: ETIMEDOUT
 * when the other side read nothing for the bound, else why it broke. */
static int send_bytes(struct conn *c, const unsigned char *p, size_t n,
                      unsigned long long *done)
{
    long long deadline = tool_now_ms() + peer.bound_ms;
    size_t off = 0;
    while (off < n) {
        ssize_t sent = send(c->fd, p + off, n - off, 0);
        if (sent > 0) {
            off += (size_t)sent;
            *done += (unsigned long long)sent;
            deadline = tool_now_ms() + peer.bound_ms;
        } else if (sent < 0 && errno == EINTR) {
            continue;
        } else if (sent < 0 && would_block(errno)) {
            long long left = deadline - tool_now_ms();
            if (left < 0)
                return ETIMEDOUT;
            pump(left, c->fd);
        } else {
            return sent < 0 ? errno : EIO;
        }
    }
    return 0;
}

/* Runs send, repeat and pieces on c. */
static void run_send(const struct command *cmd, struct conn *c)
{
    const unsigned char *text = cmd->text;
    size_t len = cmd->text_len;
    unsigned long long count = cmd->spec->op == OP_REPEAT ? cmd->num[0] : 1;
    unsigned long long done = 0;
    int err = 0;

    if (cmd->spec->op == OP_REPEAT && len > 0) {
        size_t per_chunk = len >= CHUNK_SIZE ? 1 : CHUNK_SIZE / len;
        unsigned char *chunk = xmalloc(per_chunk * len);
        for (size_t i = 0; i < per_chunk; i++)
            memcpy(chunk + i * len, text, len);
        for (unsigned long long left = count; left > 0 && err == 0;) {
            size_t now = left < per_chunk ? (size_t)left : per_chunk;
            err = send_bytes(c, chunk, now * len, &done);
            left -= now;
        }
        free(chunk);
    } else if (cmd->spec->op == OP_PIECES) {
        size_t size = (size_t)cmd->num[0];
        for (size_t off = 0; off < len && err == 0; off += size) {
            size_t piece = len - off < size ? len - off : size;
            if (off > 0)
                pump_until(tool_now_ms() + (long long)cmd->num[1]);
            err = send_bytes(c, text + off, piece, &done);
        }
    } else if (cmd->spec->op == OP_SEND) {
        err = send_bytes(c, text, len, &done);
    }
    if (err == 0) {
        log_add(c, KIND_SENT, text, len, count);
        return;
    }

    struct log_entry *e = &c->log[c->log_total++ % KEPT_ENTRIES];
    *e = (struct log_entry){.kind = KIND_SENT, .count = count,
                            .cut_short = true, .bytes_done = done};
    excerpt_make(&e->text, text, len);
    bool broken = err == EPIPE || err == ECONNRESET;
    const struct command *next = peer.current + 1 < peer.command_count
                                 ? &peer.commands[peer.current + 1] : NULL;
    if (broken && next && next->conn == cmd->conn
        && (next->spec->flags & READS))
        return;     /* the next command will judge what was received */

    if (err == ETIMEDOUT) {
        char waited[32];
        format_bound(waited, sizeof waited, peer.bound_ms);
        fail_begin_timeout(c, "read nothing of what peer sends", waited);
        field("failed");
        fprintf(stderr, "%llu bytes went out, then %s stopped reading "
                "(it may be stuck, or busy elsewhere)\n", done, other_side());
        fail_end();
    }
    fail_begin(c);
    field("failed");
    if (broken) {
        fputs("connection closed by the other side while sending\n", stderr);
    } else {
        fprintf(stderr, "send: %s\n", strerror(err));
    }
    fail_end();
}

/* ---------------------------------------------------------- expectations */

/* Reads the next line of c, waiting until deadline, and fails unless it is
 * want[0..want_len).  line_no > 0 means "line line_no of lines". */
static void expect_line(struct conn *c, const unsigned char *want,
                        size_t want_len, long long deadline,
                        const char *waited, unsigned long long line_no,
                        unsigned long long lines)
{
    size_t n = 0;
    enum line_wait got = wait_line(c, deadline, &n);
    const unsigned char *line = got == GOT_LINE ? c->buf + c->start : want;
    if (got == GOT_LINE && n == want_len && memcmp(line, want, n) == 0) {
        log_add(c, KIND_RECEIVED, line, n + 1, 1);
        consume(c, n + 1);
        return;
    }
    if (got == GOT_NOTHING)
        fail_begin_timeout(c, "sent no line", waited);
    else
        fail_begin(c);
    field("expected");
    print_quoted(want, want_len);
    if (line_no > 0)
        fprintf(stderr, " (line %llu of %llu)", line_no, lines);
    fputc('\n', stderr);
    if (got != GOT_LINE) {
        print_no_line(c, waited);
        fail_end();
    }
    field("got");
    print_quoted(line, n);
    fputc('\n', stderr);
    size_t same = 0;
    while (same < n && same < want_len && line[same] == want[same])
        same++;
    if (n == want_len + 1 && same == want_len && line[n - 1] == '\r') {
        fprintf(stderr, "%12s(the line ends with \\r: the other side sent "
                "\"\\r\\n\", the test expects \"\\n\" only)\n", "");
    } else if (n > SHOW_WHOLE || want_len > SHOW_WHOLE) {
        size_t from = same > 10 ? same - 10 : 0;    /* a little context */
        fprintf(stderr, "%12s(%zu bytes expected, %zu got; from byte %zu on: "
                "expected ", "", want_len, n, from);
        print_quoted(want + from, want_len - from < 30 ? want_len - from : 30);
        fputs(", got ", stderr);
        print_quoted(line + from, n - from < 30 ? n - from : 30);
        fputs(")\n", stderr);
    }
    fail_end();
}

/* expect-eof: c must end within the bound with nothing unread. */
static void run_expect_eof(struct conn *c)
{
    long long deadline = tool_now_ms() + peer.bound_ms;
    for (long long left; !c->eof && (left = deadline - tool_now_ms()) >= 0;)
        pump(left, -1);
    if (c->eof && c->len == 0) {
        log_note(c, KIND_RECEIVED, "end of file");
        return;
    }
    char waited[32];
    format_bound(waited, sizeof waited, peer.bound_ms);
    if (c->len == 0) {
        fail_begin_timeout(c, "did not close the connection", waited);
        field("expected");
        fputs("end of file\n", stderr);
        field("got");
        fputs("nothing (the connection stayed open)\n", stderr);
        fail_end();
    }
    fail_begin(c);
    field("expected");
    fputs("end of file\n", stderr);
    field("got");
    print_quoted(c->buf + c->start, c->len);
    if (!c->eof)
        fprintf(stderr, " and no end of file within %s\n", waited);
    else if (c->read_error == ECONNRESET)
        fputs(" then a connection reset\n", stderr);
    else
        fputs(" then end of file\n", stderr);
    fail_end();
}

/* expect-silence: nothing may arrive on c for ms, and it must stay open. */
static void run_expect_silence(struct conn *c, unsigned long long ms)
{
    pump_until(tool_now_ms() + (long long)ms);
    pump(0, -1);
    if (c->len == 0 && !c->eof)
        return;
    fail_begin(c);
    field("expected");
    fprintf(stderr, "nothing for %llu ms\n", ms);
    if (c->len > 0) {
        field("got");
        print_quoted(c->buf + c->start, c->len);
        fputs(c->eof ? " then the connection ended\n" : "\n", stderr);
    } else {
        print_no_line(c, "");
    }
    fail_end();
}

/* line and drain: print lines of c escaped on stdout (drain: until EOF). */
static void run_print_lines(struct conn *c, bool until_eof)
{
    char waited[32];
    unsigned long long total = 0;   /* an endless stream must not hang us */
    format_bound(waited, sizeof waited, peer.bound_ms);
    for (;;) {
        size_t n = 0;
        enum line_wait got = wait_line(c, tool_now_ms() + peer.bound_ms, &n);
        if (got == GOT_LINE && (total += n + 1) > INPUT_LIMIT) {
            fail_begin(c);
            field("failed");
            fputs("more than 64 MiB arrived and still no end of file\n",
                  stderr);
            fail_end();
        }
        if (got == GOT_LINE) {
            write_escaped(stdout, c->buf + c->start, n);
            fputc('\n', stdout);
            log_add(c, KIND_RECEIVED, c->buf + c->start, n + 1, 1);
            consume(c, n + 1);
            if (until_eof)
                continue;
            fflush(stdout);
            return;
        }
        if (got == GOT_END && until_eof) {
            if (c->len > 0) {
                write_escaped(stdout, c->buf + c->start, c->len);
                fputs(" [no newline]\n", stdout);
                log_add(c, KIND_RECEIVED, c->buf + c->start, c->len, 1);
                consume(c, c->len);
            }
            log_note(c, KIND_RECEIVED, "end of file");
            fflush(stdout);
            return;
        }
        if (got == GOT_NOTHING)
            fail_begin_timeout(c, until_eof ? "sent no line and did not close "
                               "the connection" : "sent no line", waited);
        else
            fail_begin(c);
        field("expected");
        fputs(until_eof ? "more lines, or end of file\n" : "a line\n", stderr);
        print_no_line(c, waited);
        fail_end();
    }
}

/* -------------------------------------------------------------- connecting */

/* Makes fd non-blocking and disables Nagle so pieces go out separately. */
static void setup_socket(int fd)
{
    int one = 1;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        quit(1, "fcntl: %s", strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Connects fd to addr before deadline.  Returns 0 or an errno. */
static int connect_before(int fd, const struct addrinfo *ai,
                          long long deadline)
{
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return errno;
    for (;;) {
        long long left = deadline - tool_now_ms();
        if (left < 0)
            return ETIMEDOUT;
        if (pump(left, fd))
            break;
    }
    int err = 0;
    socklen_t size = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &size) < 0)
        return errno;
    return err;
}

/* Opens connection c to HOST:PORT within the bound, trying every address;
 * on failure exits with "peer: connect HOST:PORT: reason". */
static void open_conn(struct conn *c)
{
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(peer.host, peer.port, &hints, &list);
    if (rc != 0)
        quit(1, "connect %s:%s: %s", peer.host, peer.port,
                rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    long long deadline = tool_now_ms() + peer.bound_ms;
    int err = 0;
    for (const struct addrinfo *ai = list; ai && c->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        setup_socket(fd);
        err = connect_before(fd, ai, deadline);
        if (err == 0)
            c->fd = fd;
        else
            close(fd);
    }
    freeaddrinfo(list);
    if (c->fd < 0 && err == ETIMEDOUT) {
        char waited[32];
        format_bound(waited, sizeof waited, peer.bound_ms);
        quit(1, "timeout: could not connect to %s:%s within %s (connection %s)",
             peer.host, peer.port, waited, c->name);
    }
    if (c->fd < 0)
        quit(1, "connect %s:%s: %s", peer.host, peer.port, strerror(err));
}

/* Listens on 127.0.0.1:port, announces the port on stdout, and accepts one
 * connection into c within the bound; then stops listening. */
static void listen_and_accept(struct conn *c, unsigned short port)
{
    struct sockaddr_in addr;
    socklen_t size = sizeof addr;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        quit(1, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr *any = (struct sockaddr *)&addr;
    if (bind(fd, any, sizeof addr) < 0 || listen(fd, 1) < 0
        || getsockname(fd, any, &size) < 0) {
        int err = errno;
        close(fd);
        quit(1, "listen 127.0.0.1:%u: %s", (unsigned)port, strerror(err));
    }
    setup_socket(fd);   /* non-blocking: accept below must never block */
    port = ntohs(addr.sin_port);
    printf("listening on port %u\n", (unsigned)port);
    fflush(stdout);

    long long deadline = tool_now_ms() + peer.bound_ms;
    while (c->fd < 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = deadline - tool_now_ms();
        if (left < 0) {
            char waited[32];
            format_bound(waited, sizeof waited, peer.bound_ms);
            close(fd);
            quit(1, "timeout: the client did not connect to port %u within %s",
                 (unsigned)port, waited);
        }
        if (poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left) > 0) {
            c->fd = accept(fd, NULL, NULL);
            if (c->fd < 0 && errno != EINTR && errno != ECONNABORTED
                && !would_block(errno)) {
                int err = errno;
                close(fd);
                quit(1, "accept: %s", strerror(err));
            }
        }
    }
    close(fd);
    setup_socket(c->fd);
}

/* Closes c (with a reset if `abortive`) and forgets its unread input. */
static void close_conn(struct conn *c, bool abortive)
{
    if (abortive) {
        struct linger at_once = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &at_once, sizeof at_once);
    } else {
        pump(0, -1);    /* empty the kernel buffer, so the close is a FIN */
    }
    close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->start = c->len = c->cap = c->scanned = 0;
}

/* ----------------------------------------------------------------- script */

/* Returns the index of connection NAME, or -1. */
static int find_conn(const char *name)
{
    for (int i = 0; i < peer.conn_count; i++)
        if (strcmp(peer.conns[i].name, name) == 0)
            return i;
    return -1;
}

/* Writes how to use a command ("pieces SIZE MS TEXT") into out. */
static const char *synopsis(const struct command_spec *spec, char *out,
                            size_t size)
{
    snprintf(out, size, "%s", spec->word);
    for (const char *a = spec->args; *a; a++) {
        const char *name = *a == 'T' ? " TEXT" : *a == 'C' ? " COUNT"
                         : *a == 'S' ? " SIZE" : *a == 'M' ? " MS"
                         : *a == 'D' ? " SECONDS" : " NAME";
        strncat(out, name, size - strlen(out) - 1);
    }
    return out;
}

/* Parses and checks the whole script argv[first..argc) into peer.commands,
 * so that a mistake in it is reported before anything is sent. */
static void parse_script(int argc, char **argv, int first, bool listening)
{
    bool closed[MAX_CONNS] = {false}, write_shut[MAX_CONNS] = {false};
    char usage[64];
    int current = 0;
    size_t most = (size_t)(argc - first) + 1;
    peer.commands = xmalloc(most * sizeof *peer.commands);
    peer.conns[0] = (struct conn){.name = "1", .fd = -1};
    peer.conn_count = 1;

    for (int i = first; i < argc;) {
        int number = peer.command_count + 1;
        const struct command_spec *spec = NULL;
        for (size_t k = 0; k < sizeof command_specs / sizeof *spec; k++)
            if (strcmp(argv[i], command_specs[k].word) == 0)
                spec = &command_specs[k];
        if (spec == NULL)
            quit(2, "command %d: unknown command \"%s\"", number, argv[i]);
        int nargs = (int)strlen(spec->args);
        if (argc - i - 1 < nargs)
            quit(2, "command %d: missing arguments, write: %s", number,
                 synopsis(spec, usage, sizeof usage));
        struct command *cmd = &peer.commands[peer.command_count++];
        *cmd = (struct command){.spec = spec, .argi = i, .conn = current};
        int nums = 0;
        for (int k = 0; k < nargs; k++) {
            const char *word = argv[i + 1 + k];
            unsigned long long lo = 0, hi = LIMIT_MS, *out = &cmd->num[nums];
            const char *bad = NULL;
            switch (spec->args[k]) {
            case 'T':
                bad = decode_text(word, &cmd->text, &cmd->text_len);
                if (bad)
                    quit(2, "command %d (%s): bad escape \"%.4s\" in \"%s\""
                            " (known: \\n \\r \\t \\0 \\\\ \\xHH)",
                            number, spec->word, bad, word);
                continue;
            case 'W':
                cmd->name = word;
                continue;
            case 'D':
                nums++;
                if (!parse_seconds(word, out))
                    quit(2, "command %d (%s): \"%s\" is not a number of "
                            "seconds (like 5 or 0.5)", number, spec->word,
                            word);
                continue;
            case 'C': hi = LIMIT_COUNT; break;
            case 'S': lo = 1; hi = 1000000000; break;
            default: break;     /* 'M' */
            }
            nums++;
            if (!parse_number(word, lo, hi, out))
                quit(2, "command %d (%s): \"%s\" must be a whole number "
                        "from %llu to %llu, write: %s", number, spec->word,
                        word, lo, hi, synopsis(spec, usage, sizeof usage));
        }
        i += 1 + nargs;

        if (spec->op == OP_CONNECT) {
            if (listening)
                quit(2, "command %d: connect is not possible with "
                        "--listen", number);
            if (find_conn(cmd->name) >= 0)
                quit(2, "command %d: there is already a connection "
                        "named \"%s\"", number, cmd->name);
            if (peer.conn_count == MAX_CONNS)
                quit(2, "command %d: too many connections (at most %d)",
                        number, MAX_CONNS);
            peer.conns[peer.conn_count] = (struct conn){.name = cmd->name,
                                                        .fd = -1};
            current = cmd->conn = peer.conn_count++;
        } else if (spec->op == OP_USE) {
            current = cmd->conn = find_conn(cmd->name);
            if (current < 0)
                quit(2, "command %d: no connection named \"%s\"", number,
                        cmd->name);
        }
        const char *name = peer.conns[current].name;
        if ((spec->flags & NEEDS_CONN) && closed[current])
            quit(2, "command %d (%s): connection %s was already closed "
                    "by the script", number, spec->word, name);
        if ((spec->flags & SENDS) && write_shut[current])
            quit(2, "command %d (%s): connection %s was shut for writing "
                    "by shut-write", number, spec->word, name);
        closed[current] |= spec->op == OP_RESET || spec->op == OP_CLOSE;
        write_shut[current] |= spec->op == OP_SHUT_WRITE;
    }
}

/* Runs one command of the script. */
static void run_command(const struct command *cmd)
{
    struct conn *c = &peer.conns[cmd->conn];
    char waited[32];
    switch (cmd->spec->op) {
    case OP_SEND:
    case OP_REPEAT:
    case OP_PIECES:
        run_send(cmd, c);
        break;
    case OP_PAUSE:
        pump_until(tool_now_ms() + (long long)cmd->num[0]);
        break;
    case OP_EXPECT:
        format_bound(waited, sizeof waited, peer.bound_ms);
        expect_line(c, cmd->text, cmd->text_len, tool_now_ms() + peer.bound_ms,
                    waited, 0, 0);
        break;
    case OP_EXPECT_WITHIN:
        snprintf(waited, sizeof waited, "%llu ms", cmd->num[0]);
        expect_line(c, cmd->text, cmd->text_len,
                    tool_now_ms() + (long long)cmd->num[0], waited, 0, 0);
        break;
    case OP_EXPECT_REPEAT:
        format_bound(waited, sizeof waited, peer.bound_ms);
        for (unsigned long long i = 1; i <= cmd->num[0]; i++)
            expect_line(c, cmd->text, cmd->text_len, tool_now_ms() + peer.bound_ms,
                        waited, i, cmd->num[0]);
        break;
    case OP_EXPECT_EOF:
        run_expect_eof(c);
        break;
    case OP_EXPECT_SILENCE:
        run_expect_silence(c, cmd->num[0]);
        break;
    case OP_LINE:
    case OP_DRAIN:
        run_print_lines(c, cmd->spec->op == OP_DRAIN);
        break;
    case OP_SHUT_WRITE:
        shutdown(c->fd, SHUT_WR);   /* fails only if already gone: harmless */
        log_note(c, KIND_SENT, "end of file (shut-write)");
        break;
    case OP_RESET:
    case OP_CLOSE:
        close_conn(c, cmd->spec->op == OP_RESET);
        break;
    case OP_CONNECT:
        open_conn(c);
        break;
    case OP_USE:
        break;
    case OP_TIMEOUT:
        peer.bound_ms = (long long)cmd->num[0];
        break;
    }
}

int main(int argc, char **argv)
{
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, NULL);  /* a broken send returns EPIPE */
    unsigned long long run_bound_ms = 0;

    peer.argv = argv;
    const char *listen_port = NULL;
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--lazy") == 0) {
            peer.lazy = true;
            i++;
            continue;
        }
        if (i + 1 >= argc)
            quit(2, "%s needs a value", argv[i]);
        unsigned long long ms;
        if (strcmp(argv[i], "-t") == 0) {
            if (!parse_seconds(argv[i + 1], &ms))
                quit(2, "-t \"%s\": not a number of seconds (like 5 or "
                        "0.5)", argv[i + 1]);
            peer.bound_ms = (long long)ms;
        } else if (strcmp(argv[i], "-T") == 0) {
            if (!parse_seconds(argv[i + 1], &run_bound_ms) || run_bound_ms == 0)
                quit(2, "-T \"%s\": not a number of seconds (like 15)",
                     argv[i + 1]);
        } else if (strcmp(argv[i], "--listen") == 0) {
            listen_port = argv[i + 1];
        } else {
            quit(2, "unknown option \"%s\"", argv[i]);
        }
        i += 2;
    }

    unsigned long long port;
    if (listen_port) {
        if (!parse_number(listen_port, 0, 65535, &port))
            quit(2, "--listen \"%s\": not a port number", listen_port);
    } else {
        if (argc - i < 2)
            quit(2, "missing HOST and PORT");
        peer.host = argv[i];
        peer.port = argv[i + 1];
        if (!parse_number(peer.port, 1, 65535, &port))
            quit(2, "\"%s\" is not a port number (1 to 65535)", peer.port);
        i += 2;
    }
    peer.listening = listen_port != NULL;
    parse_script(argc, argv, i, peer.listening);
    if (run_bound_ms > 0)
        tool_run_bound("peer", (unsigned int)((run_bound_ms + 999) / 1000));

    if (listen_port)
        listen_and_accept(&peer.conns[0], (unsigned short)port);
    else
        open_conn(&peer.conns[0]);
    for (peer.current = 0; peer.current < peer.command_count; peer.current++)
        run_command(&peer.commands[peer.current]);

    fflush(stdout);
    for (int k = 0; k < peer.conn_count; k++)
        if (peer.conns[k].fd >= 0)
            close_conn(&peer.conns[k], false);
    cleanup();
    return 0;
}
