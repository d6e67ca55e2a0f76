/* lab02 server: lab01's one-client server, now reading bytes, not text.
 * Its own line reader (linebuf.c) frames the byte stream and refuses lines
 * over 64 KiB in constant memory; each line is checked as strict UTF-8
 * (utf8.c) and answered with its length in bytes and in characters.
 * Left out on purpose: more than one client (lab03).
 *
 * This is the skeleton: lab01's server is given, and the "TODO step 5" parts
 * are yours (steps 1 to 4 are in linebuf.c, net.c and utf8.c).
 * README.md explains every step; the tests named "step N" check it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#define DEFAULT_PORT 12800 /* the course's port */
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
 * Once every step is written, delete this function as well. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* SIGINT/SIGTERM: ask the server to stop. The blocked accept() or read()
 * returns EINTR. A signal that lands just before the call would be missed,
 * so the handler also shuts the sockets down: a call made after that returns
 * at once. shutdown() is async-signal-safe (POSIX lists it). */
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

/* Prints how to run the program on stream out. */
static void print_usage(FILE *out, const char *program)
{
    fprintf(out, "usage: %s [-q] [PORT]   (PORT 0-65535, default %d; 0 = any free port)\n",
            program, DEFAULT_PORT);
}

/* Parses a port number from 0 to 65535. Returns it, or -1 if text is not one. */
static long parse_port(const char *text)
{
    char *end;
    long port;

    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    port = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || port > 65535)
        return -1;
    return port;
}

/* Installs the stop handler for SIGINT and SIGTERM, without SA_RESTART so
 * that blocking calls return EINTR, and ignores SIGPIPE so that writing to a
 * vanished client gives EPIPE instead of killing the server.
 * Returns 0, or -1 with errno set. */
static int install_signal_handlers(void)
{
    struct sigaction action;

    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, NULL) == -1)
        return -1;
    action.sa_handler = on_stop_signal;
    if (sigaction(SIGINT, &action, NULL) == -1 || sigaction(SIGTERM, &action, NULL) == -1)
        return -1;
    return 0;
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
    /* TODO step 5 (README step 5): print "received: ", then the len bytes of
     * the line with fwrite() (man 3 fwrite), then '\n'. Not printf("%s") or
     * fputs(): they stop at the first '\0', and the line has no '\0' at its
     * end anyway (it points into the line reader's buffer). */
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
        /* TODO step 5 (README step 5): choose the answer to this line, write
         * it into answer with snprintf() (man 3 snprintf), and keep its
         * length, which snprintf() returns, in answer_len. In this order:
         *  - result LINEBUF_TOO_LONG (line and len say nothing then):
         *    "ERR line too long\n".
         *  - Otherwise check the line with utf8_check(line, len, ...).
         *    Invalid: "ERR invalid UTF-8 at byte I\n", I from error_at
         *    (a size_t: printed with %zu). Nothing is printed on stdout.
         *  - Valid: unless quiet, print_received(). Then a line that
         *    is_fin() sets fin (the loop ends after this answer) and is
         *    answered "bye\n"; any other "OK B bytes C chars\n", B its
         *    length in bytes (len), C in characters (chars).
         * Lengths, never strlen(): the line may hold '\0' bytes and is not
         * NUL-terminated. */
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

/* Creates the listening socket on every local IPv4 address and the given
 * port (0 = any). Returns it, or -1 after printing "call: reason". */
static int open_listener(long port)
{
    struct sockaddr_in address;
    int listen_fd;
    int yes = 1;

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == -1) {
        fprintf(stderr, "socket: %s\n", strerror(errno));
        return -1;
    }
    /* Lets a restarted server bind at once, despite old connections in TIME_WAIT. */
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) == -1) {
        fprintf(stderr, "setsockopt: %s\n", strerror(errno));
        close(listen_fd);
        return -1;
    }
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons((unsigned short)port);
    if (bind(listen_fd, (struct sockaddr *)&address, sizeof address) == -1) {
        fprintf(stderr, "bind: %s\n", strerror(errno));
        close(listen_fd);
        return -1;
    }
    if (listen(listen_fd, BACKLOG) == -1) {
        fprintf(stderr, "listen: %s\n", strerror(errno));
        close(listen_fd);
        return -1;
    }
    return listen_fd;
}

/* Returns the port a bound socket really uses, or -1 with errno set. */
static int local_port(int fd)
{
    struct sockaddr_in address;
    socklen_t address_len = sizeof address;

    if (getsockname(fd, (struct sockaddr *)&address, &address_len) == -1)
        return -1;
    return ntohs(address.sin_port);
}

/* Waits for one client. Returns its socket, or -1 if a stop was requested
 * or accept() failed (then it prints why). */
static int accept_client(int listen_fd, int quiet)
{
    struct sockaddr_in peer;
    socklen_t peer_len;
    char ip[INET_ADDRSTRLEN];
    int client_fd;

    for (;;) {
        peer_len = sizeof peer;
        client_fd = accept(listen_fd, (struct sockaddr *)&peer, &peer_len);
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
    if (!quiet) {
        inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        printf("client connected from %s:%d\n", ip, ntohs(peer.sin_port));
    }
    return client_fd;
}

int main(int argc, char *argv[])
{
    long port = DEFAULT_PORT;
    int have_port = 0;
    int quiet = 0;
    int listen_fd, client_fd;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (argv[i][0] != '-' && !have_port && (port = parse_port(argv[i])) != -1) {
            have_port = 1;
        } else {
            fprintf(stderr, "%s: bad argument '%s'\n", argv[0], argv[i]);
            print_usage(stderr, argv[0]);
            return 2;
        }
    }

    /* Tests read our output through a pipe: send each line at once. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Before "listening": a signal from then on must find the handler. */
    if (install_signal_handlers() == -1) {
        fprintf(stderr, "sigaction: %s\n", strerror(errno));
        return 1;
    }

    listen_fd = open_listener(port);
    if (listen_fd == -1)
        return 1;
    if ((port = local_port(listen_fd)) == -1) {
        fprintf(stderr, "getsockname: %s\n", strerror(errno));
        close(listen_fd);
        return 1;
    }
    listen_fd_for_signal = listen_fd;
    printf("listening on port %ld\n", port);

    client_fd = accept_client(listen_fd, quiet);
    if (client_fd >= 0) {
        client_fd_for_signal = client_fd;
        if (stop_requested) /* the signal came before the line above */
            shutdown(client_fd, SHUT_RDWR);
        serve_client(client_fd, quiet);
    }

    listen_fd_for_signal = -1;
    close(listen_fd);
    puts("server stopped");
    return client_fd >= 0 || stop_requested ? 0 : 1;
}
