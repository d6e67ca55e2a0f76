/* lab04 client: two threads. The main thread sends what standard input
 * gives; the receiver thread prints what the server sends as soon as it
 * arrives. They stop together, whichever ends first, without killing or
 * cancelling anyone: the receiver wakes the main thread through a pipe.
 * --latin1 as in lab02.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"
#include "net.h"
#include "utf8.h"

#define DEFAULT_HOST "localhost" /* the server runs on this machine */
#define DEFAULT_PORT "12800"     /* the course's port */
#define INPUT_CHUNK 4096         /* bytes read from standard input at a time */

/* What both threads share. */
struct session {
    int server_fd;
    int latin1;
    int wake_pipe[2];            /* the receiver writes here when the server closed */
    pthread_mutex_t lock;        /* guards input_done */
    int input_done;              /* we sent "fin" or our end of input */
    struct linebuf from_server;  /* the receiver thread's only */
};

/* Prints how to run the program on stream out. */
static void print_usage(FILE *out, const char *program)
{
    fprintf(out, "usage: %s [--latin1] [HOST [PORT]]   (default %s %s; PORT 1-65535)\n"
                 "  --latin1  the terminal uses ISO-8859-1: convert to and from UTF-8\n",
            program, DEFAULT_HOST, DEFAULT_PORT);
}

