/*
 * faults-flood - a line of hundreds of megabytes, for tests/faults.bats
 * ======================================================================
 *
 * Sends one line without a newline, BYTES long, to a server of lab02, 03
 * or 04, and watches, while it sends, when the server says
 * "ERR line too long" and how much memory the server takes; meanwhile
 * another client talks (lab03, lab04) and must still be served.
 *
 * USAGE
 *   faults-flood [-t SECONDS] [-T SECONDS] HOST PORT LAB BYTES [PID]
 *       LAB: 2, 3 or 4.  PID: the server's process, whose VmRSS and VmHWM
 *       (Linux's /proc/PID/status) are read before, during (every 20 ms)
 *       and after the flood.
 *   The conversation:
 *     - the flooder connects (lab04: after the other client, and both read
 *       their welcome), with a send buffer of 64 KiB (SO_SNDBUF), so that
 *       what it has sent is close to what the server received;
 *     - warm-up: the flooder says "warm up" (lab02/03: answered "OK 7 bytes
 *       7 chars"; lab04: the other hears it), so that the memory measured
 *       before counts what one line costs;
 *     - the flooder sends BYTES bytes of "x", reading all the while; the
 *       server must answer "ERR line too long" once, while it is sent;
 *     - meanwhile (lab03, lab04) the other client says "ping N" every
 *       10 ms: lab03 it must be answered, lab04 the flooder must hear it;
 *     - then the flooder sends "\n" (the end of the dropped line, which
 *       gets no answer) and "after": lab02/03 it must be answered "OK 5
 *       bytes 5 chars", lab04 the other must hear "client-K> after";
 *     - both say fin and must get bye, then end of file.
 *   Prints on stdout:
 *     flood: B bytes in MS ms; ERR line too long after N bytes sent (MS ms); sndbuf S
 *     pings: P answered during the flood, longest wait MS ms   (lab03, lab04)
 *     memory: VmRSS before R kB, peak P kB; VmHWM before H kB, after A kB
 *   (memory: "unknown" where /proc/PID/status cannot be read.)
 *   -t SECONDS (default 5, decimals allowed) bounds every wait: the
 *       program fails when nothing moved for that long.
 *   -T SECONDS bounds the whole run (exit status 124).
 *   Exit status: 0 as expected; 1 something went wrong (on stderr);
 *   2 bad usage; 124 the whole run's bound passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "tool.h"

#define PROGRAM "faults-flood"
#define CHUNK (64 * 1024)               /* bytes per send() */
#define SEND_BUFFER (64 * 1024)         /* the flooder's SO_SNDBUF */
#define PING_MS 10                      /* the other client's pace */
#define SAMPLE_MS 20                    /* memory read this often */
#define INPUT_SIZE (256 * 1024)         /* unread bytes per connection, at most */

/* One connection and the bytes it received that make no whole line yet. */
struct conn {
    const char *name;
    int fd;
    char in[INPUT_SIZE];
    size_t in_len;
    int ended;                          /* end of file (or a reset) seen */
};

static struct conn flooder = { .name = "the flooder", .fd = -1 };
static struct conn other = { .name = "the other client", .fd = -1 };
static long long bound_ms = 5000;
static long long last_move;
static const char *pid_text;            /* the server's, or NULL */

/* die("what", ...): prints "PROGRAM: what" on stderr and exits 1. */
#define die(...) tool_die(PROGRAM, __VA_ARGS__)

/* Reads a field of /proc/PID/status (VmRSS, VmHWM) in kB; -1 if unknown. */
static long memory_kb(const char *field)
{
    char path[64], line[256];
    size_t field_len = strlen(field);
    long value = -1;
    FILE *status;

    if (pid_text == NULL)
        return -1;
    snprintf(path, sizeof path, "/proc/%s/status", pid_text);
    status = fopen(path, "r");
    if (status == NULL)
        return -1;
    while (fgets(line, sizeof line, status) != NULL) {
        if (strncmp(line, field, field_len) == 0 && line[field_len] == ':') {
            value = strtol(line + field_len + 1, NULL, 10);
            break;
        }
    }
    fclose(status);
    return value;
}

