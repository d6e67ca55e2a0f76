/* lab03 server: many clients at once, in one thread, with select().
 * Every client socket is non-blocking; each client has its own line reader
 * and its own bounded queue of answers. A client whose answers pile up
 * unread is paused (its lines wait) while the others are served. The loop
 * sleeps in select() until a socket or a signal needs it: no timeout, no
 * polling (but a retry a second while out of descriptors). Framing and
 * UTF-8 answers are lab02's; lab01's set-up (command line, listening
 * socket, accept, signals) is in net.c.
 * Left out on purpose: threads (lab04), poll() and epoll (see the README).
 *
 * This is the skeleton: lab02's modules and answers, net.c's set-up, the
 * structs and main() are given, and each "TODO step N" is yours to write:
 * steps 1 to 6 here, step 7 in client.c. README.md explains every step;
 * the tests named "step N" check it.
 */
#include <errno.h>
#include <fcntl.h>
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

#define BACKLOG SOMAXCONN               /* many clients may connect at once */
#define ANSWER_SIZE 64                  /* "OK <B> bytes <C> chars\n" and the like */
#define OUTPUT_LIMIT (64 * 1024)        /* unsent answers per client, at most: then it is paused */
#define ACCEPT_BATCH 64                 /* connections accepted per wake-up, for fairness */
#define ACCEPT_RETRY_SECONDS 1          /* accepting paused: try again this often at least */

/* One connected client. */
struct client {
    int fd;
    unsigned long number;       /* 1, 2, ... in order of connection */
    int input_ended;            /* end of file read: no more recv() */
    int closing;                /* nothing more to answer: close once the queue is sent */
    char output[OUTPUT_LIMIT];  /* answers not sent yet: output[sent..queued) */
    size_t sent, queued;
    struct linebuf reader;
};

/* The server's state, passed to every handler. */
struct server {
    int listen_fd;
    int signal_fd;              /* read end of the self-pipe */
    int spare_fd;               /* kept free for refusing clients when out of descriptors */
    int accept_paused;          /* out of descriptors and no spare: skip the listener for one wait */
    int quiet;
    unsigned long next_number;
    struct client *clients[FD_SETSIZE]; /* by descriptor; only fds below FD_SETSIZE are kept */
    char shown[UTF8_ESCAPED_SIZE(LINE_MAX_BYTES)]; /* a line as the log shows it */
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
    /* TODO step 6: replace this body (the message, write() and _exit())
     * with the handler: one byte into the self-pipe's write end, so that
     * select() wakes up. Only async-signal-safe calls (man 7
     * signal-safety), and errno as the interrupted code left it. */
    static const char message[] =
        "TODO step 6: write the stop handler on_stop_signal() (see README.md, step 6)\n";
    ssize_t written;

    (void)signo;
    /* write() and _exit() are async-signal-safe; fprintf() and exit() are not. */
    written = write(STDERR_FILENO, message, sizeof message - 1);
    (void)written; /* if stderr is gone there is nothing else to try */
    _exit(3);
}

/* Returns 1 if the line is "fin" in any letter case. */
static int is_fin(const char *line, size_t len)
{
    return len == strlen("fin") && strncasecmp(line, "fin", len) == 0;
}

/* Returns 1 while the client's unsent answers leave room for one more.
 * Without room the client is paused: its lines wait in its reader and in
 * the network, and TCP slows it down. */
static int has_room(const struct client *client)
{
    return client->queued - client->sent + ANSWER_SIZE <= OUTPUT_LIMIT;
}

/* Closes and frees a client (it sees end of file), and clears its slot. */
static void free_client(struct server *server, struct client *client)
{
    /* TODO step 1: undo add_client(): empty its slot, close its socket,
     * free the record. A descriptor is free again: accepting may resume
     * (step 5). */
    (void)server;
    (void)client;
    todo(1, "close and free a client, empty its slot (free_client)");
}

