/* lab03 server: many clients at once, in one thread, with select(). Each
 * client has a non-blocking socket, a line reader and a bounded queue of
 * answers (outbuf.c); one whose answers pile up unread is paused while the
 * others are served. lab02's answers are in answer.c, the set-up in net.c.
 * Left out on purpose: threads (lab04), poll() and epoll (see the README).
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

/* Returns 1 while the client's unsent answers leave room for one more.
 * Without, it is paused: its lines wait in its reader and in the network. */
static int has_room(const struct client *client)
{
    return outbuf_pending(&client->output) + ANSWER_SIZE <= OUTBUF_SIZE;
}

/* Closes and frees a client (it sees end of file), and clears its slot. */
static void free_client(struct server *server, struct client *client)
{
    server->clients[client->fd] = NULL;
    server->accept_paused = 0; /* a descriptor is free again */
    close(client->fd);
    free(client);
}

/* A client leaves: says so, then frees it. The caller must not touch it again. */
static void drop_client(struct server *server, struct client *client)
{
    if (!server->quiet)
        printf("client %lu disconnected\n", client->number);
    free_client(server, client);
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

    /* Room checked at each line, not once per read: 64 KiB of empty lines
     * make 1.2 MB of answers. */
    while (!client->closing && has_room(client)) {
        result = linebuf_next(&client->reader, &line, &len);
        if (result == LINEBUF_NONE)
            return 0;
        kind = answer_line(result, line, len, answer);
        if (kind != ANSWER_ERROR && !server->quiet) {
            shown_len = utf8_escape_controls(line, len, server->shown);
            printf("client %lu: %.*s\n", client->number, (int)shown_len, server->shown);
        }
        client->closing = (kind == ANSWER_BYE); /* what follows "fin" is never answered */
        outbuf_append(&client->output, answer, strlen(answer));
    }
    return !client->closing; /* no room: lines may wait */
}

/* Answers the client's waiting lines and sends what its socket takes, as
 * long as sending makes room for more, so that no complete line is left in
 * the reader, where select() cannot see it, unless the client is paused.
 * Returns 0, or -1 if the client must go: gone, or done. */
static int serve_client(struct server *server, struct client *client)
{
    int waiting;

    do {
        waiting = answer_lines(server, client);
        if (outbuf_flush(&client->output) == -1)
            return -1; /* EPIPE, ECONNRESET: gone */
    } while (waiting && has_room(client));
    if (client->input_ended && !waiting)
        client->closing = 1; /* every complete line is answered; a last piece without "\n" is not a line */
    return (client->closing && outbuf_pending(&client->output) == 0) ? -1 : 0;
}

