/* lab03 client: one select() loop over standard input and the socket.
 * A line typed goes out at once, an answer is printed as soon as it comes:
 * neither side waits for the other any more. What the socket cannot take
 * yet waits in a bounded queue, and standard input is read only while the
 * queue has room. --latin1 as in lab02.
 * Left out on purpose: threads (lab04 does the same with two of them).
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
    if (client->sent == client->queued)
        client->sent = client->queued = 0;
    else if (client->queued + 2 * len > QUEUE_SIZE) {
        memmove(client->queue, client->queue + client->sent, client->queued - client->sent);
        client->queued -= client->sent;
        client->sent = 0;
    }
    if (client->latin1) {
        client->queued += utf8_from_latin1(bytes, len, client->queue + client->queued);
    } else {
        memcpy(client->queue + client->queued, bytes, len);
        client->queued += len;
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
        if (line_len == 3 && strncasecmp(client->line_start, "fin", 3) == 0) {
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
        return;
    }
    queue_input(client, bytes, take_until_fin(client, bytes, (size_t)len));
}

/* Sends what the socket takes of the queue. Returns 0, or -1 if the server
 * is gone. */
static int flush_queue(struct client *client)
{
    ssize_t sent;

    while (client->sent < client->queued) {
        sent = send(client->server_fd, client->queue + client->sent, client->queued - client->sent, 0);
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
    int result;
    ssize_t received = linebuf_fill(&client->from_server);

    if (received == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (received <= 0)
        return -1;
    while ((result = linebuf_next(&client->from_server, &line, &len)) != LINEBUF_NONE) {
        if (result != LINEBUF_LINE)
            continue; /* no server of the course sends lines that long */
        print_line(line, len, client->latin1);
        client->bye_received = len == 3 && memcmp(line, "bye", 3) == 0;
    }
    prompt(client);
    return 0;
}

/* The loop: wait for standard input or the server, whichever comes first.
 * Returns when the server closes. */
static void talk(struct client *client)
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
        /* Read input only while the queue has room for it, converted. */
        if (!client->input_done && client->queued - client->sent + 2 * INPUT_CHUNK <= QUEUE_SIZE)
            FD_SET(STDIN_FILENO, &read_set);
        if (client->sent < client->queued)
            FD_SET(client->server_fd, &write_set);

        if (select(max_fd + 1, &read_set, &write_set, NULL, NULL) == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "select: %s\n", strerror(errno));
            return;
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
