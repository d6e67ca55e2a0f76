/* lab03 server: many clients at once, in one thread, with select(). Each
 * client has a non-blocking socket, a line reader and a bounded queue of
 * answers (outbuf.c); one whose answers pile up unread is paused while the
 * others are served. lab02's answers are in answer.c, the set-up in net.c.
 * Left out on purpose: threads (lab04), poll() and epoll (see the README).
 *
 * This is the skeleton: lab02's modules and answers (answer.c), net.c's
 * set-up, the structs and main() are given, and each "TODO step N" is yours
 * to write: steps 1, 2, 3 and 5 here, step 4 in outbuf.c, steps 6 and 7 in
 * client.c. README.md explains every step; the tests named "step N" check
 * it, and `make hint LAB=03 STEP=N` gives hints, one level more each time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "answer.h"
#include "linebuf.h"
#include "net.h"
#include "outbuf.h"
#include "utf8.h"

#define BACKLOG SOMAXCONN               /* many clients may connect at once */
#define ACCEPT_BATCH 64                 /* connections accepted per wake-up, for fairness */
#define ACCEPT_RETRY_SECONDS 1          /* accepting paused: try again this often at least */
#define SERVER_FULL "ERR server full\n" /* to a connection we cannot serve */

/* One connected client. */
struct client {
    int fd;
    unsigned long number;       /* 1, 2, ... in order of connection */
    int input_ended;            /* end of file read: no more recv() */
    int closing;                /* nothing more to answer: close once the queue is sent */
    struct linebuf reader;
    struct outbuf output;       /* answers not sent yet */
};

/* The server's state, passed to every handler. */
struct server {
    struct net_loop loop;       /* the listener, the self-pipe, the spare descriptor */
    int accept_paused;          /* out of descriptors and no spare: skip the listener for one wait */
    int quiet;
    unsigned long next_number;
    struct client *clients[FD_SETSIZE]; /* by descriptor; only fds below FD_SETSIZE are kept */
    char shown[UTF8_ESCAPED_SIZE(LINE_MAX_BYTES)]; /* a line as the log shows it */
};

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* Returns 1 while the client's unsent answers leave room for one more.
 * Without, it is paused: its lines wait in its reader and in the network. */
static int has_room(const struct client *client)
{
    return outbuf_pending(&client->output) + ANSWER_SIZE <= OUTBUF_SIZE;
}

/* Closes and frees a client (it sees end of file), and clears its slot. */
static void free_client(struct server *server, struct client *client)
{
    /* TODO step 3: undo add_client(): the slot empty again, the socket
     * closed (the client sees end of file), the record freed. A descriptor
     * is free again, so accepting may resume if it was paused.
     * (make hint LAB=03 STEP=3) */
    (void)server;
    (void)client;
    todo(3, "close and free a client, empty its slot (free_client)");
}

/* A client leaves: says so, then frees it. The caller must not touch it again. */
static void drop_client(struct server *server, struct client *client)
{
    /* TODO step 5: log "client K disconnected" (unless quiet), then free
     * the client. (make hint LAB=03 STEP=5) */
    (void)server;
    (void)client;
    (void)free_client;
    todo(5, "a client leaves: say so and free it (drop_client)");
}

/* Answers the complete lines in the client's reader while its queue has
 * room, and logs the valid ones, their control characters escaped. Returns
 * 0 when none is left to answer, 1 when lines may still wait (no room: the
 * client is paused). */
static int answer_lines(struct server *server, struct client *client)
{
    const char *line;
    size_t len, shown_len;
    char answer[ANSWER_SIZE];
    enum linebuf_result result;
    enum answer_kind kind;

    /* TODO step 5: answer every complete line the reader holds, not just
     * one: select() cannot see lines already read into user space. Each
     * answer comes from answer_line() and goes into the client's queue
     * (linebuf_next(), outbuf_append()). Log each line that is not an error
     * as "client K: <line>" (unless quiet), its control characters escaped
     * into server->shown (utf8_escape_controls()). Nothing after "fin" is
     * answered: the client is closing. The queue is bounded: ask
     * has_room() before EACH line, and without room leave the rest in the
     * reader. (make hint LAB=03 STEP=5) */
    (void)server;
    (void)client;
    (void)line;
    (void)len;
    (void)shown_len;
    (void)answer;
    (void)result;
    (void)kind;
    todo(5, "answer the complete lines in the client's reader (answer_lines)");
    return 0;
}

/* Answers the client's waiting lines and sends what its socket takes, as
 * long as sending makes room for more, so that no complete line is left in
 * the reader, where select() cannot see it, unless the client is paused.
 * Returns 0, or -1 if the client must go: gone, or done. */
static int serve_client(struct server *server, struct client *client)
{
    int waiting;

    /* TODO step 5: answer the waiting lines and send what the socket takes
     * (answer_lines(), outbuf_flush()), and again as long as lines still
     * wait and sending made room for them: when it returns, no complete
     * line is left in the reader unless the client is paused. A client
     * whose input has ended, with no line left, is closing. -1 when it must
     * go: gone (sending failed), or closing with nothing left to send.
     * (make hint LAB=03 STEP=5) */
    (void)server;
    (void)client;
    (void)waiting;
    (void)answer_lines;
    todo(5, "answer and send, as long as there is room (serve_client)");
    return -1;
}

