/* benchlib - what the benchmark programs share (see benchlib.h). */
#include "benchlib.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_parse_count(const char *text, unsigned long min, unsigned long max, unsigned long *value)
{
    char *end;
    unsigned long v;

    if (text == NULL || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *value = v;
    return 0;
}

int bench_parse_pid(const char *text, long *pid)
{
    unsigned long n;

    if (bench_parse_count(text, 1, 0x7FFFFFFF, &n) == -1)
        return -1;
    *pid = (long)n;
    return 0;
}

int bench_parse_seconds(const char *text, double *value)
{
    char *end;
    double v;

    if (text == NULL)
        return -1;
    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= 0.0) || v > 1e6)
        return -1;
    *value = v;
    return 0;
}

int bench_parse_args(int argc, char *argv[], bench_option_fn *option, void (*usage)(FILE *out),
                     const char **host, const char **port)
{
    const char *program = argc > 0 ? argv[0] : "bench";
    const char *slash = strrchr(program, '/');
    int i, positional = 0;

    program = slash != NULL ? slash + 1 : program;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int taken;

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            if (positional == 2) {
                usage(stderr);
                return 2;
            }
            *(positional++ == 0 ? host : port) = arg;
            continue;
        }
        taken = option(arg, i + 1 < argc ? argv[i + 1] : NULL);
        if (taken == 0) {
            fprintf(stderr, "%s: unknown option %s\n", program, arg);
            return 2;
        }
        if (taken == -1) {
            fprintf(stderr, "%s: bad or missing value for %s\n", program, arg);
            return 2;
        }
        i += taken - 1;
    }
    if (positional != 2) {
        usage(stderr);
        return 2;
    }
    return 0;
}

unsigned bench_bucket_of(uint64_t v)
{
    unsigned msb = 0, step;

    if (v >= (uint64_t)1 << BENCH_TOP_BIT)
        v = ((uint64_t)1 << BENCH_TOP_BIT) - 1;
    if (v < 2 * BENCH_SUB)
        return (unsigned)v;
    for (step = 32; step > 0; step >>= 1)   /* the highest bit set, by halves */
        if (v >> (msb + step) != 0)
            msb += step;
    return (msb - BENCH_SUB_BITS + 1) * BENCH_SUB + (unsigned)((v >> (msb - BENCH_SUB_BITS)) - BENCH_SUB);
}

double bench_bucket_value(unsigned i)
{
    unsigned shift;
    uint64_t low;

    if (i < 2 * BENCH_SUB)
        return (double)i;
    shift = i / BENCH_SUB - 1;
    low = (uint64_t)(i % BENCH_SUB + BENCH_SUB) << shift;
    return (double)low + (double)((uint64_t)1 << shift) / 2.0;
}

double bench_quantile(const unsigned long long *hist, unsigned long long count, double p)
{
    unsigned long long rank = (unsigned long long)(p * (double)count), seen = 0;
    unsigned i;

    if (count == 0)
        return 0.0;
    if ((double)rank < p * (double)count)
        rank++;
    if (rank == 0)
        rank = 1;
    for (i = 0; i < BENCH_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank)
            return bench_bucket_value(i);
    }
    return 0.0;
}

long bench_proc_status(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t len = strlen(field);
    long value = -1;
    FILE *status;

    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    status = fopen(path, "r");
    if (status == NULL)
        return -1;
    while (fgets(line, sizeof line, status) != NULL) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            value = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(status);
    return value;
}

long long bench_proc_cpu_ticks(pid_t pid)
{
    char path[64], text[1024], *after_name;
    unsigned long long utime, stime;
    size_t got;
    FILE *stat;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    stat = fopen(path, "r");
    if (stat == NULL)
        return -1;
    got = fread(text, 1, sizeof text - 1, stat);
    fclose(stat);
    text[got] = '\0';
    /* "pid (name) state ppid ...": the name may hold spaces and ")", so
     * count fields from the last ")". utime and stime are fields 14 and
     * 15, the 12th and 13th after it. */
    after_name = strrchr(text, ')');
    if (after_name == NULL ||
        sscanf(after_name + 1, " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu",
               &utime, &stime) != 2)
        return -1;
    return (long long)(utime + stime);
}

long bench_ticks_per_s(void)
{
    long ticks = sysconf(_SC_CLK_TCK);

    return ticks > 0 ? ticks : 100;
}

double bench_self_cpu_s(void)
{
    struct rusage usage;

    if (getrusage(RUSAGE_SELF, &usage) == -1)
        return 0.0;
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_stime.tv_sec +
           (double)usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_usec / 1e6;
}

long bench_raise_fd_limit(long want)
{
    struct rlimit limit;

    if (getrlimit(RLIMIT_NOFILE, &limit) == -1)
        return -1;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < (rlim_t)want) {
        limit.rlim_cur = limit.rlim_max == RLIM_INFINITY || limit.rlim_max > (rlim_t)want
                             ? (rlim_t)want : limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) == -1 || getrlimit(RLIMIT_NOFILE, &limit) == -1)
            return -1;
    }
    return limit.rlim_cur == RLIM_INFINITY ? want : (long)limit.rlim_cur;
}

int bench_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL), yes = 1;

    if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes); /* only a speed-up */
    return 0;
}

int bench_connect(const char *host, const char *port, const char **message)
{
    struct addrinfo hints, *found, *ai;
    int error, fd = -1, saved = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    error = getaddrinfo(host, port, &hints, &found);
    if (error != 0) {
        *message = gai_strerror(error);
        return -1;
    }
    for (ai = found; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd == -1) {
            saved = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    if (fd == -1)
        *message = strerror(saved);
    return fd;
}
