/* lab04 server: a chat relay with threads. Each client has a reader thread
 * (its lines, relayed to every other client) and a writer thread (its own
 * bounded queue, sent in one go), so a client that stops reading never
 * stalls the others: past the bound it is dropped. The table of clients is
 * shared, under a mutex. Signals reach the main thread only, by a self-pipe.
 * What labs 1 to 3 wrote (the command line, the listening socket for IPv6
 * and IPv4, accept, the signals and their self-pipe, the spare descriptor)
 * is in net.c. Left out on purpose: a thread pool or an event loop (see the
 * README).
 *
 * This is the skeleton: net.c and lab02's modules, the structs and the
 * table, reserve(), start_client(), the main thread's poll() loop and
 * main() are given, and each "TODO step N" is yours to write: steps 1 to 6
 * here, step 7 in client.c. README.md explains every step; the tests named
 * "step N" check it.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include "linebuf.h"
#include "net.h"
#include "utf8.h"

#define BACKLOG SOMAXCONN               /* many clients may connect at once */
#define QUEUE_LIMIT (4 * 1024 * 1024)   /* a client's queue, at most (see queue_append) */
#define THREAD_STACK (256 * 1024)       /* our threads need little stack */
#define NAME_SIZE 32                    /* "client-K" */
#define ANSWER_SIZE 64                  /* "ERR invalid UTF-8 at byte I\n" */
#define ACCEPT_RETRY_MS 1000            /* accepting paused: try again this often */

/* One connected client and its two threads. */
struct client {
    int fd;
    char name[NAME_SIZE];
    char address[NET_PEER_SIZE];        /* "IP:PORT" or "[IPv6]:PORT" */
    pthread_t reader, writer;
    struct client *next;                /* in the table, then in the finished list */
    /* The outgoing queue, guarded by lock: the writer sends it. */
    pthread_mutex_t lock;
    pthread_cond_t wake;                /* something queued, or time to stop */
    char *queue;
    size_t queued, capacity;
    int closing;                        /* the writer sends what is queued, then stops */
    int dropped;                        /* the connection is dead: stop at once */
    struct linebuf lines;               /* used by the reader thread only */
};

/* Everything the threads share, guarded by lock (but wake_fd and quiet,
 * which never change once threads exist). */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;             /* a reader thread finished */
    struct client *clients;             /* connected, in the relay */
    struct client *finished;            /* threads done, to be joined */
    unsigned long running;              /* reader threads not finished yet */
    unsigned long next_number;
    int stopping;
    int quiet;
    int wake_fd;                        /* write end of the main thread's pipe */
} table = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .changed = PTHREAD_COND_INITIALIZER,
    .wake_fd = -1,
};

/* The main thread's self-pipe (net_stop_pipe()): a stop signal writes
 * NET_WAKE_STOP into it, a finished reader 'r'; either wakes poll(). */
static int wake_pipe[2] = { -1, -1 };

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well. exit() ends the
 * whole process, every thread with it; the mutex, never unlocked, makes a
 * second thread that reaches a TODO meanwhile wait for that end instead of
 * calling exit() at the same time (exit() is not thread-safe). */
