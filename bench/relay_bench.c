/* relay_bench - a load generator for chat relays (lab04's server, or a raw
 * byte relay such as `ncat --broker`).
 *
 * C clients connect, wait until every one of them is in the relay, then each
 * sends N lines of B bytes as fast as it can (or at --rate lines/s) while
 * reading everything the relay sends it. Each line carries its sender, a
 * sequence number, the CLOCK_MONOTONIC time it was handed to send(), padding
 * and a check value:
 *
 *   ssss qqqqqqqq tttttttttttttttt hijkl...xyzab cccccccc\n
 *   sender seq    send time (ns)   padding        hash of sender, seq and time
 *
 * numbers in lowercase hex, B bytes with the "\n"; the padding is the
 * alphabet from letter seq % 26 on. Every receiver checks every line: exact
 * size, format, padding and check value (else "spliced": garbled, or pieces
 * of two lines run together), a sender other than itself, and sequence
 * numbers that only go up per sender (else "disorder"). A line that never
 * reaches a receiver intact is "lost" there. The checks are cheap on purpose
 * (no byte-by-byte hash): on a small machine the benchmark shares the CPUs
 * with the relay it measures.
 * Latency = time read by the receiver - send time in the line, per delivery;
 * and, per line, the largest over its receivers (the time to reach everyone).
 *
 * --mode lab: each client first reads "welcome client-K"; relayed lines come
 *   as "client-K> <line>" and "* client-K joined/left" lines are skipped.
 * --mode raw: the relay forwards bytes unchanged (no prefix, no welcome); a
 *   few "PROBE" lines make sure the relay has taken in every client before
 *   anyone sends.
 *
 * Portable POSIX C11 (no epoll, no pthread_barrier: it builds on macOS too):
 * one thread per client, poll() on its non-blocking socket, so it sends and
 * reads at the same time and never deadlocks against a relay that blocks.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

#define HEADER_LEN 31                   /* "ssss qqqqqqqq tttttttttttttttt " */
#define CHECKSUM_LEN 8
#define MIN_SIZE (HEADER_LEN + 1 + CHECKSUM_LEN + 1) /* no padding */
#define MAX_SENDERS 0xFFFF              /* 4 hex digits */
#define MAX_LINES 0xFFFFFFFFul          /* 8 hex digits */
#define RECV_BUFFER (256 * 1024)
#define SEND_BUFFER (16 * 1024)         /* one batch of lines, one timestamp */
#define IO_BUDGET 8                     /* recv() or send() calls per turn */
#define SYNC_SECONDS 10                 /* to connect everyone, before the clock */
#define PROBE_ROUND_MS 100
#define PROBE_ROUNDS (SYNC_SECONDS * 1000 / PROBE_ROUND_MS)
#define ARRIVAL_MEMORY (128.0 * 1024 * 1024) /* for every receiver's arrivals */

/* Latencies go into benchlib's histogram (BENCH_BUCKETS buckets, 0.4 %). */
#define NO_ARRIVAL 0xFFFFu              /* above every bucket number */

enum mode { MODE_LAB, MODE_RAW };

static struct {
    unsigned long lines;                /* N, per client */
    size_t size;                        /* B, bytes per line with its "\n" */
    unsigned clients;                   /* C */
    enum mode mode;
    double timeout;                     /* seconds, from the start signal */
    double rate;                        /* lines/s per client, 0: full speed */
    const char *host, *port;
} opt = { 10000, 64, 8, MODE_LAB, 60.0, 0.0, NULL, NULL };

/* Results of one client, written by its thread only, read after the join. */
struct stats {
    unsigned long long lines;           /* data lines read (framed by "\n") */
    unsigned long long bytes;           /* their bytes, "\n" included */
    unsigned long long intact, spliced, disorder, control;
    unsigned long long hist[BENCH_BUCKETS];
    uint64_t max_latency;
    uint64_t last_ns;                   /* when the last data line arrived */
    unsigned long sent;                 /* lines handed to send() in full */
    int closed;                         /* the relay closed us, or an error */
    int timed_out;
    int done;
};

