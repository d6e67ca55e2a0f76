/* slow_bench - one client that never reads, while others chat through a
 * relay: how long do the others wait?
 *
 * The slow client connects first and then neither reads nor sends. C
 * chatters connect after it, wait until the relay has taken them in (--mode
 * lab: each reads its "welcome client-K"; --mode raw, a byte relay such as
 * ncat --broker: two of them send "PROBE" lines until every chatter has seen
 * one), then each sends R lines of B bytes per second for S seconds while
 * reading everything, and everyone keeps reading for L seconds more.
 *
 * The slow client's buffers fill in a fraction of a second (R x B x C bytes
 * a second come its way). Then a relay that blocks on it stops delivering to
 * everyone; one with flow control and a deadline (lab04) holds the others
 * up until it drops the slow client, then goes on.
 *
 * Prints one line: the longest gap between two deliveries to a chatter
 * (from the start, and, for a chatter still missing lines at the end, up to
 * the end: max_gap_s), chatters still waiting at the end (frozen), lines
 * delivered and expected, whether and when the slow client was dropped, and
 * the relay's peak resident memory (VmHWM of --pid, Linux only).
 *
 * Portable POSIX C11: one thread, poll() over the chatters' non-blocking
 * sockets.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "benchlib.h"

#define MAX_CHATTERS 256
#define OUT_CAP (256 * 1024)            /* bytes a chatter holds back when the relay does not read */
#define IN_SIZE (256 * 1024)
#define SYNC_SECONDS 10                 /* for everyone to be in the relay */
#define PROBE_ROUND_MS 100
#define MIN_SIZE 20                     /* "cccc ssssssss " and a little padding */

enum mode { MODE_LAB, MODE_RAW };

static struct {
    enum mode mode;
    unsigned clients;                   /* C chatters */
    unsigned long rate;                 /* R lines/s per chatter */
    size_t size;                        /* B bytes per line, "\n" included */
    double seconds, linger;             /* S, L */
    long pid;
    const char *host, *port;
} opt = { MODE_LAB, 4, 1000, 1000, 4.0, 1.5, 0, NULL, NULL };

struct chatter {
    int fd;
    unsigned long number;               /* K of "client-K" (lab mode) */
    char out[OUT_CAP];
    size_t out_start, out_len;
    unsigned long made;                 /* lines built */
    unsigned long long sent_bytes;      /* bytes of lines the relay took */
    char in[IN_SIZE];
    size_t in_fill;
    int saw_probe;
    unsigned long long data_bytes;      /* received lines' bytes, prefix and "\n" left out */
    uint64_t last_arrival, max_gap;
};

static struct chatter *chatters;
static int slow_fd = -1;
static uint64_t start_ns, slow_left_ns; /* slow_left_ns: "* client-K left" seen, 0 if not */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: slow_bench [--mode lab|raw] [--clients C] [--rate R] [--size BYTES]\n"
            "                  [--seconds S] [--linger L] [--pid PID] HOST PORT\n"
            "  --mode lab|raw  lab: lab04's relay (welcome, \"client-K> \"); raw: a byte relay\n"
            "                  such as ncat --broker (default lab)\n"
            "  --clients C     chatters besides the slow client, at least 2 (default 4)\n"
            "  --rate R        lines per second per chatter (default 1000)\n"
            "  --size BYTES    bytes per line with its newline (default 1000, at least %d)\n"
            "  --seconds S     how long the chatters send (default 4)\n"
            "  --linger L      how long they read after that (default 1.5)\n"
            "  --pid PID       the relay's process, for its peak memory (/proc/PID/status)\n"
            "Prints one line: max_gap_s=... frozen=... slow_dropped_s=... peak_rss_kb=...\n"
            "Exit status: 0, 1 error, 2 usage.\n",
            MIN_SIZE);
}

