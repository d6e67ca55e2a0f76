/* lab04 client: two threads. The main thread sends what standard input
 * gives; the receiver thread prints what the server sends as soon as it
 * arrives. They stop together, whichever ends first, without killing or
 * cancelling anyone: the receiver wakes the main thread through a pipe.
 * --latin1 as in lab02.
 *
 * This is the skeleton: lab03's client is given (arguments, connecting,
 * --latin1), and the "TODO step 7" parts are yours: the two threads'
 * work. README.md explains it; the tests named "step 7" check it.
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

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well. exit() ends the
 * whole process, both threads with it; the mutex, never unlocked, makes the
 * other thread, if it reaches a TODO meanwhile, wait for that end instead of
 * calling exit() at the same time (exit() is not thread-safe). */
static void todo(int step, const char *what)
{
    static pthread_mutex_t first = PTHREAD_MUTEX_INITIALIZER;

    pthread_mutex_lock(&first);
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

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

    /* TODO step 7 (README step 7): this thread only receives and prints.
     *  - Loop while linebuf_read_line(&session->from_server, &line, &len)
     *    gives a result > 0 (into result). It waits in recv() as long as it
     *    takes, and nothing else waits with it: that is this thread's job.
     *    Skip LINEBUF_TOO_LONG (no server of the course sends such lines).
     *  - A line: with session->latin1, utf8_to_latin1() it into converted
     *    (len becomes what it returns, line points to converted). Print it:
     *    fwrite() the len bytes (a line may hold a NUL), then putchar('\n').
     *    bye = whether it is exactly the 3 bytes "bye" (memcmp()): the last
     *    line decides.
     *  - The loop ends at end of file or on an error (a reset): the server
     *    closed. That was expected after "bye", or after our own end of
     *    input: expected = bye || session->input_done, input_done read under
     *    session->lock (the main thread writes it). Otherwise print
     *    "connection closed by server".
     *  - Wake the main thread, which may be waiting in poll() for standard
     *    input: write() one byte to session->wake_pipe[1] (its result in
     *    written, then (void)written). It sees the pipe readable and returns.
     *  - return NULL.
     * Nobody kills this thread and it kills nobody: each thread ends by
     * itself, and the pipe carries the news (README, "the client"). */
    (void)session;
    (void)converted;
    (void)line;
    (void)len;
    (void)result;
    (void)bye;
    (void)expected;
    (void)written;
    todo(7, "the receiver thread: print lines until the server closes, wake the main thread (receive_lines)");
    return NULL;
}

/* Returns how many of the len input bytes to send: all of them, or up to
 * and including the "\n" of a "fin" line (*fin is then set). line_start and
 * line_len follow the line being typed across reads. */
static size_t take_until_fin(const char *bytes, size_t len, char line_start[4],
                             size_t *line_len, int *fin)
{
    size_t i, n;

    /* TODO step 7 (README step 7): as lab03's, with its state passed in.
     * A read() of standard input may stop in the middle of a line, so the
     * line being typed is followed across calls: line_start keeps its first
     * bytes (4 at most), *line_len counts them all. For each byte i:
     *  - Not '\n': if *line_len < 4, store it at line_start[*line_len]; add
     *    1 to *line_len either way.
     *  - '\n': the line is complete. Its length n is *line_len, one less if
     *    line_start holds its last byte (n from 1 to 4) and that byte is
     *    '\r'. Set *line_len back to 0. A line of 3 bytes that strncasecmp()
     *    finds equal to "fin": set *fin and return i + 1, the bytes up to
     *    and including this '\n'; what follows "fin" is never sent.
     * No "fin" line: return len. */
    (void)bytes;
    (void)len;
    (void)line_start;
    (void)line_len;
    (void)fin;
    (void)i;
    (void)n;
    todo(7, "find a fin line in the input (take_until_fin)");
    return 0;
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

    /* TODO step 7 (README step 7): standard input to the server.
     *  - watched[0]: session->wake_pipe[0], watched[1]: STDIN_FILENO, both
     *    with events POLLIN. Then loop:
     *  - poll(watched, 2, -1): no timeout. -1 with EINTR: poll again; any
     *    other -1: print "poll: <reason>" on stderr and return.
     *  - The pipe has news (watched[0].revents not 0): the server closed and
     *    the receiver has said so. Return at once, even while the user types
     *    nothing: a thread stuck in read() (or fgets()) here would keep the
     *    client alive after the server is gone.
     *  - Standard input has nothing (watched[1].revents 0): poll again.
     *    Otherwise ONE read() of at most sizeof bytes (not stdio: see lab03).
     *    -1 with EINTR: poll again. 0 (end of input) or -1: leave the loop.
     *  - len = take_until_fin(bytes, got, line_start, &line_len, &fin): the
     *    bytes to send. With session->latin1, utf8_from_latin1() them into
     *    utf8 first. send_all() them to session->server_fd; this thread may
     *    wait in send(): it only sends, the other one goes on printing.
     *  - send_all() gave -1 (the server is gone: the receiver will say so),
     *    or fin is set: leave the loop.
     *  - After the loop: lock session->lock, input_done = 1, unlock (the
     *    receiver reads it), then shutdown(session->server_fd, SHUT_WR): the
     *    server reads end of file and closes after its last lines, which the
     *    receiver still prints. main() then joins the receiver. */
    (void)session;
    (void)bytes;
    (void)utf8;
    (void)line_start;
    (void)line_len;
    (void)len;
    (void)got;
    (void)watched;
    (void)fin;
    (void)take_until_fin;
    todo(7, "the main thread: standard input to the server, until fin, end of input or the pipe (send_input)");
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