/* A client leaves: says so, then frees it. The caller must not touch it again. */
static void drop_client(struct server *server, struct client *client)
{
    /* TODO step 1: print "client K disconnected" (unless quiet), then
     * free_client(). */
    (void)server;
    (void)client;
    (void)free_client;
    todo(1, "a client leaves: say so and free it (drop_client)");
}

/* Sends as much of the client's queue as its socket takes now. Returns 0,
 * or -1 if the client is gone (then the caller drops it). */
static int flush_output(struct client *client)
{
    ssize_t sent;

    /* TODO step 4: send() output[sent..queued) until it is all sent or the
     * socket is full. Never wait: a full socket (EAGAIN) keeps the rest
     * for later, and select() says when there is room. EINTR: again; any
     * other error: the client is gone. Once all is sent, start the queue
     * over at the front. Not send_all(): it would wait for this client
     * while everyone else waits too. */
    (void)client;
    (void)sent;
    todo(4, "send what the socket takes of the answer queue (flush_output)");
    return -1;
}

/* Appends len bytes to the client's queue. has_room() said they fit: the
 * unsent bytes, moved to the front if need be, leave room for them. */
static void queue_output(struct client *client, const char *text, size_t len)
{
    /* TODO step 4: append the len bytes at output + queued. They fit once
     * the unsent bytes are moved to the front of output (memmove: the
     * areas may overlap), which is needed only when they do not fit after
     * queued. */
    (void)client;
    (void)text;
    (void)len;
    todo(4, "append an answer to the client's queue (queue_output)");
}

/* Writes into answer what lab02 answers to one line of the reader, and
 * logs a valid line with its control characters escaped. Returns the
 * answer's length. */
static int answer_line(struct server *server, struct client *client, enum linebuf_result result,
                       const char *line, size_t len, char answer[ANSWER_SIZE])
{
    size_t chars, error_at, shown_len;

    if (result == LINEBUF_TOO_LONG)
        return snprintf(answer, ANSWER_SIZE, "ERR line too long\n");
    if (!utf8_check(line, len, &chars, &error_at))
        return snprintf(answer, ANSWER_SIZE, "ERR invalid UTF-8 at byte %zu\n", error_at);
    if (!server->quiet) {
        shown_len = utf8_escape_controls(line, len, server->shown);
        printf("client %lu: %.*s\n", client->number, (int)shown_len, server->shown);
    }
    if (is_fin(line, len)) {
        client->closing = 1; /* what follows "fin" is never answered */
        return snprintf(answer, ANSWER_SIZE, "bye\n");
    }
    return snprintf(answer, ANSWER_SIZE, "OK %zu bytes %zu chars\n", len, chars);
}

/* Answers the complete lines in the client's reader while its queue has
 * room. Returns 0 when none is left to answer, 1 when lines may still wait
 * (no room: the client is paused). */
static int answer_lines(struct server *server, struct client *client)
{
    const char *line;
    size_t len;
    char answer[ANSWER_SIZE];
    enum linebuf_result result;
    int answer_len;

    /* TODO step 3: take the complete lines out of the client's reader with
     * linebuf_next(), answer each with answer_line() (given) and
     * queue_output() the answer. Every line, not one: select() cannot see
     * the lines already in the reader. Stop at "fin" (closing), and before
     * each line check has_room(): without room, leave the rest in the
     * reader and return 1 (step 4 says why it must be each line). */
    (void)server;
    (void)client;
    (void)line;
    (void)len;
    (void)answer;
    (void)result;
    (void)answer_len;
    (void)answer_line;
    (void)queue_output;
    todo(3, "answer the complete lines in the client's reader (answer_lines)");
    return 0;
}

/* Answers the client's waiting lines and sends what its socket takes, as
 * long as sending makes room for more, so that no complete line is left in
 * the reader, where select() cannot see it, unless the client is paused.
 * Returns 0, or -1 if the client must go: gone, or done. */
