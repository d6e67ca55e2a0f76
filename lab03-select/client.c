/* lab03 client: one select() loop over standard input and the socket.
 * A line typed goes out as soon as its "\n" is read, an answer is printed
 * as soon as it comes: neither side waits for the other any more. What the
 * socket cannot take yet waits in a bounded queue, and standard input is
 * read only while the queue has room. --latin1 as in lab02; the command
 * line and connecting are lab01's, in net.c.
 * Left out on purpose: threads (lab04 does the same with two of them).
 *
 * This is the skeleton: lab02's client is given (arguments, connecting,
 * printing, --latin1), and the "TODO step 6" and "TODO step 7" parts are
 * yours: the loop and what comes from the server (step 6), then what you
 * type (step 7). README.md explains them; the tests named "step 6" and
 * "step 7" check them, and `make hint LAB=03 STEP=6` gives hints.
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

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
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

    /* TODO step 7: add the bytes after the queued ones, converted to UTF-8
     * with --latin1 (utf8_from_latin1(): up to 2 * len bytes). When they
     * would not fit after queued, move the unsent bytes to the front first.
     * Keep lines_end just after the last "\n" queued: sendable_end() lets
     * only whole lines go. (make hint LAB=03 STEP=7) */
    (void)client;
    (void)bytes;
    (void)len;
    (void)start;
    (void)end;
    todo(7, "append input to the queue for the server (queue_input)");
}

/* Returns how many of the len input bytes belong to the session: all of
 * them, or up to and including the "\n" of a "fin" line, after which the
 * input is done. Follows lines across reads with line_start/line_len. */
static size_t take_until_fin(struct client *client, const char *bytes, size_t len)
{
    size_t i, line_len;

    /* TODO step 7: spot a line "fin" (any letter case, a "\r" before its
     * "\n" allowed): it ends the input, and what follows it is never sent.
     * A line may come in two reads: line_start and line_len keep its first
     * bytes from one call to the next. (make hint LAB=03 STEP=7) */
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

    /* TODO step 7: ONE read() of standard input: not stdio, whose buffer
     * select() cannot see. Queue what belongs to the session
     * (take_until_fin(), queue_input()). EINTR: nothing now. End of input,
     * or an error (printed as "read: <reason>"): the input is done, and an
     * unfinished last line still gets its "\n". (make hint LAB=03 STEP=7) */
    (void)client;
    (void)bytes;
    (void)len;
    (void)queue_input;
    (void)take_until_fin;
    todo(7, "read standard input once and queue it (handle_input)");
}

/* Sends what the socket takes of the queue, up to sendable_end(). Returns
 * 0, or -1 if the server is gone. */
static int flush_queue(struct client *client)
{
    size_t end = sendable_end(client);
    ssize_t sent;

    /* TODO step 7: as the server's outbuf_flush(), but only up to end:
     * send() what the socket takes and never wait. EAGAIN: the rest waits
     * for select(); another error: the server is gone.
     * (make hint LAB=03 STEP=7) */
    (void)client;
    (void)end;
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
    enum linebuf_result result;
    ssize_t received;

    /* TODO step 6: ONE linebuf_fill() from the server, then print every
     * complete line the reader holds (print_line(); skip an over-long one:
     * no server of the course sends one), and remember whether the last
     * was "bye"; then the prompt again. Nothing after all (EAGAIN, EINTR):
     * 0. End of file or an error: the server closed, -1.
     * (make hint LAB=03 STEP=6) */
    (void)client;
    (void)line;
    (void)len;
    (void)result;
    (void)received;
    (void)print_line;
    (void)prompt;
    todo(6, "read the server once and print every complete line (handle_answers)");
    return -1;
}

/* The loop: wait for standard input or the server, whichever comes first.
 * Returns 0 when the server closes, -1 if select() failed (after printing
 * why). */
static int talk(struct client *client)
{
    fd_set read_set, write_set;
    int max_fd = client->server_fd > STDIN_FILENO ? client->server_fd : STDIN_FILENO;

    /* TODO step 6: one select() loop over the server and standard input,
     * until the server closes. The server is always watched for reading:
     * it may close at any time, even while you type nothing. Standard
     * input only while the input is not done and the queue has room; the
     * server for writing while something is sendable (sendable_end()).
     * Serve what select() reports (handle_answers(), flush_queue(),
     * handle_input() then a flush_queue() at once). Once the input is done
     * and all of it sent, half-close (shutdown(SHUT_WR)), once. At the end
     * print "connection closed by server" unless that end was expected
     * (after "bye", or after our own end of input) and return 0; a
     * select() failure other than EINTR prints "select: <reason>", -1.
     * (make hint LAB=03 STEP=6) */
    (void)read_set;
    (void)write_set;
    (void)max_fd;
    (void)prompt;
    (void)has_room;
    (void)handle_answers;
    (void)flush_queue;
    (void)handle_input;
    todo(6, "the select() loop over standard input and the server (talk)");
    return -1;
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
