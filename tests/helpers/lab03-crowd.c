/*
 * lab03-crowd - many connections at once, for the tests of lab03
 * ===============================================================
 *
 * tests/lab03-select.bats uses this program where peer's 64 connections
 * are not enough (1000 clients, FD_SETSIZE, running out of descriptors),
 * for a client that sends without ever reading its answers, and for one
 * that reads them at a chosen pace.  It holds every connection it opened
 * until told otherwise, so a test can look at the server between two
 * commands.
 *
 * USAGE
 *   lab03-crowd [-t SECONDS] HOST PORT [COMMAND...]
 *       Runs the commands given as arguments; without any, reads them from
 *       standard input, one command a line (words separated by spaces), and
 *       runs each as soon as its line arrives, so that a test can drive it
 *       one command at a time through a FIFO.  After each command it prints one line
 *       on stdout, "ok <what happened>".  On a failure it prints why on
 *       stderr and exits 1; at the end of the commands it exits 0.
 *   -t SECONDS is the bound of each wait (default 5, decimals allowed):
 *       a command fails when nothing it waits for happened for that long,
 *       with a message that starts "lab03-crowd: timeout: ".
 *
 * COMMANDS  (connections are numbered from 1 in the order they were opened;
 *            A B is the range of connections A to B, both included)
 *   open N [RCVBUF [SNDBUF]]
 *                     opens N new connections one after the other, each
 *                     connected before the next starts (with SO_RCVBUF set
 *                     to RCVBUF bytes and SO_SNDBUF to SNDBUF bytes before
 *                     connecting, if given)
 *   hello A B         sends "hello K\n" on each connection K of A..B, then
 *                     reads each one's first line: "OK <n> bytes <n> chars"
 *                     (n = the length of "hello K") means served; "ERR server
 *                     full" followed by end of file means refused; end of
 *                     file (or a reset) without any line means closed (the
 *                     connection is then closed).  Anything else fails.
 *                     Prints "ok hello A B: S served, R refused, C closed:
 *                     served LIST refused LIST closed LIST", each LIST as
 *                     ranges ("1-57", "3 5-9") or "none".
 *   flood K COUNT TEXT
 *                     sends TEXT COUNT times on K without ever reading K,
 *                     until all of it is sent or the server breaks the
 *                     connection (then K is closed).  Prints "ok flood K:
 *                     all N bytes sent" or "ok flood K: dropped after N
 *                     bytes (reason)".  Fails if the server reads nothing
 *                     from K for the bound.  TEXT understands \n \r \t \\
 *                     and \xHH (\x20 for a space).
 *   fill K MS TEXT    sends TEXT again and again on K without ever reading
 *                     K, until the server has taken nothing from K for MS
 *                     ms: it stopped reading K.  Prints "ok fill K: paused
 *                     after N bytes, L lines" (L = N / the length of TEXT),
 *                     or "ok fill K: dropped after N bytes (reason)" if the
 *                     server broke the connection (then K is closed).
 *                     Fails if the server is still reading after 256 MiB.
 *   read K COUNT TEXT reads the next COUNT lines of K: each must be TEXT
 *                     (the rest of the command: it may hold spaces).
 *                     Prints "ok read K: COUNT lines".  Fails if another
 *                     line comes, if the server closes K first, or if
 *                     nothing arrived for the bound.
 *   exchange K COUNT KBPS TEXT ANSWER
 *                     sends TEXT COUNT times on K while reading its answers,
 *                     at most KBPS KiB per second (0: as fast as they come),
 *                     until COUNT lines came back, each ANSWER (the rest of
 *                     the command: it may hold spaces).  Prints "ok
 *                     exchange K: COUNT answers in MS ms".  Fails if an
 *                     answer differs, if the server closes K, or if nothing
 *                     moved either way for the bound.
 *   shut-write A B    shutdown(SHUT_WR) on A..B: the server reads end of file
 *   reset A B         closes A..B with a reset (SO_LINGER 0)
 *   wait-drop K       waits for the server to break connection K (as it
 *                     does when it stops), never reading it (a byte "x"
 *                     every 50 ms makes the system answer a reset if the
 *                     server closed it).  Prints
 *                     "ok wait-drop K: dropped (reason)", or fails after the
 *                     bound
 *   leave A B         ends A..B politely: shutdown(SHUT_WR), waits for the
 *                     server to close (nothing may arrive before), closes
 *   expect-eof A B    waits for the server to close A..B (nothing may
 *                     arrive before), closes them
 *   close A B         closes A..B at once
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define PRINTF_LIKE(fmt, first)
#endif

#define MAX_CONNS 4096          /* connections one crowd can hold */
#define LINE_SIZE 128           /* longest line expected from the server */
#define FLOOD_CHUNK (64 * 1024) /* bytes handed to send() at a time */
#define MAX_WORDS 16            /* words in one command */
#define COMMAND_SIZE 1024       /* longest command line on stdin */
#define FILL_LIMIT (256LL * 1024 * 1024) /* bytes fill sends at most */

