/* ack_bench - round trips to a server that answers every line (lab01's
 * "OK", lab02's and lab03's "OK <B> bytes <C> chars").
 *
 * C clients connect, each sends one warm-up line and waits for its answer
 * (so the server has taken everyone in), then all start together: for S
 * seconds each keeps W lines outstanding (sent, not answered yet), sending
 * as many new lines as answers come back. W = 1 is turn by turn; W = 64
 * pipelines. Then each waits for its last answers. Every line has B bytes
 * with its "\n"; an answer answers the oldest outstanding line (servers
 * answer in order), and its round trip is the time from just before the
 * line's send() to just after the recv() that brought the answer.
 *
 * Prints one line: answers per second (all clients), the p50, p99 and
 * largest round trip, errors (answers not starting with --expect, or more
 * answers than lines), connections the server closed.
 *
 * Portable POSIX C11: one thread per client, poll() on its non-blocking
 * socket.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "benchlib.h"

#define MAX_CLIENTS 4096
#define MAX_WINDOW 1024
#define MAX_OUT (1024 * 1024)           /* window x size, at most */
#define RECV_SIZE (64 * 1024)
#define ANSWER_MAX 1024                 /* a longer answer line is an error */
#define WARM_UP_SECONDS 10              /* for every client's first answer */

static struct {
    unsigned clients;                   /* C */
    unsigned long window;               /* W: lines outstanding per client */
    size_t size;                        /* B: bytes per line, "\n" included */
    double seconds;                     /* S: how long clients send */
    double timeout;                     /* from the start, for everything */
    const char *expect;                 /* an answer starts with this */
    const char *host, *port;
} opt = { 1, 1, 64, 1.0, 20.0, "OK", NULL, NULL };

/* One client; its thread alone writes it until the join. */
struct client {
    int fd;
    pthread_t thread;
    uint64_t *sent_at;                  /* ring of W send times */
    unsigned long head, outstanding;    /* oldest unanswered, how many */
    char in[RECV_SIZE];
    size_t in_fill;
    unsigned long long sent, answers, errors;
    unsigned long long hist[BENCH_BUCKETS];
    uint64_t max_ns, last_ns;
    int closed, timed_out;
};

static struct client *clients;
static char *lines;                     /* W lines, ready to send */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned waiting;
    int failed;
    uint64_t start_ns;
} barrier = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ack_bench [--clients C] [--window W] [--size BYTES] [--seconds S]\n"
            "                 [--timeout S] [--expect TEXT] HOST PORT\n"
            "  --clients C     connections at once (default 1)\n"
            "  --window W      lines outstanding per client, 1 = turn by turn (default 1)\n"
            "  --size BYTES    bytes per line with its newline (default 64)\n"
            "  --seconds S     how long the clients send (default 1)\n"
            "  --timeout S     give up S seconds after the start (default 20)\n"
            "  --expect TEXT   what every answer starts with (default OK)\n"
            "Prints one line: clients=... answers_per_s=... p50_us=... p99_us=...\n"
            "Exit status: 0 every answer came and was right, 1 error, 2 usage, 3 timeout.\n");
}

/* One option of the command line (bench_option_fn, in benchlib.h). */
static int option(const char *name, const char *value)
{
    unsigned long n;

    if (strcmp(name, "--clients") == 0) {
        if (bench_parse_count(value, 1, MAX_CLIENTS, &n) == -1)
            return -1;
        opt.clients = (unsigned)n;
        return 2;
    }
    if (strcmp(name, "--window") == 0)
        return bench_parse_count(value, 1, MAX_WINDOW, &opt.window) == 0 ? 2 : -1;
    if (strcmp(name, "--size") == 0) {
        if (bench_parse_count(value, 2, 65536, &n) == -1)
            return -1;
        opt.size = n;
        return 2;
    }
    if (strcmp(name, "--seconds") == 0)
        return bench_parse_seconds(value, &opt.seconds) == 0 ? 2 : -1;
    if (strcmp(name, "--timeout") == 0)
        return bench_parse_seconds(value, &opt.timeout) == 0 && opt.timeout > 0.0 ? 2 : -1;
    if (strcmp(name, "--expect") == 0) {
        if (value == NULL)
            return -1;
        opt.expect = value;
        return 2;
    }
    return 0;
}

/* Parses the command line into opt. Returns 0, or the exit status. */
static int parse_args(int argc, char *argv[])
{
    if (bench_parse_args(argc, argv, option, usage, &opt.host, &opt.port) != 0)
        return 2;
    if (opt.window * opt.size > MAX_OUT) {
        fprintf(stderr, "ack_bench: window x size is over %d bytes\n", MAX_OUT);
        return 2;
    }
    return 0;
}

