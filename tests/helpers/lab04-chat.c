/*
 * lab04-chat - a crowd of chat clients under load, for the tests of lab04
 * =======================================================================
 *
 * tests/lab04-threads.bats uses this program for the flow control of the
 * relay (contract, section 5): one client sends megabytes of numbered lines
 * while others read them at a set pace, or never read.  Every client plays
 * its part at the same time, in one poll() loop; each reader checks every
 * line it gets, and the program prints a summary that the test checks.
 *
 * USAGE
 *   lab04-chat [-t SECONDS] [-T SECONDS] HOST PORT relay ROLE...
 *       Opens the roles' connections in the order given, one after the
 *       other, each once the one before has its welcome (so the clients'
 *       numbers follow that order), then plays every role at once.
 *   lab04-chat [-t SECONDS] [-T SECONDS] HOST PORT owe BYTES [OPTIONS] HOW...
 *       See OWE below.
 *   lab04-chat [-t SECONDS] [-T SECONDS] HOST PORT burst MAX MS
 *       Connects, one connection every MS milliseconds (0: as fast as it
 *       can), until a connection fails (the server stopped listening) or
 *       MAX are open, printing "open N" every 10, then "opened N"; then
 *       reads them all to their end (end of file or a reset).  Fails,
 *       printing "timeout: hung (...): K..." (connections numbered from 1),
 *       if some did not end within the bound.
 *   -t SECONDS (default 5, decimals allowed) bounds every wait: the program
 *       fails when nothing moved on any connection for that long, with a
 *       message that starts "lab04-chat: timeout: ".
 *   -T SECONDS bounds the whole run (whole seconds): past it, the program
 *       stops at once, saying so, with exit status 124 (as timeout(1)
 *       would, without another process to start).
 *   Exit status: 0 everything went as expected (the summary says what
 *   happened); 1 something went wrong (what, on stderr); 2 bad usage;
 *   3 this system lacks what the command needs (owe: /proc/net/tcp);
 *   124 the whole run's bound (-T) passed.
 *
 * ROLES (relay)
 *   readers N RATE [OPTIONS]
 *                     N clients that read at RATE bytes per second (their
 *                     bytes received never run ahead of RATE times the time
 *                     since the start; 0: as fast as bytes come).  Each
 *                     checks that the sender's lines come whole, in order,
 *                     each once, and measures its longest wait for bytes
 *                     (while its pace allowed it to read and the sender's
 *                     lines were not all there).  Once it has every line
 *                     and the sender's leave, it says fin and must get bye,
 *                     then end of file.  Being disconnected before is a
 *                     failure.
 *   idle N [OPTIONS]
 *                     N clients that read their welcome, then nothing.  Once
 *                     a client hears that one of them left (the server
 *                     disconnected it), that one sends a byte (a server
 *                     that closed its socket has the system answer with a
 *                     reset, seen at once) and is read from then on to its
 *                     end: end of file, or a reset.  Once the sender and
 *                     every reader are done, the others are read to their
 *                     end too; one still open after the bound is reported
 *                     as such (not a failure).  Their lines are checked
 *                     like a reader's, but the last may be cut.
 *   sender BYTES SIZE one client that sends BYTES / SIZE lines of SIZE bytes
 *                     (newline included, SIZE from 16 to 65537) as fast as
 *                     the server takes them, then fin; it must get bye,
 *                     then end of file.  Line n (from 0) is n in ten digits,
 *                     a space, then letters that depend on n and on their
 *                     place.  At most one sender, and it must be given.
 *   OPTIONS after readers or idle, set on each of their sockets before it
 *   connects, so that the system buffers less for those clients (which so
 *   fall behind sooner, and cost less memory): "rcvbuf BYTES" (SO_RCVBUF),
 *   "mss BYTES" (TCP_MAXSEG, the largest segment the server sends them; on
 *   Linux it also keeps the server's send buffer for them small).
 *   Every client also checks the news: "* client-K joined" only for K above
 *   its own number (clients join in number order), "* client-K left" once
 *   per K at most; any other line (an ERR, a line of someone else) fails.
 *
 * SUMMARY (relay), on stdout, one line each:
 *   sender client-K: L lines (B bytes) sent in MS ms, held up at most MS ms; heard left: LIST
 *   reader client-K (RATE B/s|full speed): L lines in order; longest wait MS ms; B bytes in MS ms; heard left: LIST
 *   idle client-K..client-K: N disconnected (end of file E, reset R), S still connected; they read between L1 and L2 lines of the sender; disconnected: LIST
 *   times: MS ms to connect, MS ms to relay, MS ms to read the idle clients
 *   LIST is the client numbers as ranges ("2-201 203") or "none".
 *
 * OWE
 *   Opens one client per HOW (at most 8), which never read (with OPTIONS,
 *   as for idle), then a sender S.  S sends lines of 1000 bytes, a batch at
 *   a time; after each batch it waits until the server has taken all of it,
 *   and then until the other clients' connection buffers stop growing (both seen in /proc/net/tcp and
 *   tcp6: the queues of both ends of each connection, which all live on this
 *   machine).  It stops once the server holds at least BYTES of lines for
 *   each of them that its connection buffers cannot take (relayed to it,
 *   minus what those buffers hold): its writer is then stuck in send() or
 *   waiting for room.  The batches are small once the buffers are full, so
 *   that the server holds not much more than BYTES: less than a high-water
 *   mark, it goes on taking lines (if it stops taking S's lines instead, for
 *   the bound, it holds even more: that ends the batches too).  Then each of
 *   them does as its HOW says: "fin" sends "fin\n", "shut-write" ends its
 *   side (shutdown(SHUT_WR)), "stay" nothing.  The program prints, for each,
 *     ok owe: client-K is owed N bytes beyond the M in its connection; HOW
 *   then waits, never reading those, for the server to close S (the test
 *   stops the server), at most three bounds; reads each of the others to
 *   its end (end of file or a reset), prints "ok end: ..." for each, and
 *   exits 0.
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
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define PRINTF_LIKE(fmt, first)
#endif

#define MAX_CLIENTS 2000            /* connections one run can hold */
#define MAX_SIZE 65537              /* longest line the sender sends */
#define PREFIX_MAX 32               /* "client-K> " */
#define BUF_SIZE (4 * (MAX_SIZE + PREFIX_MAX)) /* a client's unread input */
#define CHUNK_SIZE (64 * 1024)      /* bytes the sender hands to send() */
#define DIGITS 10                   /* the line number at a line's start */
#define OWE_LINE 1000               /* owe: the sender's line size */
#define OWE_FIRST (2 * 1024 * 1024) /* owe: the first batch, in bytes */
#define OWE_BATCH (256 * 1024)      /* owe: a batch while the buffers fill */
#define OWE_LEAST (32 * 1024)       /* owe: the smallest batch; every batch
                                       where the buffers are set small */