enum state { UNUSED, OPEN, CLOSED };

/* One connection and the bytes received on it that make no line yet. */
struct conn {
    int fd;
    enum state state;
    char buf[LINE_SIZE];
    size_t len;
};

static struct conn conns[MAX_CONNS + 1];    /* numbered from 1 */
static int conn_count;
static long long bound_ms = 5000;
static const char *host, *port;

/* Prints "lab03-crowd: MESSAGE" on stderr and exits 1. */
static _Noreturn PRINTF_LIKE(1, 2) void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("lab03-crowd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Parses a whole number from lo to hi, or fails naming what it is. */
static long parse_number(const char *word, long lo, long hi, const char *what)
{
    char *end;
    long value;

    errno = 0;
    value = word ? strtol(word, &end, 10) : 0;
    if (word == NULL || *word < '0' || *word > '9' || *end != '\0'
        || errno != 0 || value < lo || value > hi)
        fail("%s: \"%s\" is not a whole number from %ld to %ld", what,
             word ? word : "(missing)", lo, hi);
    return value;
}

/* Parses the range A B: both must name connections opened so far. */
static void parse_range(char **words, int *first, int *last)
{
    *first = (int)parse_number(words[1], 1, conn_count > 0 ? conn_count : 1,
                               words[0]);
    *last = (int)parse_number(words[2], *first,
                              conn_count > 0 ? conn_count : 1, words[0]);
}

/* Checks that connection k is still open, for a command that uses it. */
static void need_open(int k, const char *command)
{
    if (conns[k].state != OPEN)
        fail("%s: connection %d was already closed", command, k);
}

/* Decodes the escapes of TEXT into a new string; *len gets its length. */
static char *decode_text(const char *word, size_t *len)
{
    char *text = malloc(strlen(word) + 1);
    size_t n = 0;
    unsigned int byte;

    if (text == NULL)
        fail("out of memory");
    for (const char *p = word; *p; p++) {
        if (*p != '\\') {
            text[n++] = *p;
            continue;
        }
        p++;
        if (*p == 'n')
            text[n++] = '\n';
        else if (*p == 'r')
            text[n++] = '\r';
        else if (*p == 't')
            text[n++] = '\t';
        else if (*p == '\\')
            text[n++] = '\\';
        else if (*p == 'x' && sscanf(p + 1, "%2x", &byte) == 1 && p[1] && p[2]) {
            text[n++] = (char)byte;
            p += 2;
        } else
            fail("bad escape in \"%s\" (known: \\n \\r \\t \\\\ \\xHH)", word);
    }
    *len = n;
    return text;
}

/* ------------------------------------------------------------- opening */

/* Opens connection number conn_count + 1, connected within the bound. */
static void open_one(int rcvbuf, int sndbuf)
{
    struct addrinfo hints, *list, *ai;
    int fd = -1, err = 0, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0)
        fail("open: %s:%s: %s", host, port, gai_strerror(rc));
    for (ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
        struct pollfd p;
        socklen_t size = sizeof err;

        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            fail("open: connection %d: socket: %s (raise ulimit -n?)",
                 conn_count + 1, strerror(errno));
        if (rcvbuf > 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        if (sndbuf > 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        err = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            if (err == EINPROGRESS) {
                p = (struct pollfd){.fd = fd, .events = POLLOUT};
                rc = poll(&p, 1, (int)bound_ms);
                if (rc == 0)
                    err = ETIMEDOUT;
                else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &size) < 0)
                    err = errno;
            }
        }
        if (err != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0 && err == ETIMEDOUT)
        fail("timeout: open: connection %d to %s:%s was not accepted within "
             "%lld ms", conn_count + 1, host, port, bound_ms);
    if (fd < 0)
        fail("open: connection %d to %s:%s: %s", conn_count + 1, host, port,
             strerror(err));
    conn_count++;
    conns[conn_count] = (struct conn){.fd = fd, .state = OPEN};
}