/* One option of the command line (bench_option_fn, in benchlib.h). */
static int option(const char *name, const char *value)
{
    unsigned long n;

    if (strcmp(name, "--mode") == 0) {
        if (value != NULL && strcmp(value, "lab") == 0)
            opt.mode = MODE_LAB;
        else if (value != NULL && strcmp(value, "raw") == 0)
            opt.mode = MODE_RAW;
        else
            return -1;
        return 2;
    }
    if (strcmp(name, "--clients") == 0) {
        if (bench_parse_count(value, 2, MAX_CHATTERS, &n) == -1)
            return -1;
        opt.clients = (unsigned)n;
        return 2;
    }
    if (strcmp(name, "--rate") == 0)
        return bench_parse_count(value, 1, 1000000, &opt.rate) == 0 ? 2 : -1;
    if (strcmp(name, "--size") == 0) {
        if (bench_parse_count(value, MIN_SIZE, OUT_CAP / 4, &n) == -1)
            return -1;
        opt.size = n;
        return 2;
    }
    if (strcmp(name, "--seconds") == 0)
        return bench_parse_seconds(value, &opt.seconds) == 0 ? 2 : -1;
    if (strcmp(name, "--linger") == 0)
        return bench_parse_seconds(value, &opt.linger) == 0 ? 2 : -1;
    if (strcmp(name, "--pid") == 0)
        return bench_parse_pid(value, &opt.pid) == 0 ? 2 : -1;
    return 0;
}

/* Parses the command line into opt. Returns 0, or the exit status. */
static int parse_args(int argc, char *argv[])
{
    return bench_parse_args(argc, argv, option, usage, &opt.host, &opt.port);
}

/* Appends line seq of chatter index to its output (the caller checked the
 * room): "cccc ssssssss abc...\n", printable ASCII. */
static void build_line(struct chatter *c, unsigned index, unsigned long seq)
{
    char *line = c->out + c->out_start + c->out_len;
    size_t i;
    int head = snprintf(line, MIN_SIZE, "%04x %08lx ", index & 0xFFFFu, seq & 0xFFFFFFFFul);

    for (i = (size_t)head; i < opt.size - 1; i++)
        line[i] = (char)('a' + (seq + i) % 26);
    line[opt.size - 1] = '\n';
    c->out_len += opt.size;
    c->made++;
}

/* Sends what the chatter holds. Returns 0, or -1 if the connection failed. */
static int flush_out(struct chatter *c)
{
    while (c->out_len > 0) {
        ssize_t sent = send(c->fd, c->out + c->out_start, c->out_len, 0);

        if (sent == -1 && errno == EINTR)
            continue;
        if (sent == -1)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->out_start += (size_t)sent;
        c->out_len -= (size_t)sent;
        c->sent_bytes += (unsigned long long)sent;
    }
    c->out_start = 0;
    return 0;
}

/* Parses "* client-K left" (lab mode). Returns K, or 0. */
static unsigned long left_number(const char *line, size_t len)
{
    unsigned long k = 0;
    size_t i = 9;

    if (len < 15 || memcmp(line, "* client-", 9) != 0 || memcmp(line + len - 5, " left", 5) != 0)
        return 0;
    while (i < len - 5 && line[i] >= '0' && line[i] <= '9')
        k = k * 10 + (unsigned long)(line[i++] - '0');
    return i == len - 5 ? k : 0;
}

/* Takes one received line (without "\n") at time now; before the start
 * (now == 0) only notes probes and welcomes. */
static void take_line(struct chatter *c, const char *line, size_t len, uint64_t now)
{
    size_t i;

    if (opt.mode == MODE_RAW && len == 5 && memcmp(line, "PROBE", 5) == 0) {
        c->saw_probe = 1;
        return;
    }
    if (opt.mode == MODE_LAB) {
        if (len > 15 && memcmp(line, "welcome client-", 15) == 0) {
            c->number = strtoul(line + 15, NULL, 10);
            return;
        }
        if (len >= 2 && line[0] == '*') {   /* news: is it the slow client leaving? */
            unsigned long k = left_number(line, len);
            unsigned j;
            int chatter = 0;

            for (j = 0; j < opt.clients; j++)
                chatter |= chatters[j].number == k;
            if (k != 0 && !chatter && slow_left_ns == 0 && now != 0)
                slow_left_ns = now;
            return;
        }
        for (i = 0; i + 1 < len && line[i] != ' '; i++)  /* "client-K> " */
            ;
        len -= i + 1;
    }
    if (now == 0)
        return;
    c->data_bytes += len + 1;
    if (now - c->last_arrival > c->max_gap)
        c->max_gap = now - c->last_arrival;
    c->last_arrival = now;
}