#define OWE_MAX 8                   /* owe: clients owed lines, at most */
#define SHOW 60                     /* bytes of a line shown in messages */

enum role { READER, IDLE, SENDER };
enum end { OPEN, END_OF_FILE, RESET };

struct client {
    enum role role;
    int fd;
    int number;             /* K of client-K, from its welcome */
    long long rate;         /* reader: bytes per second; 0: full speed */
    char *buf;              /* input not made into lines yet: buf[0..len) */
    size_t len;
    long long received;     /* bytes received after the welcome */
    long long next;         /* the sender's line expected next */
    long long longest_wait; /* reader: ms; sender: longest hold-up */
    long long wait_line;    /* reader: the line its longest wait was for */
    long long waiting_since; /* ms, or -1 when not waiting */
    int sent_fin, got_bye;
    enum end end;
    int end_errno;
    int cut;                /* idle: its last line was cut */
    int poked;              /* idle: sent a byte once told it left */
    long long done_ms;      /* reader: when it had every line */
    char *joined, *left;    /* news heard, per client number */
};

static struct client *clients;
static int client_count;
static struct client *sender;
static long long bound_ms = 5000;
static long long start_ms;          /* when every role started */
static const char *host, *port;

/* the sender's state */
static long long total_lines, line_size;
static long long lines_sent;        /* lines handed to send() entirely */
static char *out;                   /* bytes to send: out[out_pos..out_len) */
static size_t out_pos, out_len;
static long long sent_bytes;
static long long sent_done_ms;

/* Prints "lab04-chat: MESSAGE" on stderr and exits 1. */
static _Noreturn PRINTF_LIKE(1, 2) void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("lab04-chat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Parses a whole number from lo to hi, or fails naming what it is. */
static long long parse_number(const char *word, long long lo, long long hi,
                              const char *what)
{
    char *end;
    long long value;

    errno = 0;
    value = word ? strtoll(word, &end, 10) : 0;
    if (word == NULL || *word < '0' || *word > '9' || *end != '\0'
        || errno != 0 || value < lo || value > hi) {
        fprintf(stderr, "lab04-chat: %s: \"%s\" is not a whole number from "
                "%lld to %lld\n", what, word ? word : "(missing)", lo, hi);
        exit(2);
    }
    return value;
}

static void *xmalloc(size_t size)
{
    void *p = calloc(1, size ? size : 1);
    if (p == NULL)
        fail("out of memory");
    return p;
}

/* Writes p[0..n) for a message: printable ASCII as is, the rest as \xHH,
 * at most SHOW bytes (then "...(N bytes)"), in quotes. */
static void show(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n && i < SHOW; i++) {
        unsigned char b = (unsigned char)p[i];
        if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\')
            fputc(b, f);
        else
            fprintf(f, "\\x%02X", b);
    }
    if (n > SHOW)
        fprintf(f, "...(%zu bytes)", n);
    fputc('"', f);
}

/* The name of a client's role, for messages. */
static const char *role_name(const struct client *c)
{
    return c->role == READER ? "reader" : c->role == IDLE ? "idle" : "sender";
}

/* Writes the sender's line n (SIZE bytes with its newline) into p: the
 * letter at place j is 'a' + (7n + j) mod 26. */
static void make_line(long long n, char *p)
{
    static char letters[MAX_SIZE + 26];
    char digits[DIGITS + 2];

    if (letters[0] == '\0')
        for (size_t j = 0; j < sizeof letters; j++)
            letters[j] = (char)('a' + j % 26);
    snprintf(digits, sizeof digits, "%0*lld", DIGITS, n % 10000000000LL);
    memcpy(p, digits, DIGITS);
    p[DIGITS] = ' ';
    memcpy(p + DIGITS + 1, letters + (n * 7 + DIGITS + 1) % 26,
           (size_t)line_size - DIGITS - 2);
    p[line_size - 1] = '\n';
}

/* Prints " LIST" of the numbers k (1..MAX_CLIENTS) with flags[k] set. */
static void print_numbers(FILE *f, const char *flags)
{
    int any = 0;

    for (int k = 1; k <= MAX_CLIENTS; k++) {
        if (!flags[k] || flags[k - 1])
            continue;
        int end = k;
        while (end < MAX_CLIENTS && flags[end + 1])
            end++;
        fprintf(f, end > k ? " %d-%d" : " %d", k, end);
        any = 1;
    }
    if (!any)
        fputs(" none", f);
}

/* ------------------------------------------------------------ connecting */

/* Socket options set before connecting; 0: the system's default. */
struct options {
    int rcvbuf;     /* SO_RCVBUF */
    int mss;        /* TCP_MAXSEG: the largest segment the server may send */
};

/* Opens a connection, connected within the bound, with those options.
 * Fails the program if it cannot, unless quiet: then returns -1. */
static int try_connection(struct options opt, int quiet);

static int open_connection(struct options opt)
{
    return try_connection(opt, 0);
}