/* Waits until every client thread is there; the last one in starts the
 * clock. Returns the start time, or 0 if a client failed its warm-up. */
static uint64_t barrier_wait(int failed)
{
    uint64_t start;

    pthread_mutex_lock(&barrier.lock);
    barrier.failed |= failed;
    if (++barrier.waiting == opt.clients) {
        barrier.start_ns = bench_now_ns();
        pthread_cond_broadcast(&barrier.cond);
    }
    while (barrier.waiting < opt.clients)
        pthread_cond_wait(&barrier.cond, &barrier.lock);
    start = barrier.failed ? 0 : barrier.start_ns;
    pthread_mutex_unlock(&barrier.lock);
    return start;
}

/* Takes the complete answer lines in the client's buffer, received at now. */
static void take_answers(struct client *c, uint64_t now)
{
    size_t start = 0, expect_len = strlen(opt.expect);
    char *newline;

    while ((newline = memchr(c->in + start, '\n', c->in_fill - start)) != NULL) {
        size_t len = (size_t)(newline - (c->in + start));

        if (c->outstanding == 0) {
            c->errors++;                /* an answer to no line */
        } else {
            uint64_t latency = now - c->sent_at[c->head];

            c->head = (c->head + 1) % opt.window;
            c->outstanding--;
            c->answers++;
            c->hist[bench_bucket_of(latency)]++;
            if (latency > c->max_ns)
                c->max_ns = latency;
            c->last_ns = now;
            if (len < expect_len || memcmp(c->in + start, opt.expect, expect_len) != 0)
                c->errors++;
        }
        start += len + 1;
    }
    memmove(c->in, c->in + start, c->in_fill - start);
    c->in_fill -= start;
    if (c->in_fill >= ANSWER_MAX) {     /* no "\n" in sight: not an answer */
        c->errors++;
        c->in_fill = 0;
    }
}

/* Reads what is there. Returns 0, or -1 if the connection ended. */
static int receive_answers(struct client *c)
{
    ssize_t got;

    do {
        got = recv(c->fd, c->in + c->in_fill, sizeof c->in - c->in_fill, 0);
    } while (got == -1 && errno == EINTR);
    if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (got <= 0)
        return -1;
    c->in_fill += (size_t)got;
    take_answers(c, bench_now_ns());
    return 0;
}

/* Sends one line and waits for its answer, before the clock starts.
 * Returns 0, or -1. */
static int warm_up(struct client *c)
{
    uint64_t deadline = bench_now_ns() + WARM_UP_SECONDS * 1000000000ull;
    struct pollfd p = { c->fd, POLLIN, 0 };

    if (send(c->fd, lines, opt.size, 0) != (ssize_t)opt.size)
        return -1;
    c->sent_at[0] = bench_now_ns();
    c->outstanding = 1;
    while (c->outstanding > 0) {
        uint64_t now = bench_now_ns();

        if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) == -1)
            return -1;
        if (p.revents != 0 && receive_answers(c) == -1)
            return -1;
    }
    c->head = 0;
    c->answers = c->errors = c->max_ns = c->last_ns = 0;
    memset(c->hist, 0, sizeof c->hist);
    return 0;
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    uint64_t start, send_until, deadline, now;
    size_t out_start = 0, out_len = 0;
    struct pollfd p;

    start = barrier_wait(warm_up(c) == -1);
    if (start == 0) {
        c->closed = 1;
        return NULL;
    }
    send_until = start + (uint64_t)(opt.seconds * 1e9);
    deadline = start + (uint64_t)(opt.timeout * 1e9);
    for (;;) {
        now = bench_now_ns();
        if (now < send_until && out_len == 0 && c->outstanding < opt.window) {
            unsigned long k = opt.window - c->outstanding, i;
            uint64_t stamp = bench_now_ns();

            for (i = 0; i < k; i++)
                c->sent_at[(c->head + c->outstanding + i) % opt.window] = stamp;
            c->outstanding += k;
            c->sent += k;
            out_start = 0;
            out_len = k * opt.size;
        }
        if (out_len > 0) {
            ssize_t sent = send(c->fd, lines + out_start, out_len, 0);

            if (sent > 0) {
                out_start += (size_t)sent;
                out_len -= (size_t)sent;
            } else if (sent == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                c->closed = 1;
                break;
            }
        }
        if (now >= send_until && c->outstanding == 0)
            break;
        if (now >= deadline) {
            c->timed_out = 1;
            break;
        }
        p.fd = c->fd;
        p.events = (short)(POLLIN | (out_len > 0 ? POLLOUT : 0));
        p.revents = 0;
        if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) == -1 && errno != EINTR) {
            c->closed = 1;
            break;
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && receive_answers(c) == -1) {
            c->closed = 1;
            break;
        }
    }
    return NULL;
}