static void run_open(char **words, int nwords)
{
    int first = conn_count + 1;
    long n = parse_number(words[1], 1, MAX_CONNS - conn_count, "open");
    int rcvbuf = nwords > 2 ? (int)parse_number(words[2], 1, INT_MAX, "open")
                            : 0;
    int sndbuf = nwords > 3 ? (int)parse_number(words[3], 1, INT_MAX, "open")
                            : 0;

    for (long i = 0; i < n; i++)
        open_one(rcvbuf, sndbuf);
    printf("ok open %ld: connections %d-%d\n", n, first, conn_count);
}

/* ------------------------------------------------------------ reading */

/* Closes connection k. */
static void close_conn(int k)
{
    close(conns[k].fd);
    conns[k].fd = -1;
    conns[k].state = CLOSED;
}

enum got { GOT_NOTHING, GOT_LINE, GOT_END };

/* Reads once from k. Returns GOT_LINE with the line (without \n) in
 * conns[k].buf, NUL-terminated, GOT_END at end of file or on a reset, or
 * GOT_NOTHING. *why gets the reason of an end (0: end of file). */
static enum got read_conn(int k, int *why)
{
    struct conn *c = &conns[k];
    char *nl;
    ssize_t n;

    *why = 0;
    nl = memchr(c->buf, '\n', c->len);
    if (nl == NULL) {
        if (c->len == LINE_SIZE - 1) {
            c->buf[c->len] = '\0';
            fail("connection %d: a line longer than %d bytes: \"%.60s...\"",
                 k, LINE_SIZE, c->buf);
        }
        n = recv(c->fd, c->buf + c->len, LINE_SIZE - 1 - c->len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return GOT_NOTHING;
        if (n <= 0) {
            *why = n < 0 ? errno : 0;
            return GOT_END;
        }
        c->len += (size_t)n;
        nl = memchr(c->buf, '\n', c->len);
        if (nl == NULL)
            return GOT_NOTHING;
    }
    *nl = '\0';
    return GOT_LINE;
}

/* Drops the line read_conn() returned from k's buffer. */
static void consume_line(int k)
{
    struct conn *c = &conns[k];
    size_t used = strlen(c->buf) + 1;

    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
}

/* Prints " NAME LIST": the connections of first..last whose flag is want,
 * as ranges ("1-57 60"), or "none". */
static void print_list(const char *name, const char *flags, int first,
                       int last, char want)
{
    int any = 0;

    printf(" %s", name);
    for (int k = first; k <= last; k++) {
        if (flags[k] != want || (k > first && flags[k - 1] == want))
            continue;
        int end = k;
        while (end < last && flags[end + 1] == want)
            end++;
        printf(end > k ? " %d-%d" : " %d", k, end);
        any = 1;
    }
    if (!any)
        printf(" none");
}

/* Waits until no connection of first..last is marked in pending[],
 * calling on_line or on_end as things arrive. Fails (via those) on anything
 * unexpected, or when nothing happened for the bound. */
static void wait_all(int first, int last, char *pending,
                     void (*on_line)(int k), void (*on_end)(int k, int why),
                     const char *command)
{
    struct pollfd *fds = malloc(sizeof *fds * (size_t)(last - first + 1));
    int *owner = malloc(sizeof *owner * (size_t)(last - first + 1));
    long long deadline = tool_now_ms() + bound_ms;

    if (fds == NULL || owner == NULL)
        fail("out of memory");
    for (;;) {
        nfds_t n = 0;
        for (int k = first; k <= last; k++) {
            if (!pending[k])
                continue;
            fds[n] = (struct pollfd){.fd = conns[k].fd, .events = POLLIN};
            owner[n++] = k;
        }
        if (n == 0)
            break;
        long long left = deadline - tool_now_ms();
        if (left <= 0) {
            fprintf(stderr, "lab03-crowd: timeout: %s %d %d: the server sent "
                    "nothing more for %lld ms on %lu connection(s):", command,
                    first, last, bound_ms, (unsigned long)n);
            for (nfds_t i = 0; i < n && i < 20; i++)
                fprintf(stderr, " %d", owner[i]);
            fprintf(stderr, n > 20 ? " ...\n" : "\n");
            for (nfds_t i = 0; i < n && i < 3; i++)
                if (conns[owner[i]].len > 0)
                    fprintf(stderr, "  connection %d: partial line \"%.*s\"\n",
                            owner[i], (int)conns[owner[i]].len,
                            conns[owner[i]].buf);
            exit(1);
        }
        int ready = poll(fds, n, left > INT_MAX ? INT_MAX : (int)left);
        if (ready < 0 && errno != EINTR)
            fail("poll: %s", strerror(errno));
        for (nfds_t i = 0; ready > 0 && i < n; i++) {
            int k = owner[i], why;
            if (fds[i].revents == 0)
                continue;
            for (;;) {
                enum got got = read_conn(k, &why);
                if (got == GOT_NOTHING)
                    break;
                deadline = tool_now_ms() + bound_ms;     /* progress */
                if (got == GOT_END) {
                    on_end(k, why);
                    break;
                }
                on_line(k);
                consume_line(k);
                if (!pending[k])
                    break;
            }
        }
    }
    free(fds);
    free(owner);
}

/* ------------------------------------------------------------- hello */

static char *hello_pending;     /* 1: waits for a line; 2: for end of file */
static char *hello_result;      /* 's' served, 'r' refused, 'c' closed */

static void hello_line(int k)
{
    char expected[LINE_SIZE];
    int n = snprintf(NULL, 0, "hello %d", k);

    snprintf(expected, sizeof expected, "OK %d bytes %d chars", n, n);
    if (hello_pending[k] == 1 && strcmp(conns[k].buf, expected) == 0) {
        hello_result[k] = 's';
        hello_pending[k] = 0;
    } else if (hello_pending[k] == 1
               && strcmp(conns[k].buf, "ERR server full") == 0) {
        hello_pending[k] = 2;   /* then the server must close it */
    } else if (hello_pending[k] == 2) {
        fail("hello: connection %d: after \"ERR server full\" came \"%s\", "
             "expected the server to close the connection", k, conns[k].buf);
    } else {
        fail("hello: connection %d sent \"hello %d\\n\" and got \"%s\", "
             "expected \"%s\" (served) or \"ERR server full\" (refused)",
             k, k, conns[k].buf, expected);
    }
}

static void hello_end(int k, int why)
{
    (void)why;      /* a reset is a close too */
    if (conns[k].len > 0)
        fail("hello: connection %d: the server closed it after the partial "
             "line \"%.*s\" (no \\n)", k, (int)conns[k].len, conns[k].buf);
    hello_result[k] = hello_pending[k] == 2 ? 'r' : 'c';
    hello_pending[k] = 0;
    close_conn(k);
}

/* Sends all of text on k, waiting for room within the bound. Returns 0, or
 * an errno: the server is gone (it may have refused us: the caller reads). */
static int send_text(int k, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = send(conns[k].fd, text, len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = conns[k].fd, .events = POLLOUT};
            if (poll(&p, 1, (int)bound_ms) == 0)
                return ETIMEDOUT;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        text += n;
        len -= (size_t)n;
    }
    return 0;
}