static void todo(int step, const char *what)
{
    static pthread_mutex_t first = PTHREAD_MUTEX_INITIALIZER;

    pthread_mutex_lock(&first);
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* Grows the buffer *bytes (NULL at first) to hold at least needed bytes,
 * doubling its *capacity. Returns 0, or -1 if memory ran out (the buffer
 * is still there, as it was). */
static int reserve(char **bytes, size_t *capacity, size_t needed)
{
    size_t bigger = *capacity == 0 ? 4096 : *capacity;
    char *grown;

    if (needed <= *capacity)
        return 0;
    while (bigger < needed)
        bigger *= 2;
    grown = realloc(*bytes, bigger);
    if (grown == NULL)
        return -1;
    *bytes = grown;
    *capacity = bigger;
    return 0;
}

/* Appends len bytes to the client's queue and wakes its writer. A client
 * whose queue would pass QUEUE_LIMIT does not read: it is dropped
 * (shutdown() wakes its reader, which then leaves). The bound counts the
 * queue only: the batch its writer took out and is sending may be as big
 * again, so a client holds up to about 2 * QUEUE_LIMIT of unsent bytes.
 * Any thread may call. */
static void queue_append(struct client *client, const char *bytes, size_t len)
{
    size_t needed;
    int wake_writer;

    /* TODO step 1 (README step 1): append to the queue under client->lock,
     * the lock of this one queue: the reader threads of other clients call
     * this function too, and the writer takes the queue away meanwhile.
     *  - pthread_mutex_lock(&client->lock). A client already dropped or
     *    closing takes nothing more: unlock and return.
     *  - wake_writer = (queued == 0): the writer sleeps only on an empty
     *    queue. If bytes are waiting, it is sending them and looks at the
     *    queue again before it sleeps: no need to wake it.
     *  - needed = queued + len. Past QUEUE_LIMIT, or if reserve() cannot
     *    grow the queue (queue, capacity) to needed bytes (out of memory):
     *    this client does not read what it is sent; drop it. dropped = 1,
     *    and shutdown(client->fd, SHUT_RDWR) (man 2 shutdown): its reader,
     *    blocked in recv(), gets end of file and leaves; a send() of its
     *    writer fails. Not close(): the reader still owns the descriptor,
     *    and closes it once (step 5). The writer must hear of it: set
     *    wake_writer too.
     *  - Otherwise memcpy() the len bytes to queue + queued; queued = needed.
     *  - If wake_writer, pthread_cond_signal(&client->wake), then unlock.
     *    Signal with the lock held: Helgrind reports a signal sent without
     *    it as dubious (README, "condition variables").
     * Never call anything here that takes table.lock: the callers may hold
     * it already (lock order: table.lock, then a client's lock). */
    (void)client;
    (void)bytes;
    (void)len;
    (void)needed;
    (void)wake_writer;
    (void)reserve;
    todo(1, "append to a client's queue, or drop it past QUEUE_LIMIT (queue_append)");
}

/* Sends bytes to every client in the table but one (except may be NULL).
 * The caller holds table.lock, so the table cannot change meanwhile and
 * every receiver gets the senders' batches in the same order. */
static void send_to_others(const struct client *except, const char *bytes, size_t len)
{
    struct client *client;

    /* TODO step 3 (README step 3): walk the list table.clients (client =
     * client->next until NULL) and queue_append() the bytes to each client
     * but except. No lock taken here: the caller holds table.lock, and
     * queue_append() takes each receiver's own lock inside it. That is the
     * lock order of the whole server: table.lock first, then a client's
     * lock, never the other way round (README, "lock ordering"). */
    (void)except;
    (void)bytes;
    (void)len;
    (void)client;
    (void)queue_append;
    todo(3, "queue a message to every client but one (send_to_others)");
}

/* The writer thread: sends the whole queue in one go each time it wakes.
 * It swaps the queue with its own buffer, so senders append to an empty
 * queue while it sends without holding the lock. */
static void *writer_main(void *arg)
{
    struct client *client = arg;
    char *sending = NULL, *swap;
    size_t sending_capacity = 0, swap_capacity, len;

    /* TODO step 2 (README step 2): the writer's loop. It holds client->lock
     * all the time but while it sends.
     *  - pthread_mutex_lock(&client->lock), then loop for ever:
     *  - Sleep while there is nothing to do: WHILE queued == 0 and neither
     *    closing nor dropped, pthread_cond_wait(&client->wake,
     *    &client->lock). It unlocks, sleeps, and locks again before it
     *    returns. A while, not an if: a wait may end without a signal (a
     *    spurious wake-up), so test again each time.
     *  - If dropped (the connection is dead), or queued is still 0 (so the
     *    client is closing and everything is sent): leave the loop.
     *  - Swap the buffers, no copy: the queue (queue, capacity) becomes
     *    yours to send (sending, sending_capacity), and the queue gets your
     *    old buffer back, empty. swap and swap_capacity hold one side while
     *    you move the other. len = queued, then queued = 0.
     *  - Unlock, and send_all(client->fd, sending, len): the whole backlog
     *    in ONE call, WITHOUT the lock. send() may wait as long as this
     *    client does not read; the readers that append meanwhile must not
     *    wait with it (they append to the other buffer).
     *  - send_all() gives -1 (EPIPE, ECONNRESET: the client is gone): lock,
     *    dropped = 1, shutdown(client->fd, SHUT_RDWR) (the reader, in
     *    recv(), then leaves too), and leave the loop. Otherwise lock again
     *    and loop.
     *  - After the loop, the lock held: unlock, free(sending) (the other
     *    buffer is the queue's, freed with the client), return NULL.
     * The writer never closes the socket: the reader does, once it has
     * joined the writer (step 5). */
    (void)client;
    (void)sending;
    (void)swap;
    (void)sending_capacity;
    (void)swap_capacity;
    (void)len;
    todo(2, "the writer thread: wait, swap the queue, send it in one go (writer_main)");
    return NULL;
}

/* Adds the client to the table: its welcome first, then everyone else
 * hears that it joined. */
static void join_table(struct client *client)
{
    char message[NAME_SIZE + 32];
    int len;

    /* TODO step 3 (README step 3): all of it under table.lock, in one go:
     * while the lock is held, no other thread can relay a line, announce a
     * join or a leave, or walk the table, so nobody hears of this client
     * before its welcome is queued, and it hears of nobody before.
     *  - pthread_mutex_lock(&table.lock). Put client at the head of the list
     *    table.clients: client->next = table.clients; table.clients = client.
     *  - If table.stopping: the main thread has already shut down every
     *    socket of the table (step 6) and will not come back for this one.
     *    shutdown(client->fd, SHUT_RDWR) yourself, so this client's reader
     *    leaves at once; go on as usual.
     *  - snprintf() "welcome client-K\n" (client->name) into message, len its
     *    length, and queue_append() it to the client itself: its first line.
     *  - snprintf() "* client-K joined\n" into message, and send_to_others()
     *    it, client being the one left out.
     *  - Unless table.quiet, print "client-K connected from IP:PORT" with
     *    ONE printf() (client->address holds "IP:PORT", or "[IPv6]:PORT":
     *    net_accept() wrote it).
     *  - pthread_mutex_unlock(&table.lock). */
    (void)client;
    (void)message;
    (void)len;
    (void)send_to_others;
    todo(3, "add a client to the table: welcome, joined, connected (join_table)");
}

/* Removes the client from the table; everyone else hears that it left. */
static void leave_table(struct client *client)
{
    struct client **link;
    char message[NAME_SIZE + 32];
    int len;

    /* TODO step 3 (README step 3): under table.lock, as join_table():
     *  - Unlink client from table.clients. A pointer to a pointer avoids a
     *    special case for the head of the list: link starts at
     *    &table.clients and moves to &(*link)->next while *link != client;
     *    then *link = client->next. (The client is in the list: join_table()
     *    put it there.)
     *  - Unless table.stopping (everyone is leaving then; nobody would read
     *    it), snprintf() "* client-K left\n" into message and
     *    send_to_others() it.
     *  - Unless table.quiet, print "client-K disconnected".
     *  - Unlock. */
    (void)client;
    (void)link;
    (void)message;
    (void)len;
    (void)send_to_others;
    todo(3, "remove a client from the table: left, disconnected (leave_table)");
}

/* Reads one chunk and relays its complete lines: all of them in one batch,
 * "client-K> <line>\n" each, one table lock, one append per receiver. A bad
 * line is answered to its sender alone. Returns 0 to go on, -1 when the
 * session ends (end of file, reset, shutdown, or "fin", answered "bye"). */
static int relay_chunk(struct client *client, char **batch, size_t *capacity)
{
    static const char bye[] = "bye\n";
    enum linebuf_result result;
    const char *line;
    size_t len, chars, error_at, batch_len = 0, prefix_len = strlen(client->name) + 2;
    char answer[ANSWER_SIZE];
    int answer_len, fin = 0;
    ssize_t received;

    /* TODO step 4 (README step 4): one read, then every complete line.
     *  - received = linebuf_fill(&client->lines): ONE recv(), which waits for
     *    this client only (this thread serves nobody else). 0 (end of file)
     *    or -1 (a reset, or the shutdown() of a drop or of a stop): return
     *    -1, the session is over.
     *  - Then, while fin is not set and linebuf_next(&client->lines, &line,
     *    &len) gives something other than LINEBUF_NONE (into result):
     *    - LINEBUF_TOO_LONG: snprintf() "ERR line too long\n" into answer,
     *      the length it returns into answer_len (no length counted by
     *      hand), and queue_append() it to client, the sender, alone;
     *    - a line that utf8_check() refuses: the same with "ERR invalid
     *      UTF-8 at byte I\n" (I = error_at, %zu);
     *    - "fin" in any letter case (len 3, strncasecmp()): set fin. What
     *      follows it, even in the same chunk, is never relayed;
     *    - any other line joins the batch: *batch holds batch_len bytes of
     *      "client-K> <line>\n" lines. reserve() room for prefix_len + len + 1
     *      more (-1: return -1), then memcpy() the name (prefix_len - 2
     *      bytes), "> ", the len bytes of the line (not strlen(): a line may
     *      hold a NUL byte) and put a '\n'.
     *  - If batch_len > 0: pthread_mutex_lock(&table.lock) ONCE for the whole
     *    batch; unless table.quiet, fwrite() the batch to stdout in ONE call
     *    (one call, never mixed with another thread's lines: stdio locks the
     *    stream for the length of a call); send_to_others() the batch; unlock.
     *    One lock and one queue_append() per receiver for the whole chunk:
     *    each sender's lines reach everyone whole, in order.
     *  - If fin: queue_append() bye to the sender (sizeof bye - 1 bytes: the
     *    array holds the string's NUL too), return -1 (its writer sends it
     *    before the connection closes). Otherwise return 0. */
    (void)client;
    (void)batch;
    (void)capacity;
    (void)line;
    (void)len;
    (void)chars;
    (void)error_at;
    (void)batch_len;
    (void)prefix_len;
    (void)answer;
    (void)result;
    (void)answer_len;
    (void)fin;
    (void)bye;
    (void)received;
    (void)reserve;
    (void)queue_append;
    (void)send_to_others;
    todo(4, "read a chunk, relay its lines in one batch (relay_chunk)");
    return -1;
}

/* The reader thread: the client's whole life. Starts its writer, joins the
 * table, relays until the session ends, leaves, lets the writer send what
 * is left, then hands itself to the main thread to be joined and freed. */
static void *reader_main(void *arg)
{
    struct client *client = arg;
    char *batch = NULL;
    size_t capacity = 0;
    ssize_t written;

    /* TODO step 5 (README step 5): the client's life, in this order.
     *  - pthread_create(&client->writer, NULL, writer_main, client) (man 3
     *    pthread_create). It returns 0 or an error number, not -1 and errno.
     *    Not 0: print "pthread_create: no writer thread for client-K" on
     *    stderr and skip the next four points, straight to free/close.
     *  - join_table(client) (step 3): the welcome, the others hear of it.
     *  - while (relay_chunk(client, &batch, &capacity) == 0) ; (step 4). The
     *    batch buffer lives here: allocated once, reused chunk after chunk.
     *  - leave_table(client) (step 3).
     *  - Tell the writer to finish: lock client->lock, closing = 1,
     *    pthread_cond_signal(&client->wake), unlock. It sends what is still
     *    queued ("bye" among it), then returns. pthread_join(client->writer,
     *    NULL) waits until it has.
     *  - In every case: free(batch), then close(client->fd): only now, when
     *    no thread of this client uses the descriptor any more, and before
     *    the hand-over: a main thread out of descriptors waits for it.
     *  - Hand yourself over to the main thread, under table.lock: push
     *    client on the list table.finished (client->next is free: the table
     *    no longer uses it), table.running--, and
     *    pthread_cond_broadcast(&table.changed) (step 6 may wait for it).
     *    Unlock, then write() one byte, 'r', to table.wake_fd (its result in
     *    written, then (void)written): poll() wakes the main thread, which
     *    joins this thread and frees the client (step 6). From the unlock
     *    on, client may be freed at any moment: do not touch it.
     *  - return NULL. */
    (void)client;
    (void)batch;
    (void)capacity;
    (void)written;
    (void)writer_main;
    (void)join_table;
    (void)relay_chunk;
    (void)leave_table;
    todo(5, "the reader thread: writer, join, relay, leave, hand over (reader_main)");
    return NULL;
}

/* Joins the threads that finished and frees their clients. Main thread.
 * Returns how many it freed. */
static unsigned long reap_finished(void)
{
    struct client *client, *next;
    unsigned long reaped = 0;

    /* TODO step 6 (README step 6): join and free the finished clients.
     *  - Take the whole list at once: lock table.lock, client =
     *    table.finished, table.finished = NULL, unlock. Then work on the
     *    list without the lock: every relay would wait meanwhile.
     *  - For each client of the list (keep client->next in next before you
     *    free it): pthread_join(client->reader, NULL) (it has finished, or
     *    is about to: it was writing its byte to the pipe), then
     *    pthread_mutex_destroy() its lock, pthread_cond_destroy() its wake,
     *    free() its queue and the client itself. Count them in reaped.
     *  - Return reaped: the main thread, when it ran out of descriptors,
     *    accepts again once a client has left (accept_clients()).
     * Every thread is joined once: a thread that ended but was never joined
     * keeps its stack until the process ends.
     * Replace the whole body: the lines below are the skeleton's, so that
     * the given stop (no client yet) works before this step is written. */
    pthread_mutex_lock(&table.lock);
    client = table.finished;
    pthread_mutex_unlock(&table.lock);
    if (client == NULL)
        return 0; /* (the skeleton's: a stop signal, nothing to join) */
    (void)next;
    (void)reaped;
    todo(6, "join the finished threads and free their clients (reap_finished)");
    return 0;
}

/* Creates a client for a new connection (its peer as net_accept() wrote
 * it) and starts its reader thread with SIGINT/SIGTERM blocked, so that
 * only the main thread receives them. Returns 0, or -1 (the caller closes
 * fd). */
static int start_client(int fd, const char *peer, const pthread_attr_t *attributes)
{
    /* malloc, not calloc: the reader's 64 KiB are touched only as used. */
    struct client *client = malloc(sizeof *client);
    sigset_t stop_signals, old_mask;
    int error, yes = 1;

    if (client == NULL)
        return -1;
    /* Our writer sends whole batches: no need for Nagle's algorithm to
     * gather small writes, and a chat line must not wait 40 ms for an ACK. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    client->fd = fd;
    client->next = NULL;
    client->queue = NULL;
    client->queued = client->capacity = 0;
    client->closing = client->dropped = 0;
    pthread_mutex_init(&client->lock, NULL);
    pthread_cond_init(&client->wake, NULL);
    linebuf_init(&client->lines, fd);
    snprintf(client->address, sizeof client->address, "%s", peer);
    pthread_mutex_lock(&table.lock);
    snprintf(client->name, sizeof client->name, "client-%lu", ++table.next_number);
    table.running++;
    pthread_mutex_unlock(&table.lock);

    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    error = pthread_create(&client->reader, attributes, reader_main, client);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (error != 0) {
        fprintf(stderr, "pthread_create: %s\n", strerror(error));
        pthread_mutex_lock(&table.lock);
        table.running--;
        pthread_mutex_unlock(&table.lock);
        pthread_mutex_destroy(&client->lock);
        pthread_cond_destroy(&client->wake);
        free(client);
        return -1;
    }
    return 0;
}

/* The main thread's loop: accept clients until a stop signal. poll()
 * watches the pipe (signals, finished readers) and the listening socket.
 * poll() rather than lab03's select(): for two descriptors it reads simpler,
 * and ThreadSanitizer delivers signals during poll() but not select().
 * Out of descriptors with no spare to refuse with, it stops watching the
 * listener (poll() skips a negative descriptor) until a client has left or
 * ACCEPT_RETRY_MS have passed: the waiting connection would wake it again
 * and again. */
static void accept_clients(int listen_fd)
{
    pthread_attr_t attributes;
    struct pollfd watched[2];
    char peer[NET_PEER_SIZE];
    int fd, ready, paused = 0;
    int spare_fd = open("/dev/null", O_RDONLY); /* see net_refuse_without_descriptors() */

    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, THREAD_STACK);
    watched[0].fd = wake_pipe[0];
    watched[0].events = POLLIN;
    watched[1].events = POLLIN;
    for (;;) {
        watched[1].fd = paused ? -1 : listen_fd;
        /* No timeout: nothing to do until someone connects or a signal
         * comes. But paused, a connection waits that poll() no longer
         * reports: descriptors may be free without any client leaving. */
        ready = poll(watched, 2, paused ? ACCEPT_RETRY_MS : -1);
        if (ready == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "poll: %s\n", strerror(errno));
            break;
        }
        if (ready == 0)
            paused = 0; /* time to try again: if still short, accept() pauses us again */
        if (watched[0].revents & POLLIN) {
            if (net_read_wake_pipe(wake_pipe[0]) == NET_WAKE_STOP)
                break;
            if (reap_finished() > 0)
                paused = 0; /* a reader closed its socket: a descriptor is free */
        }
        if (!(watched[1].revents & POLLIN))
            continue;
        /* The listener is non-blocking, the new socket is not: net_accept()
         * clears the O_NONBLOCK that BSD and macOS pass on, for our threads
         * wait in recv() and send(). */
        fd = net_accept(listen_fd, peer);
        if (fd != -1) {
            if (start_client(fd, peer, &attributes) == -1)
                close(fd);
        } else if (errno == EMFILE || errno == ENFILE) {
            paused = net_refuse_without_descriptors(listen_fd, &spare_fd) == -1;
        } else if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN && errno != EWOULDBLOCK) {
            fprintf(stderr, "accept: %s\n", strerror(errno));
        }
    }
    pthread_attr_destroy(&attributes);
    if (spare_fd != -1)
        close(spare_fd);
}