static int try_connection(struct options opt, int quiet)
{
    struct addrinfo hints, *list, *ai;
    int fd = -1, err = 0, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0)
        fail("%s:%s: %s", host, port, gai_strerror(rc));
    for (ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
        socklen_t size = sizeof err;

        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0 && quiet)
            break;
        if (fd < 0)
            fail("socket: %s (connection %d; raise ulimit -n?)",
                 strerror(errno), client_count + 1);
        if (opt.rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opt.rcvbuf,
                                         sizeof opt.rcvbuf) < 0)
            fail("setsockopt SO_RCVBUF: %s", strerror(errno));
#ifdef TCP_MAXSEG
        if (opt.mss > 0 && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &opt.mss,
                                      sizeof opt.mss) < 0)
            fail("setsockopt TCP_MAXSEG: %s", strerror(errno));
#endif
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        err = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            if (err == EINPROGRESS) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                if (poll(&p, 1, (int)bound_ms) == 0)
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
    if (fd < 0 && !quiet)
        fail("connection %d to %s:%s: %s", client_count + 1, host, port,
             strerror(err));
    return fd;
}

/* Opens the next client with that role and those options and reads its
 * welcome, byte by byte (nothing after it is read). */
static struct client *add_client(enum role role, struct options opt)
{
    struct client *c;
    char line[64];
    size_t n = 0;
    long long deadline = tool_now_ms() + bound_ms;
    int number;

    if (client_count == MAX_CLIENTS)
        fail("more than %d clients", MAX_CLIENTS);
    c = &clients[client_count];
    *c = (struct client){.role = role, .waiting_since = -1};
    c->fd = open_connection(opt);
    c->buf = xmalloc(BUF_SIZE);
    c->joined = xmalloc(MAX_CLIENTS + 2);
    c->left = xmalloc(MAX_CLIENTS + 2);
    while (n == 0 || line[n - 1] != '\n') {
        ssize_t got = recv(c->fd, line + n, 1, 0);
        if (got == 1 && n + 1 < sizeof line) {
            n++;
            continue;
        }
        if (got == 1)
            fail("connection %d: its first line is too long for a welcome",
                 client_count + 1);
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            fail("connection %d: %s before its welcome (after %zu bytes)",
                 client_count + 1, got == 0 ? "end of file" : strerror(errno), n);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        long long left = deadline - tool_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0)
            fail("timeout: connection %d: no welcome within %lld ms (got %zu "
                 "bytes)", client_count + 1, bound_ms, n);
    }
    line[n - 1] = '\0';
    if (sscanf(line, "welcome client-%d", &number) != 1 || number < 1
        || number > MAX_CLIENTS) {
        fprintf(stderr, "lab04-chat: connection %d: its first line is ",
                client_count + 1);
        show(stderr, line, n - 1);
        fail("expected \"welcome client-K\"");
    }
    if (client_count > 0 && number <= clients[client_count - 1].number)
        fail("connection %d is client-%d, after client-%d: numbers must grow "
             "in connection order", client_count + 1, number,
             clients[client_count - 1].number);
    c->number = number;
    client_count++;
    return c;
}

/* --------------------------------------------------------------- reading */

/* An idle client the others were told left (the server disconnected it)
 * sends one byte: if the server closed its socket, the system answers with
 * a reset, and the client sees it at once, without reading first the
 * lines still on their way to it (it is read from then on: see run_relay). */
static void poke_idle(int k)
{
    for (int i = 0; i < client_count; i++) {
        struct client *c = &clients[i];
        if (c->number != k || c->role != IDLE || c->poked || c->end != OPEN)
            continue;
        c->poked = 1;
        if (send(c->fd, "x", 1, 0) < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            c->end = RESET;
            c->end_errno = errno;
        }
    }
}

/* Checks one line the client got (without its newline). cut: the line
 * ended with the connection, without a newline. */
static void take_line(struct client *c, const char *line, size_t len, int cut)
{
    char prefix[PREFIX_MAX];
    int k;
    size_t plen;

    if (cut) {
        /* Only a disconnected idle client may get a line cut short. */
        if (c->role != IDLE)
            goto unexpected;
        c->cut = 1;
        return;
    }
    plen = sender ? (size_t)snprintf(prefix, sizeof prefix, "client-%d> ",
                                     sender->number) : 0;
    if (sender && c != sender && len >= plen && memcmp(line, prefix, plen) == 0) {
        char expected[MAX_SIZE];
        if (c->next >= total_lines) {
            fprintf(stderr, "lab04-chat: %s client-%d: after the sender's %lld lines came ",
                    role_name(c), c->number, total_lines);
            show(stderr, line, len);
            fail("(a line twice?)");
        }
        make_line(c->next, expected);
        if (len - plen != (size_t)line_size - 1
            || memcmp(line + plen, expected, (size_t)line_size - 1) != 0) {
            long long number = -1;
            size_t at = 0;
            if (len - plen >= DIGITS)
                sscanf(line + plen, "%10lld", &number);
            while (at < len - plen && at < (size_t)line_size - 1
                   && line[plen + at] == expected[at])
                at++;
            fflush(stdout);
            fprintf(stderr, "lab04-chat: %s client-%d: the sender's line %lld "
                    "(from 0) was expected, %lld bytes after its prefix;\n"
                    "  got %zu bytes after the prefix, differing from byte "
                    "%zu on:\n  got      ", role_name(c), c->number, c->next,
                    line_size - 1, len - plen, at);
            show(stderr, line + plen + (at > 20 ? at - 20 : 0),
                 len - plen - (at > 20 ? at - 20 : 0));
            fprintf(stderr, "\n  expected ");
            show(stderr, expected + (at > 20 ? at - 20 : 0),
                 (size_t)line_size - 1 - (at > 20 ? at - 20 : 0));
            fprintf(stderr, "\n");
            if (number >= 0 && number != c->next)
                fail("(line %lld instead: %s)", number, number > c->next
                     ? "lines lost" : "a line again, or out of order");
            fail("(a line cut, spliced or changed)");
        }
        c->next++;
        if (c->next == total_lines)
            c->done_ms = tool_now_ms();
        return;
    }
    if (len > 0 && len < 40 && line[0] == '*'
        && sscanf(line, "* client-%d", &k) == 1 && k >= 1 && k <= MAX_CLIENTS) {
        char expected[64];
        snprintf(expected, sizeof expected, "* client-%d joined", k);
        if (strlen(expected) == len && memcmp(line, expected, len) == 0) {
            if (k <= c->number)
                fail("%s client-%d heard \"%s\": a client that joined before "
                     "its welcome (clients join in number order)",
                     role_name(c), c->number, expected);
            if (c->joined[k]++)
                fail("%s client-%d heard \"%s\" twice", role_name(c),
                     c->number, expected);
            return;
        }
        snprintf(expected, sizeof expected, "* client-%d left", k);
        if (strlen(expected) == len && memcmp(line, expected, len) == 0) {
            if (c->left[k]++)
                fail("%s client-%d heard \"%s\" twice", role_name(c),
                     c->number, expected);
            poke_idle(k);
            return;
        }
    }
    if (len == 3 && memcmp(line, "bye", 3) == 0 && c->sent_fin && !c->got_bye) {
        c->got_bye = 1;
        return;
    }
unexpected:
    fflush(stdout);
    fprintf(stderr, "lab04-chat: %s client-%d got ", role_name(c), c->number);
    show(stderr, line, len);
    if (cut)
        fprintf(stderr, " (then the connection ended, no newline)");
    if (c->got_bye)
        fprintf(stderr, " after its bye");
    fprintf(stderr, "\n  (it had %lld of the sender's %lld lines)\n", c->next,
            total_lines);
    exit(1);
}