/* The client's socket is readable: one read, then its lines. */
static void handle_readable(struct server *server, struct client *client)
{
    ssize_t received;

    /* TODO step 5: ONE linebuf_fill(): select() promised that one read
     * will not wait, not two. Then serve the client. Tell apart: nothing
     * after all (EAGAIN), the client gone (another error), and end of file:
     * it sends no more, but its complete lines are still answered before
     * it is closed. A client that must go is dropped.
     * (make hint LAB=03 STEP=5) */
    (void)server;
    (void)client;
    (void)received;
    (void)serve_client;
    (void)drop_client;
    todo(5, "read a client once and serve its lines (handle_readable)");
}

/* Creates the record of a newly accepted client, peer its address as text.
 * Returns 0, or -1 (then the caller refuses the connection). */
static int add_client(struct server *server, int fd, const char *peer)
{
    struct client *client;

    /* TODO step 3: give the connection its record in clients[fd]: the
     * next number (1, 2, ... in order of connection, never reused), a line
     * reader and an answer queue on fd (linebuf_init(), outbuf_init()).
     * Its socket must never block the loop: make it non-blocking. Log
     * "client K connected from PEER" (unless quiet). Any failure: -1.
     * (make hint LAB=03 STEP=3) */
    (void)server;
    (void)fd;
    (void)peer;
    (void)client;
    todo(3, "create a client's record and put it in the table (add_client)");
    return -1;
}

/* The listening socket is readable: accept the waiting connections (a batch
 * at most, so that clients already connected are served in between). */
static void handle_new_connections(struct server *server)
{
    struct net_loop *loop = &server->loop;
    char peer[NET_PEER_SIZE];
    int fd, i;

    /* TODO step 3: accept the connections waiting (net_accept()) until
     * none is left (EAGAIN), ACCEPT_BATCH at most, and add each as a
     * client. Refuse with SERVER_FULL (net_refuse()) a descriptor select()
     * cannot watch (FD_SETSIZE and above: never in a set, never in the
     * table) and one add_client() fails on. Out of descriptors (EMFILE,
     * ENFILE), the connection stays queued: refuse it with the spare
     * (net_refuse_with_spare()), or, with no spare, pause accepting. EINTR
     * and ECONNABORTED are no errors; print any other as "accept:
     * <reason>" and return. (make hint LAB=03 STEP=3) */
    (void)loop;
    (void)peer;
    (void)fd;
    (void)i;
    (void)add_client;
    todo(3, "accept the waiting connections (handle_new_connections)");
}

/* Builds the sets for select() from scratch (select() overwrote them): the
 * self-pipe, the listener unless accepting is paused, each client still
 * reading and each with answers to send. Returns the highest descriptor. */
static int fill_sets(const struct server *server, fd_set *read_set, fd_set *write_set)
{
    const struct client *client;
    int fd, max_fd;

    /* TODO step 1: build both sets from nothing and return the highest
     * descriptor put in. To read: the self-pipe's read end, the listener
     * unless accepting is paused, and each client that may still send and
     * has room for answers (has_room(): a paused client is not read). To
     * write: each client with answers waiting (outbuf_pending()).
     * (make hint LAB=03 STEP=1) */
    (void)server;
    (void)read_set;
    (void)write_set;
    (void)client;
    (void)fd;
    (void)max_fd;
    (void)has_room;
    todo(1, "build the sets for select() (fill_sets)");
    return -1;
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

    /* TODO step 1: the loop: fresh sets (fill_sets()), one select(), then
     * serve every descriptor it reported before waiting again. While
     * nobody talks the server must use no CPU: no timeout, except while
     * accepting is paused (wait ACCEPT_RETRY_SECONDS at most, then watch
     * the listener again). The self-pipe readable means stop: return 0.
     * The listener: handle_new_connections(). A client: handle_readable()
     * if readable, serve_client() if writable (-1: drop_client()); the
     * first handler may have freed it, so look in the table again between
     * the two. EINTR is no error; another select() failure prints "select:
     * <reason>" and returns -1. (make hint LAB=03 STEP=1) */
    (void)server;
    (void)read_set;
    (void)write_set;
    (void)retry;
    (void)client;
    (void)max_fd;
    (void)fd;
    (void)fill_sets;
    (void)handle_new_connections;
    (void)handle_readable;
    todo(1, "the select() loop (serve)");
    return -1;
}

/* Closes every client (they see end of file) and frees them, without a
 * "disconnected" line: the server stops, they did not leave. */
static void drop_all_clients(struct server *server)
{
    int fd;

    /* TODO step 2: free every client still in the table, without a
     * "disconnected" line. (make hint LAB=03 STEP=2) */
    (void)server;
    (void)fd;
    todo(2, "close and free every client (drop_all_clients)");
}

int main(int argc, char *argv[])
{
    static struct server server; /* FD_SETSIZE pointers and a line: kept off the stack */
    struct net_server_args args;
    const char *failed_call;
    int port, status;

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
    if (net_loop_open(&server.loop, args.port, BACKLOG, &port, &failed_call) == -1) {
        fprintf(stderr, "%s: %s\n", failed_call, strerror(errno));
        return 1;
    }
    printf("listening on port %d\n", port);

    status = serve(&server) == 0 ? 0 : 1;
    drop_all_clients(&server);
    net_loop_close(&server.loop);
    puts("server stopped");
    return status;
}
