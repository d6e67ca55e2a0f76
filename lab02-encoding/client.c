/* lab02 client: lab01's turn-by-turn client, now framing bytes itself.
 * Answers go through the same line reader as the server's (linebuf.c), every
 * line goes out in one piece with its newline through the send loop (net.c),
 * and --latin1 converts between a Latin-1 terminal and the UTF-8 wire
 * (utf8.c).
 * Left out on purpose: reading and printing at the same time (lab03, lab04).
 *
 * This is the skeleton: the set-up (net.c) and the dialogue's frame are
 * given, with the --latin1 option; each "TODO step N" is yours to write, in
 * order. README.md explains every step; the tests named "step N" check it;
 * `make hint LAB=02` gives hints, one level more at each call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"
#include "net.h"
#include "utf8.h"

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* Sends one line of input (len bytes, without its "\n") as a UTF-8 line,
 * converting it from Latin-1 first if asked. The line and its "\n" go in
 * one send_all(): sent apart, each "\n" would wait for the server's ACK of
 * the line (Nagle's algorithm, about 40 ms a line). line[len] must be
 * writable: getline() always leaves room there for its NUL.
 * Returns 0, or -1 with errno set. */
static int send_line(int server_fd, char *line, size_t len, int latin1)
{
    char *utf8;
    size_t utf8_len;
    int status;

    if (!latin1) {
        /* TODO step 6 (README step 6): send the line and its '\n' in ONE
         * send_all(): sent apart, each '\n' waits about 40 ms for the
         * server's ACK (README, step 6). The comment above says where the
         * '\n' fits. Returns what send_all() returns.
         * (make hint LAB=02 STEP=6) */
        (void)server_fd;
        (void)line;
        (void)len;
        todo(6, "send the line and its newline in one piece (send_line)");
        return -1;
    }
    /* TODO step 7 (README step 7): --latin1: convert the line with
     * utf8_from_latin1() into a buffer of your own (malloc(): the text
     * grows, so never in place), add the '\n', send it in one send_all()
     * and free the buffer. Returns 0, or -1 with errno set (no memory, or
     * the send failed). (make hint LAB=02 STEP=7) */
    (void)utf8;
    (void)utf8_len;
    (void)status;
    todo(7, "convert the line from Latin-1 before sending it (send_line)");
    return -1;
}

/* Prints one line from the server, converted to Latin-1 if asked. */
static void print_line(const char *line, size_t len, int latin1)
{
    char converted[LINEBUF_SIZE]; /* a line from the reader is never longer */

    if (latin1) {
        /* TODO step 7 (README step 7): --latin1: convert the answer with
         * utf8_to_latin1() into converted, and print that instead.
         * (make hint LAB=02 STEP=7) */
        (void)converted;
        todo(7, "convert the answer to Latin-1 before printing it (print_line)");
    }
    fwrite(line, 1, len, stdout);
    putchar('\n');
}

/* Prints what the server still sends after our side is done, until it
 * closes (end of file or reset). */
static void print_until_closed(struct linebuf *from_server, int latin1)
{
    const char *line;
    size_t len;
    int result;

    /* TODO step 6 (README step 6): our side is done (talk() half-closed
     * the connection): print_line() each line the server still sends,
     * read with linebuf_read_line(), until it closes (end of file) or
     * resets. An over-long line has nothing to print: skip it.
     * (make hint LAB=02 STEP=6) */
    (void)from_server;
    (void)latin1;
    (void)line;
    (void)len;
    (void)result;
    todo(6, "print the server's lines until it closes (print_until_closed)");
}

/* The dialogue: a line from the user, the line to the server, the answer to
 * the screen, until "bye", the end of the input or the server's close.
 * Returns 0, or -1 if a line could not be sent for a reason of our own
 * (then it printed why). */
static int talk(int server_fd, int latin1)
{
    struct linebuf from_server; /* 64 KiB: fine on the main thread's stack */
    char *input = NULL;
    size_t input_capacity = 0, len, answer_len;
    ssize_t input_len;
    const char *answer;
    int result, status = 0, interactive = isatty(STDIN_FILENO);

    linebuf_init(&from_server, server_fd);
    for (;;) {
        if (interactive) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        input_len = getline(&input, &input_capacity, stdin);
        if (input_len == -1) {
            /* End of input: tell the server, then let it close first. */
            shutdown(server_fd, SHUT_WR);
            print_until_closed(&from_server, latin1);
            break;
        }
        len = (size_t)input_len;
        if (len > 0 && input[len - 1] == '\n')
            len--;
        /* TODO step 6 (README step 6): one turn: send_line() the len bytes
         * of input, read ONE answer with linebuf_read_line(), print_line()
         * it. Then:
         *  - the server gone (the send fails with EPIPE or ECONNRESET; end
         *    of file or a reset while reading): print "connection closed
         *    by server", and the dialogue ends;
         *  - any other failed send is ours: say why on stderr, status -1,
         *    end;
         *  - an answer over the limit: say so on stderr, go on;
         *  - the answer "bye" (3 bytes, not a string): the dialogue ends.
         * (make hint LAB=02 STEP=6) */
        (void)answer;
        (void)answer_len;
        (void)result;
        (void)send_line;
        (void)print_line;
        todo(6, "send the line, read one answer with the line reader, print it (talk)");
    }
    free(input);
    return status;
}

int main(int argc, char *argv[])
{
    struct net_client_args args;
    char error[256];
    int server_fd, status;

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
    server_fd = net_connect(args.host, args.port, error, sizeof error);
    if (server_fd == -1) {
        fprintf(stderr, "%s\n", error);
        return 1;
    }
    printf("connected to %s:%ld\n", args.host, args.port);

    status = talk(server_fd, args.latin1);
    close(server_fd);
    return status == 0 ? 0 : 1;
}