/* Wakes every reader (shutdown() makes a blocked recv() return; close()
 * alone would not), waits until all have finished, and joins them. */
static void stop_all_clients(void)
{
    struct client *client;

    /* TODO step 6 (README step 6): stop every client, then join them all.
     *  - Under table.lock: table.stopping = 1 (a client that joins the table
     *    from now on shuts itself down: step 3), and shutdown(fd,
     *    SHUT_RDWR) the socket of every client in table.clients. A reader
     *    blocked in recv() wakes with end of file, a writer blocked in send()
     *    fails, the client sees its end. Not close(): a recv() already
     *    blocked on the descriptor stays blocked, and the number could be
     *    reused. Not pthread_cancel(): a thread cancelled in the middle of
     *    its work may hold a lock forever.
     *  - Still under the lock, wait until no reader runs: while
     *    table.running > 0, pthread_cond_wait(&table.changed, &table.lock).
     *    (A reader still starting is counted in running; it is not in the
     *    table yet, and finds stopping set when it joins.) Unlock.
     *  - reap_finished(): join them all and free them.
     * Replace the whole body: the lines below are the skeleton's, so that
     * the given stop (no client yet) works before this step is written. */
    pthread_mutex_lock(&table.lock);
    if (table.running == 0) {
        /* (the skeleton's: no reader runs, nothing to stop) */
        pthread_mutex_unlock(&table.lock);
        return;
    }
    pthread_mutex_unlock(&table.lock);
    (void)client;
    todo(6, "wake every reader with shutdown(), wait for them, join them (stop_all_clients)");
}

