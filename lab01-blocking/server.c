/* lab01 server: one client, turn by turn, with blocking calls only.
 * socket, bind, listen, accept, then a line in, an answer out, until "fin".
 * Left out on purpose: more than one client (lab03), a bound on line length
 * and UTF-8 (lab02: here stdio reads the socket and we cut lines on "\n").
 *
 * This is the skeleton: each "TODO step N" is yours to write, in order.
 * README.md explains every step; the tests named "step N" check it;
 * `make hint LAB=01` gives hints, one level more at each call.
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

#define DEFAULT_PORT 12800 /* the course's port */
#define BACKLOG 5          /* connections that may wait unaccepted */

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
    /* TODO step 7 (README step 7): replace this whole body (the message,
     * write() and _exit()) with the real handler. It only records that a
     * stop was requested (stop_requested) and shuts down, with shutdown(),
     * each socket published in listen_fd_for_signal and
     * client_fd_for_signal, so that no blocking call can go on waiting. It
     * leaves errno as it found it, and calls nothing that is not
     * async-signal-safe (man 7 signal-safety): no printf, exit or malloc.
     * (make hint LAB=01 STEP=7) */
    static const char message[] =
        "TODO step 7: write the stop handler on_stop_signal() (see README.md, step 7)\n";
    ssize_t written;

    (void)signo;
    /* write() and _exit() are async-signal-safe; fprintf() and exit() are not. */
    written = write(STDERR_FILENO, message, sizeof message - 1);
    (void)written; /* if stderr is gone there is nothing else to try */
    _exit(3);
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

/* Sends a short answer. A blocking send() of a few bytes sends them all or
 * fails; lab02 explains why bigger messages need a loop. A signal that
 * interrupts send() before it sent anything (EINTR) is no failure: send
 * again, unless it asked us to stop.
 * Returns 0, or -1 with errno set. */
static int send_answer(int client_fd, const char *answer)
{
    size_t len = strlen(answer);

    /* TODO step 7 (README step 7): a send() that a signal interrupted before
     * it sent anything (-1, errno EINTR) is no failure, unless a stop was
     * requested: send again. The check below then tests the last result.
     * (make hint LAB=01 STEP=7) */
    if (send(client_fd, answer, len, 0) != (ssize_t)len)
        return -1;
    return 0;
}

/* Stores byte at (*line)[len], growing *line (a malloc'ed buffer of
 * *capacity bytes) when it is full. Returns 0, or -1 if memory ran out. */
static int store_byte(char **line, size_t *capacity, size_t len, int byte)
{
    size_t bigger = *capacity == 0 ? 128 : 2 * *capacity;
    char *grown;

    if (len == *capacity) {
        grown = realloc(*line, bigger);
        if (grown == NULL)
            return -1;
        *line = grown;
        *capacity = bigger;
    }
    (*line)[len] = (char)byte;
    return 0;
}

/* Reads the client's next line, "\n" included, into *line (grown as
 * needed) and returns its length; -1 at end of file, on a reset or an error
 * (then ferror() is set and errno says which), or once a stop is requested.
 * stdio reads the socket in big chunks and getc() hands them out byte by
 * byte, so each byte is ours as soon as it is read. */
static ssize_t read_line(FILE *from_client, char **line, size_t *capacity)
{
    size_t len = 0;
    int byte;

    /* TODO step 5 (README step 5): read one line, byte by byte with getc(),
     * each byte kept with store_byte(), up to and including its '\n'; return
     * its length. No '\n' before EOF (end of file, a reset, an error) means
     * no line: return -1, whatever came before. (make hint LAB=01 STEP=5) */
    /* TODO step 7 (README step 7): a signal must not cut a line in two. An
     * EOF from getc() with the stream's error flag set and errno EINTR is
     * an interrupted read, not the end: unless a stop was requested, clear
     * the flag and read on, keeping the bytes already stored.
     * (make hint LAB=01 STEP=7) */
    (void)from_client;
    (void)line;
    (void)capacity;
    (void)len;
    (void)byte;
    (void)store_byte;
    todo(5, "read a line, byte by byte (read_line)");
    return -1;
}

/* Talks with one client until "fin", end of file, a reset or a stop signal.
 * Owns client_fd and closes it. */