struct client {
    unsigned index;
    int fd;
    pthread_t thread;
    unsigned long lab_number;           /* K of "client-K" (lab mode) */
    char *in;                           /* received, not yet split in lines */
    size_t in_start, in_fill;
    int discarding;                     /* dropping an over-long piece */
    uint32_t *next_seq;                 /* per sender: the lowest seq to come */
    uint16_t *arrival;                  /* per line kept: its latency's bucket here */
    struct stats st;
};

/* A barrier that also agrees on a verdict: every thread brings a value and
 * all leave with the smallest one (pthread_barrier is missing on macOS). */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned waiting;
    unsigned long generation;
    int least, verdict;
    uint64_t release_ns;
    struct rusage release_usage;        /* our own CPU time so far, at release */
} barrier = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .least = 2 };

static struct client *clients;
/* To find when each line reached its last receiver, each receiver notes
 * the latency bucket of each line's arrival in its own array (no sharing
 * while it runs), and report() takes the largest per line. Every line is
 * kept (stride 1) unless that takes more than ARRIVAL_MEMORY: then one line
 * in stride per sender. */
static unsigned long arrival_stride = 1;
static size_t arrival_per_sender;       /* lines kept per sender */
static char *padding;                   /* "abc...zabc...": padding at offset seq % 26 */
static uint64_t start_ns;               /* the start signal, for report() after the joins */
static const char hex_digits[] = "0123456789abcdef";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: relay_bench [--lines N] [--size BYTES] [--clients C] [--mode lab|raw]\n"
            "                   [--timeout SECONDS] [--rate LINES_PER_S] HOST PORT\n"
            "  --lines N        lines each client sends (default 10000)\n"
            "  --size BYTES     bytes per line with its newline (default 64, at least %d)\n"
            "  --clients C      connections, each one sender and receiver (default 8, at least 2)\n"
            "  --mode lab|raw   lab: lab04's relay (welcome, \"client-K> \" prefix);\n"
            "                   raw: a byte relay such as ncat --broker (default lab)\n"
            "  --timeout S      give up S seconds after the start and report (default 60)\n"
            "  --rate R         lines per second per client (default 0: as fast as possible)\n"
            "Prints one line: mode=... clients=... lines_per_s=... p99_us=...\n"
            "Exit status: 0 all expected bytes arrived, 3 timeout, 1 error, 2 usage.\n",
            MIN_SIZE);
}

/* Parses the command line into opt. Returns 0, or the exit status. */
static int parse_args(int argc, char *argv[])
{
    unsigned long value;
    int i, positional = 0;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (arg[0] == '-' && arg[1] != '\0' && next == NULL) {
            fprintf(stderr, "relay_bench: %s needs a value (or is unknown)\n", arg);
            return 2;
        } else if (strcmp(arg, "--lines") == 0) {
            if (bench_parse_count(next, 1, MAX_LINES, &value) == -1)
                goto bad;
            opt.lines = value;
            i++;
        } else if (strcmp(arg, "--size") == 0) {
            if (bench_parse_count(next, MIN_SIZE, 65536, &value) == -1)
                goto bad;
            opt.size = value;
            i++;
        } else if (strcmp(arg, "--clients") == 0) {
            if (bench_parse_count(next, 2, MAX_SENDERS, &value) == -1)
                goto bad;
            opt.clients = (unsigned)value;
            i++;
        } else if (strcmp(arg, "--mode") == 0) {
            if (strcmp(next, "lab") == 0)
                opt.mode = MODE_LAB;
            else if (strcmp(next, "raw") == 0)
                opt.mode = MODE_RAW;
            else
                goto bad;
            i++;
        } else if (strcmp(arg, "--timeout") == 0) {
            if (bench_parse_seconds(next, &opt.timeout) == -1 || opt.timeout <= 0.0)
                goto bad;
            i++;
        } else if (strcmp(arg, "--rate") == 0) {
            if (bench_parse_seconds(next, &opt.rate) == -1)
                goto bad;
            i++;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "relay_bench: unknown option %s\n", arg);
            usage(stderr);
            return 2;
        } else if (positional == 0) {
            opt.host = arg;
            positional++;
        } else if (positional == 1) {
            opt.port = arg;
            positional++;
        } else {
            fprintf(stderr, "relay_bench: too many arguments\n");
            usage(stderr);
            return 2;
        }
        continue;