static void run_hello(char **words)
{
    int first, last, served = 0, refused = 0, closed = 0;
    char text[32];

    parse_range(words, &first, &last);
    hello_pending = calloc((size_t)conn_count + 1, 1);
    hello_result = calloc((size_t)conn_count + 2, 1);
    if (hello_pending == NULL || hello_result == NULL)
        fail("out of memory");
    for (int k = first; k <= last; k++) {
        need_open(k, "hello");
        int n = snprintf(text, sizeof text, "hello %d\n", k);
        int err = send_text(k, text, (size_t)n);
        if (err == ETIMEDOUT)
            fail("timeout: hello: connection %d: the server read nothing for "
                 "%lld ms", k, bound_ms);
        hello_pending[k] = 1;   /* a failed send: maybe refused, read it */
    }
    wait_all(first, last, hello_pending, hello_line, hello_end, "hello");
    for (int k = first; k <= last; k++) {
        served += hello_result[k] == 's';
        refused += hello_result[k] == 'r';
        closed += hello_result[k] == 'c';
    }
    printf("ok hello %d %d: %d served, %d refused, %d closed:", first, last,
           served, refused, closed);
    print_list("served", hello_result, first, last, 's');
    print_list("refused", hello_result, first, last, 'r');
    print_list("closed", hello_result, first, last, 'c');
    putchar('\n');
    free(hello_pending);
    free(hello_result);
}

