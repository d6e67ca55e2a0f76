/* lab01 server: one client, turn by turn, with blocking calls only.
 * socket, bind, listen, accept, then a line in, an answer out, until "fin".
 * Left out on purpose: more than one client (lab03), a bound on line length
 * and UTF-8 (lab02: here stdio reads the socket and we cut lines on "\n").
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
    /* On Linux, accept() on a shut-down listening socket fails at once.
     * Not on macOS and some BSDs: there a signal that lands just before
     * accept() goes unnoticed until a client connects; only a signal during
     * accept() ends the wait at once (EINTR). */
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

/* Sends a short answer. A blocking send() of a few bytes sends them all or
 * fails; lab02 explains why bigger messages need a loop. A signal that
 * interrupts send() before it sent anything (EINTR) is no failure: send
 * again, unless it asked us to stop.
 * Returns 0, or -1 with errno set. */
static int send_answer(int client_fd, const char *answer)
{
    size_t len = strlen(answer);
    ssize_t sent;

    do
        sent = send(client_fd, answer, len, 0);
    while (sent == -1 && errno == EINTR && !stop_requested);
    if (sent != (ssize_t)len)
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
 * byte, so each byte is ours as soon as it is read: when a signal interrupts
 * a read (EINTR) in the middle of a line, the start of the line stays in
 * *line and reading goes on. (getline() would loop for us, but after an
 * error POSIX lets it lose what it had read: macOS's does.) */
static ssize_t read_line(FILE *from_client, char **line, size_t *capacity)
{
    size_t len = 0;
    int byte;

    for (;;) {
        byte = getc(from_client);
        if (byte == EOF) {
            if (!ferror(from_client) || errno != EINTR || stop_requested)
                return -1; /* a last piece without "\n" is no line */
            clearerr(from_client); /* a stream keeps its error flag until then */
            continue;
        }
        if (store_byte(line, capacity, len, byte) == -1)
            return -1;
        len++;
        if (byte == '\n')
            return (ssize_t)len;
    }
}

/* Talks with one client until "fin", end of file, a reset or a stop signal.
 * Owns client_fd and closes it. */
static void serve_client(int client_fd, int quiet)
{
    FILE *from_client;
    char *line = NULL;
    size_t capacity = 0;
    ssize_t len;
    int fin;

    /* stdio reads the socket in big chunks and cuts them into lines. */
    from_client = fdopen(client_fd, "r");
    if (from_client == NULL) {
        fprintf(stderr, "fdopen: %s\n", strerror(errno));
        close(client_fd);
        return;
    }
    while (!stop_requested) {
        len = read_line(from_client, &line, &capacity);
        if (len == -1) {
            if (ferror(from_client) && errno != ECONNRESET && !stop_requested)
                fprintf(stderr, "recv: %s\n", strerror(errno));
            break; /* end of file, reset or stop */
        }
        len--; /* the "\n" */
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (!quiet) {
            fputs("received: ", stdout);
            fwrite(line, 1, (size_t)len, stdout);
            putchar('\n');
        }
        fin = is_fin(line, (size_t)len);
        if (send_answer(client_fd, fin ? "bye\n" : "OK\n") == -1) {
            /* EPIPE or ECONNRESET: the client is gone, nothing to report. */
            if (errno != EPIPE && errno != ECONNRESET && !stop_requested)
                fprintf(stderr, "send: %s\n", strerror(errno));
            break;
        }
        if (fin)
            break;
    }
    free(line);
    client_fd_for_signal = -1;
    fclose(from_client); /* also closes client_fd */
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
    return (client_fd >= 0 || stop_requested) ? 0 : 1;
}