bad:
        fprintf(stderr, "relay_bench: bad value for %s: '%s'\n", arg, next);
        usage(stderr);
        return 2;
    }
    if (positional != 2) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* ---- lines: build and check ---- */

static signed char hex_value[256];     /* -1 but for 0-9 and a-f */

static void init_hex_values(void)
{
    int i;

    for (i = 0; i < 256; i++)
        hex_value[i] = -1;
    for (i = 0; i < 16; i++)
        hex_value[(unsigned char)hex_digits[i]] = (signed char)i;
}

/* The check value of a line: its three numbers, well mixed. A line whose
 * header is pieced together from two lines fails it. */
static uint32_t line_tag(uint64_t sender, uint64_t seq, uint64_t sent_ns)
{
    uint64_t h = ((sender << 32) | seq) * 0x9E3779B97F4A7C15u ^ sent_ns;

    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 32;
    return (uint32_t)h;
}

static void put_hex(char *out, uint64_t value, int digits)
{
    int i;

    for (i = digits - 1; i >= 0; i--) {
        out[i] = hex_digits[value & 15];
        value >>= 4;
    }
}

/* Reads exactly digits lowercase hex digits. Returns 0, or -1. */
static int get_hex(const char *in, int digits, uint64_t *value)
{
    uint64_t v = 0;
    int i, bad = 0;

    for (i = 0; i < digits; i++) {
        int d = hex_value[(unsigned char)in[i]];

        bad |= d;                       /* negative once any digit is not one */
        v = (v << 4) | (uint64_t)(d & 15);
    }
    *value = v;
    return bad < 0 ? -1 : 0;
}

/* Writes line seq of sender at out: opt.size bytes, "\n" last. */
static void build_line(char *out, unsigned sender, unsigned long seq, uint64_t sent_ns)
{
    size_t pad = opt.size - MIN_SIZE;

    put_hex(out, sender, 4);
    out[4] = ' ';
    put_hex(out + 5, seq, 8);
    out[13] = ' ';
    put_hex(out + 14, sent_ns, 16);
    out[30] = ' ';
    memcpy(out + HEADER_LEN, padding + seq % 26, pad);
    out[HEADER_LEN + pad] = ' ';
    put_hex(out + HEADER_LEN + pad + 1, line_tag(sender, seq, sent_ns), CHECKSUM_LEN);
    out[opt.size - 1] = '\n';
}

/* Checks a received line (without its "\n") is one that build_line() made.
 * Returns 0 with its fields, or -1. */
static int check_line(const char *line, size_t len, unsigned *sender, unsigned long *seq, uint64_t *sent_ns)
{
    uint64_t s, q, t, tag;
    size_t body = opt.size - 1 - CHECKSUM_LEN; /* where the check value starts */

    if (len != opt.size - 1 || line[4] != ' ' || line[13] != ' ' || line[30] != ' ' ||
        line[body - 1] != ' ')
        return -1;
    if (get_hex(line, 4, &s) == -1 || get_hex(line + 5, 8, &q) == -1 ||
        get_hex(line + 14, 16, &t) == -1 || get_hex(line + body, CHECKSUM_LEN, &tag) == -1)
        return -1;
    if (s >= opt.clients || q >= opt.lines || tag != line_tag(s, q, t) ||
        memcmp(line + HEADER_LEN, padding + q % 26, body - 1 - HEADER_LEN) != 0)
        return -1;
    *sender = (unsigned)s;
    *seq = (unsigned long)q;
    *sent_ns = t;
    return 0;
}

/* ---- the agreeing barrier ---- */

/* Waits for every client thread; returns the least value they brought. The
 * last one in stamps the release time (the start of the clock): *release. */
