/* idle_bench - what idle clients cost a server: resident memory per
 * connected client, and CPU time while nobody talks.
 *
 * Reads the server's VmRSS (/proc/PID/status), connects N clients one after
 * the other and makes sure the server has taken each one in (--greeting: it
 * reads the line the server sends first, lab04's "welcome client-K";
 * otherwise it sends "ping" and reads the answer, lab03's "OK ..."), reads
 * and drops whatever else comes (lab04's "* client-K joined") until the
 * server has been quiet for a moment, reads VmRSS again, then leaves every
 * client idle for --idle seconds and reads the server's CPU time
 * (/proc/PID/stat, user + system) before and after. A server that loops
 * while nobody talks shows here.
 *
 * Prints one line: rss_per_client_kb = (after - before) / N, idle_cpu_s,
 * threads. Linux only for the /proc figures (elsewhere -1); the rest is
 * portable POSIX C11 (poll() over every socket, one thread).
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

#define MAX_CLIENTS 60000
#define FIRST_LINE_SECONDS 10           /* for the server's first line to one client */
#define QUIET_MS 300                    /* no byte for this long: the server is done */
#define SETTLE_SECONDS 20               /* for it to be done, at most */
#define LINE_MAX 256                    /* a first line longer than this is wrong */

static struct {
    unsigned long clients;
    double idle;
    long pid;
    int greeting;
    const char *host, *port;
} opt = { 100, 3.0, 0, 0, NULL, NULL };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: idle_bench --pid PID [--clients N] [--idle S] [--greeting] HOST PORT\n"
            "  --pid PID      the server's process, for /proc/PID (memory, CPU)\n"
            "  --clients N    idle connections to hold (default 100)\n"
            "  --idle S       seconds of idleness to measure CPU over (default 3)\n"
            "  --greeting     the server speaks first (lab04's welcome): read that line;\n"
            "                 without it each client sends \"ping\" and reads the answer\n"
            "Prints one line: clients=... rss_per_client_kb=... idle_cpu_s=...\n"
            "Exit status: 0, 1 error (a client refused or closed), 2 usage.\n");
}

/* One option of the command line (bench_option_fn, in benchlib.h). */
static int option(const char *name, const char *value)
{
    if (strcmp(name, "--greeting") == 0) {
        opt.greeting = 1;
        return 1;
    }
    if (strcmp(name, "--clients") == 0)
        return bench_parse_count(value, 1, MAX_CLIENTS, &opt.clients) == 0 ? 2 : -1;
    if (strcmp(name, "--idle") == 0)
        return bench_parse_seconds(value, &opt.idle) == 0 ? 2 : -1;
    if (strcmp(name, "--pid") == 0)
        return bench_parse_pid(value, &opt.pid) == 0 ? 2 : -1;
    return 0;
}

/* Parses the command line into opt. Returns 0, or the exit status. */
static int parse_args(int argc, char *argv[])
{
    if (bench_parse_args(argc, argv, option, usage, &opt.host, &opt.port) != 0)
        return 2;
    if (opt.pid == 0) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Reads fd (blocking) up to the end of its first line, into line (at most
 * LINE_MAX bytes, "\n" dropped, NUL-terminated); what follows the line in
 * the same recv() is dropped: only news comes after it. Returns 0, or -1
 * (end of file, error, no line within FIRST_LINE_SECONDS). */
static int read_first_line(int fd, char *line)
{
    uint64_t deadline = bench_now_ns() + FIRST_LINE_SECONDS * 1000000000ull;
    struct pollfd p = { fd, POLLIN, 0 };
    size_t fill = 0;
    char *newline;
    ssize_t got;

    for (;;) {
        uint64_t now = bench_now_ns();

        if (now >= deadline)
            return -1;
        if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) == -1 && errno != EINTR)
            return -1;
        if (p.revents == 0)
            continue;
        got = recv(fd, line + fill, LINE_MAX - fill, 0);
        if (got == -1 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (got <= 0)
            return -1;
        fill += (size_t)got;
        newline = memchr(line, '\n', fill);
        if (newline != NULL) {
            *newline = '\0';
            return 0;
        }
        if (fill == LINE_MAX)
            return -1;
    }
}

