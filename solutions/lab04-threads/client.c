/* lab04 client: two threads. The main thread sends what standard input
 * gives, line by line; the receiver thread prints what the server sends as
 * soon as it arrives, control characters shown as \xNN. They stop together,
 * whichever ends first, without killing or cancelling anyone: the receiver
 * wakes the main thread through a pipe. --latin1 as in lab02; the command
 * line and connect() are net.c's. No prompt: others' lines would cut into it.
 */
#include <errno.h>
#include <pthread.h>
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

/* Standard input waiting to be sent: room for the longest line, its "\r\n",
 * and the "\n" given to an unterminated last line. */
#define INPUT_SIZE (LINEBUF_SIZE + 1)

/* Bytes from the server not printed yet: room for the longest line a lab04
 * server sends, a relayed line (LINE_MAX_BYTES after "client-K> ", K an
 * unsigned long: 20 digits at most), its "\r" and its "\n". linebuf.c holds
 * a line that a client may send, without the prefix: too short here. */
#define SERVER_LINE_MAX (sizeof "client-18446744073709551615> " - 1 + LINE_MAX_BYTES)
#define RECEIVE_SIZE (SERVER_LINE_MAX + 2)

/* What both threads share. */
struct session {
    int server_fd;
    int latin1;
    int wake_pipe[2];            /* the receiver writes here when the server closed */
    pthread_mutex_t lock;        /* guards input_done */
    int input_done;              /* we sent "fin" or our end of input */
    /* The receiver thread's only: received[start..fill) is not printed yet,
     * and received[start..scanned) holds no "\n" (never searched twice). */
    char received[RECEIVE_SIZE];
    size_t start, scanned, fill;
    int line_cut;                /* the line being received is partly printed */
    int bye;                     /* the last line printed was "bye" */
    char escaped[UTF8_ESCAPED_SIZE(RECEIVE_SIZE)];   /* a line made safe to show */
    char converted[UTF8_ESCAPED_SIZE(RECEIVE_SIZE)]; /* the same in Latin-1 */
    /* The main thread's only: input read but not sent yet (the start of a
     * line), and what take_until_fin() knows of the line being typed. */
    char input[INPUT_SIZE];
    size_t input_len;
    char line_start[4];
    size_t line_len;
    char utf8[2 * INPUT_SIZE];   /* input converted, with --latin1 */
};

/* Prints len bytes from the server, then a "\n" if end_of_line. Control
 * characters become \xNN judged on the bytes received (converted first, an
 * invalid byte would be a mere '?'); only then does --latin1 convert them. */
static void print_text(struct session *session, const char *text, size_t len, int end_of_line)
{
    len = utf8_escape_controls(text, len, session->escaped);
    if (session->latin1)
        len = utf8_to_latin1(session->escaped, len, session->converted);
    fwrite(session->latin1 ? session->converted : session->escaped, 1, len, stdout);
    if (end_of_line)
        putchar('\n');
}

/* Prints every complete line in session->received, noting whether the last
 * was "bye". A line longer than SERVER_LINE_MAX (a broken server) is shown
 * all the same, in bounded memory: when the buffer is full with no "\n", all
 * of it but the last byte (maybe a "\r" before "\n") is printed with no "\n",
 * and the line goes on from there (a character cut there shows as \xNN). */
static void print_received(struct session *session)
{
    char *data = session->received, *newline;
    size_t len;

    while (session->start < session->fill) {
        newline = memchr(data + session->scanned, '\n', session->fill - session->scanned);
        len = session->fill - session->start;
        if (newline == NULL) {
            session->scanned = session->fill;
            if (len < RECEIVE_SIZE)
                return; /* the rest of the line is still coming */
            print_text(session, data + session->start, len - 1, 0);
            session->start += len - 1;
            session->line_cut = 1;
            continue;
        }
        len = (size_t)(newline - (data + session->start));
        if (len > 0 && newline[-1] == '\r')
            len--;
        print_text(session, data + session->start, len, 1);
        session->bye = !session->line_cut && len == 3 && memcmp(data + session->start, "bye", 3) == 0;
        session->line_cut = 0;
        session->start = session->scanned = (size_t)(newline - data) + 1;
    }
}

/* The receiver thread: prints each line from the server as soon as it is
 * complete, until the server closes or resets. Then it prints an unfinished
 * last piece as a line too, says that the server closed (unless that close
 * was expected) and wakes the main thread. */
