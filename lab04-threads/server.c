/* lab04 server: a chat relay, two threads per client. A client's reader
 * thread reads its lines and appends them to the relay's shared log
 * (relay.c); its writer thread sends the client what the log holds for it.
 * The relay does the flow control: a sender waits while a receiver is far
 * behind, and a receiver that does not catch up is dropped. The set-up of
 * labs 1 to 3 is in net.c. Left out on purpose: a thread pool or an event
 * loop (see the README).
 *
 * This is the skeleton: net.c and lab02's modules, the structs, the main
 * thread's poll() loop (accept_clients()), most of start_client() and
 * main() are given, and each "TODO step N" is yours: steps 2, 3, 4 and 6
 * here, steps 1 to 6 in relay.c, step 7 in client.c. README.md explains
 * every step; the tests named "step N" check it, and
 * `make hint LAB=04 STEP=N` gives hints, one level more each time.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "linebuf.h"
#include "net.h"
#include "relay.h"
#include "utf8.h"

#define BACKLOG SOMAXCONN               /* many clients may connect at once */
#define BATCH_SIZE (128 * 1024)         /* a reader appends its lines in batches of at most this */
#define PREFIX_SIZE 32                  /* "client-K> " */
#define ANSWER_SIZE 64                  /* "ERR invalid UTF-8 at byte I\n" */
#define SEND_BATCHES 16                 /* batches per writev() (POSIX lets it refuse more) */
#define THREAD_STACK (128 * 1024)       /* our threads need little stack */
#define ACCEPT_RETRY_MS 1000            /* accepting paused: try again this often */
#define SERVER_FULL "ERR server full\n"  /* to a connection we cannot serve */

/* One connected client and its two threads. */
struct client {
    struct relay_member member;         /* fd and number are there */
    pthread_t reader, writer;
    struct client *next;                /* in threads.finished */
    /* The reader thread's own: */
    struct linebuf lines;
    size_t batch_len;
    char batch[BATCH_SIZE];             /* lines read, not yet appended */
    char escaped[UTF8_ESCAPED_SIZE(LINE_MAX_BYTES)]; /* a line as the log prints it */
};

/* The main thread's view of the reader threads, guarded by lock. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;             /* a reader thread finished */
    struct client *finished;            /* threads done, to be joined */
    unsigned long running;              /* reader threads not finished yet */
} threads = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .changed = PTHREAD_COND_INITIALIZER,
};

/* Set before any thread starts, read-only afterwards. */
static int quiet;
/* The write end of the main thread's wake-up pipe (net_loop_open()): a stop
 * signal writes NET_WAKE_STOP into it, a finished reader 'r', the relay 'd';
 * each wakes poll(). */
static int wake_fd = -1;

/* Sends all of iov[0..count) (changing iov), as send_all() does for one
 * buffer. Returns 0, or -1 with errno set. */
static int send_all_iov(int fd, struct iovec *iov, int count)
{
    ssize_t sent;

    /* TODO step 2: send_all() (net.c) for several buffers: all of them go,
     * in order, however writev() cuts them; EINTR: again. Returns 0, or -1
     * with writev()'s errno. Calls: writev(). (make hint LAB=04 STEP=2) */
    (void)fd;
    (void)iov;
    (void)count;
    (void)sent;
    todo(2, "send several buffers with writev(), however they are cut (send_all_iov)");
    return -1;
}

/* The writer thread: the consumer. Takes what the log holds for its client,
 * sends it without holding any lock, and tells the relay, until the relay
 * says it is done. */
static void *writer_main(void *arg)
{
    struct client *client = arg;
    struct iovec iov[SEND_BATCHES];
    size_t passed;
    int count, failed;

    /* TODO step 2: until relay_next() says this writer is done: send what
     * it points at, holding no lock (a send may wait as long as the client
     * does not read), then tell the relay what was passed and whether the
     * send failed. The socket stays open: its reader closes it. Calls:
     * relay_next(), send_all_iov(), relay_passed().
     * (make hint LAB=04 STEP=2) */
    (void)client;
    (void)iov;
    (void)passed;
    (void)count;
    (void)failed;
    (void)send_all_iov;
    todo(2, "the writer thread: take from the log, send, tell the relay (writer_main)");
    return NULL;
}

/* Appends the lines gathered in the client's batch for the others, if any.
 * Returns 0, or -1 when the session is over (see relay_send()). */
static int flush_batch(struct client *client)
{
    /* TODO step 4: the batch goes to the relay (nothing for an empty one)
     * and is empty afterwards. Returns 0, or relay_send()'s -1. Calls:
     * relay_send(). (make hint LAB=04 STEP=4) */
    (void)client;
    todo(4, "append the lines gathered for the others (flush_batch)");
    return -1;
}

/* Takes one valid line: prints it (control characters escaped) unless
 * quiet, and adds "client-K> line\n" to the batch, appending the batch
 * first if the line would not fit. Returns 0, or -1 when the session is
 * over. */