static int serve_client(struct server *server, struct client *client)
{
    int waiting;

    /* TODO step 4: answer_lines(), then flush_output(); again while lines
     * wait and sending made room for them, so that no line is left in the
     * reader unless the client is paused. When its input has ended and no
     * line waits, the client is closing. Return -1 for a client that must
     * go: gone, or closing with everything sent. */
    (void)server;
    (void)client;
    (void)waiting;
    (void)answer_lines;
    (void)flush_output;
    todo(4, "answer and send, as long as there is room (serve_client)");
    return -1;
}

/* The client's socket is readable: one read, then its lines. */
static void handle_readable(struct server *server, struct client *client)
{
    ssize_t received;

    /* TODO step 3: ONE linebuf_fill() (select() promised one read, not
     * two), then serve_client(). EAGAIN: nothing after all. Another error:
     * the client is gone. End of file: the client sends no more, but its
     * complete lines are still answered before it is closed. */
    (void)server;
    (void)client;
    (void)received;
    (void)serve_client;
    (void)drop_client;
    todo(3, "read a client once and serve its lines (handle_readable)");
}

/* Tells a connection we cannot serve why, and closes it. */
static void refuse(int fd)
{
    static const char message[] = "ERR server full\n";

    /* TODO step 5: send the message (not its '\0'), then close fd. A
     * blocking send is safe here: a brand-new socket takes a few bytes at
     * once. */
    (void)fd;
    (void)message;
    todo(5, "send 'ERR server full' and close (refuse)");
}

/* Out of descriptors (EMFILE): the pending connection stays in the queue
 * and would wake select() again and again. Free the spare descriptor,
 * accept the connection with it and refuse it, then take the spare back.
 * Without a spare, stop watching the listening socket for a while (serve()). */
static void refuse_without_descriptors(struct server *server)
{
    int fd;

    /* TODO step 5: the spare descriptor trick described above (accept()
     * with NULL, NULL: the address does not matter). A spare lost last
     * time may be had again now. If there is none, or it cannot be had
     * back, pause accepting (accept_paused). */
    (void)server;
    (void)fd;
    (void)refuse;
    todo(5, "refuse a client with the spare descriptor (refuse_without_descriptors)");
}

/* Creates the record of a newly accepted client, peer its address as text.
 * Returns 0, or -1 (then the caller refuses the connection). */
static int add_client(struct server *server, int fd, const char *peer)
{
    struct client *client;

    /* TODO step 1: make fd non-blocking (net_set_nonblocking()), allocate
     * and fill the record (number: in order of connection, from 1; an
     * empty queue; its reader on fd), put it at clients[fd], and print
     * "client K connected from PEER" (unless quiet). Any failure: -1. */
    (void)server;
    (void)fd;
    (void)peer;
    (void)client;
    todo(1, "create a client's record and put it in the table (add_client)");
    return -1;
}

/* The listening socket is readable: accept the waiting connections (a batch
 * at most, so that clients already connected are served in between). */