static void *receive_lines(void *arg)
{
    struct session *session = arg;
    size_t pending;
    ssize_t got;
    int expected;

    for (;;) {
        print_received(session);
        /* The start of a line to the front, to make room for its end. */
        pending = session->fill - session->start;
        memmove(session->received, session->received + session->start, pending);
        session->scanned -= session->start;
        session->start = 0;
        session->fill = pending;
        got = recv(session->server_fd, session->received + pending, RECEIVE_SIZE - pending, 0);
        if (got == -1 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* end of file, or an error such as a reset: the server is gone */
        session->fill += (size_t)got;
    }
    if (session->fill > 0 || session->line_cut)
        print_text(session, session->received, session->fill, 1);
    pthread_mutex_lock(&session->lock);
    expected = session->bye || session->input_done;
    pthread_mutex_unlock(&session->lock);
    if (!expected)
        puts("connection closed by server");
    if (write(session->wake_pipe[1], "x", 1) == -1)
        perror("write"); /* cannot happen: one byte into an empty pipe */
    return NULL;
}

/* Returns how many of the len input bytes to send: all of them, or up to
 * and including the "\n" of a "fin" line (*fin is then set). line_start and
 * line_len follow the line being typed across reads. */
static size_t take_until_fin(const char *bytes, size_t len, char line_start[4],
                             size_t *line_len, int *fin)
{
    size_t i, n;

    for (i = 0; i < len; i++) {
        if (bytes[i] != '\n') {
            if (*line_len < 4)
                line_start[*line_len] = bytes[i];
            (*line_len)++;
            continue;
        }
        n = *line_len;
        if (n > 0 && n <= 4 && line_start[n - 1] == '\r')
            n--;
        *line_len = 0;
        if (n == 3 && strncasecmp(line_start, "fin", 3) == 0) {
            *fin = 1;
            return i + 1;
        }
    }
    return len;
}

/* Sends input[0..len) in one send_all(), converted to UTF-8 first with
 * --latin1. Returns 0, or -1 with errno set (the server is gone). */
static int send_bytes(struct session *session, size_t len)
{
    if (!session->latin1)
        return send_all(session->server_fd, session->input, len);
    len = utf8_from_latin1(session->input, len, session->utf8);
    return send_all(session->server_fd, session->utf8, len);
}

/* Sends the complete lines of session->input and keeps the line being
 * typed for later: each line goes out in one piece with its "\n" (sent in
 * pieces, its end would wait for the server's ACK of its start: Nagle's
 * algorithm). Only a line longer than the buffer goes in pieces (the server
 * refuses it anyway). At the end of input (at_end), everything goes, an
 * unterminated last piece as a line of its own. Returns 0, or -1. */
static int send_lines(struct session *session, int at_end)
{
    char *input = session->input;
    size_t len = session->input_len, rest;

    if (at_end && len > 0 && input[len - 1] != '\n') {
        input[len++] = '\n'; /* send_input() never fills the last byte */
    } else if (!at_end) {
        while (len > 0 && input[len - 1] != '\n')
            len--;
        if (len == 0 && session->input_len == INPUT_SIZE - 1)
            len = session->input_len; /* no "\n" in sight: a line too long */
    }
    rest = at_end ? 0 : session->input_len - len;
    if (len > 0 && send_bytes(session, len) == -1)
        return -1;
    memmove(input, input + len, rest);
    session->input_len = rest;
    return 0;
}

/* The main thread's part: standard input to the server, until the end of
 * input, "fin", or the receiver's word that the server closed. It waits in
 * select() on standard input and the wake-up pipe, so it never stays stuck
 * in read() once the server is gone. select(), not poll(): macOS's poll()
 * does not support terminals, and standard input often is one. */
static void send_input(struct session *session)
{
    int pipe_fd = session->wake_pipe[0], fin = 0, sent = 0;
    int max_fd = pipe_fd > STDIN_FILENO ? pipe_fd : STDIN_FILENO;
    fd_set read_set;
    ssize_t got;

    for (;;) {
        FD_ZERO(&read_set);
        FD_SET(STDIN_FILENO, &read_set);
        FD_SET(pipe_fd, &read_set);
        if (select(max_fd + 1, &read_set, NULL, NULL, NULL) == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "select: %s\n", strerror(errno));
            return;
        }
        if (FD_ISSET(pipe_fd, &read_set))
            return; /* the server closed: the receiver has said so */
        got = read(STDIN_FILENO, session->input + session->input_len,
                   INPUT_SIZE - 1 - session->input_len);
        if (got == -1 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* end of input */
        session->input_len += take_until_fin(session->input + session->input_len, (size_t)got,
                                             session->line_start, &session->line_len, &fin);
        if (fin || (sent = send_lines(session, 0)) == -1)
            break; /* "fin" (sent below), or the server is gone (the receiver will tell) */
    }
    if (sent == 0)
        send_lines(session, 1); /* what is left, as a line */
    /* Our side is done: say so, and let the receiver print what still comes. */
    pthread_mutex_lock(&session->lock);
    session->input_done = 1;
    pthread_mutex_unlock(&session->lock);
    shutdown(session->server_fd, SHUT_WR);
}

int main(int argc, char *argv[])
{
    static struct session session; /* its buffers are big: kept off the stack */
    struct net_client_args args;
    char error_text[256];
    pthread_t receiver;
    int error;

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
    session.latin1 = args.latin1;

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A server that closed while we send gives EPIPE, not a silent death. */
    if (net_catch_signals(NULL) == -1) {
        fprintf(stderr, "sigaction: %s\n", strerror(errno));
        return 1;
    }
    session.server_fd = net_connect(args.host, args.port, error_text, sizeof error_text);
    if (session.server_fd == -1) {
        fprintf(stderr, "%s\n", error_text);
        return 1;
    }
    printf("connected to %s:%ld\n", args.host, args.port);
    if (pipe(session.wake_pipe) == -1) {
        fprintf(stderr, "pipe: %s\n", strerror(errno));
        close(session.server_fd);
        return 1;
    }
    pthread_mutex_init(&session.lock, NULL);
    error = pthread_create(&receiver, NULL, receive_lines, &session);
    if (error == 0) {
        send_input(&session);
        pthread_join(receiver, NULL); /* it ends when the server closes */
    } else {
        fprintf(stderr, "pthread_create: %s\n", strerror(error));
    }

    pthread_mutex_destroy(&session.lock);
    close(session.wake_pipe[0]);
    close(session.wake_pipe[1]);
    close(session.server_fd);
    return error == 0 ? 0 : 1;
}
