/* lab02 server: lab01's one-client server, now reading bytes, not text.
 * Its own line reader (linebuf.c) frames the byte stream and refuses lines
 * over 64 KiB in constant memory; each line is checked as strict UTF-8
 * (utf8.c) and answered with its length in bytes and in characters.
 * What lab01 already wrote (the command line, the listening socket, accept,
 * the signals) is in net.c, which also listens on IPv6 and IPv4 at once.
 * Left out on purpose: more than one client (lab03).
 *
 * This is the skeleton: the set-up and the session's loop are given, and the
 * "TODO step 5" parts are yours (steps 1 to 4 are in linebuf.c, net.c and
 * utf8.c). README.md explains every step; the tests named "step N" check it;
 * `make hint LAB=02` gives hints, one level more at each call.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"
#include "net.h"
#include "utf8.h"

#define BACKLOG 5          /* connections that may wait unaccepted */
#define ANSWER_SIZE 64     /* the longest answer: "OK <B> bytes <C> chars\n" */

/* Set by the signal handler; read by the main loop after each blocking call. */
static volatile sig_atomic_t stop_requested = 0;
/* The sockets the handler shuts down (-1 when none), see on_stop_signal(). */
static volatile sig_atomic_t listen_fd_for_signal = -1;
static volatile sig_atomic_t client_fd_for_signal = -1;

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well, and the
 * <stdlib.h> it needs. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* SIGINT/SIGTERM: ask the server to stop. A blocked accept() returns EINTR,
 * but the line reader retries a recv() that EINTR interrupted (so that no
 * line is lost), and a signal landing just before a call would be missed:
 * so the handler also shuts the sockets down. recv() then returns 0 (end of
 * file) at once, now or later. On Linux accept() on a shut-down listener
 * fails at once too; macOS and the BSDs do not wake it, and only the EINTR
 * saves a signal there. shutdown() is async-signal-safe (POSIX lists it). */
static void on_stop_signal(int signo)
{
    int saved_errno = errno;

    (void)signo;
    stop_requested = 1;
    if (client_fd_for_signal >= 0)
        shutdown(client_fd_for_signal, SHUT_RDWR);
    if (listen_fd_for_signal >= 0)
        shutdown(listen_fd_for_signal, SHUT_RDWR);
    errno = saved_errno;
}

/* Returns 1 if the line is "fin" in any letter case. */
static int is_fin(const char *line, size_t len)
{
    return len == 3 && strncasecmp(line, "fin", 3) == 0;
}

/* Prints "received: <line>": len bytes as they are, a NUL byte too
 * (lengths, not strlen). */
static void print_received(const char *line, size_t len)
{
    /* TODO step 5 (README step 5): print "received: ", the len bytes of
     * the line as they are, then '\n'. The line may hold a '\0' and has
     * none after it: print by length (man 3 fwrite), never with "%s".
     * (make hint LAB=02 STEP=5) */
    (void)line;
    (void)len;
    todo(5, "print the line received, bytes and length (print_received)");
}

/* Talks with one client until "fin", end of file, a reset or a stop signal.
 * Owns client_fd and closes it. */
static void serve_client(int client_fd, int quiet)
{
    struct linebuf reader; /* 64 KiB: fine on the main thread's stack */
    const char *line;
    size_t len, chars, error_at;
    char answer[ANSWER_SIZE];
    int result, answer_len = 0, fin = 0;

    linebuf_init(&reader, client_fd);
    while (!fin && !stop_requested) {
        result = linebuf_read_line(&reader, &line, &len);
        if (result == 0)
            break; /* end of file, or shut down by a stop signal */
        if (result == -1) {
            if (errno != ECONNRESET && !stop_requested)
                fprintf(stderr, "recv: %s\n", strerror(errno));
            break;
        }
        /* TODO step 5 (README step 5): write the answer into answer, its
         * length in answer_len (snprintf() returns it), for the send below.
         * The first that applies, each ending in '\n':
         *  - LINEBUF_TOO_LONG: "ERR line too long";
         *  - not strict UTF-8 (utf8_check()): "ERR invalid UTF-8 at byte
         *    I", and nothing printed;
         *  - else print_received() unless quiet; then "bye" for fin in any
         *    letter case (is_fin(); set fin: the session ends), or else
         *    "OK <B> bytes <C> chars".
         * (make hint LAB=02 STEP=5) */
        (void)chars;
        (void)error_at;
        (void)print_received;
        (void)is_fin;
        todo(5, "answer the line: OK, ERR or bye (serve_client)");
        if (send_all(client_fd, answer, (size_t)answer_len) == -1) {
            /* EPIPE or ECONNRESET: the client is gone, nothing to report. */
            if (errno != EPIPE && errno != ECONNRESET && !stop_requested)
                fprintf(stderr, "send: %s\n", strerror(errno));
            break;
        }
    }
    client_fd_for_signal = -1;
    close(client_fd);
    if (!quiet)
        puts("connection closed");
}

/* Waits for one client. Returns its socket, or -1 if a stop was requested
 * or accept() failed (then it prints why). */
static int accept_client(int listen_fd, int quiet)
{
    char peer[NET_PEER_SIZE];
    int client_fd;

    for (;;) {
        client_fd = net_accept(listen_fd, peer);
        if (stop_requested) {
            if (client_fd >= 0)
                close(client_fd);
            return -1;
        }
        if (client_fd >= 0)
            break;
        /* EINTR: another signal; ECONNABORTED: that client left while waiting. */
        if (errno != EINTR && errno != ECONNABORTED) {
            fprintf(stderr, "accept: %s\n", strerror(errno));
            return -1;
        }
    }
    if (!quiet)
        printf("client connected from %s\n", peer);
    return client_fd;
}

int main(int argc, char *argv[])
{
    struct net_server_args args;
    const char *failed_call;
    int listen_fd, client_fd, port;

    switch (net_server_args(argc, argv, &args)) {
    case NET_ARGS_HELP:
        net_server_usage(stdout, argv[0], NULL);
        return 0;
    case NET_ARGS_BAD:
        net_server_usage(stderr, argv[0], args.bad);
        return 2;
    case NET_ARGS_OK:
        break;
    }

    /* Tests read our output through a pipe: send each line at once. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Before "listening": a signal from then on must find the handler. */
    if (net_catch_signals(on_stop_signal) == -1) {
        fprintf(stderr, "sigaction: %s\n", strerror(errno));
        return 1;
    }
    listen_fd = net_listen(args.port, BACKLOG, &port, &failed_call);
    if (listen_fd == -1) {
        fprintf(stderr, "%s: %s\n", failed_call, strerror(errno));
        return 1;
    }
    listen_fd_for_signal = listen_fd;
    printf("listening on port %d\n", port);

    client_fd = accept_client(listen_fd, args.quiet);
    if (client_fd >= 0) {
        client_fd_for_signal = client_fd;
        if (stop_requested) /* the signal came before the line above */
            shutdown(client_fd, SHUT_RDWR);
        serve_client(client_fd, args.quiet);
    }

    listen_fd_for_signal = -1;
    close(listen_fd);
    puts("server stopped");
    return (client_fd >= 0 || stop_requested) ? 0 : 1;
}