/* Returns 1 if -h or --help is among the arguments, wherever it is. */
static int wants_help(int argc, char *argv[])
{
    int i;

    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

/* Returns 1 if text is a port number from 1 to 65535. */
static int is_valid_port(const char *text)
{
    char *end;
    long port;

    if (*text < '0' || *text > '9')
        return 0;
    errno = 0;
    port = strtol(text, &end, 10);
    return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

/* Connects to host:port, trying each address the resolver gives. Returns
 * the socket, or -1 after printing why. */
static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints, *addresses, *address;
    int server_fd = -1;
    int status, saved_errno = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    status = getaddrinfo(host, port, &hints, &addresses);
    if (status != 0) {
        fprintf(stderr, "getaddrinfo: %s: %s\n", host, gai_strerror(status));
        return -1;
    }
    for (address = addresses; address != NULL; address = address->ai_next) {
        server_fd = socket(address->ai_family, address->ai_socktype, address->ai_protocol);
        if (server_fd == -1) {
            saved_errno = errno;
            continue;
        }
        if (connect(server_fd, address->ai_addr, address->ai_addrlen) == 0)
            break;
        saved_errno = errno;
        close(server_fd);
        server_fd = -1;
    }
    freeaddrinfo(addresses);
    if (server_fd == -1)
        fprintf(stderr, "connect: %s\n", strerror(saved_errno));
    return server_fd;
}

/* The receiver thread: prints each line from the server as soon as it is
 * complete, until the server closes. Then it says so (unless that close was
 * expected) and wakes the main thread. */
static void *receive_lines(void *arg)
{
    struct session *session = arg;
    char converted[LINEBUF_SIZE];
    const char *line;
    size_t len;
    int result, bye = 0, expected;
    ssize_t written;

    while ((result = linebuf_read_line(&session->from_server, &line, &len)) > 0) {
        if (result != LINEBUF_LINE)
            continue; /* no server of the course sends lines that long */
        if (session->latin1) {
            len = utf8_to_latin1(line, len, converted);
            line = converted;
        }
        fwrite(line, 1, len, stdout);
        putchar('\n');
        bye = len == 3 && memcmp(line, "bye", 3) == 0;
    }
    pthread_mutex_lock(&session->lock);
    expected = bye || session->input_done;
    pthread_mutex_unlock(&session->lock);
    if (!expected)
        puts("connection closed by server");
    written = write(session->wake_pipe[1], "x", 1);
    (void)written;
    return NULL;
}

/* Returns how many of the len input bytes to send: all of them, or up to
 * and including the "\n" of a "fin" line (*fin is then set). line_start and
 * line_len follow the line being typed across reads. */
static size_t take_until_fin(const char *bytes, size_t len, char line_start[4],
                             size_t *line_len, int *fin)
{
    size_t i, n;

    for (i = 0; i < len; i++) {
        if (bytes[i] != '\n') {
            if (*line_len < 4)
                line_start[*line_len] = bytes[i];
            (*line_len)++;
            continue;
        }
        n = *line_len;
        if (n > 0 && n <= 4 && line_start[n - 1] == '\r')
            n--;
        *line_len = 0;
        if (n == 3 && strncasecmp(line_start, "fin", 3) == 0) {
            *fin = 1;
            return i + 1;
        }
    }
    return len;
}

/* The main thread's part: standard input to the server, until the end of
 * input, "fin", or the receiver's word that the server closed. It waits in
 * poll() on standard input and the wake-up pipe, so it never stays stuck in
 * read() once the server is gone. */
static void send_input(struct session *session)
{
    char bytes[INPUT_CHUNK], utf8[2 * INPUT_CHUNK], line_start[4];
    size_t line_len = 0, len;
    ssize_t got;
    struct pollfd watched[2];
    int fin = 0;

    watched[0].fd = session->wake_pipe[0];
    watched[0].events = POLLIN;
    watched[1].fd = STDIN_FILENO;
    watched[1].events = POLLIN;
    for (;;) {
        if (poll(watched, 2, -1) == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "poll: %s\n", strerror(errno));
            return;
        }
        if (watched[0].revents != 0)
            return; /* the server closed: the receiver has said so */
        if (watched[1].revents == 0)
            continue;
        got = read(STDIN_FILENO, bytes, sizeof bytes);
        if (got == -1 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* end of input */
        len = take_until_fin(bytes, (size_t)got, line_start, &line_len, &fin);
        if (session->latin1) {
            len = utf8_from_latin1(bytes, len, utf8);
            got = send_all(session->server_fd, utf8, len);
        } else {
            got = send_all(session->server_fd, bytes, len);
        }
        if (got == -1 || fin)
            break; /* the server is gone (the receiver will tell), or "fin" */
    }
    /* Our side is done: say so, and let the receiver print what still comes. */
    pthread_mutex_lock(&session->lock);
    session->input_done = 1;
    pthread_mutex_unlock(&session->lock);
    shutdown(session->server_fd, SHUT_WR);
}

int main(int argc, char *argv[])
{
    static struct session session; /* the line reader is big: kept off the stack */
    const char *host = DEFAULT_HOST;
    const char *port = DEFAULT_PORT;
    struct sigaction ignore;
    pthread_t receiver;
    int first = 1, error;

    if (wants_help(argc, argv)) {
        print_usage(stdout, argv[0]);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--latin1") == 0) {
        session.latin1 = 1;
        first = 2;
    }
    if (argc > first + 2 || (argc > first && argv[first][0] == '-')
        || (argc > first + 1 && !is_valid_port(argv[first + 1]))) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        print_usage(stderr, argv[0]);
        return 2;
    }
    if (argc > first)
        host = argv[first];
    if (argc > first + 1)
        port = argv[first + 1];

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, NULL);

    session.server_fd = connect_to(host, port);
    if (session.server_fd == -1)
        return 1;
    printf("connected to %s:%s\n", host, port);
    if (pipe(session.wake_pipe) == -1) {
        fprintf(stderr, "pipe: %s\n", strerror(errno));
        close(session.server_fd);
        return 1;
    }
    pthread_mutex_init(&session.lock, NULL);
    linebuf_init(&session.from_server, session.server_fd);
    error = pthread_create(&receiver, NULL, receive_lines, &session);
    if (error == 0) {
        send_input(&session);
        pthread_join(receiver, NULL); /* it ends when the server closes */
    } else {
        fprintf(stderr, "pthread_create: %s\n", strerror(error));
    }

    pthread_mutex_destroy(&session.lock);
    close(session.wake_pipe[0]);
    close(session.wake_pipe[1]);
    close(session.server_fd);
    return error == 0 ? 0 : 1;
}