static int barrier_wait(int value, uint64_t *release)
{
    unsigned long generation;
    int verdict;

    pthread_mutex_lock(&barrier.lock);
    generation = barrier.generation;
    if (value < barrier.least)
        barrier.least = value;
    if (++barrier.waiting == opt.clients) {
        barrier.verdict = barrier.least;
        barrier.least = 2;
        barrier.waiting = 0;
        barrier.release_ns = bench_now_ns();
        getrusage(RUSAGE_SELF, &barrier.release_usage);
        barrier.generation++;
        pthread_cond_broadcast(&barrier.cond);
    } else {
        while (generation == barrier.generation)
            pthread_cond_wait(&barrier.cond, &barrier.lock);
    }
    verdict = barrier.verdict;
    *release = barrier.release_ns;
    pthread_mutex_unlock(&barrier.lock);
    return verdict;
}

/* ---- receiving ---- */

/* One recv() into the free space. Returns > 0 bytes, 0 end of file, -1 when
 * nothing is there now (EAGAIN), -2 on an error (the connection is dead). */
static ssize_t receive_some(struct client *c)
{
    ssize_t got;

    if (c->in_start == c->in_fill) {
        c->in_start = c->in_fill = 0;
    } else if (c->in_fill == RECV_BUFFER) {
        memmove(c->in, c->in + c->in_start, c->in_fill - c->in_start);
        c->in_fill -= c->in_start;
        c->in_start = 0;
    }
    do {
        got = recv(c->fd, c->in + c->in_fill, RECV_BUFFER - c->in_fill, 0);
    } while (got == -1 && errno == EINTR);
    if (got > 0) {
        c->in_fill += (size_t)got;
        return got;
    }
    if (got == 0)
        return 0;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
}

/* Hands out the next complete line (without "\n"). A piece that fills the
 * whole buffer without a "\n" is handed out as one garbled line. */
static int next_line(struct client *c, const char **line, size_t *len)
{
    char *start = c->in + c->in_start;
    char *newline = c->in_start < c->in_fill ? memchr(start, '\n', c->in_fill - c->in_start) : NULL;

    if (newline == NULL) {
        if (c->in_start == 0 && c->in_fill == RECV_BUFFER) {
            *line = start;
            *len = RECV_BUFFER;
            c->in_start = c->in_fill = 0;
            return 1;
        }
        return 0;
    }
    *line = start;
    *len = (size_t)(newline - start);
    c->in_start += *len + 1;
    return 1;
}

/* An intact line from sender, number seq, received at now. */
static void count_intact(struct client *c, unsigned sender, unsigned long seq, uint64_t sent_ns, uint64_t now)
{
    uint64_t latency = now > sent_ns ? now - sent_ns : 0;
    unsigned bucket = bench_bucket_of(latency);

    if (sender == c->index || seq < c->next_seq[sender]) {
        c->st.disorder++;               /* our own line back, or a repeat, or late */
        return;
    }
    c->next_seq[sender] = (uint32_t)(seq + 1);
    c->st.intact++;
    c->st.hist[bucket]++;
    if (latency > c->st.max_latency)
        c->st.max_latency = latency;
    if (seq % arrival_stride == 0)
        c->arrival[sender * arrival_per_sender + seq / arrival_stride] = (uint16_t)bucket;
}

/* Parses "client-K> " at the start of line. Returns the prefix length and
 * K, or 0 if the line does not start so. */
static size_t lab_prefix(const char *line, size_t len, unsigned long *number)
{
    size_t i = 7;
    unsigned long k = 0;

    if (len < 10 || memcmp(line, "client-", 7) != 0)
        return 0;
    while (i < len && line[i] >= '0' && line[i] <= '9' && i < 27)
        k = k * 10 + (unsigned long)(line[i++] - '0');
    if (i == 7 || i + 2 > len || line[i] != '>' || line[i + 1] != ' ')
        return 0;
    *number = k;
    return i + 2;
}