/* Reads what is there and takes its lines. Returns 0, or -1 if the
 * connection ended. */
static int receive(struct chatter *c, uint64_t started)
{
    size_t start = 0;
    char *newline;
    ssize_t got;

    do {
        got = recv(c->fd, c->in + c->in_fill, IN_SIZE - c->in_fill, 0);
    } while (got == -1 && errno == EINTR);
    if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (got <= 0)
        return -1;
    c->in_fill += (size_t)got;
    while ((newline = memchr(c->in + start, '\n', c->in_fill - start)) != NULL) {
        take_line(c, c->in + start, (size_t)(newline - (c->in + start)), started ? bench_now_ns() : 0);
        start = (size_t)(newline - c->in) + 1;
    }
    if (start == 0 && c->in_fill == IN_SIZE) {  /* no "\n" in 256 KiB: count it and go on */
        take_line(c, c->in, IN_SIZE, started ? bench_now_ns() : 0);
        start = IN_SIZE;
    }
    memmove(c->in, c->in + start, c->in_fill - start);
    c->in_fill -= start;
    return 0;
}

/* Polls every chatter for up to ms and reads what came. Returns 0, or -1
 * if a connection ended. */
static int poll_chatters(struct pollfd *fds, int ms, uint64_t started)
{
    unsigned j;

    for (j = 0; j < opt.clients; j++) {
        fds[j].fd = chatters[j].fd;
        fds[j].events = (short)(POLLIN | (chatters[j].out_len > 0 ? POLLOUT : 0));
        fds[j].revents = 0;
    }
    if (poll(fds, opt.clients, ms) == -1 && errno != EINTR)
        return -1;
    for (j = 0; j < opt.clients; j++) {
        if ((fds[j].revents & (POLLIN | POLLHUP | POLLERR)) && receive(&chatters[j], started) == -1)
            return -1;
        if ((fds[j].revents & POLLOUT) && flush_out(&chatters[j]) == -1)
            return -1;
    }
    return 0;
}

/* Waits until the relay has taken every chatter in. Returns 0, or -1. */
static int sync_chatters(struct pollfd *fds)
{
    uint64_t deadline = bench_now_ns() + SYNC_SECONDS * 1000000000ull, round_end;
    unsigned j, ready;

    do {
        if (opt.mode == MODE_RAW)
            for (j = 0; j < 2; j++)
                send(chatters[j].fd, "PROBE\n", 6, 0);
        round_end = bench_now_ns() + PROBE_ROUND_MS * 1000000u;
        while (bench_now_ns() < round_end)
            if (poll_chatters(fds, 10, 0) == -1)
                return -1;
        for (ready = 0, j = 0; j < opt.clients; j++)
            ready += opt.mode == MODE_RAW ? chatters[j].saw_probe != 0 : chatters[j].number != 0;
    } while (ready < opt.clients && bench_now_ns() < deadline);
    return ready == opt.clients ? 0 : -1;
}

/* After the test: whether the relay had closed the slow client (reads what
 * it holds, until end of file or nothing more within a second). */
