/* lab03 client: one select() loop over standard input and the socket.
 * A line typed goes out as soon as its "\n" is read, an answer is printed
 * as soon as it comes: neither side waits for the other any more. What the
 * socket cannot take yet waits in a bounded queue, and standard input is
 * read only while the queue has room. --latin1 as in lab02; the command
 * line and connecting are lab01's, in net.c.
 * Left out on purpose: threads (lab04 does the same with two of them).
 */
#include <errno.h>
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

#define INPUT_CHUNK 4096         /* bytes read from standard input at a time */
#define QUEUE_SIZE (16 * INPUT_CHUNK) /* bytes waiting for the socket, at most */

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
    size_t lines_end;            /* queue[..lines_end) ends with a "\n": whole lines */
    char line_start[4];          /* the first bytes of the line being typed ("fin\r" at most)... */
    size_t line_len;             /* ...and its length so far, to spot "fin" */
    struct linebuf from_server;
};

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

/* Returns 1 while the queue has room for one more read of input, converted
 * (each Latin-1 byte may take two bytes of UTF-8). */
static int has_room(const struct client *client)
{
    return client->queued - client->sent + 2 * INPUT_CHUNK <= QUEUE_SIZE;
}

/* Returns where sending must stop for now: after the last whole line, so
 * that a line leaves in one send() with its "\n" (sent apart, the "\n"
 * would wait for the server's ACK of the first piece: Nagle's algorithm).
 * Everything may go once the input is done, and a piece so long that it
 * fills the queue goes as it is (no room would be left to read its end). */
static size_t sendable_end(const struct client *client)
{
    if (client->input_done || (client->lines_end <= client->sent && !has_room(client)))
        return client->queued;
    return client->lines_end;
}

/* Appends input bytes to the queue for the server (converted to UTF-8 if
 * asked). The caller made sure there is room: 2 * len bytes. */
static void queue_input(struct client *client, const char *bytes, size_t len)
{
    size_t start, end;

    if (client->sent == client->queued) {
        client->sent = client->queued = client->lines_end = 0;
    } else if (client->queued + 2 * len > QUEUE_SIZE) {
        memmove(client->queue, client->queue + client->sent, client->queued - client->sent);
        client->lines_end = client->lines_end > client->sent ? client->lines_end - client->sent : 0;
        client->queued -= client->sent;
        client->sent = 0;
    }
    start = client->queued;
    if (client->latin1) {
        client->queued += utf8_from_latin1(bytes, len, client->queue + client->queued);
    } else {
        memcpy(client->queue + client->queued, bytes, len);
        client->queued += len;
    }
    for (end = client->queued; end > start; end--) {
        if (client->queue[end - 1] == '\n') {
            client->lines_end = end;
            break;
        }
    }
}

/* Returns how many of the len input bytes belong to the session: all of
 * them, or up to and including the "\n" of a "fin" line, after which the
 * input is done. Follows lines across reads with line_start/line_len. */
static size_t take_until_fin(struct client *client, const char *bytes, size_t len)
{
    size_t i, line_len;

    for (i = 0; i < len; i++) {
        if (bytes[i] != '\n') {
            if (client->line_len < sizeof client->line_start)
                client->line_start[client->line_len] = bytes[i];
            client->line_len++;
            continue;
        }
        line_len = client->line_len;
        if (line_len > 0 && line_len <= sizeof client->line_start
            && client->line_start[line_len - 1] == '\r')
            line_len--;
        client->line_len = 0;
        if (line_len == strlen("fin") && strncasecmp(client->line_start, "fin", line_len) == 0) {
            client->input_done = 1;
            return i + 1;
        }
    }
    return len;
}

/* Standard input is readable: one read, queued for the server. */
static void handle_input(struct client *client)
{
    char bytes[INPUT_CHUNK];
    ssize_t len = read(STDIN_FILENO, bytes, sizeof bytes);

    if (len == -1 && errno == EINTR)
        return;
    if (len <= 0) {
        if (len == -1)
            fprintf(stderr, "read: %s\n", strerror(errno));
        client->input_done = 1; /* end of input */
        if (client->line_len > 0)
            queue_input(client, "\n", 1); /* a last piece without "\n" is a line too */
        return;
    }
    queue_input(client, bytes, take_until_fin(client, bytes, (size_t)len));
}

