/* lab04 client: two threads. The main thread sends what standard input
 * gives, line by line; the receiver thread prints what the server sends as
 * soon as it arrives, control characters shown as \xNN. They stop together,
 * whichever ends first, without killing or cancelling anyone: the receiver
 * wakes the main thread through a pipe. --latin1 as in lab02; the command
 * line and connect() are net.c's. No prompt: others' lines would cut into it.
 *
 * This is the skeleton: the session, sending whole lines (send_lines()) and
 * main() are given, and the "TODO step 7" parts are yours: the two threads'
 * work. README.md explains it; the tests named "step 7" check it, and
 * `make hint LAB=04 STEP=7` gives hints, one level more each time.
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

/* Stops the program where a step is still to be written. Delete each call
 * once you have written its part, with the "(void)name;" lines next to it
 * (they only keep the compiler quiet about names nothing uses yet); once
 * none is left, delete this function too. exit() ends the whole process,
 * both threads with it; the mutex, never unlocked, makes the other thread,
 * if it reaches a TODO meanwhile, wait for that end instead of calling
 * exit() at the same time (exit() is not thread-safe). */
static void todo(int step, const char *what)
{
    static pthread_mutex_t first = PTHREAD_MUTEX_INITIALIZER;

    pthread_mutex_lock(&first);
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* Prints len bytes from the server, then a "\n" if end_of_line. Control
 * characters become \xNN judged on the bytes received (converted first, an
 * invalid byte would be a mere '?'); only then does --latin1 convert them. */
static void print_text(struct session *session, const char *text, size_t len, int end_of_line)
{
    /* TODO step 7: escape, then convert with --latin1, then write by length
     * (a line may hold a NUL), and the "\n" if asked. Calls:
     * utf8_escape_controls(), utf8_to_latin1(), fwrite().
     * (make hint LAB=04 STEP=7) */
    (void)session;
    (void)text;
    (void)len;
    (void)end_of_line;
    todo(7, "print text from the server, escaped, then converted (print_text)");
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

    /* TODO step 7: print each complete line of received[start..fill)
     * without its "\n" or "\r\n", start past it, bye set for exactly "bye";
     * a full buffer with no "\n" as above. No byte is searched twice
     * (scanned). Calls: memchr(), print_text(). (make hint LAB=04 STEP=7) */
    (void)data;
    (void)newline;
    (void)len;
    (void)print_text;
    todo(7, "print every complete line received (print_received)");
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

    /* TODO step 7: receive and print until the server closes or resets;
     * then an unfinished last piece as a line, "connection closed by
     * server" unless expected (after "bye", or input_done, read under
     * session->lock), and one byte into session->wake_pipe[1]. Calls:
     * print_received(), memmove(), recv(), puts(), write().
     * (make hint LAB=04 STEP=7) */
    (void)session;
    (void)pending;
    (void)got;
    (void)expected;
    (void)print_received;
    todo(7, "the receiver thread: print lines until the server closes, wake the main thread (receive_lines)");
    return NULL;
}

/* Returns how many of the len input bytes to send: all of them, or up to
 * and including the "\n" of a "fin" line (*fin is then set). line_start and
 * line_len follow the line being typed across reads. */
static size_t take_until_fin(const char *bytes, size_t len, char line_start[4],
                             size_t *line_len, int *fin)
{
    size_t i, n;

    /* TODO step 7: lab03's, with its state passed in: a "fin" line is
     * "fin" in any case, "\r" allowed; a line may span calls. Calls:
     * strncasecmp(). (make hint LAB=04 STEP=7) */
    (void)bytes;
    (void)len;
    (void)line_start;
    (void)line_len;
    (void)fin;
    (void)i;
    (void)n;
    todo(7, "find a fin line in the input (take_until_fin)");
    return 0;
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

    /* TODO step 7: until the end of input, "fin", a failed send or news in
     * the pipe (then return at once): wait for standard input or the pipe,
     * read what came, send its complete lines, nothing after "fin". Then
     * (unless a send failed) what is left as a last line, input_done set
     * under session->lock, and our writing half shut down. Calls: select(),
     * read(), take_until_fin(), send_lines(), shutdown().
     * (make hint LAB=04 STEP=7) */
    (void)session;
    (void)pipe_fd;
    (void)max_fd;
    (void)read_set;
    (void)got;
    (void)fin;
    (void)sent;
    (void)take_until_fin;
    (void)send_lines;
    todo(7, "the main thread: standard input to the server, until fin, end of input or the pipe (send_input)");
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