static int slow_was_closed(void)
{
    static char sink[64 * 1024];
    uint64_t deadline = bench_now_ns() + 1000000000u;
    struct pollfd p = { slow_fd, POLLIN, 0 };
    ssize_t got;

    bench_set_nonblocking(slow_fd);
    while (bench_now_ns() < deadline) {
        if (poll(&p, 1, 100) <= 0)
            return 0;
        got = recv(slow_fd, sink, sizeof sink, 0);
        if (got == 0 || (got == -1 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
            return 1;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    struct sigaction ignore;
    struct pollfd fds[MAX_CHATTERS];
    unsigned long long delivered = 0, expected = 0, sent_total = 0; /* lines */
    uint64_t send_until, end, now, max_gap = 0;
    unsigned long total = 0;
    unsigned j, frozen = 0;
    long rss_start, peak;
    const char *why;
    int status, closed, failed = 0;

    status = parse_args(argc, argv);
    if (status != 0)
        return status;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, NULL);
    chatters = calloc(opt.clients, sizeof *chatters);
    if (chatters == NULL) {
        fprintf(stderr, "slow_bench: out of memory\n");
        return 1;
    }
    rss_start = opt.pid > 0 ? bench_proc_status((pid_t)opt.pid, "VmRSS") : -1;
    slow_fd = bench_connect(opt.host, opt.port, &why);
    for (j = 0; j < opt.clients && slow_fd != -1; j++) {
        chatters[j].fd = bench_connect(opt.host, opt.port, &why);
        if (chatters[j].fd == -1)
            break;
        bench_set_nonblocking(chatters[j].fd);
    }
    if (slow_fd == -1 || j < opt.clients) {
        fprintf(stderr, "slow_bench: connect: %s\n", why);
        return 1;
    }
    if (sync_chatters(fds) == -1) {
        fprintf(stderr, "slow_bench: the chatters could not all join the relay within %d s\n",
                SYNC_SECONDS);
        return 1;
    }

    start_ns = bench_now_ns();
    send_until = start_ns + (uint64_t)(opt.seconds * 1e9);
    end = send_until + (uint64_t)(opt.linger * 1e9);
    total = (unsigned long)((double)opt.rate * opt.seconds);
    for (j = 0; j < opt.clients; j++)
        chatters[j].last_arrival = start_ns;
    while ((now = bench_now_ns()) < end) {
        double due_f = (double)(now - start_ns) * (double)opt.rate / 1e9;
        unsigned long due = due_f < (double)total ? (unsigned long)due_f : total;
        int wait_ms = (int)((end - now) / 1000000u) + 1;

        for (j = 0; j < opt.clients; j++) {
            struct chatter *c = &chatters[j];

            if (c->out_len == 0)
                c->out_start = 0;
            while (c->made < due && c->out_start + c->out_len + opt.size <= OUT_CAP)
                build_line(c, j, c->made);
            if (flush_out(c) == -1)
                failed = 1;
            if (c->made < total)        /* next line due in 1/R s at most */
                wait_ms = 1;
        }
        if (failed || poll_chatters(fds, wait_ms, 1) == -1) {
            failed = 1;
            break;
        }
    }
    end = bench_now_ns();

    for (j = 0; j < opt.clients; j++)
        sent_total += chatters[j].sent_bytes / opt.size;    /* whole lines */
    for (j = 0; j < opt.clients; j++) {
        const struct chatter *c = &chatters[j];
        unsigned long long mine = sent_total - c->sent_bytes / opt.size;

        expected += mine;
        delivered += c->data_bytes / opt.size;
        /* Still missing lines at the end: its wait lasts to the end. */
        if (c->data_bytes / opt.size < mine) {
            if (end - c->last_arrival >= 1000000000u)
                frozen++;
            if (end - c->last_arrival > max_gap)
                max_gap = end - c->last_arrival;
        }
        if (c->max_gap > max_gap)
            max_gap = c->max_gap;
    }
    peak = opt.pid > 0 ? bench_proc_status((pid_t)opt.pid, "VmHWM") : -1;
    closed = slow_was_closed();
    printf("mode=%s clients=%u rate=%lu size=%zu seconds=%.1f lines_sent=%llu delivered=%llu "
           "expected=%llu lost=%llu max_gap_s=%.3f frozen=%u slow_closed=%d slow_dropped_s=%.3f "
           "rss_start_kb=%ld peak_rss_kb=%ld%s\n",
           opt.mode == MODE_LAB ? "lab" : "raw", opt.clients, opt.rate, opt.size,
           (double)(end - start_ns) / 1e9, sent_total, delivered, expected,
           expected > delivered ? expected - delivered : 0, (double)max_gap / 1e9, frozen, closed,
           slow_left_ns != 0 ? (double)(slow_left_ns - start_ns) / 1e9 : -1.0,
           rss_start, peak, failed ? " failed=1" : "");
    fflush(stdout);
    close(slow_fd);
    for (j = 0; j < opt.clients; j++)
        close(chatters[j].fd);
    free(chatters);
    return failed ? 1 : 0;
}