/* Connects to the server (non-blocking once connected). */
static void conn_connect(struct conn *c, const struct addrinfo *address, int send_buffer)
{
    c->fd = socket(address->ai_family, SOCK_STREAM, 0);
    if (c->fd == -1)
        die("socket: %s", strerror(errno));
    if (send_buffer > 0 && setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer) == -1)
        die("setsockopt SO_SNDBUF: %s", strerror(errno));
    if (connect(c->fd, address->ai_addr, address->ai_addrlen) == -1)
        die("connect (%s): %s", c->name, strerror(errno));
    if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) == -1)
        die("fcntl: %s", strerror(errno));
}

/* Reads what c has; returns 1 if something came (or the end), else 0. */
static int conn_read(struct conn *c)
{
    ssize_t got;

    if (c->ended)
        return 0;
    if (c->in_len == sizeof c->in)
        die("%s: %zu bytes without a newline: \"%s\"", c->name, c->in_len, tool_shown(c->in, c->in_len));
    got = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (got == -1 && errno != ECONNRESET)
        die("recv (%s): %s", c->name, strerror(errno));
    if (got <= 0)
        c->ended = 1;
    else
        c->in_len += (size_t)got;
    last_move = tool_now_ms();
    return 1;
}

/* Takes the next whole line of c (without "\n") into line (size bytes);
 * returns its length, or -1 if no whole line is there. */
static long next_line(struct conn *c, char *line, size_t size)
{
    char *newline = memchr(c->in, '\n', c->in_len);
    size_t len;

    if (newline == NULL)
        return -1;
    len = (size_t)(newline - c->in);
    if (len >= size)
        die("%s: a line of %zu bytes: \"%s\"", c->name, len, tool_shown(c->in, len));
    memcpy(line, c->in, len);
    line[len] = '\0';
    memmove(c->in, newline + 1, c->in_len - len - 1);
    c->in_len -= len + 1;
    return (long)len;
}

/* Sends all of text on c (short texts: waits for room if need be). */
static void send_text(struct conn *c, const char *text)
{
    size_t len = strlen(text), sent = 0;
    ssize_t n;
    struct pollfd room = { .fd = c->fd, .events = POLLOUT };

    while (sent < len) {
        n = send(c->fd, text + sent, len - sent, 0);
        if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            die("send (%s): %s", c->name, strerror(errno));
        if (n > 0)
            sent += (size_t)n;
        else if (poll(&room, 1, (int)bound_ms) == 0)
            die("timeout: %s could not send for %lld ms", c->name, bound_ms);
    }
}

/* Waits for the next line of c, within the bound, into line (size bytes);
 * skips lines for which skip() says 1 (the news of lab04). Returns its
 * length. expected: what was awaited, for the messages. */
static long await_line(struct conn *c, char *line, size_t size, const char *expected, int (*skip)(const char *))
{
    struct pollfd ready = { .fd = c->fd, .events = POLLIN };
    long long deadline = tool_now_ms() + bound_ms;
    long len;

    for (;;) {
        while ((len = next_line(c, line, size)) >= 0)
            if (skip == NULL || !skip(line))
                return len;
        if (c->ended)
            die("%s: the server closed the connection; expected \"%s\"%s%s", c->name, expected,
                c->in_len > 0 ? " (an unfinished line came: " : "", c->in_len > 0 ? tool_shown(c->in, c->in_len) : "");
        if (tool_now_ms() >= deadline)
            die("timeout: %s: no \"%s\" within %lld ms", c->name, expected, bound_ms);
        if (poll(&ready, 1, 50) > 0)
            conn_read(c);
    }
}

/* The next line of c (news skipped if skip says so) must be expected. */
static void expect_line(struct conn *c, const char *expected, int (*skip)(const char *))
{
    char line[1024];
    long len = await_line(c, line, sizeof line, expected, skip);

    if (strcmp(line, expected) != 0)
        die("%s: expected \"%s\", got \"%s\"", c->name, expected, tool_shown(line, (size_t)len));
}

/* lab04: the next line of c must be "welcome client-K"; returns K. */
static unsigned long expect_welcome(struct conn *c)
{
    char line[1024], tail[2];
    unsigned long k;
    long len = await_line(c, line, sizeof line, "welcome client-K", NULL);

    if (sscanf(line, "welcome client-%lu%1s", &k, tail) != 1)
        die("%s: expected \"welcome client-K\", got \"%s\"", c->name, tool_shown(line, (size_t)len));
    return k;
}

