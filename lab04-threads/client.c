/* lab04 client: two threads. The main thread sends what standard input
 * gives, line by line; the receiver thread prints what the server sends as
 * soon as it arrives. They stop together, whichever ends first, without
 * killing or cancelling anyone: the receiver wakes the main thread through
 * a pipe. --latin1 as in lab02; the command line and connect() are net.c's.
 *
 * This is the skeleton: the session, sending whole lines (send_lines())
 * and main() are given, and the "TODO step 7" parts are yours: the two
 * threads' work. README.md explains it; the tests named "step 7" check it.
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

/* What both threads share. */
struct session {
    int server_fd;
    int latin1;
    int wake_pipe[2];            /* the receiver writes here when the server closed */
    pthread_mutex_t lock;        /* guards input_done */
    int input_done;              /* we sent "fin" or our end of input */
    struct linebuf from_server;  /* the receiver thread's only */
    /* The main thread's only: input read but not sent yet (the start of a
     * line), and what take_until_fin() knows of the line being typed. */
    char input[INPUT_SIZE];
    size_t input_len;
    char line_start[4];
    size_t line_len;
    char utf8[2 * INPUT_SIZE];   /* input converted, with --latin1 */
};

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well. exit() ends the
 * whole process, both threads with it; the mutex, never unlocked, makes the
 * other thread, if it reaches a TODO meanwhile, wait for that end instead of
 * calling exit() at the same time (exit() is not thread-safe). */
static void todo(int step, const char *what)
{
    static pthread_mutex_t first = PTHREAD_MUTEX_INITIALIZER;

    pthread_mutex_lock(&first);
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* The receiver thread: prints each line from the server as soon as it is
 * complete, until the server closes. Then it says so (unless that close was
 * expected) and wakes the main thread. */
static void *receive_lines(void *arg)
{
    struct session *session = arg;
    char converted[LINEBUF_SIZE];
    const char *line;
    size_t len;
    int result, bye = 0, expected;
    ssize_t written;

    /* TODO step 7 (README step 7): this thread only receives and prints.
     *  - Loop while linebuf_read_line(&session->from_server, &line, &len)
     *    gives a result > 0 (into result). It waits in recv() as long as it
     *    takes, and nothing else waits with it: that is this thread's job.
     *    Skip LINEBUF_TOO_LONG (no server of the course sends such lines).
     *  - A line: with session->latin1, utf8_to_latin1() it into converted
     *    (len becomes what it returns, line points to converted). Print it:
     *    fwrite() the len bytes (a line may hold a NUL), then putchar('\n').
     *    bye = whether it is exactly the 3 bytes "bye" (memcmp()): the last
     *    line decides.
     *  - The loop ends at end of file or on an error (a reset): the server
     *    closed. That was expected after "bye", or after our own end of
     *    input: expected = bye || session->input_done, input_done read under
     *    session->lock (the main thread writes it). Otherwise print
     *    "connection closed by server".
     *  - Wake the main thread, which may be waiting in select() for standard
     *    input: write() one byte to session->wake_pipe[1] (its result in
     *    written, then (void)written). It sees the pipe readable and returns.
     *  - return NULL.
     * Nobody kills this thread and it kills nobody: each thread ends by
     * itself, and the pipe carries the news (README, "the client"). */
    (void)session;
    (void)converted;
    (void)line;
    (void)len;
    (void)result;
    (void)bye;
    (void)expected;
    (void)written;
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

    /* TODO step 7 (README step 7): as lab03's, with its state passed in.
     * A read() of standard input may stop in the middle of a line, so the
     * line being typed is followed across calls: line_start keeps its first
     * bytes (4 at most), *line_len counts them all. For each byte i:
     *  - Not '\n': if *line_len < 4, store it at line_start[*line_len]; add
     *    1 to *line_len either way.
     *  - '\n': the line is complete. Its length n is *line_len, one less if
     *    line_start holds its last byte (n from 1 to 4) and that byte is
     *    '\r'. Set *line_len back to 0. A line of 3 bytes that strncasecmp()
     *    finds equal to "fin": set *fin and return i + 1, the bytes up to
     *    and including this '\n'; what follows "fin" is never sent.
     * No "fin" line: return len. */
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

    /* TODO step 7 (README step 7): standard input to the server.
     *  - Loop: FD_ZERO(&read_set), FD_SET() STDIN_FILENO and pipe_fd (each
     *    time: select() changes the set), then select(max_fd + 1, &read_set,
     *    NULL, NULL, NULL): no timeout. -1 with EINTR: again; any other -1:
     *    print "select: <reason>" on stderr and return. select(), as lab03's
     *    client, not poll(): macOS's poll() does not support terminals.
     *  - The pipe has news (FD_ISSET(pipe_fd, &read_set)): the server closed
     *    and the receiver has said so. Return at once, even while the user
     *    types nothing: a thread stuck in read() (or fgets()) here would keep
     *    the client alive after the server is gone.
     *  - Otherwise ONE read() (not stdio: see lab03) into session->input +
     *    session->input_len, of at most INPUT_SIZE - 1 - input_len bytes (the
     *    last byte stays free: send_lines() may end the input with a "\n").
     *    -1 with EINTR: again. 0 (end of input) or -1: leave the loop.
     *  - input_len grows by take_until_fin(the bytes just read, got,
     *    session->line_start, &session->line_len, &fin): what follows a
     *    "fin" line is never sent.
     *  - fin set: leave the loop. Otherwise sent = send_lines(session, 0):
     *    the complete lines go, the line being typed waits for its "\n".
     *    -1 (the server is gone: the receiver will say so): leave the loop.
     *  - After the loop, unless a send failed (sent == 0): send_lines(session,
     *    1) sends what is left, a last line without "\n" too. This thread may
     *    wait in send(): it only sends, the other one goes on printing.
     *  - Then: lock session->lock, input_done = 1, unlock (the receiver reads
     *    it), then shutdown(session->server_fd, SHUT_WR): the server reads end
     *    of file and closes after its last lines, which the receiver still
     *    prints. main() then joins the receiver. */
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
    linebuf_init(&session.from_server, session.server_fd);
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
