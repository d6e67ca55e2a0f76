/* lab03 server: many clients at once, in one thread, with select().
 * Every socket is non-blocking; each client has its own line reader and its
 * own queue of answers, so a slow, silent or vanished client never holds up
 * the others. The loop sleeps in select() until a socket or a signal needs
 * it: no timeout, no polling. Framing and UTF-8 answers are lab02's.
 * Left out on purpose: threads (lab04), poll() and epoll (see the README).
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
    if (!server->quiet)
        printf("client %lu disconnected\n", client->number);
    server->clients[client->fd] = NULL;
    server->accept_paused = 0; /* a descriptor is free again */
    close(client->fd);
    free(client->output);
    free(client);
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

/* Appends len bytes to the client's queue. Returns 0, or -1 if the queue
 * would pass OUTPUT_LIMIT (a client that does not read its answers) or
 * memory ran out: the caller drops the client. */
static int queue_output(struct client *client, const char *text, size_t len)
{
    size_t needed, capacity;
    char *grown;

    if (client->queued - client->sent + len > OUTPUT_LIMIT)
        return -1;
    if (client->sent > 0 && client->queued + len > client->capacity) {
        /* Reuse the room of what was sent before growing. */
        memmove(client->output, client->output + client->sent, client->queued - client->sent);
        client->queued -= client->sent;
        client->sent = 0;
    }
    needed = client->queued + len;
    if (needed > client->capacity) {
        capacity = client->capacity == 0 ? 4096 : client->capacity;
        while (capacity < needed)
            capacity *= 2;
        grown = realloc(client->output, capacity);
        if (grown == NULL)
            return -1;
        client->output = grown;
        client->capacity = capacity;
    }
    memcpy(client->output + client->queued, text, len);
    client->queued += len;
    return 0;
}

/* Answers every complete line in the client's reader, as lab02 does.
 * Returns 0, or -1 if the client must be dropped. */
static int answer_lines(struct server *server, struct client *client)
{
    const char *line;
    size_t len, chars, error_at;
    char answer[ANSWER_SIZE];
    int result, answer_len;

    while (!client->closing && (result = linebuf_next(&client->reader, &line, &len)) != LINEBUF_NONE) {
        if (result == LINEBUF_TOO_LONG) {
            answer_len = snprintf(answer, sizeof answer, "ERR line too long\n");
        } else if (!utf8_check(line, len, &chars, &error_at)) {
            answer_len = snprintf(answer, sizeof answer, "ERR invalid UTF-8 at byte %zu\n", error_at);
        } else {
            if (!server->quiet) {
                printf("client %lu: ", client->number);
                fwrite(line, 1, len, stdout);
                putchar('\n');
            }
            if (is_fin(line, len)) {
                answer_len = snprintf(answer, sizeof answer, "bye\n");
                client->closing = 1; /* what follows "fin" is ignored */
            } else {
                answer_len = snprintf(answer, sizeof answer, "OK %zu bytes %zu chars\n", len, chars);
            }
        }
        if (queue_output(client, answer, (size_t)answer_len) == -1) {
            /* Full: maybe the socket takes some now; if not, the client does
             * not read its answers and is dropped. */
            if (flush_output(client) == -1 || queue_output(client, answer, (size_t)answer_len) == -1)
                return -1;
        }
    }
    return 0;
}

/* The client's socket is readable: one read, then every complete line. */
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
        client->closing = 1; /* end of file: answer what came, then close */
    if (answer_lines(server, client) == -1 || flush_output(client) == -1
        || (client->closing && client->queued == 0))
        drop_client(server, client);
}

/* The client's socket has room: send more of its queue. */
static void handle_writable(struct server *server, struct client *client)
{
    if (flush_output(client) == -1 || (client->closing && client->queued == 0))
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
 * Without a spare, stop watching the listening socket until a client leaves. */
static void refuse_without_descriptors(struct server *server)
{
    int fd;

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

/* Creates the record of a newly accepted client. Returns 0, or -1 (then
 * the caller refuses the connection). */
static int add_client(struct server *server, int fd, const struct sockaddr_in *peer)
{
    struct client *client;
    char ip[INET_ADDRSTRLEN];

    if (set_nonblocking(fd) == -1)
        return -1;
    client = malloc(sizeof *client); /* the reader's 64 KiB are touched only as used */
    if (client == NULL)
        return -1;
    client->fd = fd;
    client->number = ++server->next_number;
    client->closing = 0;
    client->output = NULL;
    client->sent = client->queued = client->capacity = 0;
    linebuf_init(&client->reader, fd);
    server->clients[fd] = client;
    if (!server->quiet) {
        inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof ip);
        printf("client %lu connected from %s:%d\n", client->number, ip, ntohs(peer->sin_port));
    }
    return 0;
}

/* The listening socket is readable: accept the waiting connections (a batch
 * at most, so that clients already connected are served in between). */
static void handle_new_connections(struct server *server)
{
    struct sockaddr_in peer;
    socklen_t peer_len;
    int fd, i;

    for (i = 0; i < ACCEPT_BATCH; i++) {
        peer_len = sizeof peer;
        fd = accept(server->listen_fd, (struct sockaddr *)&peer, &peer_len);
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
        if (fd >= FD_SETSIZE || add_client(server, fd, &peer) == -1)
            refuse(fd);
    }
}

/* The loop: wait in select() for any socket or a signal, serve what is
 * ready, again. Returns 0 when a stop signal arrived, -1 if select() failed
 * (after printing why). */
static int serve(struct server *server)
{
    fd_set read_set, write_set;
    struct client *client;
    int max_fd, fd, ready;

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
            if (!client->closing)
                FD_SET(fd, &read_set);
            if (client->queued > client->sent)
                FD_SET(fd, &write_set);
            if (fd > max_fd)
                max_fd = fd;
        }

        ready = select(max_fd + 1, &read_set, &write_set, NULL, NULL);
        if (ready == -1) {
            if (errno == EINTR)
                continue; /* the self-pipe says whether to stop */
            fprintf(stderr, "select: %s\n", strerror(errno));
            return -1;
        }
        if (FD_ISSET(server->signal_fd, &read_set))
            return 0;
        if (!server->accept_paused && FD_ISSET(server->listen_fd, &read_set))
            handle_new_connections(server);
        for (fd = 0; fd <= max_fd; fd++) {
            client = server->clients[fd];
            if (client != NULL && FD_ISSET(fd, &read_set))
                handle_readable(server, client);
            client = server->clients[fd]; /* it may be gone now */
            if (client != NULL && FD_ISSET(fd, &write_set))
                handle_writable(server, client);
        }
    }
}

/* Closes every client (they see end of file) and frees them. */
static void drop_all_clients(struct server *server)
{
    int fd;

    for (fd = 0; fd < FD_SETSIZE; fd++) {
        if (server->clients[fd] != NULL) {
            close(fd);
            free(server->clients[fd]->output);
            free(server->clients[fd]);
            server->clients[fd] = NULL;
        }
    }
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