int main(int argc, char *argv[])
{
    struct net_server_args args;
    const char *failed_call;
    int listen_fd, port;

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
    table.quiet = args.quiet;

    /* Tests read our output through a pipe: send each line at once. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Before "listening": a signal from then on must find the handler. */
    if (net_stop_pipe(wake_pipe) == -1) {
        fprintf(stderr, "signals: %s\n", strerror(errno));
        return 1;
    }
    table.wake_fd = wake_pipe[1];
    listen_fd = net_listen(args.port, BACKLOG, &port, &failed_call);
    if (listen_fd == -1) {
        fprintf(stderr, "%s: %s\n", failed_call, strerror(errno));
    } else if (net_set_nonblocking(listen_fd, 1) == -1) {
        /* Non-blocking: a client that resets between poll() and accept()
         * must not leave the main thread waiting in accept(). */
        fprintf(stderr, "fcntl: %s\n", strerror(errno));
        close(listen_fd);
        listen_fd = -1;
    }
    if (listen_fd == -1) {
        close(wake_pipe[0]);
        close(wake_pipe[1]);
        return 1;
    }
    printf("listening on port %d\n", port);

    accept_clients(listen_fd);
    close(listen_fd);
    stop_all_clients();
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    puts("server stopped");
    return 0;
}
