/* lab04 server: a chat relay with threads. Each client has a reader thread
 * (its lines, relayed to every other client) and a writer thread (its own
 * bounded queue, sent in one go), so a client that stops reading never
 * stalls the others: past the bound it is dropped. The table of clients is
 * shared, under a mutex. Signals reach the main thread only, by a self-pipe.
 * What labs 1 to 3 wrote (the command line, the listening socket for IPv6
 * and IPv4, accept, the signals and their self-pipe, the spare descriptor)
 * is in net.c. Left out on purpose: a thread pool or an event loop (see the
 * README).
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

    pthread_mutex_lock(&client->lock);
    if (client->dropped || client->closing) {
        pthread_mutex_unlock(&client->lock);
        return;
    }
    /* The writer sleeps only on an empty queue: otherwise it is sending and
     * looks at the queue again before sleeping, no need to wake it. */
    wake_writer = client->queued == 0;
    needed = client->queued + len;
    if (needed > QUEUE_LIMIT || reserve(&client->queue, &client->capacity, needed) == -1) {
        client->dropped = 1; /* past the bound, or out of memory */
        shutdown(client->fd, SHUT_RDWR);
        wake_writer = 1;
    } else {
        memcpy(client->queue + client->queued, bytes, len);
        client->queued = needed;
    }
    /* Signalled with the lock held: Helgrind calls a signal without it
     * dubious, and holding it costs nothing here. */
    if (wake_writer)
        pthread_cond_signal(&client->wake);
    pthread_mutex_unlock(&client->lock);
}

/* Sends bytes to every client in the table but one (except may be NULL).
 * The caller holds table.lock, so the table cannot change meanwhile and
 * every receiver gets the senders' batches in the same order. */
static void send_to_others(const struct client *except, const char *bytes, size_t len)
{
    struct client *client;

    for (client = table.clients; client != NULL; client = client->next)
        if (client != except)
            queue_append(client, bytes, len);
}

/* The writer thread: sends the whole queue in one go each time it wakes.
 * It swaps the queue with its own buffer, so senders append to an empty
 * queue while it sends without holding the lock. */
static void *writer_main(void *arg)
{
    struct client *client = arg;
    char *sending = NULL, *swap;
    size_t sending_capacity = 0, swap_capacity, len;

    pthread_mutex_lock(&client->lock);
    for (;;) {
        while (client->queued == 0 && !client->closing && !client->dropped)
            pthread_cond_wait(&client->wake, &client->lock);
        if (client->dropped || client->queued == 0)
            break; /* dead, or closing with nothing left to send */
        swap = client->queue;
        swap_capacity = client->capacity;
        client->queue = sending;
        client->capacity = sending_capacity;
        sending = swap;
        sending_capacity = swap_capacity;
        len = client->queued;
        client->queued = 0;
        pthread_mutex_unlock(&client->lock);

        if (send_all(client->fd, sending, len) == -1) {
            pthread_mutex_lock(&client->lock);
            client->dropped = 1;
            shutdown(client->fd, SHUT_RDWR); /* the reader sees it and leaves */
            break;
        }
        pthread_mutex_lock(&client->lock);
    }
    pthread_mutex_unlock(&client->lock);
    free(sending);
    return NULL;
}

/* Adds the client to the table: its welcome first, then everyone else
 * hears that it joined. */
static void join_table(struct client *client)
{
    char message[NAME_SIZE + 32];
    int len;

    pthread_mutex_lock(&table.lock);
    client->next = table.clients;
    table.clients = client;
    if (table.stopping) /* too late: stop_all_clients() has done its round */
        shutdown(client->fd, SHUT_RDWR);
    len = snprintf(message, sizeof message, "welcome %s\n", client->name);
    queue_append(client, message, (size_t)len);
    len = snprintf(message, sizeof message, "* %s joined\n", client->name);
    send_to_others(client, message, (size_t)len);
    if (!table.quiet)
        printf("%s connected from %s\n", client->name, client->address);
    pthread_mutex_unlock(&table.lock);
}