static int take_line(struct client *client, const char *line, size_t len)
{
    unsigned long number = client->member.number;

    /* TODO step 4: print "client-K> <line>" unless quiet, its control
     * characters escaped, in one printf(); add "client-K> <line>\n" to the
     * batch, the line's bytes as they came, the batch flushed first if it
     * would overflow. Returns 0, or -1 when the session is over. Calls:
     * utf8_escape_controls(), printf(), snprintf(), memcpy(),
     * flush_batch(). (make hint LAB=04 STEP=4) */
    (void)number;
    (void)line;
    (void)len;
    todo(4, "log a line and add it to the batch (take_line)");
    return -1;
}

/* The producer: reads one chunk and relays its complete lines. The relay's
 * flow control applies batch by batch, so that a chunk of short lines
 * cannot swell the log. A bad line is answered to its sender alone, after
 * the lines before it. Returns 0 to go on, -1 when the session is over (end
 * of file, reset, shutdown, "fin" answered "bye", dropped, stop). */
static int relay_chunk(struct client *client)
{
    enum linebuf_result result;
    const char *line;
    size_t len, chars, error_at;
    char answer[ANSWER_SIZE];
    int answer_len;

    /* TODO step 4: one linebuf_fill(), then each complete line: a line too
     * long, invalid UTF-8 or "fin" (any case) is answered as in lab02 to
     * its sender alone, after the lines before it; any other is taken for
     * the others. Returns -1 at end of file, on an error, after "bye" or a
     * -1 from the relay; else 0. Calls: linebuf_fill(), linebuf_next(),
     * utf8_check(), strncasecmp(), snprintf(), take_line(), flush_batch(),
     * relay_answer(). (make hint LAB=04 STEP=4)
     * Replace the whole body: the lines below are the skeleton's, so that
     * clients can join and leave (end of file, reset) before this step. */
    if (linebuf_fill(&client->lines) <= 0)
        return -1;
    (void)result;
    (void)line;
    (void)len;
    (void)chars;
    (void)error_at;
    (void)answer;
    (void)answer_len;
    (void)take_line;
    (void)flush_batch;
    todo(4, "relay a chunk's lines, answer the others (relay_chunk)");
    return -1;
}

/* The reader thread: the client's life once joined. Relays until the
 * session is over, leaves, lets the writer send what the client is owed,
 * closes the connection and asks the main thread to join it. */
static void *reader_main(void *arg)
{
    struct client *client = arg;
    unsigned long number = client->member.number;

    while (relay_chunk(client) == 0)
        ;
    /* TODO step 3: the session is over. Print "client-K disconnected"
     * unless quiet, then leave the chat (dropped for not catching up: say
     * "client-K: dropped, still over N KiB behind after S s" on stderr),
     * let the writer finish, take the member out of the relay, close the
     * socket, in that order; last, hand this thread over to the main
     * thread (onto threads.finished, out of threads.running, an 'r' into
     * its wake-up pipe) and touch client no more. Calls: printf(),
     * relay_leave(), pthread_join(), relay_remove(), close(),
     * pthread_cond_broadcast(), write().
     * (make hint LAB=04 STEP=3) */
    (void)number;
    todo(3, "the client leaves: disconnected, leave, join the writer, close, hand over (reader_main)");
    return NULL;
}

/* Joins the reader threads that finished and frees their clients. Main
 * thread. Returns how many. */
static unsigned long reap_finished(void)
{
    struct client *client, *next;
    unsigned long reaped = 0;

    /* TODO step 6: take the whole list threads.finished under its lock,
     * then, without it, join each thread and free its record. Returns how
     * many. Calls: pthread_join(), free(). (make hint LAB=04 STEP=6)
     * Replace the whole body: the line below is the skeleton's, so that
     * clients can come and go before step 6 (their records wait, unjoined,
     * until the process ends). */
    (void)client;
    (void)next;
    return reaped;
}

/* Numbers a new client, starts its writer, joins it to the chat, then
 * starts its reader, both threads with SIGINT/SIGTERM blocked (only the
 * main thread takes them). Only this thread numbers and joins clients, one
 * after the other: join order is number order. The writer comes first: it
 * waits for the welcome. Returns 0, or -1 (the caller closes fd). */