/* Takes one received line (without its "\n") of the data phase. */
static void take_line(struct client *c, const char *line, size_t len, uint64_t now)
{
    unsigned sender;
    unsigned long seq, number = 0;
    uint64_t sent_ns;
    size_t prefix = 0;

    if (opt.mode == MODE_LAB) {
        if (len >= 2 && line[0] == '*' && line[1] == ' ') {
            c->st.control++;            /* "* client-J joined" / "left" */
            return;
        }
        prefix = lab_prefix(line, len, &number);
        if (prefix == 0) {
            c->st.spliced++;            /* "ERR ..." or anything unexpected */
            return;
        }
    } else if (len == 5 && memcmp(line, "PROBE", 5) == 0) {
        c->st.control++;
        return;
    }
    c->st.lines++;
    c->st.bytes += len + 1;
    c->st.last_ns = now;
    if (check_line(line + prefix, len - prefix, &sender, &seq, &sent_ns) == -1 ||
        (opt.mode == MODE_LAB && clients[sender].lab_number != number)) {
        c->st.spliced++;
        return;
    }
    count_intact(c, sender, seq, sent_ns, now);
}

/* Reads what is there (a few recv() at most) and takes its lines. Returns
 * 0, or -1 when the connection ended. */
static int receive_data(struct client *c)
{
    const char *line;
    size_t len;
    uint64_t now;
    ssize_t got;
    int turn;

    for (turn = 0; turn < IO_BUDGET; turn++) {
        got = receive_some(c);
        if (got == -1)
            return 0;
        if (got <= 0)
            return -1;
        now = bench_now_ns();
        while (next_line(c, &line, &len))
            take_line(c, line, len, now);
    }
    return 0;
}

/* Whether everything this client should receive has come: lab mode counts
 * lines (the relay frames them), raw mode bytes (a splice merges lines but
 * keeps every byte). */
static int received_all(const struct client *c)
{
    unsigned long long expected = (unsigned long long)opt.lines * (opt.clients - 1);

    if (opt.mode == MODE_LAB)
        return c->st.lines >= expected;
    return c->st.bytes >= expected * opt.size;
}

/* ---- before the clock: everyone in the relay ---- */

/* Waits up to ms for readable data, then reads it. Returns as receive_some()
 * but 0 for end of file and -2 for errors, -1 if nothing came. */
static ssize_t wait_and_receive(struct client *c, int ms)
{
    struct pollfd p = { c->fd, POLLIN, 0 };
    int ready = poll(&p, 1, ms);

    if (ready == -1 && errno != EINTR)
        return -2;
    if (ready <= 0)
        return -1;
    return receive_some(c);
}

/* Lab mode: reads "welcome client-K" (always the first line) and leaves what
 * follows it in the buffer. Returns 0, or -1. */
static int read_welcome(struct client *c)
{
    uint64_t deadline = bench_now_ns() + (uint64_t)SYNC_SECONDS * 1000000000u;
    const char *line;
    size_t len, i;
    ssize_t got;

    while (!next_line(c, &line, &len)) {
        if (bench_now_ns() >= deadline)
            return -1;
        got = wait_and_receive(c, 100);
        if (got == 0 || got == -2)
            return -1;
    }
    if (len <= 15 || memcmp(line, "welcome client-", 15) != 0)
        return -1;
    c->lab_number = 0;
    for (i = 15; i < len && i < 35; i++) {
        if (line[i] < '0' || line[i] > '9')
            return -1;
        c->lab_number = c->lab_number * 10 + (unsigned long)(line[i] - '0');
    }
    return i == len ? 0 : -1;
}

/* Raw mode: a byte relay says nothing on connection, and a client it has not
 * taken in yet would miss the first lines. Clients 0 and 1 send "PROBE"
 * (each reaches the other and everyone else) until every client has seen
 * one, which proves the relay had taken it in. Returns the barrier's verdict
 * (2 all in, 0 failed). */
static int sync_raw(struct client *c, uint64_t *start)
{
    const char *line;
    size_t len;
    ssize_t got;
    uint64_t until;
    int round, seen = 0, verdict = 0;

    for (round = 0; round < PROBE_ROUNDS; round++) {
        if (c->index < 2 && send(c->fd, "PROBE\n", 6, 0) != 6)
            verdict = -1;
        until = bench_now_ns() + PROBE_ROUND_MS * 1000000u;
        while (verdict != -1 && !seen && bench_now_ns() < until) {
            got = wait_and_receive(c, 10);
            if (got == 0 || got == -2)
                verdict = -1;
            while (next_line(c, &line, &len))
                if (len == 5 && memcmp(line, "PROBE", 5) == 0)
                    seen = 1;
        }
        verdict = barrier_wait(verdict == -1 ? 0 : seen ? 2 : 1, start);
        if (verdict != 1)
            break;
    }
    return verdict;
}