/* Waits for c's end of file, nothing more arriving. */
static void expect_end(struct conn *c)
{
    struct pollfd ready = { .fd = c->fd, .events = POLLIN };
    long long deadline = tool_now_ms() + bound_ms;

    while (!c->ended) {
        if (tool_now_ms() >= deadline)
            die("timeout: %s: the server did not close the connection within %lld ms", c->name, bound_ms);
        if (poll(&ready, 1, 50) > 0)
            conn_read(c);
    }
    if (c->in_len > 0)
        die("%s: after bye, \"%s\" before the end", c->name, tool_shown(c->in, c->in_len));
    close(c->fd);
}

/* lab04's news lines, which come whenever someone joins or leaves. */
static int is_news(const char *line)
{
    return line[0] == '*' && line[1] == ' ';
}

static void usage(void)
{
    fprintf(stderr, "usage: " PROGRAM " [-t SECONDS] [-T SECONDS] HOST PORT LAB BYTES [PID]\n"
                    "  LAB: 2, 3 or 4 (see the top of faults-flood.c)\n");
    exit(2);
}

int main(int argc, char *argv[])
{
    struct addrinfo hints, *address;
    struct sigaction ignore;
    struct pollfd polled[2];
    static char chunk[CHUNK];
    char line[1024], text[64], expected[64];
    unsigned long other_number = 0, flooder_number = 0, from;
    unsigned long long bytes, sent = 0, answer_at = 0;
    long long start, answer_ms = -1, ping_at = 0, ping_sent_at[4096];
    long long longest_wait = 0, next_sample = 0;
    long rss_before, rss_peak, hwm_before, rss;
    unsigned pings = 0, answered = 0;
    int lab, status, i = 1, send_buffer = 0;
    socklen_t option_len = sizeof send_buffer;
    long len;
    char *end;

    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-t") == 0)
            bound_ms = (long long)(atof(argv[i + 1]) * 1000);
        else if (strcmp(argv[i], "-T") == 0)
            tool_run_bound(PROGRAM, (unsigned)atoi(argv[i + 1]));
        else
            usage();
    }
    if (argc - i < 4 || argc - i > 5 || bound_ms <= 0)
        usage();
    lab = atoi(argv[i + 2]);
    bytes = strtoull(argv[i + 3], &end, 10);
    if (lab < 2 || lab > 4 || *end != '\0' || bytes == 0)
        usage();
    if (argc - i == 5 && strcmp(argv[i + 4], "-") != 0)
        pid_text = argv[i + 4];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((status = getaddrinfo(argv[i], argv[i + 1], &hints, &address)) != 0)
        die("getaddrinfo: %s: %s", argv[i], gai_strerror(status));
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(chunk, 'x', sizeof chunk);

    /* lab04: the other first, so that it hears the flooder join. */
    if (lab == 4) {
        conn_connect(&other, address, 0);
        other_number = expect_welcome(&other);
        conn_connect(&flooder, address, SEND_BUFFER);
        flooder_number = expect_welcome(&flooder);
        snprintf(expected, sizeof expected, "* client-%lu joined", flooder_number);
        expect_line(&other, expected, NULL);
    } else {
        conn_connect(&flooder, address, SEND_BUFFER);
        if (lab == 3)
            conn_connect(&other, address, 0);
    }
    freeaddrinfo(address);
    getsockopt(flooder.fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, &option_len);

    send_text(&flooder, "warm up\n");
    snprintf(expected, sizeof expected, "client-%lu> warm up", flooder_number);
    if (lab == 4)
        expect_line(&other, expected, is_news);
    else
        expect_line(&flooder, "OK 7 bytes 7 chars", NULL);
    rss_before = rss_peak = memory_kb("VmRSS");
    hwm_before = memory_kb("VmHWM");

    start = last_move = tool_now_ms();
    while (sent < bytes || (lab != 2 && answered < pings)) {
        long long now = tool_now_ms();
        size_t n_polled = 1;

        if (now - last_move > bound_ms)
            die("timeout: nothing moved for %lld ms (%llu of %llu bytes sent, %u of %u pings answered)",
                bound_ms, sent, bytes, answered, pings);
        if (now >= next_sample) {
            rss = memory_kb("VmRSS");
            if (rss > rss_peak)
                rss_peak = rss;
            next_sample = now + SAMPLE_MS;
        }
        if (lab != 2 && sent < bytes && now >= ping_at && pings < sizeof ping_sent_at / sizeof *ping_sent_at) {
            snprintf(text, sizeof text, "ping %u\n", pings);
            send_text(&other, text);
            ping_sent_at[pings++] = now;
            ping_at = now + PING_MS;
        }
        polled[0] = (struct pollfd){ .fd = flooder.fd, .events = (short)(POLLIN | (sent < bytes ? POLLOUT : 0)) };
        if (lab != 2)
            polled[n_polled++] = (struct pollfd){ .fd = other.fd, .events = POLLIN };
        if (poll(polled, (nfds_t)n_polled, SAMPLE_MS) == -1 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (polled[0].revents & POLLOUT) {
            unsigned long long left = bytes - sent;
            ssize_t n = send(flooder.fd, chunk, left < CHUNK ? (size_t)left : CHUNK, 0);
            if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                die("send (the flooder, after %llu bytes): %s", sent, strerror(errno));
            if (n > 0) {
                sent += (unsigned long long)n;
                last_move = tool_now_ms();
            }
        }
        if (polled[0].revents & (POLLIN | POLLHUP | POLLERR))
            conn_read(&flooder);
        if (n_polled > 1 && (polled[1].revents & (POLLIN | POLLHUP | POLLERR)))
            conn_read(&other);
        if (flooder.ended)
            die("the server closed the flooder's connection after %llu bytes sent", sent);
        if (other.ended)
            die("the server closed the other client's connection during the flood");
        /* The flooder's lines: the refusal, and (lab04) the pings relayed. */
        while ((len = next_line(&flooder, line, sizeof line)) >= 0) {
            unsigned n;
            if (strcmp(line, "ERR line too long") == 0) {
                if (answer_ms >= 0)
                    die("the flooder got \"ERR line too long\" twice, after %llu and %llu bytes sent", answer_at, sent);
                answer_at = sent;
                answer_ms = tool_now_ms() - start;
            } else if (lab == 4 && sscanf(line, "client-%lu> ping %u", &from, &n) == 2 && from == other_number
                       && n == answered) {
                if (tool_now_ms() - ping_sent_at[n] > longest_wait)
                    longest_wait = tool_now_ms() - ping_sent_at[n];
                answered++;
            } else if (!(lab == 4 && is_news(line))) {
                die("the flooder got \"%s\" after %llu bytes sent", tool_shown(line, (size_t)len), sent);
            }
        }
        /* The other's lines (lab03): the answers to its pings, in order. */
        while (lab == 3 && (len = next_line(&other, line, sizeof line)) >= 0) {
            int ping_len = snprintf(NULL, 0, "ping %u", answered);
            snprintf(text, sizeof text, "OK %d bytes %d chars", ping_len, ping_len);
            if (answered >= pings || strcmp(line, text) != 0)
                die("the other client got \"%s\"; expected \"%s\"", tool_shown(line, (size_t)len), text);
            if (tool_now_ms() - ping_sent_at[answered] > longest_wait)
                longest_wait = tool_now_ms() - ping_sent_at[answered];
            answered++;
        }
    }
    if (answer_ms < 0)
        die("no \"ERR line too long\" while the %llu bytes were sent", bytes);
    printf("flood: %llu bytes in %lld ms; ERR line too long after %llu bytes sent (%lld ms); sndbuf %d\n",
           bytes, tool_now_ms() - start, answer_at, answer_ms, send_buffer);

    send_text(&flooder, "\nafter\n");
    snprintf(expected, sizeof expected, "client-%lu> after", flooder_number);
    if (lab == 4)
        expect_line(&other, expected, is_news);
    else
        expect_line(&flooder, "OK 5 bytes 5 chars", NULL);
    rss = memory_kb("VmRSS");
    if (rss > rss_peak)
        rss_peak = rss;
    if (lab != 2)
        printf("pings: %u answered during the flood, longest wait %lld ms\n", answered, longest_wait);
    if (rss_before < 0)
        printf("memory: unknown\n");
    else
        printf("memory: VmRSS before %ld kB, peak %ld kB; VmHWM before %ld kB, after %ld kB\n", rss_before,
               rss_peak, hwm_before, memory_kb("VmHWM"));

    send_text(&flooder, "fin\n");
    expect_line(&flooder, "bye", lab == 4 ? is_news : NULL);
    expect_end(&flooder);
    if (lab != 2) {
        send_text(&other, "fin\n");
        expect_line(&other, "bye", lab == 4 ? is_news : NULL);
        expect_end(&other);
    }
    return 0;
}