/* ------------------------------------------------------------- flood */

static void run_flood(char **words)
{
    int k = (int)parse_number(words[1], 1, conn_count, "flood");
    long long count = parse_number(words[2], 1, LONG_MAX, "flood");
    size_t len, per_chunk, fill;
    char *text = decode_text(words[3] ? words[3] : "", &len);
    char *chunk;
    unsigned long long total, sent = 0;

    need_open(k, "flood");
    if (len == 0)
        fail("flood: empty TEXT");
    per_chunk = len >= FLOOD_CHUNK ? 1 : FLOOD_CHUNK / len;
    chunk = malloc(per_chunk * len);
    if (chunk == NULL)
        fail("out of memory");
    for (size_t i = 0; i < per_chunk; i++)
        memcpy(chunk + i * len, text, len);
    fill = per_chunk * len;
    total = (unsigned long long)count * len;
    while (sent < total) {
        size_t offset = (size_t)(sent % fill);
        size_t want = fill - offset;
        if (want > total - sent)
            want = (size_t)(total - sent);
        ssize_t n = send(conns[k].fd, chunk + offset, want, 0);
        if (n >= 0) {
            sent += (unsigned long long)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* Wait for room, never reading: this client does not read. */
            struct pollfd p = {.fd = conns[k].fd, .events = POLLOUT};
            int ready = poll(&p, 1, (int)bound_ms);
            if (ready == 0)
                fail("timeout: flood %d: after %llu bytes the server read nothing "
                     "from this connection for %lld ms (it stopped reading "
                     "this client: is it blocked, sending to it?)",
                     k, sent, bound_ms);
            continue;
        }
        printf("ok flood %d: dropped after %llu bytes (%s)\n", k, sent,
               strerror(errno));
        close_conn(k);
        free(chunk);
        free(text);
        return;
    }
    printf("ok flood %d: all %llu bytes sent\n", k, sent);
    free(chunk);
    free(text);
}

/* -------------------------------------------------------------- fill */

/* A buffer holding as many copies of text as fit in FLOOD_CHUNK (one at
 * least); *size gets its length. */
static char *repeat_text(const char *text, size_t len, size_t *size)
{
    size_t copies = len >= FLOOD_CHUNK ? 1 : FLOOD_CHUNK / len;
    char *chunk = malloc(copies * len);

    if (chunk == NULL)
        fail("out of memory");
    for (size_t i = 0; i < copies; i++)
        memcpy(chunk + i * len, text, len);
    *size = copies * len;
    return chunk;
}

static void run_fill(char **words)
{
    int k = (int)parse_number(words[1], 1, conn_count, "fill");
    long quiet_ms = parse_number(words[2], 1, 86400000, "fill");
    size_t len, fill;
    char *text = decode_text(words[3] ? words[3] : "", &len);
    char *chunk;
    long long sent = 0;

    need_open(k, "fill");
    if (len == 0)
        fail("fill: empty TEXT");
    chunk = repeat_text(text, len, &fill);
    while (sent < FILL_LIMIT) {
        size_t offset = (size_t)(sent % (long long)fill);
        ssize_t n = send(conns[k].fd, chunk + offset, fill - offset, 0);
        if (n >= 0) {
            sent += n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct pollfd p = {.fd = conns[k].fd, .events = POLLOUT};
            if (poll(&p, 1, (int)quiet_ms) == 0) {
                printf("ok fill %d: paused after %lld bytes, %lld lines\n", k,
                       sent, sent / (long long)len);
                free(chunk);
                free(text);
                return;
            }
            continue;
        }
        printf("ok fill %d: dropped after %lld bytes (%s)\n", k, sent,
               strerror(errno));
        close_conn(k);
        free(chunk);
        free(text);
        return;
    }
    fail("fill %d: the server read %lld bytes from this connection and "
         "still reads, though none of its answers is read", k, sent);
}

/* -------------------------------------------------------------- read */

