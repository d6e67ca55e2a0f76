/* lab03 server: many clients at once, in one thread, with select().
 * Every socket is non-blocking; each client has its own line reader and its
 * own queue of answers, so a slow, silent or vanished client never holds up
 * the others. The loop sleeps in select() until a socket or a signal needs
 * it: no timeout, no polling. Framing and UTF-8 answers are lab02's.
 * Left out on purpose: threads (lab04), poll() and epoll (see the README).
 *
 * This is the skeleton: lab02's modules, the command line, the listening
 * socket and main() are given, and each "TODO step N" is yours to write:
 * steps 1 to 6 here, step 7 in client.c. README.md explains every step;
 * the tests named "step N" check it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#define DEFAULT_PORT 12800              /* the course's port */
#define BACKLOG SOMAXCONN               /* many clients may connect at once */
#define ANSWER_SIZE 64                  /* "OK <B> bytes <C> chars\n" and the like */
#define OUTPUT_LIMIT (1024 * 1024)      /* unread answers before a client is dropped */
#define ACCEPT_BATCH 64                 /* connections accepted per wake-up, for fairness */

/* One connected client. */
struct client {
    int fd;
    unsigned long number;       /* 1, 2, ... in order of connection */
    int closing;                /* reads no more: sends what is queued, then closes */
    char *output;               /* answers not sent yet: output[sent..queued) */
    size_t sent, queued, capacity;
    struct linebuf reader;
};

/* The server's state, passed to every handler. */
struct server {
    int listen_fd;
    int signal_fd;              /* read end of the self-pipe */
    int spare_fd;               /* kept free for refusing clients when out of descriptors */
    int accept_paused;          /* out of descriptors and no spare: wait for a client to leave */
    int quiet;
    unsigned long next_number;
    struct client *clients[FD_SETSIZE]; /* by descriptor; only fds below FD_SETSIZE are kept */
};

/* The self-pipe: the handler writes a byte, select() sees it. */
static int signal_pipe[2] = { -1, -1 };

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* SIGINT/SIGTERM: wake the select() loop. write() is async-signal-safe; a
 * full pipe already holds a wake-up, so its error is ignored. */
