/* lab03 client: one select() loop over standard input and the socket.
 * A line typed goes out at once, an answer is printed as soon as it comes:
 * neither side waits for the other any more. What the socket cannot take
 * yet waits in a bounded queue, and standard input is read only while the
 * queue has room. --latin1 as in lab02.
 * Left out on purpose: threads (lab04 does the same with two of them).
 *
 * This is the skeleton: lab02's client is given (arguments, connecting,
 * printing, --latin1), and the "TODO step 7" parts are yours: the loop and
 * its handlers. README.md explains it; the tests named "step 7" check it.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"
#include "net.h"
#include "utf8.h"

#define DEFAULT_HOST "localhost" /* the server runs on this machine */
#define DEFAULT_PORT "12800"     /* the course's port */
#define INPUT_CHUNK 4096         /* bytes read from standard input at a time */
#define QUEUE_SIZE (16 * INPUT_CHUNK) /* bytes waiting for the socket, at most */

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* What the client is doing, shared by the loop's handlers. */
struct client {
    int server_fd;
    int latin1;
    int interactive;             /* standard input is a terminal: show prompts */
    int input_done;              /* end of input, or "fin" sent: read no more */
    int write_shut;              /* our side is half-closed */
    int bye_received;
    char queue[QUEUE_SIZE];      /* bytes for the server: queue[sent..queued) */
    size_t sent, queued;
    char line_start[4];          /* the first bytes of the line being typed... */
    size_t line_len;             /* ...and its length so far, to spot "fin" */
    struct linebuf from_server;
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

/* Shows the prompt when a person types at a terminal. */
static void prompt(const struct client *client)
{
    if (client->interactive && !client->input_done) {
        fputs("> ", stdout);
        fflush(stdout);
    }
}

/* Prints one line from the server, converted to Latin-1 if asked. */
static void print_line(const char *line, size_t len, int latin1)
{
    char converted[LINEBUF_SIZE]; /* a line from the reader is never longer */

    if (latin1) {
        len = utf8_to_latin1(line, len, converted);
        line = converted;
    }
    fwrite(line, 1, len, stdout);
    putchar('\n');
}

/* Appends input bytes to the queue for the server (converted to UTF-8 if
 * asked). The caller made sure there is room: 2 * len bytes. */
static void queue_input(struct client *client, const char *bytes, size_t len)
{
    /* TODO step 7 (README step 7): append to queue[sent..queued).
     *  - Nothing waiting (sent == queued): start over, sent = queued = 0.
     *    Otherwise, if 2 * len more bytes would not fit after queued
     *    (QUEUE_SIZE), memmove() the waiting bytes to the front of queue
     *    (queued -= sent, sent = 0).
     *  - With client->latin1, utf8_from_latin1() the len bytes into
     *    queue + queued (each byte may become two: hence room for 2 * len)
     *    and add the number it returns to queued. Without, memcpy() them
     *    and add len. */
    (void)client;
    (void)bytes;
    (void)len;
    todo(7, "append input to the queue for the server (queue_input)");
}

/* Returns how many of the len input bytes belong to the session: all of
 * them, or up to and including the "\n" of a "fin" line, after which the
 * input is done. Follows lines across reads with line_start/line_len. */
static size_t take_until_fin(struct client *client, const char *bytes, size_t len)
{
    size_t i, line_len;

    /* TODO step 7 (README step 7): a read() of standard input may stop in
     * the middle of a line, so the line being typed is followed across
     * calls: line_start keeps its first bytes (4 at most), line_len counts
     * them all. For each byte i of bytes:
     *  - Not '\n': if line_len < sizeof client->line_start, store it at
     *    line_start[line_len]; add 1 to line_len either way.
     *  - '\n': the line is complete. Its length is line_len, one less if
     *    line_start holds its last byte (line_len at most 4) and that byte
     *    is '\r'. Set client->line_len back to 0. A line of 3 bytes that
     *    strncasecmp() (man 3 strncasecmp) finds equal to "fin": set
     *    input_done and return i + 1, the bytes up to and including this
     *    '\n'; what follows "fin" is never sent.
     * No "fin" line: return len. */
    (void)client;
    (void)bytes;
    (void)len;
    (void)i;
    (void)line_len;
    todo(7, "find a fin line in the input (take_until_fin)");
    return 0;
}

/* Standard input is readable: one read, queued for the server. */
static void handle_input(struct client *client)
{
    char bytes[INPUT_CHUNK];
    ssize_t len;

    /* TODO step 7 (README step 7): standard input is readable.
     *  - ONE read() (man 2 read) of at most sizeof bytes from STDIN_FILENO.
     *    Not fgets() or getline(): stdio would read more than one line into
     *    a buffer of its own, where select() cannot see them (the README
     *    tells the story).
     *  - -1 with EINTR: return; select() will say so again.
     *  - 0 (end of input: Ctrl-D, the end of a file or a pipe), or any
     *    other -1 (then print "read: <reason>" on stderr): set input_done
     *    and return. talk() half-closes once the queue is sent.
     *  - Otherwise queue_input() the bytes that take_until_fin() keeps. */
    (void)client;
    (void)bytes;
    (void)len;
    (void)queue_input;
    (void)take_until_fin;
    todo(7, "read standard input once and queue it (handle_input)");
}

/* Sends what the socket takes of the queue. Returns 0, or -1 if the server
 * is gone. */
static int flush_queue(struct client *client)
{
    ssize_t sent;

    /* TODO step 7 (README step 7): as the server's flush_output() (server
     * step 4). While sent < queued, send() (man 2 send) from queue + sent
     * on server_fd, flags 0, and add what it took to sent. -1 with EINTR:
     * send again; with EAGAIN or EWOULDBLOCK: return 0, the rest waits
     * (talk() watches the socket for room); any other -1: return -1, the
     * server is gone. All sent: return 0. */
    (void)client;
    (void)sent;
    todo(7, "send what the socket takes of the queue (flush_queue)");
    return -1;
}

/* The socket is readable: one read, every complete line printed. Returns 0,
 * or -1 when the server closed the connection (end of file or reset). */
static int handle_answers(struct client *client)
{
    const char *line;
    size_t len;
    int result;
    ssize_t received;

    /* TODO step 7 (README step 7): the socket is readable.
     *  - ONE linebuf_fill(&client->from_server) into received. -1 with
     *    EAGAIN, EWOULDBLOCK or EINTR: nothing now, return 0. 0 (end of
     *    file) or any other -1 (a reset): return -1, the server closed.
     *  - Then every complete line it holds: linebuf_next() into result
     *    until LINEBUF_NONE. Skip LINEBUF_TOO_LONG (no server of the course
     *    sends such lines). print_line() each LINEBUF_LINE with
     *    client->latin1, and set client->bye_received to whether that line
     *    is exactly the 3 bytes "bye" (memcmp()): the last line decides.
     *  - prompt() (it shows only on a terminal), return 0. */
    (void)client;
    (void)line;
    (void)len;
    (void)result;
    (void)received;
    (void)print_line;
    (void)prompt;
    todo(7, "read the server once and print every complete line (handle_answers)");
    return -1;
}

/* The loop: wait for standard input or the server, whichever comes first.
 * Returns when the server closes. */
static void talk(struct client *client)
{
    fd_set read_set, write_set;
    int max_fd = client->server_fd > STDIN_FILENO ? client->server_fd : STDIN_FILENO;

    /* TODO step 7 (README step 7): prompt(), then loop:
     *  - If input_done, nothing waits in the queue (sent == queued) and
     *    write_shut is not set: shutdown(server_fd, SHUT_WR) (man 2
     *    shutdown) and set write_shut, so this happens once. The server
     *    reads end of file, answers what came, and closes; we still read.
     *  - Build the sets again (FD_ZERO, FD_SET). server_fd in read_set,
     *    always: the server may close at any moment, even while nobody
     *    types. STDIN_FILENO in read_set only while input is not done and
     *    the queue has room for a whole chunk, converted: queued - sent +
     *    2 * INPUT_CHUNK <= QUEUE_SIZE. Otherwise the input waits where it
     *    is (in the pipe, in the terminal): that is the queue's bound.
     *    server_fd in write_set while bytes wait (sent < queued).
     *  - select(max_fd + 1, &read_set, &write_set, NULL, NULL): no
     *    timeout. -1 with EINTR: loop; any other -1: print "select:
     *    <reason>" on stderr and return.
     *  - server_fd readable: handle_answers(); -1 leaves the loop.
     *    server_fd writable: flush_queue(); -1 leaves the loop.
     *    stdin readable: handle_input(), then flush_queue() at once (most
     *    of the time everything goes now); -1 leaves the loop.
     * After the loop the server has closed the connection. That was
     * expected after "bye" (bye_received) or after our own end of input
     * (input_done); otherwise print "connection closed by server". */
    (void)read_set;
    (void)write_set;
    (void)max_fd;
    (void)prompt;
    (void)handle_answers;
    (void)flush_queue;
    (void)handle_input;
    todo(7, "the select() loop over standard input and the server (talk)");
}

int main(int argc, char *argv[])
{
    static struct client client; /* its buffers are big: kept off the stack */
    const char *host = DEFAULT_HOST;
    const char *port = DEFAULT_PORT;
    struct sigaction ignore;
    int first = 1;

    if (wants_help(argc, argv)) {
        print_usage(stdout, argv[0]);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--latin1") == 0) {
        client.latin1 = 1;
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

    client.server_fd = connect_to(host, port);
    if (client.server_fd == -1)
        return 1;
    printf("connected to %s:%s\n", host, port);
    if (set_nonblocking(client.server_fd) == -1) {
        fprintf(stderr, "fcntl: %s\n", strerror(errno));
        close(client.server_fd);
        return 1;
    }
    client.interactive = isatty(STDIN_FILENO);
    linebuf_init(&client.from_server, client.server_fd);
    talk(&client);
    close(client.server_fd);
    return 0;
}