/* Sends what the socket takes of the queue, up to sendable_end(). Returns
 * 0, or -1 if the server is gone. */
static int flush_queue(struct client *client)
{
    size_t end = sendable_end(client);
    ssize_t sent;

    while (client->sent < end) {
        sent = send(client->server_fd, client->queue + client->sent, end - client->sent, 0);
        if (sent == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        client->sent += (size_t)sent;
    }
    return 0;
}

/* The socket is readable: one read, every complete line printed. Returns 0,
 * or -1 when the server closed the connection (end of file or reset). */
static int handle_answers(struct client *client)
{
    const char *line;
    size_t len;
    enum linebuf_result result;
    ssize_t received = linebuf_fill(&client->from_server);

    if (received == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (received <= 0)
        return -1;
    while ((result = linebuf_next(&client->from_server, &line, &len)) != LINEBUF_NONE) {
        if (result != LINEBUF_LINE)
            continue; /* no server of the course sends lines that long */
        print_line(line, len, client->latin1);
        client->bye_received = len == strlen("bye") && memcmp(line, "bye", len) == 0;
    }
    prompt(client);
    return 0;
}

/* The loop: wait for standard input or the server, whichever comes first.
 * Returns 0 when the server closes, -1 if select() failed (after printing
 * why). */
static int talk(struct client *client)
{
    fd_set read_set, write_set;
    int max_fd = client->server_fd > STDIN_FILENO ? client->server_fd : STDIN_FILENO;

    prompt(client);
    for (;;) {
        /* Input done and all of it sent: tell the server, once. */
        if (client->input_done && client->sent == client->queued && !client->write_shut) {
            shutdown(client->server_fd, SHUT_WR);
            client->write_shut = 1;
        }
        FD_ZERO(&read_set);
        FD_ZERO(&write_set);
        FD_SET(client->server_fd, &read_set);
        if (!client->input_done && has_room(client))
            FD_SET(STDIN_FILENO, &read_set);
        if (client->sent < sendable_end(client))
            FD_SET(client->server_fd, &write_set);

        if (select(max_fd + 1, &read_set, &write_set, NULL, NULL) == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "select: %s\n", strerror(errno));
            return -1;
        }
        if (FD_ISSET(client->server_fd, &read_set) && handle_answers(client) == -1)
            break;
        if (FD_ISSET(client->server_fd, &write_set) && flush_queue(client) == -1)
            break;
        if (FD_ISSET(STDIN_FILENO, &read_set)) {
            handle_input(client);
            if (flush_queue(client) == -1) /* most of the time it all goes now */
                break;
        }
    }
    /* The server closed. Expected after "bye" or after our own end. */
    if (!client->bye_received && !client->input_done)
        puts("connection closed by server");
    return 0;
}

int main(int argc, char *argv[])
{
    static struct client client; /* its buffers are big: kept off the stack */
    struct net_client_args args;
    char error[256];
    int status;

    switch (net_client_args(argc, argv, &args)) {
    case NET_ARGS_HELP:
        net_client_usage(stdout, argv[0], NULL);
        return 0;
    case NET_ARGS_BAD:
        net_client_usage(stderr, argv[0], args.bad);
        return 2;
    case NET_ARGS_OK:
        break;
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A server that closed while we send gives EPIPE, not a silent death. */
    if (net_catch_signals(NULL) == -1) {
        fprintf(stderr, "sigaction: %s\n", strerror(errno));
        return 1;
    }
    client.server_fd = net_connect(args.host, args.port, error, sizeof error);
    if (client.server_fd == -1) {
        fprintf(stderr, "%s\n", error);
        return 1;
    }
    printf("connected to %s:%ld\n", args.host, args.port);
    /* Non-blocking: a send() that waits would stop the printing too. */
    if (net_set_nonblocking(client.server_fd, 1) == -1) {
        fprintf(stderr, "fcntl: %s\n", strerror(errno));
        close(client.server_fd);
        return 1;
    }
    client.latin1 = args.latin1;
    client.interactive = isatty(STDIN_FILENO);
    linebuf_init(&client.from_server, client.server_fd);
    status = talk(&client) == 0 ? 0 : 1;
    close(client.server_fd);
    return status;
}