/* The client's socket is readable: one read, then its lines. */
static void handle_readable(struct server *server, struct client *client)
{
    ssize_t received = linebuf_fill(&client->reader);

    if (received == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (received == 0)
        client->input_ended = 1; /* end of file: its complete lines are answered, then it is closed */
    /* -1: ECONNRESET and the like, gone. */
    if (received == -1 || serve_client(server, client) == -1)
        drop_client(server, client);
}

/* Creates the record of a newly accepted client, peer its address as text.
 * Returns 0, or -1 (then the caller refuses the connection). */
static int add_client(struct server *server, int fd, const char *peer)
{
    struct client *client;

    if (net_set_nonblocking(fd, 1) == -1)
        return -1;
    client = malloc(sizeof *client); /* its 128 KiB of buffers are touched only as used */
    if (client == NULL)
        return -1;
    client->fd = fd;
    client->number = ++server->next_number;
    client->input_ended = client->closing = 0;
    linebuf_init(&client->reader, fd);
    outbuf_init(&client->output, fd);
    server->clients[fd] = client;
    if (!server->quiet)
        printf("client %lu connected from %s\n", client->number, peer);
    return 0;
}

/* The listening socket is readable: accept the waiting connections (a batch
 * at most, so that clients already connected are served in between). */
static void handle_new_connections(struct server *server)
{
    struct net_loop *loop = &server->loop;
    char peer[NET_PEER_SIZE];
    int fd, i;

    for (i = 0; i < ACCEPT_BATCH; i++) {
        fd = net_accept(loop->listen_fd, peer);
        if (fd != -1) {
            /* select() cannot watch descriptors from FD_SETSIZE on. */
            if (fd >= FD_SETSIZE || add_client(server, fd, peer) == -1)
                net_refuse(fd, SERVER_FULL);
        } else if (errno == EMFILE || errno == ENFILE) {
            /* Out of descriptors: the spare takes the connection to refuse
             * it. Without a spare, stop watching the listener for a while. */
            if (net_refuse_with_spare(loop->listen_fd, &loop->spare_fd, SERVER_FULL) == -1) {
                server->accept_paused = 1;
                return;
            }
        } else if (errno != EINTR && errno != ECONNABORTED) { /* a signal, a client gone before we took it */
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fprintf(stderr, "accept: %s\n", strerror(errno));
            return; /* nobody else is waiting */
        }
    }
}

/* Builds the sets for select() from scratch (select() overwrote them): the
 * self-pipe, the listener unless accepting is paused, each client still
 * reading and each with answers to send. Returns the highest descriptor. */
static int fill_sets(const struct server *server, fd_set *read_set, fd_set *write_set)
{
    const struct client *client;
    int fd, max_fd = server->loop.wake_fds[0];

    FD_ZERO(read_set);
    FD_ZERO(write_set);
    FD_SET(server->loop.wake_fds[0], read_set);
    if (!server->accept_paused)
        FD_SET(server->loop.listen_fd, read_set);
    if (server->loop.listen_fd > max_fd)
        max_fd = server->loop.listen_fd;
    for (fd = 0; fd < FD_SETSIZE; fd++) {
        client = server->clients[fd];
        if (client == NULL)
            continue;
        /* A paused client is not read: TCP holds its lines back. */
        if (!client->input_ended && !client->closing && has_room(client))
            FD_SET(fd, read_set);
        if (outbuf_pending(&client->output) > 0)
            FD_SET(fd, write_set);
        if (fd > max_fd)
            max_fd = fd;
    }
    return max_fd;
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

    for (;;) {
        max_fd = fill_sets(server, &read_set, &write_set);
        /* No timeout: nothing to do until a socket or a signal says so. But
         * with accepting paused, wake within ACCEPT_RETRY_SECONDS anyway: a
         * connection waits, and descriptors may be free with no client gone. */
        retry.tv_sec = ACCEPT_RETRY_SECONDS;
        retry.tv_usec = 0;
        if (select(max_fd + 1, &read_set, &write_set, NULL, server->accept_paused ? &retry : NULL) == -1) {
            if (errno == EINTR)
                continue; /* the self-pipe says whether to stop */
            fprintf(stderr, "select: %s\n", strerror(errno));
            return -1;
        }
        if (FD_ISSET(server->loop.wake_fds[0], &read_set))
            return 0;
        /* Whatever woke us, watch the listener again: if descriptors are
         * still short, one accept() fails and pauses again. */
        server->accept_paused = 0;
        if (FD_ISSET(server->loop.listen_fd, &read_set))
            handle_new_connections(server);
        for (fd = 0; fd <= max_fd; fd++) {
            client = server->clients[fd];
            if (client != NULL && FD_ISSET(fd, &read_set))
                handle_readable(server, client);
            client = server->clients[fd]; /* it may be gone now */
            /* Room to send: more answers go, and if that unpauses the
             * client, its waiting lines are taken again at once. */
            if (client != NULL && FD_ISSET(fd, &write_set) && serve_client(server, client) == -1)
                drop_client(server, client);
        }
    }
}

/* Closes every client (they see end of file) and frees them, without a
 * "disconnected" line: the server stops, they did not leave. */
static void drop_all_clients(struct server *server)
{
    int fd;

    for (fd = 0; fd < FD_SETSIZE; fd++)
        if (server->clients[fd] != NULL)
            free_client(server, server->clients[fd]);
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
