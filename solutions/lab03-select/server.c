/* lab03 server: many clients at once, in one thread, with select().
 * Every client socket is non-blocking; each client has its own line reader
 * and its own bounded queue of answers. A client whose answers pile up
 * unread is paused (its lines wait) while the others are served. The loop
 * sleeps in select() until a socket or a signal needs it: no timeout, no
 * polling (but a retry a second while out of descriptors). Framing and
 * UTF-8 answers are lab02's; lab01's set-up (command line, listening
 * socket, accept, signals) is in net.c.
 * Left out on purpose: threads (lab04), poll() and epoll (see the README).
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

/* SIGINT/SIGTERM: wake the select() loop. write() is async-signal-safe; a
 * full pipe already holds a wake-up, so its error is ignored. */
static void on_stop_signal(int signo)
{
    int saved_errno = errno;
    char byte = (char)signo;
    ssize_t written = write(signal_pipe[1], &byte, 1);

    (void)written;
    errno = saved_errno;
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

/* Sends as much of the client's queue as its socket takes now. Returns 0,
 * or -1 if the client is gone (then the caller drops it). */
static int flush_output(struct client *client)
{
    ssize_t sent;

    while (client->sent < client->queued) {
        sent = send(client->fd, client->output + client->sent, client->queued - client->sent, 0);
        if (sent == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0; /* select() tells when there is room again */
            return -1;    /* EPIPE, ECONNRESET: gone */
        }
        client->sent += (size_t)sent;
    }
    client->sent = client->queued = 0;
    return 0;
}

/* Appends len bytes to the client's queue. has_room() said they fit: the
 * unsent bytes, moved to the front if need be, leave room for them. */
static void queue_output(struct client *client, const char *text, size_t len)
{
    if (client->queued + len > OUTPUT_LIMIT) {
        memmove(client->output, client->output + client->sent, client->queued - client->sent);
        client->queued -= client->sent;
        client->sent = 0;
    }
    memcpy(client->output + client->queued, text, len);
    client->queued += len;
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

    while (!client->closing) {
        /* Checked at each line, not once per read: 64 KiB of empty lines
         * make 1.2 MB of answers. */
        if (!has_room(client))
            return 1;
        result = linebuf_next(&client->reader, &line, &len);
        if (result == LINEBUF_NONE)
            return 0;
        answer_len = answer_line(server, client, result, line, len, answer);
        queue_output(client, answer, (size_t)answer_len);
    }
    return 0;
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
        if (flush_output(client) == -1)
            return -1;
    } while (waiting && has_room(client));
    if (client->input_ended && !waiting)
        client->closing = 1; /* every complete line is answered; a last piece without "\n" is not a line */
    return client->closing && client->sent == client->queued ? -1 : 0;
}

/* The client's socket is readable: one read, then its lines. */
static void handle_readable(struct server *server, struct client *client)
{
    ssize_t received = linebuf_fill(&client->reader);

    if (received == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (received == -1) {
        drop_client(server, client); /* ECONNRESET and the like: gone */
        return;
    }
    if (received == 0)
        client->input_ended = 1; /* end of file: its complete lines are answered, then it is closed */
    if (serve_client(server, client) == -1)
        drop_client(server, client);
}

/* Tells a connection we cannot serve why, and closes it. */
static void refuse(int fd)
{
    static const char message[] = "ERR server full\n";

    /* A few bytes on a brand-new socket: send() takes them at once. */
    send_all(fd, message, sizeof message - 1);
    close(fd);
}

/* Out of descriptors (EMFILE): the pending connection stays in the queue
 * and would wake select() again and again. Free the spare descriptor,
 * accept the connection with it and refuse it, then take the spare back.
 * Without a spare, stop watching the listening socket for a while (serve()). */
static void refuse_without_descriptors(struct server *server)
{
    int fd;

    if (server->spare_fd == -1) /* lost last time: maybe there is room now */
        server->spare_fd = open("/dev/null", O_RDONLY);
    if (server->spare_fd == -1) {
        server->accept_paused = 1;
        return;
    }
    close(server->spare_fd);
    fd = accept(server->listen_fd, NULL, NULL);
    if (fd >= 0)
        refuse(fd);
    server->spare_fd = open("/dev/null", O_RDONLY);
    if (server->spare_fd == -1)
        server->accept_paused = 1;
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
    client->input_ended = 0;
    client->closing = 0;
    client->sent = client->queued = 0;
    linebuf_init(&client->reader, fd);
    server->clients[fd] = client;
    if (!server->quiet)
        printf("client %lu connected from %s\n", client->number, peer);
    return 0;
}

/* The listening socket is readable: accept the waiting connections (a batch
 * at most, so that clients already connected are served in between). */
static void handle_new_connections(struct server *server)
{
    char peer[NET_PEER_SIZE];
    int fd, i;

    for (i = 0; i < ACCEPT_BATCH; i++) {
        fd = net_accept(server->listen_fd, peer);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue; /* a signal, or a client gone before we took it */
            if (errno == EMFILE || errno == ENFILE) {
                refuse_without_descriptors(server);
                if (server->accept_paused)
                    return;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fprintf(stderr, "accept: %s\n", strerror(errno));
            return; /* nobody else is waiting */
        }
        /* select() cannot watch descriptors from FD_SETSIZE on. */
        if (fd >= FD_SETSIZE || add_client(server, fd, peer) == -1)
            refuse(fd);
    }
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
        /* select() changes the sets: build them again each time. */
        FD_ZERO(&read_set);
        FD_ZERO(&write_set);
        FD_SET(server->signal_fd, &read_set);
        max_fd = server->signal_fd;
        if (!server->accept_paused) {
            FD_SET(server->listen_fd, &read_set);
            if (server->listen_fd > max_fd)
                max_fd = server->listen_fd;
        }
        for (fd = 0; fd < FD_SETSIZE; fd++) {
            client = server->clients[fd];
            if (client == NULL)
                continue;
            /* A paused client is not read: TCP holds its lines back. */
            if (!client->input_ended && !client->closing && has_room(client))
                FD_SET(fd, &read_set);
            if (client->queued > client->sent)
                FD_SET(fd, &write_set);
            if (fd > max_fd)
                max_fd = fd;
        }

        /* No timeout: nothing to do until a socket or a signal says so.
         * But with accepting paused, a connection waits that the unwatched
         * listener cannot announce: wake within ACCEPT_RETRY_SECONDS anyway
         * (descriptors may be free without any client leaving). */
        retry.tv_sec = ACCEPT_RETRY_SECONDS;
        retry.tv_usec = 0;
        if (select(max_fd + 1, &read_set, &write_set, NULL, server->accept_paused ? &retry : NULL) == -1) {
            if (errno == EINTR)
                continue; /* the self-pipe says whether to stop */
            fprintf(stderr, "select: %s\n", strerror(errno));
            return -1;
        }
        if (FD_ISSET(server->signal_fd, &read_set))
            return 0;
        /* Whatever woke us, watch the listener again: if descriptors are
         * still short, one accept() fails and pauses again. */
        server->accept_paused = 0;
        if (FD_ISSET(server->listen_fd, &read_set))
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
