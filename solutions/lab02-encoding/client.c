/* lab02 client: lab01's turn-by-turn client, now framing bytes itself.
 * Answers go through the same line reader as the server's (linebuf.c), every
 * line goes out in one piece with its newline through the send loop (net.c),
 * and --latin1 converts between a Latin-1 terminal and the UTF-8 wire
 * (utf8.c).
 * Left out on purpose: reading and printing at the same time (lab03, lab04).
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
        line[len] = '\n';
        return send_all(server_fd, line, len + 1);
    }
    utf8 = malloc(2 * len + 1); /* each Latin-1 byte takes at most 2 bytes */
    if (utf8 == NULL)
        return -1;
    utf8_len = utf8_from_latin1(line, len, utf8);
    utf8[utf8_len++] = '\n';
    status = send_all(server_fd, utf8, utf8_len);
    free(utf8);
    return status;
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

/* Prints what the server still sends after our side is done, until it
 * closes (end of file or reset). */
static void print_until_closed(struct linebuf *from_server, int latin1)
{
    const char *line;
    size_t len;
    int result;

    while ((result = linebuf_read_line(from_server, &line, &len)) > 0) {
        if (result == LINEBUF_LINE)
            print_line(line, len, latin1);
    }
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
        if (send_line(server_fd, input, len, latin1) == -1) {
            if (errno == EPIPE || errno == ECONNRESET) {
                puts("connection closed by server");
            } else { /* our own failure: ENOMEM from --latin1's buffer */
                fprintf(stderr, "send: %s\n", strerror(errno));
                status = -1;
            }
            break;
        }
        result = linebuf_read_line(&from_server, &answer, &answer_len);
        if (result <= 0) { /* end of file, or a reset */
            puts("connection closed by server");
            break;
        }
        if (result == LINEBUF_TOO_LONG) {
            /* No server of the course sends one; its rest is dropped. */
            fputs("an answer over 65536 bytes: not printed\n", stderr);
            continue;
        }
        print_line(answer, answer_len, latin1);
        if (answer_len == 3 && memcmp(answer, "bye", 3) == 0)
            break; /* our "fin" was accepted */
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