static void serve_client(int client_fd, int quiet)
{
    FILE *from_client = NULL;
    char *line = NULL;
    size_t capacity = 0;
    ssize_t len;
    int fin;

    /* TODO step 5 (README step 5): the conversation. Open a stdio stream on
     * the socket (fdopen(), for reading), then, as long as no stop was
     * requested, take the next line with read_line() (write it too, above)
     * and answer it:
     *  - unless quiet, print "received: " and the line, without its '\n'
     *    nor a '\r' just before it; it may hold '\0' bytes, so no %s;
     *  - answer "OK\n" with send_answer().
     * A failed read_line() or send_answer() ends the loop. On stderr, as
     * "call: reason": a failed fdopen() ("fdopen:", then close the socket
     * and return), a read error ("recv:", but not for ECONNRESET) and a
     * send error ("send:", but not for EPIPE or ECONNRESET: the client just
     * left). (make hint LAB=01 STEP=5) */
    /* TODO step 7 (README step 7): once a stop was requested, print no
     * "recv:" or "send:" error: the stop caused it.
     * (make hint LAB=01 STEP=7) */
    (void)client_fd;
    (void)quiet;
    (void)from_client;
    (void)line;
    (void)capacity;
    (void)len;
    (void)read_line;
    (void)send_answer;
    todo(5, "read the client's lines with read_line() and answer OK");

    /* TODO step 6 (README step 6): end the session. In the loop, a line
     * that is_fin() is answered "bye\n" instead of "OK\n", and the loop
     * ends once that answer is sent. After the loop, however it ended:
     * free the line, set client_fd_for_signal back to -1 before the socket
     * is closed, close the stream with fclose() (it closes client_fd too:
     * close it only once) and, unless quiet, print "connection closed".
     * (make hint LAB=01 STEP=6) */
    (void)fin;
    (void)is_fin;
    todo(6, "end the session: bye to fin, close, print connection closed");
}

/* Creates the listening socket on every local IPv4 address and the given
 * port (0 = any). Returns it, or -1 after printing "call: reason". */
static int open_listener(long port)
{
    struct sockaddr_in address;
    int listen_fd = -1;
    int yes = 1;

    /* TODO step 1 (README step 1): create an IPv4 TCP socket with socket(),
     * then turn on its option SO_REUSEADDR with setsockopt(), so that a
     * restarted server can bind its port at once. If a call fails, print
     * "socket: <reason>" or "setsockopt: <reason>" on stderr (reason:
     * strerror(errno)), close what you opened and return -1.
     * (make hint LAB=01 STEP=1) */
    (void)yes;
    todo(1, "create the listening socket (socket, setsockopt SO_REUSEADDR)");

    /* TODO step 2 (README step 2): attach the socket to every IPv4 address
     * of this machine (INADDR_ANY) and to port: fill address, numbers in
     * network byte order, and pass it to bind(). If bind() fails, print
     * "bind: <reason>" on stderr (the tests expect exactly "bind: Address
     * already in use" for a port in use), close the socket and return -1.
     * (make hint LAB=01 STEP=2) */
    (void)address;
    (void)port;
    todo(2, "bind the socket to every address and the port");

    /* TODO step 3 (README step 3): make the socket a listening one, with a
     * queue of BACKLOG connections, with listen(), and return it. If
     * listen() fails: "listen: <reason>" on stderr, close the socket,
     * return -1. (make hint LAB=01 STEP=3) */
    todo(3, "make the socket listen (listen)");
    return listen_fd;
}

/* Returns the port a bound socket really uses, or -1 with errno set. */
static int local_port(int fd)
{
    struct sockaddr_in address;
    socklen_t address_len = sizeof address;

    /* TODO step 3 (README step 3): return the port the socket really uses,
     * in host byte order, as getsockname() reports it (with PORT 0 the
     * system chose it at bind()). If getsockname() fails, return -1:
     * main() prints the error. (make hint LAB=01 STEP=3) */
    (void)fd;
    (void)address;
    (void)address_len;
    todo(3, "find the real port with getsockname()");
    return -1;
}

/* Waits for one client. Returns its socket, or -1 if a stop was requested
 * or accept() failed (then it prints why). */
static int accept_client(int listen_fd, int quiet)
{
    struct sockaddr_in peer;
    socklen_t peer_len;
    char ip[INET_ADDRSTRLEN];
    int client_fd = -1;

    /* TODO step 4 (README step 4): wait for a client with accept() and
     * return its socket. EINTR and ECONNABORTED are no errors: wait again.
     * Any other error: "accept: <reason>" on stderr, return -1. Before
     * returning the socket, print "client connected from IP:PORT" unless
     * quiet: the client's IP as text (inet_ntop()) and its port, a number.
     * (make hint LAB=01 STEP=4) */
    /* TODO step 7 (README step 7): a stop request ends the wait instead of
     * being retried like any EINTR: as soon as accept() returns, look for
     * one, and if there is one, close the socket accept() may have given
     * and return -1. (make hint LAB=01 STEP=7) */
    (void)listen_fd;
    (void)quiet;
    (void)peer;
    (void)peer_len;
    (void)ip;
    todo(4, "accept a client and print where it comes from");
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
    return (client_fd >= 0 || stop_requested) ? 0 : 1;
}