/* Sums the clients' results and prints the summary line. Returns the exit
 * status. */
static int report(uint64_t start)
{
    static unsigned long long hist[BENCH_BUCKETS];
    unsigned long long sent = 0, answers = 0, errors = 0;
    uint64_t max_ns = 0, last = start;
    unsigned i, j, closed = 0, timed_out = 0;
    double seconds;

    for (i = 0; i < opt.clients; i++) {
        const struct client *c = &clients[i];

        sent += c->sent;
        answers += c->answers;
        errors += c->errors;
        closed += (unsigned)(c->closed != 0);
        timed_out += (unsigned)(c->timed_out != 0);
        if (c->max_ns > max_ns)
            max_ns = c->max_ns;
        if (c->last_ns > last)
            last = c->last_ns;
        for (j = 0; j < BENCH_BUCKETS; j++)
            hist[j] += c->hist[j];
    }
    seconds = (double)(last - start) / 1e9;
    printf("clients=%u window=%lu size=%zu sent=%llu answers=%llu errors=%llu closed=%u "
           "seconds=%.3f answers_per_s=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f bench_cpu_s=%.2f%s\n",
           opt.clients, opt.window, opt.size, sent, answers, errors, closed, seconds,
           seconds > 0.0 ? (double)answers / seconds : 0.0,
           bench_quantile(hist, answers, 0.50) / 1e3, bench_quantile(hist, answers, 0.99) / 1e3,
           (double)max_ns / 1e3, bench_self_cpu_s(), timed_out > 0 ? " timeout=1" : "");
    fflush(stdout);
    if (timed_out > 0)
        return 3;
    return closed > 0 || errors > 0 || answers < sent ? 1 : 0;
}

int main(int argc, char *argv[])
{
    struct sigaction ignore;
    const char *why;
    unsigned i, started = 0;
    unsigned long k;
    int status, error;

    status = parse_args(argc, argv);
    if (status != 0)
        return status;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, NULL);  /* a server that closes on us: EPIPE */
    if (bench_raise_fd_limit((long)opt.clients + 16) < (long)opt.clients + 4) {
        fprintf(stderr, "ack_bench: the descriptor limit is too low for %u clients\n", opt.clients);
        return 1;
    }

    clients = calloc(opt.clients, sizeof *clients);
    lines = malloc(opt.window * opt.size);
    if (clients == NULL || lines == NULL) {
        fprintf(stderr, "ack_bench: out of memory\n");
        return 1;
    }
    /* Printable ASCII (valid UTF-8, never "fin"), the "\n" last. */
    for (k = 0; k < opt.window * opt.size; k++)
        lines[k] = k % opt.size == opt.size - 1 ? '\n' : (char)('a' + k % opt.size % 26);
    for (i = 0; i < opt.clients; i++) {
        clients[i].sent_at = calloc(opt.window, sizeof *clients[i].sent_at);
        if (clients[i].sent_at == NULL) {
            fprintf(stderr, "ack_bench: out of memory\n");
            return 1;
        }
        clients[i].fd = bench_connect(opt.host, opt.port, &why);
        if (clients[i].fd == -1) {
            fprintf(stderr, "ack_bench: connect (client %u): %s\n", i, why);
            return 1;
        }
        if (bench_set_nonblocking(clients[i].fd) == -1) {
            fprintf(stderr, "ack_bench: fcntl: %s\n", strerror(errno));
            return 1;
        }
    }
    for (i = 0; i < opt.clients; i++) {
        error = pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);
        if (error != 0) {
            fprintf(stderr, "ack_bench: pthread_create: %s\n", strerror(error));
            _exit(1);                   /* the barrier would wait for ever */
        }
        started++;
    }
    for (i = 0; i < started; i++)
        pthread_join(clients[i].thread, NULL);
    if (barrier.failed) {
        fprintf(stderr, "ack_bench: a client got no answer to its first line within %d s\n",
                WARM_UP_SECONDS);
        return 1;
    }
    status = report(barrier.start_ns);
    for (i = 0; i < opt.clients; i++) {
        close(clients[i].fd);
        free(clients[i].sent_at);
    }
    free(clients);
    free(lines);
    return status;
}