/* Removes the client from the table; everyone else hears that it left. */
static void leave_table(struct client *client)
{
    struct client **link;
    char message[NAME_SIZE + 32];
    int len;

    pthread_mutex_lock(&table.lock);
    for (link = &table.clients; *link != client; link = &(*link)->next)
        ;
    *link = client->next;
    if (!table.stopping) {
        len = snprintf(message, sizeof message, "* %s left\n", client->name);
        send_to_others(client, message, (size_t)len);
    }
    if (!table.quiet)
        printf("%s disconnected\n", client->name);
    pthread_mutex_unlock(&table.lock);
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
    ssize_t received = linebuf_fill(&client->lines);

    if (received <= 0)
        return -1;
    while (!fin && (result = linebuf_next(&client->lines, &line, &len)) != LINEBUF_NONE) {
        if (result == LINEBUF_TOO_LONG) {
            answer_len = snprintf(answer, sizeof answer, "ERR line too long\n");
            queue_append(client, answer, (size_t)answer_len);
        } else if (!utf8_check(line, len, &chars, &error_at)) {
            answer_len = snprintf(answer, sizeof answer, "ERR invalid UTF-8 at byte %zu\n", error_at);
            queue_append(client, answer, (size_t)answer_len);
        } else if (len == 3 && strncasecmp(line, "fin", 3) == 0) {
            fin = 1;
        } else {
            if (reserve(batch, capacity, batch_len + prefix_len + len + 1) == -1)
                return -1;
            memcpy(*batch + batch_len, client->name, prefix_len - 2);
            memcpy(*batch + batch_len + prefix_len - 2, "> ", 2);
            memcpy(*batch + batch_len + prefix_len, line, len);
            batch_len += prefix_len + len;
            (*batch)[batch_len++] = '\n';
        }
    }
    if (batch_len > 0) {
        pthread_mutex_lock(&table.lock);
        if (!table.quiet)
            fwrite(*batch, 1, batch_len, stdout); /* one call: never mixed with other threads' lines */
        send_to_others(client, *batch, batch_len);
        pthread_mutex_unlock(&table.lock);
    }
    if (fin) {
        queue_append(client, bye, sizeof bye - 1);
        return -1;
    }
    return 0;
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

    if (pthread_create(&client->writer, NULL, writer_main, client) != 0) {
        fprintf(stderr, "pthread_create: no writer thread for %s\n", client->name);
    } else {
        join_table(client);
        while (relay_chunk(client, &batch, &capacity) == 0)
            ;
        leave_table(client);
        pthread_mutex_lock(&client->lock);
        client->closing = 1;
        pthread_cond_signal(&client->wake);
        pthread_mutex_unlock(&client->lock);
        pthread_join(client->writer, NULL);
    }
    free(batch);
    close(client->fd); /* before the hand-over: the main thread counts on a free descriptor */

    pthread_mutex_lock(&table.lock);
    client->next = table.finished;
    table.finished = client;
    table.running--;
    pthread_cond_broadcast(&table.changed);
    pthread_mutex_unlock(&table.lock);
    written = write(table.wake_fd, "r", 1); /* the main thread joins us */
    (void)written;
    return NULL;
}

/* Joins the threads that finished and frees their clients. Main thread.
 * Returns how many it freed. */
static unsigned long reap_finished(void)
{
    struct client *client, *next;
    unsigned long reaped = 0;

    pthread_mutex_lock(&table.lock);
    client = table.finished;
    table.finished = NULL;
    pthread_mutex_unlock(&table.lock);
    for (; client != NULL; client = next, reaped++) {
        next = client->next;
        pthread_join(client->reader, NULL);
        pthread_mutex_destroy(&client->lock);
        pthread_cond_destroy(&client->wake);
        free(client->queue);
        free(client);
    }
    return reaped;
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

    pthread_mutex_lock(&table.lock);
    table.stopping = 1;
    for (client = table.clients; client != NULL; client = client->next)
        shutdown(client->fd, SHUT_RDWR);
    while (table.running > 0)
        pthread_cond_wait(&table.changed, &table.lock);
    pthread_mutex_unlock(&table.lock);
    reap_finished();
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