/* Reads and drops whatever comes on any client, until nothing came for
 * quiet_ms, or until deadline. Returns the clients whose connection ended
 * meanwhile (their fd is then -1 in fds). */
static unsigned long drain(struct pollfd *fds, unsigned long n, int quiet_ms, uint64_t deadline)
{
    static char sink[64 * 1024];
    unsigned long i, ended = 0;
    ssize_t got;
    int ready;

    while (bench_now_ns() < deadline) {
        ready = poll(fds, (nfds_t)n, quiet_ms);
        if (ready == -1 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        for (i = 0; i < n; i++) {
            if (fds[i].revents == 0)
                continue;
            got = recv(fds[i].fd, sink, sizeof sink, 0);
            if (got == 0 || (got == -1 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(fds[i].fd);
                fds[i].fd = -1;     /* poll() skips it from now on */
                ended++;
            }
        }
    }
    return ended;
}

int main(int argc, char *argv[])
{
    struct sigaction ignore;
    struct pollfd *fds;
    char line[LINE_MAX + 1];
    const char *why;
    long rss_before, rss_after, threads;
    long long cpu_before, cpu_after;
    unsigned long i, refused = 0, ended;
    uint64_t idle_start, idle_end;
    int status;

    status = parse_args(argc, argv);
    if (status != 0)
        return status;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, NULL);
    if (bench_raise_fd_limit((long)opt.clients + 16) < (long)opt.clients + 4) {
        fprintf(stderr, "idle_bench: the descriptor limit is too low for %lu clients (ulimit -n)\n",
                opt.clients);
        return 1;
    }
    fds = calloc(opt.clients, sizeof *fds);
    if (fds == NULL) {
        fprintf(stderr, "idle_bench: out of memory\n");
        return 1;
    }

    rss_before = bench_proc_status((pid_t)opt.pid, "VmRSS");
    for (i = 0; i < opt.clients; i++) {
        int fd = bench_connect(opt.host, opt.port, &why);

        if (fd == -1) {
            fprintf(stderr, "idle_bench: connect (client %lu): %s\n", i + 1, why);
            return 1;
        }
        fds[i].fd = fd;
        fds[i].events = POLLIN;
        if ((!opt.greeting && send(fd, "ping\n", 5, 0) != 5) || read_first_line(fd, line) == -1) {
            fprintf(stderr, "idle_bench: client %lu: no %s from the server\n", i + 1,
                    opt.greeting ? "first line" : "answer to ping");
            return 1;
        }
        if (strncmp(line, "ERR", 3) == 0)  /* "ERR server full": it took no more */
            refused++;
        bench_set_nonblocking(fd);
    }
    ended = drain(fds, opt.clients, QUIET_MS, bench_now_ns() + SETTLE_SECONDS * 1000000000ull);
    rss_after = bench_proc_status((pid_t)opt.pid, "VmRSS");
    threads = bench_proc_status((pid_t)opt.pid, "Threads");

    /* Idle: nobody sends; read whatever still comes (nothing should). */
    cpu_before = bench_proc_cpu_ticks((pid_t)opt.pid);
    idle_start = bench_now_ns();
    idle_end = idle_start + (uint64_t)(opt.idle * 1e9);
    while (bench_now_ns() < idle_end)
        ended += drain(fds, opt.clients, (int)((idle_end - bench_now_ns()) / 1000000u) + 1, idle_end);
    cpu_after = bench_proc_cpu_ticks((pid_t)opt.pid);

    printf("clients=%lu refused=%lu ended=%lu rss_before_kb=%ld rss_after_kb=%ld "
           "rss_per_client_kb=%.1f threads=%ld idle_s=%.2f idle_cpu_s=%.2f\n",
           opt.clients, refused, ended, rss_before, rss_after,
           rss_before >= 0 && rss_after >= 0 ? (double)(rss_after - rss_before) / (double)opt.clients : -1.0,
           threads, (double)(bench_now_ns() - idle_start) / 1e9,
           cpu_before >= 0 && cpu_after >= 0 ? (double)(cpu_after - cpu_before) / (double)bench_ticks_per_s() : -1.0);
    fflush(stdout);
    for (i = 0; i < opt.clients; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    free(fds);
    return refused > 0 || ended > 0 ? 1 : 0;
}