static int start_client(int fd, const char *peer, const pthread_attr_t *attributes)
{
    static unsigned long last_number;
    /* malloc, not calloc: its buffers are touched only as used. */
    struct client *client = malloc(sizeof *client);
    sigset_t stop_signals, old_mask;
    int error, yes = 1;

    if (client == NULL)
        return -1;
    /* The writer sends whole batches: a chat line must not wait for an ACK. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    /* TODO step 3: the client's number (1 for the first; no lock: only
     * this thread numbers clients) and its member prepared for fd. Calls:
     * relay_member_init(). (make hint LAB=04 STEP=3) */
    (void)last_number;
    todo(3, "number the new client (start_client)");
    linebuf_init(&client->lines, fd);
    client->batch_len = 0;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    error = pthread_create(&client->writer, attributes, writer_main, client);
    if (error == 0) {
        /* TODO step 3: print "client-K connected from PEER" unless quiet,
         * then join the client to the chat. Calls: printf(), relay_join().
         * (make hint LAB=04 STEP=3) */
        (void)peer;
        todo(3, "print and join the new client (start_client)");
        pthread_mutex_lock(&threads.lock);
        threads.running++;
        pthread_mutex_unlock(&threads.lock);
        error = pthread_create(&client->reader, attributes, reader_main, client);
        if (error != 0) { /* as if it had left at once */
            relay_leave(&client->member);
            pthread_join(client->writer, NULL);
            pthread_mutex_lock(&threads.lock);
            threads.running--;
            pthread_mutex_unlock(&threads.lock);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (error == 0)
        return 0;
    fprintf(stderr, "pthread_create: %s\n", strerror(error));
    relay_remove(&client->member);
    free(client);
    return -1;
}

/* The main thread's loop: accept clients until a stop signal, and keep the
 * relay's deadlines. poll() watches the pipe (signals, finished readers,
 * receivers falling behind) and the listening socket. poll() rather than
 * lab03's select(): for two descriptors it reads simpler, and
 * ThreadSanitizer delivers signals during poll() but not select(). Out of
 * descriptors with no spare to refuse with, it stops watching the listener
 * (poll() skips a negative descriptor) until a client has left or
 * ACCEPT_RETRY_MS have passed: the waiting connection would wake it again
 * and again. Returns 0 on a stop signal, -1 if poll() failed. */
static int accept_clients(struct net_loop *loop)
{
    pthread_attr_t attributes;
    struct pollfd watched[2] = { { .fd = loop->wake_fds[0], .events = POLLIN }, { .events = POLLIN } };
    char peer[NET_PEER_SIZE];
    int fd, ready, timeout, paused = 0, status = 1; /* 1: go on, 0: stop signal, -1: poll() failed */

    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, THREAD_STACK);
    while (status == 1) {
        watched[1].fd = paused ? -1 : loop->listen_fd;
        /* No timeout unless a receiver is behind (its deadline) or we are
         * paused: a connection waits that poll() no longer reports, and
         * descriptors may be free without any client leaving. */
        timeout = relay_expire();
        if (paused && (timeout == -1 || timeout > ACCEPT_RETRY_MS))
            timeout = ACCEPT_RETRY_MS;
        ready = poll(watched, 2, timeout);
        if (ready == -1 && errno != EINTR) {
            fprintf(stderr, "poll: %s\n", strerror(errno));
            status = -1;
        }
        if (ready == 0)
            paused = 0; /* try again: if still short, accept() pauses us again */
        if (ready <= 0)
            continue;
        if (watched[0].revents & POLLIN) {
            if (net_read_wake_pipe(loop->wake_fds[0]) == NET_WAKE_STOP)
                status = 0;
            else if (reap_finished() > 0)
                paused = 0; /* a reader closed its socket: a descriptor is free */
        }
        if (status != 1 || !(watched[1].revents & POLLIN))
            continue;
        /* net_accept() clears the O_NONBLOCK that BSD and macOS pass on
         * from the listener: our threads wait in recv() and send(). */
        fd = net_accept(loop->listen_fd, peer);
        if (fd != -1) {
            if (start_client(fd, peer, &attributes) == -1)
                net_refuse(fd, SERVER_FULL);
        } else if (errno == EMFILE || errno == ENFILE) {
            paused = net_refuse_with_spare(loop->listen_fd, &loop->spare_fd, SERVER_FULL) == -1;
        } else if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN && errno != EWOULDBLOCK) {
            fprintf(stderr, "accept: %s\n", strerror(errno));
        }
    }
    pthread_attr_destroy(&attributes);
    return status;
}

/* Wakes every thread (relay_stop()), waits until every reader has finished
 * (each joins its writer first), and joins them. */
static void stop_all_clients(void)
{
    /* TODO step 6: wake every thread, wait until no reader runs, then join
     * them all; never call the relay while holding threads.lock. Calls:
     * relay_stop(), pthread_cond_wait(), reap_finished().
     * (make hint LAB=04 STEP=6)
     * Replace the whole body: the lines below are the skeleton's, so that
     * the stop works before step 6 while no reader runs. */
    pthread_mutex_lock(&threads.lock);
    if (threads.running > 0)
        todo(6, "wake every thread, wait for the readers, join them (stop_all_clients)");
    pthread_mutex_unlock(&threads.lock);
}

int main(int argc, char *argv[])
{
    struct net_server_args args;
    struct net_loop loop;
    const char *failed_call;
    int port, status;

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
    quiet = args.quiet;
    /* Tests read our output through a pipe: send each line at once. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (net_loop_open(&loop, args.port, BACKLOG, &port, &failed_call) == -1) {
        fprintf(stderr, "%s: %s\n", failed_call, strerror(errno));
        return 1;
    }
    wake_fd = loop.wake_fds[1];
    relay_init(wake_fd);
    printf("listening on port %d\n", port);

    status = accept_clients(&loop) == 0 ? 0 : 1;
    stop_all_clients();
    net_loop_close(&loop);
    puts("server stopped");
    return status;
}