static void run_read(char **words)
{
    int k = (int)parse_number(words[1], 1, conn_count, "read");
    long long count = parse_number(words[2], 0, LONG_MAX, "read");
    size_t text_len;
    char *text = decode_text(words[3] ? words[3] : "", &text_len);
    long long got = 0;
    long long deadline = tool_now_ms() + bound_ms;
    int why;

    need_open(k, "read");
    while (got < count) {
        enum got r = read_conn(k, &why);
        if (r == GOT_LINE) {
            if (strcmp(conns[k].buf, text) != 0)
                fail("read %d: line %lld of %lld is \"%s\", expected \"%s\"",
                     k, got + 1, count, conns[k].buf, text);
            consume_line(k);
            got++;
            deadline = tool_now_ms() + bound_ms;
            continue;
        }
        if (r == GOT_END)
            fail("read %d: the server closed the connection (%s) after %lld "
                 "of %lld lines", k, why ? strerror(why) : "end of file",
                 got, count);
        struct pollfd p = {.fd = conns[k].fd, .events = POLLIN};
        long long left = deadline - tool_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0)
            fail("timeout: read %d: the server sent nothing for %lld ms after "
                 "%lld of %lld lines", k, bound_ms, got, count);
    }
    printf("ok read %d: %lld lines\n", k, count);
    free(text);
}

/* ---------------------------------------------------------- exchange */

static void run_exchange(char **words)
{
    int k = (int)parse_number(words[1], 1, conn_count, "exchange");
    long long count = parse_number(words[2], 1, LONG_MAX, "exchange");
    long long kbps = parse_number(words[3], 0, 1000000, "exchange");
    size_t len, fill;
    char *text = decode_text(words[4] ? words[4] : "", &len);
    size_t answer_len;
    char *answer = decode_text(words[5] ? words[5] : "", &answer_len);
    char *chunk;
    long long total, sent = 0, got = 0, received = 0;
    long long start = tool_now_ms(), deadline = start + bound_ms;
    int why;

    need_open(k, "exchange");
    if (len == 0)
        fail("exchange: empty TEXT");
    chunk = repeat_text(text, len, &fill);
    total = count * (long long)len;
    while (got < count) {
        /* Reading is allowed while under the pace asked for. */
        long long now = tool_now_ms(), wait_ms = 0;
        int may_read = kbps == 0 || received < kbps * 1024 * (now - start) / 1000;
        if (!may_read) /* until the pace allows the bytes received so far */
            wait_ms = 1 + (received * 1000 / (kbps * 1024)) - (now - start);
        if (!may_read && wait_ms < 1)
            wait_ms = 1;
        struct pollfd p = {.fd = conns[k].fd,
                           .events = (short)((sent < total ? POLLOUT : 0)
                                             | (may_read ? POLLIN : 0))};
        long long left = deadline - now;
        if (left <= 0)
            fail("timeout: exchange %d: nothing moved for %lld ms: %lld of %lld bytes "
                 "sent, %lld of %lld answers received", k, bound_ms, sent,
                 total, got, count);
        /* Wake up when reading is allowed again, or at the deadline. */
        long long timeout = wait_ms > 0 && wait_ms < left ? wait_ms : left;
        if (poll(&p, 1, (int)timeout) < 0 && errno != EINTR)
            fail("poll: %s", strerror(errno));
        if (sent < total && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            size_t offset = (size_t)(sent % (long long)fill);
            size_t want = fill - offset;
            if ((long long)want > total - sent)
                want = (size_t)(total - sent);
            ssize_t n = send(conns[k].fd, chunk + offset, want, 0);
            if (n > 0) {
                sent += n;
                deadline = tool_now_ms() + bound_ms;
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK
                       && errno != EINTR) {
                fail("exchange %d: the server broke the connection (%s) "
                     "after %lld of %lld bytes sent, %lld of %lld answers "
                     "received", k, strerror(errno), sent, total, got, count);
            }
        }
        if (!may_read || !(p.revents & (POLLIN | POLLERR | POLLHUP)))
            continue;
        /* Read what is there, a line at a time, within the pace. */
        while (got < count && (kbps == 0
                               || received < kbps * 1024 * (tool_now_ms() - start) / 1000)) {
            size_t before = conns[k].len;
            enum got r = read_conn(k, &why);
            received += (long long)(conns[k].len - before);
            if (r == GOT_NOTHING)
                break;
            if (r == GOT_END)
                fail("exchange %d: the server closed the connection (%s) "
                     "after %lld of %lld bytes sent, %lld of %lld answers "
                     "received", k, why ? strerror(why) : "end of file",
                     sent, total, got, count);
            if (strcmp(conns[k].buf, answer) != 0)
                fail("exchange %d: answer %lld of %lld is \"%s\", expected "
                     "\"%s\"", k, got + 1, count, conns[k].buf, answer);
            got++;
            deadline = tool_now_ms() + bound_ms;
            consume_line(k);
        }
    }
    printf("ok exchange %d: %lld answers in %lld ms\n", k, count,
           tool_now_ms() - start);
    free(chunk);
    free(text);
    free(answer);
}