/* ---- one client ---- */

static void *client_main(void *arg)
{
    struct client *c = arg;
    char *out = malloc(SEND_BUFFER > opt.size ? SEND_BUFFER : opt.size);
    size_t out_start = 0, out_len = 0, out_room = (SEND_BUFFER > opt.size ? SEND_BUFFER : opt.size) / opt.size;
    unsigned long made = 0, batch = 0;
    uint64_t deadline, now, start = 0;
    struct pollfd p;
    ssize_t sent;
    int verdict, turn, timeout_ms;

    if (opt.mode == MODE_LAB)
        verdict = barrier_wait(out != NULL && read_welcome(c) == 0 ? 2 : 0, &start);
    else
        verdict = sync_raw(c, &start);
    if (verdict != 2 || out == NULL) {
        c->st.closed = 1;
        free(out);
        return NULL;
    }
    deadline = start + (uint64_t)(opt.timeout * 1e9);

    for (;;) {
        unsigned long due = opt.lines;
        int sending = made < opt.lines || out_len > 0;

        now = bench_now_ns();
        if (!sending && received_all(c)) {
            c->st.done = 1;
            break;
        }
        if (now >= deadline) {
            c->st.timed_out = 1;
            break;
        }
        timeout_ms = (int)((deadline - now) / 1000000u) + 1;
        if (opt.rate > 0.0) {
            double allowed = (double)(now - start) * opt.rate / 1e9;

            due = allowed < (double)opt.lines ? (unsigned long)allowed : opt.lines;
            if (out_len == 0 && made < opt.lines && due <= made) {
                uint64_t next = start + (uint64_t)((double)(made + 1) * 1e9 / opt.rate);
                int wait_ms = next > now ? (int)((next - now + 999999u) / 1000000u) : 0;

                sending = 0;
                if (wait_ms < timeout_ms)
                    timeout_ms = wait_ms;
            }
        }
        p.fd = c->fd;
        p.events = (short)(POLLIN | (sending ? POLLOUT : 0));
        p.revents = 0;
        if (poll(&p, 1, timeout_ms) == -1) {
            if (errno == EINTR)
                continue;
            c->st.closed = 1;
            break;
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && receive_data(c) == -1) {
            c->st.closed = 1;
            break;
        }
        if (!sending || !(p.revents & POLLOUT))
            continue;
        for (turn = 0; turn < IO_BUDGET; turn++) {
            if (out_len == 0) {
                unsigned long count = due - made;
                uint64_t stamp = bench_now_ns();
                unsigned long i;

                if (made >= due)
                    break;
                if (count > out_room)
                    count = out_room;
                for (i = 0; i < count; i++)
                    build_line(out + i * opt.size, c->index, made + i, stamp);
                made += count;
                batch = count;
                out_start = 0;
                out_len = count * opt.size;
            }
            do {
                sent = send(c->fd, out + out_start, out_len, 0);
            } while (sent == -1 && errno == EINTR);
            if (sent == -1) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                c->st.closed = 1;
                goto finished;
            }
            out_start += (size_t)sent;
            out_len -= (size_t)sent;
            if (out_len == 0)
                c->st.sent += batch;
        }
    }
finished:
    free(out);
    return NULL;
}

/* ---- main ---- */

/* Connects C sockets in order (so client i is the relay's i-th), without
 * Nagle's delay, non-blocking. Returns 0, or -1 after a message. */