static void handle_new_connections(struct server *server)
{
    char peer[NET_PEER_SIZE];
    int fd, i;

    /* TODO step 5: net_accept() the waiting connections, ACCEPT_BATCH at
     * most. EINTR or ECONNABORTED: go on. EMFILE or ENFILE:
     * refuse_without_descriptors(), and stop if accepting is now paused.
     * EAGAIN: nobody else waits. Anything else: print "accept: <reason>".
     * A descriptor select() cannot watch (FD_SETSIZE) is refused, never
     * added; so is one add_client() fails on. */
    (void)server;
    (void)peer;
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
    struct timeval retry;
    struct client *client;
    int max_fd, fd;

    /* TODO step 2: for ever: build read_set and write_set from scratch
     * (select() overwrites them); select() on them, no timeout; then serve
     * what is ready.
     *  - read_set: the self-pipe, the listening socket unless accepting is
     *    paused, and each client still reading: not at end of input, not
     *    closing, and not paused (has_room()).
     *  - write_set: each client with answers waiting.
     *  - Accepting paused (step 5): a connection waits that select() no
     *    longer reports, so give it the timeout retry, ACCEPT_RETRY_SECONDS
     *    (set it each turn), and once it returns, whatever woke it, clear
     *    accept_paused: the listener is watched again.
     *  - Self-pipe readable: return 0. Listening socket readable:
     *    handle_new_connections(). Each client readable:
     *    handle_readable(); writable: serve_client(), and drop_client() if
     *    that gives -1. A client may be gone after its first handler.
     *  - EINTR from select(): loop; another error: "select: <reason>",
     *    return -1. */
    (void)server;
    (void)read_set;
    (void)write_set;
    (void)retry;
    (void)client;
    (void)max_fd;
    (void)fd;
    (void)has_room;
    (void)handle_new_connections;
    (void)handle_readable;
    todo(2, "the select() loop (serve)");
    return -1;
}

/* Closes every client (they see end of file) and frees them, without a
 * "disconnected" line: the server stops, they did not leave. */
static void drop_all_clients(struct server *server)
{
    int fd;

    /* TODO step 6: free_client() every client left. */
    (void)server;
    (void)fd;
    todo(6, "close and free every client (drop_all_clients)");
}

/* Everything before "listening": the spare descriptor, the self-pipe, the
 * signals, the listening socket. Returns the port it listens on, or -1
 * after printing "call: reason". tear_down() closes what it opened. */
static int set_up(struct server *server, long port)
{
    const char *failed_call;
    int bound_port;

    server->listen_fd = -1;
    /* -1 is no failure: refuse_without_descriptors() does without. */
    server->spare_fd = open("/dev/null", O_RDONLY);
    /* The pipe first, then the handler that writes into it. */
    if (pipe(signal_pipe) == -1) {
        fprintf(stderr, "pipe: %s\n", strerror(errno));
        return -1;
    }
    server->signal_fd = signal_pipe[0];
    /* Both ends non-blocking: the handler must never wait in write(). */
    if (net_set_nonblocking(signal_pipe[0], 1) == -1 || net_set_nonblocking(signal_pipe[1], 1) == -1) {
        fprintf(stderr, "fcntl: %s\n", strerror(errno));
        return -1;
    }
    if (net_catch_signals(on_stop_signal) == -1) {
        fprintf(stderr, "sigaction: %s\n", strerror(errno));
        return -1;
    }
    server->listen_fd = net_listen(port, BACKLOG, &bound_port, &failed_call);
    if (server->listen_fd == -1) {
        fprintf(stderr, "%s: %s\n", failed_call, strerror(errno));
        return -1;
    }
    /* Non-blocking: a client that resets between select() and accept()
     * must not leave us waiting in accept(). */
    if (net_set_nonblocking(server->listen_fd, 1) == -1) {
        fprintf(stderr, "fcntl: %s\n", strerror(errno));
        return -1;
    }
    return bound_port;
}

/* Closes what set_up() opened. */
static void tear_down(struct server *server)
{
    if (server->listen_fd != -1)
        close(server->listen_fd);
    if (server->spare_fd != -1)
        close(server->spare_fd);
    if (signal_pipe[0] != -1)
        close(signal_pipe[0]);
    if (signal_pipe[1] != -1)
        close(signal_pipe[1]);
}

int main(int argc, char *argv[])
{
    static struct server server; /* FD_SETSIZE pointers and a line: kept off the stack */
    struct net_server_args args;
    int port, status = 1;

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
    server.quiet = args.quiet;
    /* Tests read our output through a pipe: send each line at once. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    port = set_up(&server, args.port);
    if (port != -1) {
        printf("listening on port %d\n", port);
        status = serve(&server) == 0 ? 0 : 1;
        drop_all_clients(&server);
        puts("server stopped");
    }
    tear_down(&server);
    return status;
}