static void run_wait_drop(char **words)
{
    int k = (int)parse_number(words[1], 1, conn_count, "wait-drop");
    long long deadline = tool_now_ms() + bound_ms;
    int err = 0;
    socklen_t size = sizeof err;

    need_open(k, "wait-drop");
    for (;;) {
        /* No event asked: poll reports only an error or a hang-up. */
        struct pollfd p = {.fd = conns[k].fd, .events = 0};
        if (poll(&p, 1, 50) > 0 && (p.revents & (POLLERR | POLLHUP))) {
            getsockopt(conns[k].fd, SOL_SOCKET, SO_ERROR, &err, &size);
            break;
        }
        if (send(conns[k].fd, "x", 1, 0) < 0 && errno != EAGAIN
            && errno != EWOULDBLOCK && errno != EINTR) {
            err = errno;
            break;
        }
        if (tool_now_ms() > deadline)
            fail("timeout: wait-drop %d: the server did not close this connection "
                 "within %lld ms (it never reads its answers: a server "
                 "stuck in send() to it serves nobody, and does not stop)",
                 k, bound_ms);
    }
    printf("ok wait-drop %d: dropped (%s)\n", k,
           err ? strerror(err) : "hang-up");
    close_conn(k);
}

/* ------------------------------------------------------ leave, close */

static char *eof_pending;

static void eof_line(int k)
{
    fail("connection %d: got \"%s\" while waiting for the server to close "
         "the connection", k, conns[k].buf);
}

static void eof_end(int k, int why)
{
    (void)why;      /* a reset is a close too */
    if (conns[k].len > 0)
        fail("connection %d: got \"%.*s\" (no \\n) while waiting for the "
             "server to close the connection", k, (int)conns[k].len,
             conns[k].buf);
    eof_pending[k] = 0;
    close_conn(k);
}

/* leave (shutdown first) or expect-eof. */
static void run_wait_eof(char **words, int shut_first)
{
    int first, last;

    parse_range(words, &first, &last);
    eof_pending = calloc((size_t)conn_count + 1, 1);
    if (eof_pending == NULL)
        fail("out of memory");
    for (int k = first; k <= last; k++) {
        need_open(k, words[0]);
        if (shut_first)
            shutdown(conns[k].fd, SHUT_WR);
        eof_pending[k] = 1;
    }
    wait_all(first, last, eof_pending, eof_line, eof_end, words[0]);
    printf("ok %s %d %d\n", words[0], first, last);
    free(eof_pending);
}

