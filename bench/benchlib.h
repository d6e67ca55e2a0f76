/* benchlib - what the benchmark programs share: the clock, parsing numbers
 * from the command line, a latency histogram, and reading a process's memory
 * and CPU time from /proc (Linux; elsewhere those report "unknown").
 */
#ifndef BENCHLIB_H
#define BENCHLIB_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Latency histogram, log-linear, in nanoseconds: values below
 * 2 * BENCH_SUB exact, then BENCH_SUB buckets per power of two (relative
 * error under 1 / (2 * BENCH_SUB), 0.4 %), values capped at 2^42 ns (73 min). */
#define BENCH_SUB_BITS 7
#define BENCH_SUB (1u << BENCH_SUB_BITS)
#define BENCH_TOP_BIT 42
#define BENCH_BUCKETS ((BENCH_TOP_BIT - BENCH_SUB_BITS + 1) * BENCH_SUB)

/* CLOCK_MONOTONIC, in nanoseconds. */
uint64_t bench_now_ns(void);

/* Parses a whole number from min to max (decimal digits only).
 * Returns 0 with *value set, or -1. */
int bench_parse_count(const char *text, unsigned long min, unsigned long max, unsigned long *value);

/* Parses a process ID (1 to 2^31 - 1), for an option --pid.
 * Returns 0 with *pid set, or -1. */
int bench_parse_pid(const char *text, long *pid);

/* Parses a number of seconds from 0 to 10^6 ("1.5" is fine).
 * Returns 0 with *value set, or -1. */
int bench_parse_seconds(const char *text, double *value);

/* One program's options, for bench_parse_args(): called with an option's
 * name and the argument after it (NULL if none). Returns 2 when it took
 * that argument as the option's value, 1 for a flag (no value), 0 for an
 * unknown option, -1 for a bad or missing value. */
typedef int bench_option_fn(const char *name, const char *value);

/* Parses a command line "PROGRAM [OPTION...] HOST PORT": -h and --help
 * print usage(stdout) and exit 0; every other "-..." goes to option().
 * Returns 0 with *host and *port set, or 2 after saying what is wrong on
 * standard error (an unknown option, a bad value, or usage(stderr)). */
int bench_parse_args(int argc, char *argv[], bench_option_fn *option, void (*usage)(FILE *out),
                     const char **host, const char **port);

/* The bucket that holds v (nanoseconds). */
unsigned bench_bucket_of(uint64_t v);

/* The middle of bucket i, in nanoseconds (exact below 2 * BENCH_SUB). */
double bench_bucket_value(unsigned i);

/* The p-th quantile (nearest rank) of a histogram of BENCH_BUCKETS buckets
 * holding count values, in nanoseconds; 0 when count is 0. */
double bench_quantile(const unsigned long long *hist, unsigned long long count, double p);

/* A field in kB of /proc/PID/status ("VmRSS", "VmHWM"), or the number of
 * "Threads". Returns it, or -1 if unknown (no /proc, no such process). */
long bench_proc_status(pid_t pid, const char *field);

/* CPU time process pid used so far (user + system, /proc/PID/stat), in
 * clock ticks. Returns it, or -1 if unknown. */
long long bench_proc_cpu_ticks(pid_t pid);

/* Clock ticks per second, for bench_proc_cpu_ticks(). */
long bench_ticks_per_s(void);

/* CPU seconds (user + system) this process used so far. */
double bench_self_cpu_s(void);

/* Raises this process's descriptor limit (the soft one, up to the hard
 * one) to at least want. Returns the soft limit now in force (it may be
 * below want if the hard limit is). */
long bench_raise_fd_limit(long want);

/* Makes fd non-blocking and, for a TCP socket, turns Nagle's delay off.
 * Returns 0, or -1 with errno set. */
int bench_set_nonblocking(int fd);

/* Connects a TCP socket to host:port (every address getaddrinfo gives, in
 * order, until one works). Returns the socket, blocking, or -1: then
 * *message says why (a static string or strerror's). */
int bench_connect(const char *host, const char *port, const char **message);

#endif
