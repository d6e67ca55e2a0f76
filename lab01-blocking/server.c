/* lab01 server: one client, turn by turn, with blocking calls only.
 * socket, bind, listen, accept, then a line in, an answer out, until "fin".
 * Left out on purpose: more than one client (lab03), a bound on line length
 * and UTF-8 (lab02: here stdio reads the socket and we cut lines on "\n").
 *
 * This is the skeleton: each "TODO step N" is yours to write, in order.
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
    /* TODO step 7 (README step 7): replace this body (the message, write()
     * and _exit()) with the handler. Only async-signal-safe work here
     * (man 7 signal-safety):
     *  - save errno in a local variable first, and put it back last: a
     *    call made here could change the errno the interrupted code reads;
     *  - set stop_requested to 1;
     *  - if client_fd_for_signal >= 0, shutdown() it with SHUT_RDWR;
     *    the same for listen_fd_for_signal (man 2 shutdown). On Linux,
     *    accept() on a shut-down listening socket fails at once. Not on
     *    macOS and some BSDs: there a signal that lands just before accept()
     *    goes unnoticed until a client connects; only a signal during
     *    accept() ends the wait at once (EINTR).
     * No printf, no exit(), no malloc() in a handler. */
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

    /* TODO step 7 (README step 7): send() returns -1 with errno EINTR when a
     * signal interrupted it before it sent anything. Unless a stop was
     * requested, that is no failure: send() again, in a loop (keep its
     * result in a variable; the check below then tests that variable). */
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

    /* TODO step 5 (README step 5): collect bytes until the line is whole.
     * getc() (man 3 getc) gives the next byte, or EOF at end of file, on a
     * reset or an error; store_byte() keeps each byte. Which byte ends a
     * line, and what becomes of a last piece that never got one? */
    /* TODO step 7 (README step 7): a signal must not cut a line in two.
     * getc() also returns EOF when a signal interrupted the read (ferror()
     * set, errno EINTR). Unless a stop was requested, that is no end: the
     * bytes stored so far are the start of the line. What must you clear
     * before reading on? */
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

    /* TODO step 5 (README step 5): read the client's lines, answer each.
     *  - Open a stdio stream on the socket with fdopen() in read mode
     *    (man 3 fdopen): stdio reads the socket in big chunks, and
     *    read_line() takes them byte by byte. On failure: "fdopen: <reason>" on stderr,
     *    close the socket, return.
     *  - Then loop as long as no stop was requested, one read_line() per
     *    turn (write it too, above): it gives the next line, '\n' included,
     *    and its length; line and capacity are its buffer.
     *  - read_line() gives -1 at end of file, on a reset or on an error:
     *    leave the loop. Only a real error is worth a "recv: <reason>" line
     *    on stderr: ferror() set and errno other than ECONNRESET.
     *  - Drop the '\n', then a '\r' just before it, by shortening len.
     *  - Unless quiet, print "received: " and the len bytes of the line with
     *    fwrite() (not printf("%s"): the bytes may hold a '\0'), then '\n'.
     *  - Answer "OK\n" with send_answer(). If that fails, leave the loop;
     *    print "send: <reason>" unless errno is EPIPE or ECONNRESET (the
     *    client is gone: not an error of ours). */
    /* TODO step 7 (README step 7): once a stop is requested, print no
     * "recv:" or "send:" error: the stop caused it. (An EINTR without a
     * stop is resumed inside read_line() and send_answer().) */
    (void)client_fd;
    (void)quiet;
    (void)from_client;
    (void)line;
    (void)capacity;
    (void)len;
    (void)read_line;
    (void)send_answer;
    todo(5, "read the client's lines with read_line() and answer OK");

    /* TODO step 6 (README step 6): end the session.
     *  - In the loop of step 5: a line that is_fin() (any letter case) is
     *    answered "bye\n" instead of "OK\n", and the loop ends once that
     *    answer is sent.
     *  - After the loop: free the line buffer; set client_fd_for_signal back
     *    to -1 (the handler must not shut down a closed descriptor);
     *    fclose() the stream, which closes client_fd too (so no close() of
     *    your own); unless quiet, print "connection closed".
     * main() then closes the listening socket and prints "server stopped". */
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

    /* TODO step 1 (README step 1): create the socket, allow a quick restart.
     *  - socket() (man 2 socket) for IPv4 (AF_INET) and TCP (SOCK_STREAM).
     *    On -1: "socket: <reason>" on stderr (strerror(errno)), return -1.
     *  - setsockopt() (man 2 setsockopt, man 7 socket): level SOL_SOCKET,
     *    option SO_REUSEADDR, value yes. A restarted server can then bind
     *    its port while the last connections still sit in TIME_WAIT.
     *    On -1: "setsockopt: <reason>", close the socket, return -1. */
    (void)yes;
    todo(1, "create the listening socket (socket, setsockopt SO_REUSEADDR)");

    /* TODO step 2 (README step 2): bind the socket to every address and the port.
     *  - Fill address (man 7 ip): zero it all first, then the family
     *    AF_INET, the IP INADDR_ANY (every address of this machine) and the
     *    port, both in network byte order: htonl(), htons() (man 3 htons).
     *  - bind() (man 2 bind) takes it as a struct sockaddr *, with its size.
     *    On -1: "bind: <reason>" on stderr, exactly (the tests expect
     *    "bind: Address already in use"), close the socket, return -1. */
    (void)address;
    (void)port;
    todo(2, "bind the socket to every address and the port");

    /* TODO step 3 (README step 3): listen() (man 2 listen) with BACKLOG
     * turns the socket into a listening one. On -1: "listen: <reason>",
     * close the socket, return -1. */
    todo(3, "make the socket listen (listen)");
    return listen_fd;
}

/* Returns the port a bound socket really uses, or -1 with errno set. */
static int local_port(int fd)
{
    struct sockaddr_in address;
    socklen_t address_len = sizeof address;

    /* TODO step 3 (README step 3): getsockname() (man 2 getsockname) fills
     * address with the socket's own address; address_len is in-out. On -1
     * return -1 (errno is set: main() prints the error). Otherwise return
     * the port, back in host byte order with ntohs(). With PORT 0 the
     * system chose the port at bind(): only this tells which one. */
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

    /* TODO step 4 (README step 4): wait for a client, in a loop.
     *  - accept() (man 2 accept) blocks until a client connects, then
     *    returns a new socket for it and fills peer with its address.
     *    peer_len is in-out: set it to the size of peer before each call.
     *  - A socket: leave the loop.
     *  - -1 with errno EINTR (a signal came) or ECONNABORTED (the client
     *    gave up while it waited in the queue): accept() again.
     *  - Any other error: "accept: <reason>" on stderr, return -1.
     * Then, unless quiet, print "client connected from IP:PORT": inet_ntop()
     * (man 3 inet_ntop) writes peer's IP as text into ip; the port needs
     * ntohs(). */
    /* TODO step 7 (README step 7): in that loop, right after accept()
     * returns, check first whether a stop was requested: if so, close the
     * socket accept() may have returned and return -1. A stop must end the
     * wait, not be retried away like any other EINTR. */
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