static int connect_all(void)
{
    struct addrinfo hints, *found, *ai;
    unsigned i;
    int error, fd = -1, yes = 1, flags;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    error = getaddrinfo(opt.host, opt.port, &hints, &found);
    if (error != 0) {
        fprintf(stderr, "relay_bench: %s:%s: %s\n", opt.host, opt.port, gai_strerror(error));
        return -1;
    }
    for (i = 0; i < opt.clients; i++) {
        fd = -1;
        for (ai = found; ai != NULL; ai = ai->ai_next) {
            fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
            if (fd == -1)
                continue;
            if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
                break;
            error = errno;
            close(fd);
            fd = -1;
            errno = error;
        }
        if (fd == -1) {
            fprintf(stderr, "relay_bench: connect (client %u): %s\n", i, strerror(errno));
            freeaddrinfo(found);
            return -1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        flags = fcntl(fd, F_GETFL);
        if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
            fprintf(stderr, "relay_bench: fcntl: %s\n", strerror(errno));
            close(fd);
            freeaddrinfo(found);
            return -1;
        }
        clients[i].fd = fd;
    }
    freeaddrinfo(found);
    return 0;
}

/* CPU seconds (user + system) this process used since the start signal. */
static double cpu_since_start(void)
{
    struct rusage now;
    const struct rusage *then = &barrier.release_usage;

    if (getrusage(RUSAGE_SELF, &now) == -1)
        return 0.0;
    return (double)(now.ru_utime.tv_sec - then->ru_utime.tv_sec) +
           (double)(now.ru_stime.tv_sec - then->ru_stime.tv_sec) +
           (double)(now.ru_utime.tv_usec - then->ru_utime.tv_usec) / 1e6 +
           (double)(now.ru_stime.tv_usec - then->ru_stime.tv_usec) / 1e6;
}

/* Sums the clients' results and prints the summary line. Returns the exit
 * status. */
static int report(void)
{
    static unsigned long long hist[BENCH_BUCKETS], reach_hist[BENCH_BUCKETS];
    unsigned long long lines = 0, intact = 0, spliced = 0, disorder = 0, expected;
    unsigned long long sent = 0, lost, complete = 0;
    uint64_t max_latency = 0, last = 0;
    size_t total_lines = (size_t)opt.clients * opt.lines;
    size_t kept = (size_t)opt.clients * arrival_per_sender, at;
    uint16_t *reach;
    unsigned i, j, closed = 0, timed_out = 0;
    double seconds;
    char sample[48] = "";

    for (i = 0; i < opt.clients; i++) {
        const struct stats *s = &clients[i].st;

        lines += s->lines;
        intact += s->intact;
        spliced += s->spliced;
        disorder += s->disorder;
        sent += s->sent;
        closed += (unsigned)(s->closed != 0);
        timed_out += (unsigned)(s->timed_out != 0);
        if (s->max_latency > max_latency)
            max_latency = s->max_latency;
        if (s->last_ns > last)
            last = s->last_ns;
        for (j = 0; j < BENCH_BUCKETS; j++)
            hist[j] += s->hist[j];
    }
    expected = (unsigned long long)total_lines * (opt.clients - 1);
    lost = expected > intact ? expected - intact : 0;
    if (last <= start_ns)
        last = bench_now_ns();
    seconds = (double)(last - start_ns) / 1e9;

    /* Per line, the time to reach every receiver: the largest latency
     * bucket over its receivers; NO_ARRIVAL (larger than all) if one missed
     * it. Only the lines that reached everyone count. */
    reach = calloc(kept > 0 ? kept : 1, sizeof *reach);
    if (reach != NULL) {
        for (i = 0; i < opt.clients; i++)
            for (at = 0; at < kept; at++)
                if (at / arrival_per_sender != i && clients[i].arrival[at] > reach[at])
                    reach[at] = clients[i].arrival[at];
        for (at = 0; at < kept; at++)
            if (reach[at] != NO_ARRIVAL) {
                reach_hist[reach[at]]++;
                complete++;
            }
        free(reach);
    }
    if (arrival_stride > 1)
        snprintf(sample, sizeof sample, " line_sample=1/%lu", arrival_stride);

    printf("mode=%s clients=%u lines=%lu size=%zu sent=%llu delivered=%llu intact=%llu "
           "spliced=%llu disorder=%llu lost=%llu closed=%u seconds=%.3f lines_per_s=%.0f "
           "delivered_per_s=%.0f p50_us=%.1f p99_us=%.1f p99_all_receivers_us=%.1f "
           "max_us=%.1f complete_lines=%llu bench_cpu_s=%.2f%s%s\n",
           opt.mode == MODE_LAB ? "lab" : "raw", opt.clients, opt.lines, opt.size, sent, lines,
           intact, spliced, disorder, lost, closed, seconds,
           seconds > 0.0 ? (double)intact / seconds : 0.0,
           seconds > 0.0 ? (double)lines / seconds : 0.0,
           intact > 0 ? bench_quantile(hist, intact, 0.50) / 1e3 : 0.0,
           intact > 0 ? bench_quantile(hist, intact, 0.99) / 1e3 : 0.0,
           complete > 0 ? bench_quantile(reach_hist, complete, 0.99) / 1e3 : 0.0,
           (double)max_latency / 1e3, complete, cpu_since_start(), sample,
           timed_out > 0 ? " timeout=1" : "");
    fflush(stdout);
    if (timed_out > 0)
        return 3;
    return closed > 0 ? 1 : 0;
}