static void on_stop_signal(int signo)
{
    /* TODO step 6 (README step 6): replace this body (the message, write()
     * and _exit()) with the handler. Only async-signal-safe work here
     * (man 7 signal-safety):
     *  - save errno in a local variable first, and put it back last: the
     *    write() below may change the errno the interrupted code reads;
     *  - write() one byte (signo as a char will do) into the pipe's write
     *    end, signal_pipe[1]. Both ends are non-blocking (given): when the
     *    pipe is full, write() fails at once with EAGAIN, and that is fine,
     *    since a full pipe already holds a wake-up. So its result is
     *    ignored: keep it in a variable and (void) it (gcc warns about a
     *    write() whose result is thrown away).
     * No printf, no exit(), no malloc() in a handler: serve() sees the pipe
     * readable, returns, and main() does the stopping. */
    static const char message[] =
        "TODO step 6: write the stop handler on_stop_signal() (see README.md, step 6)\n";
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

/* Creates the self-pipe (both ends non-blocking), installs the stop handler
 * for SIGINT and SIGTERM and ignores SIGPIPE. Returns 0, or -1 with errno. */
static int install_signal_handlers(void)
{
    struct sigaction action;

    if (pipe(signal_pipe) == -1)
        return -1;
    if (set_nonblocking(signal_pipe[0]) == -1 || set_nonblocking(signal_pipe[1]) == -1)
        return -1;
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

/* Creates the non-blocking listening socket on every local IPv4 address and
 * the given port (0 = any). Returns it, or -1 after printing "call: reason". */
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
    /* Non-blocking: a client that resets between select() and accept()
     * must not leave us waiting in accept(). */
    if (listen(listen_fd, BACKLOG) == -1 || set_nonblocking(listen_fd) == -1) {
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

/* Closes and frees a client, and says so. */
static void drop_client(struct server *server, struct client *client)
{
    /* TODO step 1 (README step 1): the end of a client, whichever way it
     * leaves (fin, end of file, reset, dropped).
     *  - Unless server->quiet, print "client K disconnected", K its number
     *    (an unsigned long: %lu).
     *  - Clear its slot: server->clients[client->fd] = NULL. serve() finds
     *    clients through the table only; an empty slot means "nobody".
     *  - Set server->accept_paused back to 0: a descriptor is free again,
     *    so a server that ran out of them may accept again (step 5).
     *  - close() its socket (the client sees end of file), then free() its
     *    answer queue (output; free(NULL) does nothing) and the record.
     * From here on the pointer client points to freed memory: the caller
     * must not touch it again (step 2 looks the slot up again instead). */
    (void)server;
    (void)client;
    todo(1, "drop a client: print, clear its slot, close, free (drop_client)");
}

/* Sends as much of the client's queue as its socket takes now. Returns 0,
 * or -1 if the client is gone (then the caller drops it). */
static int flush_output(struct client *client)
{
    ssize_t sent;

    /* TODO step 4 (README step 4): send what is queued, never waiting.
     *  - The bytes not sent yet are output[sent..queued). While there are
     *    any, send() (man 2 send) them from output + sent, flags 0.
     *  - The socket is non-blocking: send() takes what fits in the
     *    socket's buffer now, maybe fewer bytes than asked. Add what it took
     *    to client->sent and loop.
     *  - -1 with EINTR: send again. -1 with EAGAIN or EWOULDBLOCK: the
     *    buffer is full (the client reads slowly, or not at all): return 0
     *    and keep the rest. serve() watches the socket in write_set while
     *    bytes wait, and select() says when there is room again.
     *  - Any other -1 (EPIPE, ECONNRESET): the client is gone, return -1.
     *  - Everything sent: set sent and queued back to 0, so the queue
     *    starts over at the front of output, and return 0.
     * Not send_all(): it would wait for a slow client, and every other
     * client would wait with it. */
    (void)client;
    (void)sent;
    todo(4, "send what the socket takes of the answer queue (flush_output)");
    return -1;
}

/* Appends len bytes to the client's queue. Returns 0, or -1 if the queue
 * would pass OUTPUT_LIMIT (a client that does not read its answers) or
 * memory ran out: the caller drops the client. */
static int queue_output(struct client *client, const char *text, size_t len)
{
    size_t needed, capacity;
    char *grown;

    /* TODO step 4 (README step 4): append the len bytes of text to output.
     *  - The bound first: if the bytes not sent yet (queued - sent) plus
     *    len would pass OUTPUT_LIMIT, return -1. A client that sends lines
     *    and never reads the answers would otherwise make us keep them all.
     *  - If sent > 0 and queued + len does not fit in capacity, move the
     *    unsent bytes to the front of output with memmove() (the areas may
     *    overlap): queued -= sent, sent = 0. Room already sent is reused
     *    before the buffer grows.
     *  - needed = queued + len. If it passes capacity, grow output with
     *    realloc() (man 3 realloc) to a new capacity: 4096 the first time
     *    (capacity 0, output NULL: realloc(NULL, n) is malloc(n)), the old
     *    one otherwise, doubled until it reaches needed. Keep realloc()'s
     *    result in grown and check it before you replace output: on NULL
     *    the old block is still there (and still freed by drop_client());
     *    return -1. Then set output and capacity.
     *  - memcpy() the bytes to output + queued, add len to queued, return 0. */
    (void)client;
    (void)text;
    (void)len;
    (void)needed;
    (void)capacity;
    (void)grown;
    todo(4, "append an answer to the client's queue, within its bound (queue_output)");
    return -1;
}

/* Answers every complete line in the client's reader, as lab02 does.
 * Returns 0, or -1 if the client must be dropped. */
static int answer_lines(struct server *server, struct client *client)
{
    const char *line;
    size_t len, chars, error_at;
    char answer[ANSWER_SIZE];
    int result, answer_len;

    /* TODO step 3 (README step 3): answer EVERY complete line the reader
     * holds, not just one: select() sees the socket, not the bytes already
     * in client->reader, so a line left there would wait until the client
     * sends something more.
     *  - Loop while the client is not closing and linebuf_next() (on
     *    &client->reader, with &line and &len) gives something other than
     *    LINEBUF_NONE; the result goes into result.
     *  - Choose the answer as lab02's server did, with snprintf() into
     *    answer and its length into answer_len: LINEBUF_TOO_LONG gives
     *    "ERR line too long\n"; a line that utf8_check() refuses gives
     *    "ERR invalid UTF-8 at byte I\n", I from error_at (%zu).
     *  - A valid line: unless quiet, print "client K: " (K its number,
     *    %lu), the len bytes of the line with fwrite() and '\n'. If
     *    is_fin(), the answer is "bye\n" and client->closing becomes 1:
     *    what follows "fin" is not answered. Otherwise "OK B bytes C
     *    chars\n", B = len, C = chars.
     *  - queue_output() the answer (step 4). If it gives -1, the queue is
     *    full: flush_output() first (the socket may take some now), then
     *    queue_output() again; if either gives -1, return -1: the client
     *    does not read its answers, and the caller drops it.
     * Return 0 at the end. */
    (void)server;
    (void)client;
    (void)line;
    (void)len;
    (void)chars;
    (void)error_at;
    (void)answer;
    (void)result;
    (void)answer_len;
    (void)is_fin;
    (void)queue_output;
    (void)flush_output;
    todo(3, "answer every complete line in the client's reader (answer_lines)");
    return -1;
}

/* The client's socket is readable: one read, then every complete line. */
static void handle_readable(struct server *server, struct client *client)
{
    ssize_t received;

    /* TODO step 3 (README step 3): one read, then the answers.
     *  - ONE linebuf_fill(&client->reader) into received: select() said
     *    that one recv() will not wait, not that two will. (It retries
     *    EINTR itself.)
     *  - -1 with EAGAIN or EWOULDBLOCK: nothing to read after all (it
     *    happens); return, select() will say so again.
     *  - Any other -1 (ECONNRESET: a reset): the client is gone,
     *    drop_client() and return.
     *  - 0, end of file: the client sends nothing more, but it may still
     *    read. Set client->closing, then go on: what came before is
     *    answered, then the client is closed.
     *  - answer_lines(), then flush_output() (step 4): most answers go at
     *    once. Drop the client if either gives -1, or if it is closing and
     *    nothing is left to send (client->queued == 0: flush_output() sets
     *    it back to 0 when all is sent). Otherwise what is left waits in
     *    the queue, and serve() watches the socket for room.
     * Once drop_client() has run, do not touch client again. */
    (void)server;
    (void)client;
    (void)received;
    (void)answer_lines;
    (void)flush_output;
    (void)drop_client;
    todo(3, "read a client once and answer its lines (handle_readable)");
}

/* The client's socket has room: send more of its queue. */
static void handle_writable(struct server *server, struct client *client)
{
    /* TODO step 4 (README step 4): flush_output(). Drop the client if it
     * gives -1 (gone), or if the client is closing and its queue is now
     * empty (client->queued == 0): its last answers, "bye" among them,
     * have left, so the connection can close. */
    (void)server;
    (void)client;
    (void)flush_output;
    (void)drop_client;
    todo(4, "send more of the queue when the socket has room (handle_writable)");
}

/* Tells a connection we cannot serve why, and closes it. */
static void refuse(int fd)
{
    static const char message[] = "ERR server full\n";

    /* TODO step 5 (README step 5): send_all() the message, sizeof message
     * - 1 bytes (not its '\0'), then close(fd). send_all() may block, but
     * not here: a brand-new socket has an empty send buffer, and 16 bytes
     * go at once. Its result does not matter: fd is closed either way. */
    (void)fd;
    (void)message;
    todo(5, "send 'ERR server full' and close (refuse)");
}

/* Out of descriptors (EMFILE): the pending connection stays in the queue
 * and would wake select() again and again. Free the spare descriptor,
 * accept the connection with it and refuse it, then take the spare back.
 * Without a spare, stop watching the listening socket until a client leaves. */
static void refuse_without_descriptors(struct server *server)
{
    int fd;

    /* TODO step 5 (README step 5): out of descriptors, refuse the client
     * that waits (it would make select() wake up again and again).
     *  - No spare (server->spare_fd == -1): set server->accept_paused and
     *    return. serve() stops watching the listening socket until
     *    drop_client() frees a descriptor and clears the flag.
     *  - close() the spare: one descriptor is free now. accept() the
     *    waiting connection with it (NULL, NULL: its address does not
     *    matter) and, if that gave a descriptor, refuse() it.
     *  - Take the spare back: open("/dev/null", O_RDONLY) (man 2 open) into
     *    server->spare_fd. If that gives -1 (the descriptor went elsewhere),
     *    set server->accept_paused. */
    (void)server;
    (void)fd;
    (void)refuse;
    todo(5, "refuse a client with the spare descriptor (refuse_without_descriptors)");
}

/* Creates the record of a newly accepted client. Returns 0, or -1 (then
 * the caller refuses the connection). */
static int add_client(struct server *server, int fd, const struct sockaddr_in *peer)
{
    struct client *client;
    char ip[INET_ADDRSTRLEN];

    /* TODO step 1 (README step 1): the record of a new client.
     *  - set_nonblocking(fd) (net.h): no recv() or send() on it may ever
     *    wait, or the whole loop waits with it. -1: return -1.
     *  - malloc() the record (sizeof *client). NULL: return -1. (On -1 the
     *    caller refuses the connection and closes fd.)
     *  - Fill it: fd; number = ++server->next_number (1 for the first client,
     *    then in the order they connect); closing 0; an empty queue (output
     *    NULL, sent, queued and capacity 0); linebuf_init() its reader on fd.
     *    The reader lives inside the record: always reach it as
     *    &client->reader, never copy it (a copy would hold bytes the
     *    original never hands out).
     *  - Put it in the table: server->clients[fd] = client. (The caller
     *    made sure that fd < FD_SETSIZE.)
     *  - Unless quiet, print "client K connected from IP:PORT": inet_ntop()
     *    (man 3 inet_ntop) writes peer's IP as text into ip, and the port
     *    needs ntohs().
     * Return 0. */
    (void)server;
    (void)fd;
    (void)peer;
    (void)client;
    (void)ip;
    todo(1, "create a client's record and put it in the table (add_client)");
    return -1;
}

/* The listening socket is readable: accept the waiting connections (a batch
 * at most, so that clients already connected are served in between). */
static void handle_new_connections(struct server *server)
{
    struct sockaddr_in peer;
    socklen_t peer_len;
    int fd, i;

    /* TODO step 5 (README step 5): accept the connections that wait.
     *  - At most ACCEPT_BATCH turns. Each turn: peer_len = sizeof peer,
     *    then accept() (man 2 accept) on server->listen_fd, with peer.
     *  - -1 with EINTR (a signal) or ECONNABORTED (a client that left
     *    before we took it): go on with the next turn.
     *  - -1 with EMFILE or ENFILE (out of descriptors): the connection
     *    stays in the queue, and select() would say "readable" again and
     *    again. refuse_without_descriptors(); if it set accept_paused,
     *    return; otherwise go on.
     *  - -1 with EAGAIN or EWOULDBLOCK: nobody else waits (the listening
     *    socket is non-blocking): return. Any other -1: print "accept:
     *    <reason>" on stderr and return.
     *  - A descriptor fd >= FD_SETSIZE: select() cannot watch it, and
     *    FD_SET() would write outside the set. refuse() it, never add it.
     *    Otherwise add_client(); if that gives -1, refuse() it too. */
    (void)server;
    (void)peer;
    (void)peer_len;
    (void)fd;
    (void)i;
    (void)add_client;
    (void)refuse;
    (void)refuse_without_descriptors;
    todo(5, "accept the waiting connections (handle_new_connections)");
}

/* The loop: wait in select() for any socket or a signal, serve what is
 * ready, again. Returns 0 when a stop signal arrived, -1 if select() failed
 * (after printing why). */
static int serve(struct server *server)
{
    fd_set read_set, write_set;
    struct client *client;
    int max_fd, fd, ready;

    /* TODO step 2 (README step 2): the loop, for ever:
     *  - Build both sets again, at every turn: FD_ZERO() each (man 2
     *    select), then FD_SET() in read_set the self-pipe's read end
     *    (server->signal_fd) and, unless server->accept_paused, the
     *    listening socket. For every client in server->clients: its fd in
     *    read_set unless it is closing, and in write_set if answers wait
     *    (queued > sent). select() overwrites the sets with the ready
     *    descriptors only: reused as they come back, they would watch
     *    fewer and fewer sockets.
     *  - max_fd: the highest descriptor put in a set. select() wants
     *    max_fd + 1, the number of descriptors to look at (0 to max_fd).
     *  - ready = select(max_fd + 1, &read_set, &write_set, NULL, NULL).
     *    The last NULL is the timeout: none, sleep as long as it takes.
     *    -1 with EINTR: a signal came, loop (the self-pipe says whether it
     *    was a stop). Any other -1: print "select: <reason>", return -1.
     *  - signal_fd readable: a stop signal (step 6); return 0, and main()
     *    cleans up.
     *  - The listening socket readable (and watched): handle_new_connections().
     *  - Then every fd from 0 to max_fd: a client that is in read_set,
     *    handle_readable(); then read its slot in the table AGAIN, since
     *    handle_readable() may have dropped and freed it; a client still
     *    there and in write_set, handle_writable(). */
    (void)server;
    (void)read_set;
    (void)write_set;
    (void)client;
    (void)max_fd;
    (void)fd;
    (void)ready;
    (void)handle_new_connections;
    (void)handle_readable;
    (void)handle_writable;
    todo(2, "the select() loop (serve)");
    return -1;
}

/* Closes every client (they see end of file) and frees them. */
static void drop_all_clients(struct server *server)
{
    int fd;

    /* TODO step 6 (README step 6): for each slot of server->clients that
     * holds a client: close() its descriptor, free() its output and the
     * record, and clear the slot. No "client K disconnected" line here:
     * the server is stopping (only that differs from drop_client()).
     * Valgrind checks that nothing is left, neither memory nor descriptor. */
    (void)server;
    (void)fd;
    todo(6, "close and free every client (drop_all_clients)");
}

int main(int argc, char *argv[])
{
    static struct server server; /* FD_SETSIZE pointers: kept off the stack */
    long port = DEFAULT_PORT;
    int have_port = 0;
    int i, status = 0, listening = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            server.quiet = 1;
        } else if (argv[i][0] != '-' && !have_port && (port = parse_port(argv[i])) != -1) {
            have_port = 1;
        } else {
            fprintf(stderr, "%s: bad argument '%s'\n", argv[0], argv[i]);
            print_usage(stderr, argv[0]);
            return 2;
        }
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (install_signal_handlers() == -1) {
        fprintf(stderr, "signals: %s\n", strerror(errno));
        return 1;
    }
    server.signal_fd = signal_pipe[0];
    server.spare_fd = open("/dev/null", O_RDONLY);
    server.listen_fd = open_listener(port);
    if (server.listen_fd == -1)
        status = 1;
    else if ((port = local_port(server.listen_fd)) == -1) {
        fprintf(stderr, "getsockname: %s\n", strerror(errno));
        status = 1;
    }

    if (status == 0) {
        printf("listening on port %ld\n", port);
        listening = 1;
        status = serve(&server) == 0 ? 0 : 1;
        drop_all_clients(&server);
    }

    if (server.listen_fd != -1)
        close(server.listen_fd);
    if (server.spare_fd != -1)
        close(server.spare_fd);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    if (listening)
        puts("server stopped");
    return status;
}