/* Fails: c's connection ended before its bye, in the middle of the line
 * cut[0..len) if len > 0. */
static _Noreturn void fail_disconnected(const struct client *c,
                                        const char *cut, size_t len)
{
    fflush(stdout);
    fprintf(stderr, "lab04-chat: %s client-%d was disconnected (%s) after %lld "
            "of the sender's %lld lines (%lld bytes received",
            role_name(c), c->number, c->end == RESET ? "reset" : c->end_errno
            ? strerror(c->end_errno) : "end of file", c->next, total_lines,
            c->received);
    if (c->role == READER)
        fprintf(stderr, c->rate ? ", reading at %lld B/s" : ", reading at full speed",
                c->rate);
    fprintf(stderr, "%s)", c->sent_fin ? ", fin sent" : "");
    if (len > 0) {
        fprintf(stderr, ", in the middle of a line: ");
        show(stderr, cut, len);
    }
    fputc('\n', stderr);
    exit(1);
}

/* Reads at most max bytes from c and checks the complete lines. Returns
 * the bytes read (0 if none were there); at the end of the connection
 * sets c->end (and checks what is left as a cut line). */
static long long read_some(struct client *c, long long max)
{
    long long total = 0;

    while (max > 0 && c->end == OPEN) {
        size_t room = BUF_SIZE - c->len;
        if (room == 0)
            fail("%s client-%d: a line longer than %d bytes", role_name(c),
                 c->number, BUF_SIZE);
        if ((long long)room > max)
            room = (size_t)max;
        ssize_t n = recv(c->fd, c->buf + c->len, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            c->end = n == 0 || errno != ECONNRESET ? END_OF_FILE : RESET;
            c->end_errno = n == 0 ? 0 : errno;
            if (c->len > 0 && c->role != IDLE)
                fail_disconnected(c, c->buf, c->len);
            if (c->len > 0)
                take_line(c, c->buf, c->len, 1);
            c->len = 0;
            break;
        }
        c->len += (size_t)n;
        c->received += n;
        total += n;
        max -= n;
        /* the complete lines */
        size_t start = 0;
        char *nl;
        while ((nl = memchr(c->buf + start, '\n', c->len - start)) != NULL) {
            size_t end = (size_t)(nl - c->buf);
            take_line(c, c->buf + start, end - start, 0);
            start = end + 1;
        }
        memmove(c->buf, c->buf + start, c->len - start);
        c->len -= start;
    }
    return total;
}

/* Sends what the client must send; returns the bytes sent (0 if the
 * socket is full). Fails if the server broke the connection. */
static long long send_some(struct client *c, const char *p, size_t n)
{
    ssize_t sent;

    do
        sent = send(c->fd, p, n, 0);
    while (sent < 0 && errno == EINTR);
    if (sent >= 0)
        return sent;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    fail("%s client-%d: the server broke the connection (%s) after %lld "
         "bytes sent, %lld of %lld lines", role_name(c), c->number,
         strerror(errno), sent_bytes, lines_sent, total_lines);
}

/* Fills the sender's output with its next lines, or its fin. */
static void refill(void)
{
    out_pos = out_len = 0;
    while (lines_sent < total_lines && out_len + (size_t)line_size <= CHUNK_SIZE) {
        make_line(lines_sent++, out + out_len);
        out_len += (size_t)line_size;
    }
    if (out_len == 0 && lines_sent == total_lines && !sender->sent_fin) {
        memcpy(out, "fin\n", 4);
        out_len = 4;
        sender->sent_fin = 1;
    }
}

/* ----------------------------------------------------------------- relay */

/* Prints where every client is, before failing for lack of progress. */
static void dump_state(void)
{
    fprintf(stderr, "  sender client-%d: %lld of %lld lines handed to the "
            "server (%lld bytes)%s%s\n", sender->number,
            lines_sent - (long long)((out_len - out_pos) / (size_t)line_size),
            total_lines, sent_bytes, sender->sent_fin ? ", fin sent" : "",
            sender->got_bye ? ", bye received" : "");
    for (int i = 0; i < client_count; i++) {
        struct client *c = &clients[i];
        if (c->role != READER)
            continue;
        fprintf(stderr, "  reader client-%d: %lld of %lld lines, %lld bytes%s%s\n",
                c->number, c->next, total_lines, c->received,
                c->sent_fin ? ", fin sent" : "", c->got_bye ? ", bye received" : "");
    }
}