/* shut-write (reset 0) or reset (reset 1) on A..B. */
static void run_shut(char **words, int reset)
{
    int first, last;

    parse_range(words, &first, &last);
    for (int k = first; k <= last; k++) {
        need_open(k, words[0]);
        if (reset) {
            struct linger hard = {.l_onoff = 1, .l_linger = 0};
            setsockopt(conns[k].fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
            close_conn(k);
        } else if (shutdown(conns[k].fd, SHUT_WR) < 0) {
            fail("shut-write: connection %d: %s", k, strerror(errno));
        }
    }
    printf("ok %s %d %d\n", words[0], first, last);
}

static void run_close(char **words)
{
    int first, last;

    parse_range(words, &first, &last);
    for (int k = first; k <= last; k++) {
        need_open(k, "close");
        close_conn(k);
    }
    printf("ok close %d %d\n", first, last);
}

/* ------------------------------------------------------------- script */

/* Runs one command given as words[0..nwords). */
static void run_command(char **words, int nwords)
{
    static const struct {
        const char *word;
        int nargs;
    } specs[] = {{"open", 1}, {"hello", 2}, {"flood", 3}, {"leave", 2},
                 {"expect-eof", 2}, {"close", 2}, {"wait-drop", 1},
                 {"fill", 3}, {"read", 3}, {"exchange", 5},
                 {"shut-write", 2}, {"reset", 2}};
    size_t i;

    for (i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (strcmp(words[0], specs[i].word) == 0)
            break;
    if (i == sizeof specs / sizeof specs[0])
        fail("unknown command \"%s\"", words[0]);
    if (nwords - 1 < specs[i].nargs)
        fail("%s: missing arguments (see the top of lab03-crowd.c)", words[0]);
    /* read's TEXT and exchange's ANSWER are the rest of the command. */
    if (i == 8 || i == 9) {
        static char rest[COMMAND_SIZE];
        int first = i == 8 ? 3 : 5;
        rest[0] = '\0';
        for (int w = first; w < nwords; w++) {
            if (strlen(rest) + strlen(words[w]) + 2 > sizeof rest)
                fail("%s: command too long", words[0]);
            if (w > first)
                strcat(rest, " ");
            strcat(rest, words[w]);
        }
        words[first] = rest;
        words[first + 1] = NULL;
    }
    switch (i) {
    case 0: run_open(words, nwords); break;
    case 1: run_hello(words); break;
    case 2: run_flood(words); break;
    case 3: run_wait_eof(words, 1); break;
    case 4: run_wait_eof(words, 0); break;
    case 5: run_close(words); break;
    case 6: run_wait_drop(words); break;
    case 7: run_fill(words); break;
    case 8: run_read(words); break;
    case 9: run_exchange(words); break;
    case 10: run_shut(words, 0); break;
    default: run_shut(words, 1); break;
    }
    fflush(stdout);
}

/* Runs the commands in argv[first..argc): each command word starts one. */
static void run_arguments(int argc, char **argv, int first)
{
    char *words[MAX_WORDS + 1];

    for (int i = first; i < argc;) {
        int n = 0;
        words[n++] = argv[i++];
        while (i < argc && n < MAX_WORDS && argv[i][0] >= '0'
               && argv[i][0] <= '9')
            words[n++] = argv[i++];
        int texts = strcmp(words[0], "exchange") == 0 ? 2
                    : strcmp(words[0], "flood") == 0 || strcmp(words[0], "fill") == 0
                      || strcmp(words[0], "read") == 0 ? 1 : 0;
        while (texts-- > 0 && i < argc && n < MAX_WORDS)
            words[n++] = argv[i++];     /* its TEXT (and ANSWER) */
        words[n] = NULL;
        run_command(words, n);
    }
}

/* Runs the commands of standard input, one a line, as they arrive. */
static void run_stdin(void)
{
    char line[COMMAND_SIZE];
    char *words[MAX_WORDS + 1];

    while (fgets(line, sizeof line, stdin) != NULL) {
        int n = 0;
        for (char *w = strtok(line, " \t\r\n"); w && n < MAX_WORDS;
             w = strtok(NULL, " \t\r\n"))
            words[n++] = w;
        words[n] = NULL;
        if (n > 0)
            run_command(words, n);
    }
}

int main(int argc, char **argv)
{
    struct sigaction ignore;
    struct rlimit limit;
    int i = 1;

    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, NULL); /* a broken send returns EPIPE */
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Room for every connection, whatever the test's soft limit. */
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < MAX_CONNS + 64) {
        limit.rlim_cur = limit.rlim_max < MAX_CONNS + 64 ? limit.rlim_max
                                                         : MAX_CONNS + 64;
        setrlimit(RLIMIT_NOFILE, &limit);
    }

    if (argc > 2 && strcmp(argv[1], "-t") == 0) {
        double seconds = strtod(argv[2], NULL);
        if (seconds <= 0 || seconds > 86400)
            fail("-t \"%s\": not a number of seconds", argv[2]);
        bound_ms = (long long)(seconds * 1000);
        i = 3;
    }
    if (argc - i < 2) {
        fputs("usage: lab03-crowd [-t SECONDS] HOST PORT [COMMAND...]\n"
              "(the commands are described at the top of "
              "tests/helpers/lab03-crowd.c)\n", stderr);
        return 2;
    }
    host = argv[i];
    port = argv[i + 1];
    if (argc > i + 2)
        run_arguments(argc, argv, i + 2);
    else
        run_stdin();
    for (int k = 1; k <= conn_count; k++)
        if (conns[k].state == OPEN)
            close(conns[k].fd);
    return 0;
}