int main(int argc, char *argv[])
{
    struct sigaction ignore;
    size_t kept, at;
    unsigned i, started = 0;
    int status, error;

    status = parse_args(argc, argv);
    if (status != 0)
        return status;
    if ((double)opt.clients * (double)opt.lines > 1e9) {
        fprintf(stderr, "relay_bench: clients x lines is too large\n");
        return 2;
    }
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, NULL);  /* a relay that drops us: EPIPE, not death */

    clients = calloc(opt.clients, sizeof *clients);
    padding = malloc(opt.size + 26);
    if (clients == NULL || padding == NULL) {
        fprintf(stderr, "relay_bench: out of memory\n");
        return 1;
    }
    while ((double)opt.clients * opt.clients * ((double)opt.lines / arrival_stride + 1) *
           sizeof(uint16_t) > ARRIVAL_MEMORY)
        arrival_stride *= 2;
    arrival_per_sender = (opt.lines + arrival_stride - 1) / arrival_stride;
    kept = (size_t)opt.clients * arrival_per_sender;
    for (at = 0; at < opt.size + 26; at++)
        padding[at] = (char)('a' + at % 26);
    init_hex_values();
    for (i = 0; i < opt.clients; i++) {
        clients[i].index = i;
        clients[i].fd = -1;
        clients[i].in = malloc(RECV_BUFFER);
        clients[i].next_seq = calloc(opt.clients, sizeof *clients[i].next_seq);
        clients[i].arrival = malloc(kept * sizeof *clients[i].arrival);
        if (clients[i].in == NULL || clients[i].next_seq == NULL || clients[i].arrival == NULL) {
            fprintf(stderr, "relay_bench: out of memory\n");
            return 1;
        }
        for (at = 0; at < kept; at++)
            clients[i].arrival[at] = NO_ARRIVAL;
    }
    if (connect_all() == -1)
        return 1;
    for (i = 0; i < opt.clients; i++) {
        error = pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);
        if (error != 0) {
            fprintf(stderr, "relay_bench: pthread_create: %s\n", strerror(error));
            break;
        }
        started++;
    }
    if (started < opt.clients) {
        /* The barrier would wait forever: close the sockets so that the
         * threads started fail their synchronisation, then give up. */
        for (i = 0; i < opt.clients; i++)
            shutdown(clients[i].fd, SHUT_RDWR);
        _exit(1);
    }
    for (i = 0; i < opt.clients; i++)
        pthread_join(clients[i].thread, NULL);
    start_ns = barrier.release_ns;      /* the threads are joined: no race */
    if (barrier.verdict != 2) {
        fprintf(stderr, "relay_bench: the clients could not all join the relay within %d s\n",
                SYNC_SECONDS);
        return 1;
    }
    status = report();
    for (i = 0; i < opt.clients; i++) {
        close(clients[i].fd);
        free(clients[i].in);
        free(clients[i].next_seq);
        free(clients[i].arrival);
    }
    free(clients);
    free(padding);
    return status;
}