static void run_relay(void)
{
    struct pollfd *fds = xmalloc(sizeof *fds * (size_t)client_count);
    struct client **owner = xmalloc(sizeof *owner * (size_t)client_count);
    long long last_progress;

    out = xmalloc(CHUNK_SIZE);
    start_ms = last_progress = tool_now_ms();
    for (;;) {
        long long now = tool_now_ms(), timeout = bound_ms;
        int pending = sender->end == OPEN;
        nfds_t n = 0;

        /* the sender: reads always, writes while it has something */
        if (out_pos == out_len && !sender->sent_fin)
            refill();
        if (sender->end == OPEN) {
            fds[n] = (struct pollfd){.fd = sender->fd, .events = POLLIN};
            if (out_pos < out_len)
                fds[n].events |= POLLOUT;
            owner[n++] = sender;
        }
        for (int i = 0; i < client_count; i++) {
            struct client *c = &clients[i];
            /* A reader with every line and the sender's leave says fin;
             * it is done at the end of file after bye. */
            if (c->role != READER || c->end != OPEN)
                continue;
            pending = 1;
            if (!c->sent_fin && c->next == total_lines && c->left[sender->number]) {
                if (send_some(c, "fin\n", 4) != 4)
                    fail("reader client-%d: could not send fin at once", c->number);
                c->sent_fin = 1;
            }
            long long allowed = LLONG_MAX;
            if (c->rate > 0) {
                allowed = c->rate * (now - start_ms) / 1000 - c->received;
                if (allowed <= 0) {
                    long long wake = start_ms + (c->received + 1) * 1000 / c->rate + 1;
                    if (wake - now < timeout)
                        timeout = wake - now > 0 ? wake - now : 1;
                    c->waiting_since = -1;     /* its own pace, not a wait */
                    continue;
                }
            }
            if (c->waiting_since < 0 && sent_bytes > 0 && c->next < total_lines)
                c->waiting_since = now;
            fds[n] = (struct pollfd){.fd = c->fd, .events = POLLIN};
            owner[n++] = c;
        }
        /* idle clients told gone: read to their end meanwhile */
        for (int i = 0; i < client_count; i++) {
            struct client *c = &clients[i];
            if (c->role == IDLE && c->poked && c->end == OPEN) {
                fds[n] = (struct pollfd){.fd = c->fd, .events = POLLIN};
                owner[n++] = c;
            }
        }
        if (!pending)
            break;
        if (now - last_progress >= bound_ms) {
            fflush(stdout);
            fprintf(stderr, "lab04-chat: timeout: nothing moved on any "
                    "connection for %lld ms:\n", bound_ms);
            dump_state();
            exit(1);
        }
        if (timeout > bound_ms - (now - last_progress))
            timeout = bound_ms - (now - last_progress);
        if (poll(fds, n, (int)(timeout > 0 ? timeout : 1)) < 0 && errno != EINTR)
            fail("poll: %s", strerror(errno));
        now = tool_now_ms();
        for (nfds_t i = 0; i < n; i++) {
            struct client *c = owner[i];
            if (fds[i].revents == 0)
                continue;
            if (c == sender && (fds[i].revents & POLLOUT) && out_pos < out_len) {
                long long sent = send_some(c, out + out_pos, out_len - out_pos);
                if (sent > 0) {
                    if (c->waiting_since >= 0 && now - c->waiting_since > c->longest_wait)
                        c->longest_wait = now - c->waiting_since;
                    c->waiting_since = -1;
                    out_pos += (size_t)sent;
                    sent_bytes += sent;
                    last_progress = now;
                    if (out_pos == out_len && lines_sent == total_lines
                        && sent_done_ms == 0)
                        sent_done_ms = now;
                }
                /* A full socket: the server holds the sender up. */
                if (out_pos < out_len && c->waiting_since < 0)
                    c->waiting_since = now;
            }
            if (!(fds[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            long long max = LLONG_MAX;
            if (c->role == READER && c->rate > 0)
                max = c->rate * (now - start_ms) / 1000 - c->received;
            long long got = read_some(c, max > 0 ? max : 1);
            if (got > 0 || c->end != OPEN)
                last_progress = now;
            if (c->role == READER && got > 0 && c->waiting_since >= 0) {
                if (now - c->waiting_since > c->longest_wait) {
                    c->longest_wait = now - c->waiting_since;
                    c->wait_line = c->next;
                }
                c->waiting_since = -1;
            }
            if (c->end != OPEN && !c->got_bye && c->role != IDLE)
                fail_disconnected(c, NULL, 0);
        }
    }
    free(fds);
    free(owner);
}

/* Reads every idle client to its end, all at once. Those still open after
 * the bound without a byte are left open. */
static void drain_idle(void)
{
    struct pollfd *fds = xmalloc(sizeof *fds * (size_t)client_count);
    struct client **owner = xmalloc(sizeof *owner * (size_t)client_count);
    long long last_progress = tool_now_ms();
    int big = 256 * 1024;

    /* A small receive buffer would now only make the reading slow: what is
     * left comes a window at a time. */
    for (int i = 0; i < client_count; i++)
        if (clients[i].role == IDLE)
            setsockopt(clients[i].fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    for (;;) {
        nfds_t n = 0;
        for (int i = 0; i < client_count; i++) {
            if (clients[i].role != IDLE || clients[i].end != OPEN)
                continue;
            fds[n] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
            owner[n++] = &clients[i];
        }
        long long left = bound_ms - (tool_now_ms() - last_progress);
        if (n == 0 || left <= 0)
            break;
        if (poll(fds, n, (int)left) < 0 && errno != EINTR)
            fail("poll: %s", strerror(errno));
        for (nfds_t i = 0; i < n; i++) {
            if (fds[i].revents == 0)
                continue;
            if (read_some(owner[i], LLONG_MAX) > 0 || owner[i]->end != OPEN)
                last_progress = tool_now_ms();
        }
    }
    free(fds);
    free(owner);
}

static void print_summary(void)
{
    long long fewest = -1, most = -1;
    int ended = 0, resets = 0, open = 0, first = 0, last = 0;
    char *gone = xmalloc(MAX_CLIENTS + 2);

    printf("sender client-%d: %lld lines (%lld bytes) sent in %lld ms, held up "
           "at most %lld ms; heard left:", sender->number, total_lines,
           total_lines * line_size, sent_done_ms - start_ms,
           sender->longest_wait);
    print_numbers(stdout, sender->left);
    putchar('\n');
    for (int i = 0; i < client_count; i++) {
        struct client *c = &clients[i];
        if (c->role == READER) {
            printf("reader client-%d (", c->number);
            printf(c->rate ? "%lld B/s" : "full speed", c->rate);
            printf("): %lld lines in order; longest wait %lld ms (for line "
                   "%lld); %lld bytes in %lld ms; heard left:", c->next,
                   c->longest_wait, c->wait_line, c->received,
                   c->done_ms - start_ms);
            print_numbers(stdout, c->left);
            putchar('\n');
        } else if (c->role == IDLE) {
            if (!first)
                first = c->number;
            last = c->number;
            if (c->end == OPEN) {
                open++;
                continue;
            }
            gone[c->number] = 1;
            ended++;
            resets += c->end == RESET;
            if (fewest < 0 || c->next < fewest)
                fewest = c->next;
            if (c->next > most)
                most = c->next;
        }
    }
    if (first) {
        printf("idle client-%d..client-%d: %d disconnected (end of file %d, "
               "reset %d), %d still connected; they read between %lld and %lld "
               "lines of the sender; disconnected:", first, last, ended,
               ended - resets, resets, open, fewest < 0 ? 0 : fewest,
               most < 0 ? 0 : most);
        print_numbers(stdout, gone);
        putchar('\n');
    }
    free(gone);
}

/* Parses the options after a role's words (argv[*i] is the role, with
 * words words in all): "rcvbuf BYTES", "mss BYTES". Leaves *i on the last
 * word used. */
static struct options parse_options(int argc, char **argv, int *i, int words)
{
    struct options opt = {0, 0};

    *i += words - 1;
    while (*i + 2 < argc) {
        if (strcmp(argv[*i + 1], "rcvbuf") == 0)
            opt.rcvbuf = (int)parse_number(argv[*i + 2], 1, INT_MAX, "rcvbuf BYTES");
        else if (strcmp(argv[*i + 1], "mss") == 0)
            opt.mss = (int)parse_number(argv[*i + 2], 88, 65535, "mss BYTES");
        else
            break;
        *i += 2;
    }
    return opt;
}

/* Parses the roles and opens their clients, in order. */
static void start_relay(int argc, char **argv, int i)
{
    for (; i < argc; i++) {
        if (strcmp(argv[i], "readers") == 0 && i + 2 < argc) {
            long long n = parse_number(argv[i + 1], 1, MAX_CLIENTS, "readers N");
            long long rate = parse_number(argv[i + 2], 0, LLONG_MAX / 1000000,
                                          "readers RATE");
            struct options opt = parse_options(argc, argv, &i, 3);
            for (long long k = 0; k < n; k++)
                add_client(READER, opt)->rate = rate;
        } else if (strcmp(argv[i], "idle") == 0 && i + 1 < argc) {
            long long n = parse_number(argv[i + 1], 1, MAX_CLIENTS, "idle N");
            struct options opt = parse_options(argc, argv, &i, 2);
            for (long long k = 0; k < n; k++)
                add_client(IDLE, opt);
        } else if (strcmp(argv[i], "sender") == 0 && i + 2 < argc && !sender) {
            long long bytes = parse_number(argv[i + 1], 1, LLONG_MAX / 2, "sender BYTES");
            line_size = parse_number(argv[i + 2], 16, MAX_SIZE, "sender SIZE");
            total_lines = bytes / line_size;
            if (total_lines == 0)
                total_lines = 1;
            sender = add_client(SENDER, (struct options){0, 0});
            i += 2;
        } else {
            fprintf(stderr, "lab04-chat: relay: bad role at \"%s\" (see the top "
                    "of tests/helpers/lab04-chat.c)\n", argv[i]);
            exit(2);
        }
    }
    if (sender == NULL) {
        fprintf(stderr, "lab04-chat: relay: no sender\n");
        exit(2);
    }
}

/* ----------------------------------------------------------------- burst */

/* Connects, gap_ms apart, until a connection fails (the server stopped
 * listening) or max are open, saying "open N" every 10 and "opened N";
 * then reads them all to their end (end of file or a reset, whatever came
 * before). Fails, naming them, if some did not end within the bound. */
static void run_burst(long long max, long long gap_ms)
{
    int *fds = xmalloc(sizeof *fds * (size_t)max);
    struct pollfd *polled = xmalloc(sizeof *polled * (size_t)max);
    int opened = 0, open_now, hung = 0;
    long long last_progress;
    char buf[CHUNK_SIZE];

    while (opened < max) {
        int fd = try_connection((struct options){0, 0}, 1);
        if (fd < 0)
            break;
        fds[opened++] = fd;
        if (opened % 10 == 0)
            printf("open %d\n", opened);
        if (gap_ms > 0)
            poll(NULL, 0, (int)gap_ms);
    }
    printf("opened %d\n", opened);
    fflush(stdout);
    open_now = opened;
    last_progress = tool_now_ms();
    while (open_now > 0) {
        nfds_t n = 0;
        for (int k = 0; k < opened; k++)
            if (fds[k] >= 0)
                polled[n++] = (struct pollfd){.fd = fds[k], .events = POLLIN};
        long long left = bound_ms - (tool_now_ms() - last_progress);
        if (left <= 0)
            break;
        if (poll(polled, n, (int)left) < 0 && errno != EINTR)
            fail("poll: %s", strerror(errno));
        for (nfds_t i = 0; i < n; i++) {
            if (polled[i].revents == 0)
                continue;
            ssize_t got = recv(polled[i].fd, buf, sizeof buf, 0);
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                continue;
            last_progress = tool_now_ms();
            if (got > 0)
                continue;
            for (int k = 0; k < opened; k++)
                if (fds[k] == polled[i].fd) {
                    close(fds[k]);
                    fds[k] = -1;
                }
            open_now--;
        }
    }
    for (int k = 0; k < opened; k++) {
        if (fds[k] < 0)
            continue;
        if (hung++ == 0)
            printf("timeout: hung (no end within %lld ms):", bound_ms);
        printf(" %d", k + 1);
    }
    if (hung) {
        printf("\n");
        exit(1);
    }
    free(fds);
    free(polled);
}

/* ------------------------------------------------------------------- owe */

/* Bytes in the kernel's queues from one end of a loopback connection to
 * the other (ends named by their ports): the sending end's send queue plus
 * the receiving end's receive queue (/proc/net/tcp and tcp6 list both
 * ends). Returns -1 if neither file can be read. */
static long long kernel_bytes(int from_port, int to_port)
{
    static const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    long long total = 0;
    int readable = 0;

    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        FILE *in = fopen(files[f], "r");
        char line[512];
        if (in == NULL)
            continue;
        readable = 1;
        while (fgets(line, sizeof line, in) != NULL) {
            char local[64], remote[64];
            unsigned int state;
            unsigned long tx, rx;
            if (sscanf(line, " %*s %63s %63s %x %lx:%lx", local, remote, &state,
                       &tx, &rx) != 5)
                continue;
            char *lp = strrchr(local, ':'), *rp = strrchr(remote, ':');
            if (lp == NULL || rp == NULL)
                continue;
            int lport = (int)strtol(lp + 1, NULL, 16);
            int rport = (int)strtol(rp + 1, NULL, 16);
            if (lport == from_port && rport == to_port)
                total += (long long)tx;     /* the sending end's queue */
            else if (lport == to_port && rport == from_port)
                total += (long long)rx;     /* the receiving end's queue */
        }
        fclose(in);
    }
    return readable ? total : -1;
}

static int local_port(int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;

    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        fail("getsockname: %s", strerror(errno));
    if (addr.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
}

/* Sends n bytes of the sender's next lines, waiting for room within the
 * bound; returns 0, or 1 if the server stopped taking them for the bound. */
static int owe_send(long long n)
{
    while (n > 0) {
        if (out_pos == out_len)
            refill();
        size_t want = out_len - out_pos;
        long long got = send_some(sender, out + out_pos, want);
        if (got == 0) {
            struct pollfd p = {.fd = sender->fd, .events = POLLOUT};
            if (poll(&p, 1, (int)bound_ms) == 0)
                return 1;
            continue;
        }
        out_pos += (size_t)got;
        sent_bytes += got;
        n -= got;
    }
    return 0;
}

/* The ways a client owed lines may leave (owe): their words and what the
 * summary says. */
static const char *const leave_words[] = {"fin", "shut-write", "stay"};
static const char *const leave_said[] = {
    "it said fin", "it ended its side (shutdown)", "it stays"};

static void run_owe(long long target, struct options opt, int count, char **hows)
{
    struct client *owed_clients[OWE_MAX], *s;
    int server_port = atoi(port), ports[OWE_MAX], s_port, held = 0;
    long long relayed, in_kernel[OWE_MAX] = {0}, owed[OWE_MAX] = {0}, least;
    char prefix[PREFIX_MAX];

    if (kernel_bytes(0, 0) < 0) {
        printf("unsupported: no /proc/net/tcp to see the connections' queues\n");
        exit(3);
    }
    for (int k = 0; k < count; k++) {
        owed_clients[k] = add_client(IDLE, opt);
        ports[k] = local_port(owed_clients[k]->fd);
    }
    s = sender = add_client(SENDER, (struct options){0, 0});
    line_size = OWE_LINE;
    total_lines = LLONG_MAX / OWE_LINE;
    out = xmalloc(CHUNK_SIZE);
    s_port = local_port(s->fd);
    /* Buffers set small take little: small batches then, not to overshoot. */
    long long first_batch = opt.rcvbuf > 0 ? OWE_LEAST : OWE_FIRST;
    long long grow_batch = opt.rcvbuf > 0 ? OWE_LEAST : OWE_BATCH;
    for (long long batch = first_batch; !held;) {
        long long deadline;
        held = owe_send(batch);
        /* the server takes all of it, unless it holds the sender up */
        deadline = tool_now_ms() + bound_ms;
        while (!held && kernel_bytes(s_port, server_port) > 0) {
            if (tool_now_ms() > deadline)
                held = 1;
            read_some(s, LLONG_MAX);
            poll(NULL, 0, 5);
        }
        /* then the owed clients' buffers stop growing */
        deadline = tool_now_ms() + bound_ms;
        for (int changed = 1; changed && tool_now_ms() < deadline;) {
            poll(NULL, 0, 10);
            changed = 0;
            for (int k = 0; k < count; k++) {
                long long now_in = kernel_bytes(server_port, ports[k]);
                changed |= now_in != in_kernel[k];
                in_kernel[k] = now_in;
            }
        }
        read_some(s, LLONG_MAX);
        if (s->end != OPEN)
            fail("sender client-%d: the server closed the connection", s->number);
        relayed = (sent_bytes - kernel_bytes(s_port, server_port)) / OWE_LINE
                  * (OWE_LINE + snprintf(prefix, sizeof prefix, "client-%d> ",
                                         s->number));
        least = LLONG_MAX;
        for (int k = 0; k < count; k++) {
            owed[k] = relayed - in_kernel[k];
            if (owed[k] < least)
                least = owed[k];
        }
        if (least >= target)
            break;
        /* While a client's buffers still grow, what it is owed is below 0. */
        batch = least < 0 ? grow_batch : target - least > OWE_LEAST ? target - least
                                                                    : OWE_LEAST;
        if (sent_bytes > 256LL * 1024 * 1024)
            fail("owe: 256 MiB sent and the server still holds only %lld "
                 "bytes for a client beyond its connection's", least);
    }
    for (int k = 0; k < count; k++) {
        struct client *a = owed_clients[k];
        if (strcmp(hows[k], "fin") == 0) {
            if (send_some(a, "fin\n", 4) != 4)
                fail("owe: client-%d could not send fin", a->number);
            a->sent_fin = 1;    /* its bye may come, behind what it is owed */
        } else if (strcmp(hows[k], "shut-write") == 0
                   && shutdown(a->fd, SHUT_WR) < 0) {
            fail("owe: shutdown: %s", strerror(errno));
        }
    }
    for (int k = 0; k < count; k++) {
        int w = 0;
        while (strcmp(hows[k], leave_words[w]) != 0)
            w++;
        printf("ok owe: client-%d is owed %lld bytes beyond the %lld in its "
               "connection%s; %s\n", owed_clients[k]->number, owed[k],
               in_kernel[k], held ? " (the server held the sender up)" : "",
               leave_said[w]);
    }
    fflush(stdout);
    /* The end: the server closes the sender's connection when it stops. */
    long long deadline = tool_now_ms() + 3 * bound_ms;
    while (s->end == OPEN) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        long long left = deadline - tool_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0)
            fail("timeout: owe: the server did not close client-%d's "
                 "connection within %lld ms", s->number, 3 * bound_ms);
        read_some(s, LLONG_MAX);
    }
    /* The owed clients' ends, after what they were sent: a cut line is fine
     * (they are idle). */
    for (int k = 0; k < count; k++) {
        struct client *a = owed_clients[k];
        while (a->end == OPEN) {
            struct pollfd p = {.fd = a->fd, .events = POLLIN};
            if (poll(&p, 1, (int)bound_ms) == 0)
                fail("timeout: owe: client-%d's connection did not end "
                     "(nothing for %lld ms after %lld bytes)", a->number, bound_ms,
                     a->received);
            read_some(a, LLONG_MAX);
        }
        printf("ok end: client-%d's connection ended (%s) after %lld of the "
               "sender's lines\n", a->number,
               a->end == RESET ? "reset" : "end of file", a->next);
    }
    printf("ok end: client-%d's connection ended (%s)\n", s->number,
           s->end == RESET ? "reset" : "end of file");
}

/* Sets the whole run's bound: an alarm in that many seconds, rounded up. */
static void set_run_bound(const char *word)
{
    double seconds = strtod(word, NULL);

    if (seconds <= 0 || seconds > 86400) {
        fprintf(stderr, "lab04-chat: -T \"%s\": not a number of seconds\n", word);
        exit(2);
    }
    tool_run_bound("lab04-chat", (unsigned int)seconds + (seconds > (unsigned int)seconds));
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
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < MAX_CLIENTS + 64) {
        limit.rlim_cur = limit.rlim_max < MAX_CLIENTS + 64 ? limit.rlim_max
                                                           : MAX_CLIENTS + 64;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    while (argc > i + 1 && (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "-T") == 0)) {
        if (strcmp(argv[i], "-T") == 0) {
            set_run_bound(argv[i + 1]);
        } else {
            double seconds = strtod(argv[i + 1], NULL);
            if (seconds <= 0 || seconds > 86400) {
                fprintf(stderr, "lab04-chat: -t \"%s\": not a number of seconds\n",
                        argv[i + 1]);
                return 2;
            }
            bound_ms = (long long)(seconds * 1000);
        }
        i += 2;
    }
    if (argc - i < 3 || (strcmp(argv[i + 2], "relay") != 0
                         && strcmp(argv[i + 2], "owe") != 0
                         && strcmp(argv[i + 2], "burst") != 0)) {
        fputs("usage: lab04-chat [-t SECONDS] [-T SECONDS] HOST PORT relay ROLE...\n"
              "       lab04-chat [-t SECONDS] [-T SECONDS] HOST PORT owe BYTES [OPTIONS] fin|shut-write|stay...\n"
              "       lab04-chat [-t SECONDS] [-T SECONDS] HOST PORT burst MAX MS\n"
              "(described at the top of tests/helpers/lab04-chat.c)\n", stderr);
        return 2;
    }
    host = argv[i];
    port = argv[i + 1];
    clients = xmalloc(sizeof *clients * MAX_CLIENTS);
    if (strcmp(argv[i + 2], "burst") == 0) {
        if (argc - i != 5) {
            fputs("usage: lab04-chat [-t SECONDS] [-T SECONDS] HOST PORT burst MAX MS\n", stderr);
            return 2;
        }
        run_burst(parse_number(argv[i + 3], 1, MAX_CLIENTS, "burst MAX"),
                  parse_number(argv[i + 4], 0, 10000, "burst MS"));
        return 0;
    }
    if (strcmp(argv[i + 2], "owe") == 0 && argc - i > 3) {
        long long target = parse_number(argv[i + 3], 1, LLONG_MAX / 2, "owe BYTES");
        int first = i + 3;  /* the word before the options */
        struct options opt = parse_options(argc, argv, &first, 1);
        int count = argc - first - 1;
        for (int k = 0; k < count; k++)
            if (strcmp(argv[first + 1 + k], "fin") != 0
                && strcmp(argv[first + 1 + k], "shut-write") != 0
                && strcmp(argv[first + 1 + k], "stay") != 0)
                count = -1;
        if (count < 1 || count > OWE_MAX) {
            fputs("usage: lab04-chat [-t SECONDS] [-T SECONDS] HOST PORT owe BYTES [OPTIONS] fin|shut-write|stay...\n", stderr);
            return 2;
        }
        run_owe(target, opt, count, argv + first + 1);
        return 0;
    }
    long long t0 = tool_now_ms();
    start_relay(argc, argv, i + 3);
    long long t1 = tool_now_ms();
    run_relay();
    long long t2 = tool_now_ms();
    drain_idle();
    print_summary();
    printf("times: %lld ms to connect, %lld ms to relay, %lld ms to read the "
           "idle clients\n", t1 - t0, t2 - t1, tool_now_ms() - t2);
    return 0;
}
