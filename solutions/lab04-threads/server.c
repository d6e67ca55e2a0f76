/* lab04 server: a chat relay with threads. Each client has a reader thread
 * (its lines, relayed to every other client) and a writer thread (its own
 * bounded queue, sent in one go), so a client that stops reading never
 * stalls the others: past the bound it is dropped. The table of clients is
 * shared, under a mutex. Signals reach the main thread only, by a self-pipe.
 * Left out on purpose: a thread pool or an event loop (see the README).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"
#include "net.h"
#include "utf8.h"

#define DEFAULT_PORT 12800              /* the course's port */
#define BACKLOG SOMAXCONN               /* many clients may connect at once */
#define QUEUE_LIMIT (4 * 1024 * 1024)   /* unread bytes before a client is dropped */
#define THREAD_STACK (256 * 1024)       /* our threads need little stack */
#define NAME_SIZE 32                    /* "client-K" */
#define ANSWER_SIZE 64                  /* "ERR invalid UTF-8 at byte I\n" */

/* One connected client and its two threads. */
struct client {
    int fd;
    char name[NAME_SIZE];
    char address[INET_ADDRSTRLEN + 8];  /* "IP:PORT" */
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
} table = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, 0, -1 };

/* The main thread's self-pipe: a signal or a finished thread wakes poll(). */
static int wake_pipe[2] = { -1, -1 };

/* SIGINT/SIGTERM, in the main thread only: write 's' to the pipe. */
static void on_stop_signal(int signo)
{
    int saved_errno = errno;
    ssize_t written = write(wake_pipe[1], "s", 1);

    (void)signo;
    (void)written; /* a full pipe already holds a wake-up */
    errno = saved_errno;
}

/* Prints how to run the program on stream out. */
static void print_usage(FILE *out, const char *program)
{
    fprintf(out, "usage: %s [-q] [PORT]   (PORT 0-65535, default %d; 0 = any free port)\n",
            program, DEFAULT_PORT);
}

/* Parses a port number from 0 to 65535. Returns it, or -1 if text is not one. */
static long parse_port(const char *text)
{
    char *end;
    long port;

    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    port = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || port > 65535)
        return -1;
    return port;
}

/* Appends len bytes to the client's queue and wakes its writer. A client
 * whose unread bytes would pass QUEUE_LIMIT does not read: it is dropped
 * (shutdown() wakes its reader, which then leaves). Any thread may call. */
static void queue_append(struct client *client, const char *bytes, size_t len)
{
    size_t needed, capacity;
    char *grown;
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
    if (needed > client->capacity && needed <= QUEUE_LIMIT) {
        capacity = client->capacity == 0 ? 4096 : client->capacity;
        while (capacity < needed)
            capacity *= 2;
        grown = realloc(client->queue, capacity);
        if (grown != NULL) {
            client->queue = grown;
            client->capacity = capacity;
        }
    }
    if (needed > client->capacity) { /* past the bound, or out of memory */
        client->dropped = 1;
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

/* Grows *batch to hold at least needed bytes. Returns 0, or -1. */
static int reserve(char **batch, size_t *capacity, size_t needed)
{
    size_t bigger = *capacity == 0 ? 65536 : *capacity;
    char *grown;

    if (needed <= *capacity)
        return 0;
    while (bigger < needed)
        bigger *= 2;
    grown = realloc(*batch, bigger);
    if (grown == NULL)
        return -1;
    *batch = grown;
    *capacity = bigger;
    return 0;
}

/* Reads one chunk and relays its complete lines: all of them in one batch,
 * "client-K> <line>\n" each, one table lock, one append per receiver. A bad
 * line is answered to its sender alone. Returns 0 to go on, -1 when the
 * session ends (end of file, reset, shutdown, or "fin", answered "bye"). */
static int relay_chunk(struct client *client, char **batch, size_t *capacity)
{
    const char *line;
    size_t len, chars, error_at, batch_len = 0, prefix_len = strlen(client->name) + 2;
    char answer[ANSWER_SIZE];
    int result, answer_len, fin = 0;
    ssize_t received = linebuf_fill(&client->lines);

    if (received <= 0)
        return -1;
    while (!fin && (result = linebuf_next(&client->lines, &line, &len)) != LINEBUF_NONE) {
        if (result == LINEBUF_TOO_LONG) {
            queue_append(client, "ERR line too long\n", 18);
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
        queue_append(client, "bye\n", 4);
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
    close(client->fd);

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

/* Joins the threads that finished and frees their clients. Main thread. */
static void reap_finished(void)
{
    struct client *client, *next;

    pthread_mutex_lock(&table.lock);
    client = table.finished;
    table.finished = NULL;
    pthread_mutex_unlock(&table.lock);
    for (; client != NULL; client = next) {
        next = client->next;
        pthread_join(client->reader, NULL);
        pthread_mutex_destroy(&client->lock);
        pthread_cond_destroy(&client->wake);
        free(client->queue);
        free(client);
    }
}

/* Creates a client for a new connection and starts its reader thread with
 * SIGINT/SIGTERM blocked, so that only the main thread receives them.
 * Returns 0, or -1 (the caller closes fd). */
static int start_client(int fd, const struct sockaddr_in *peer, const pthread_attr_t *attributes)
{
    /* malloc, not calloc: the reader's 64 KiB are touched only as used. */
    struct client *client = malloc(sizeof *client);
    char ip[INET_ADDRSTRLEN];
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
    inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof ip);
    snprintf(client->address, sizeof client->address, "%s:%d", ip, ntohs(peer->sin_port));
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

/* Out of descriptors (EMFILE): the waiting connection would wake poll()
 * again and again. Free the spare descriptor, accept the connection with it
 * and close it at once, then take the spare back. Returns the new spare. */
static int refuse_without_descriptors(int listen_fd, int spare_fd)
{
    int fd;

    if (spare_fd != -1)
        close(spare_fd);
    fd = accept(listen_fd, NULL, NULL);
    if (fd >= 0)
        close(fd);
    return open("/dev/null", O_RDONLY);
}

/* Creates the non-blocking listening socket on every local IPv4 address and
 * the given port (0 = any). Returns it, or -1 after printing "call: reason". */
static int open_listener(long port)
{
    struct sockaddr_in address;
    int listen_fd;
    int yes = 1;

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == -1) {
        fprintf(stderr, "socket: %s\n", strerror(errno));
        return -1;
    }
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) == -1) {
        fprintf(stderr, "setsockopt: %s\n", strerror(errno));
        close(listen_fd);
        return -1;
    }
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons((unsigned short)port);
    if (bind(listen_fd, (struct sockaddr *)&address, sizeof address) == -1) {
        fprintf(stderr, "bind: %s\n", strerror(errno));
        close(listen_fd);
        return -1;
    }
    if (listen(listen_fd, BACKLOG) == -1 || set_nonblocking(listen_fd) == -1) {
        fprintf(stderr, "listen: %s\n", strerror(errno));
        close(listen_fd);
        return -1;
    }
    return listen_fd;
}

/* Returns the port a bound socket really uses, or -1 with errno set. */
static int local_port(int fd)
{
    struct sockaddr_in address;
    socklen_t address_len = sizeof address;

    if (getsockname(fd, (struct sockaddr *)&address, &address_len) == -1)
        return -1;
    return ntohs(address.sin_port);
}

/* The main thread's loop: accept clients until a stop signal. poll()
 * watches the listening socket and the pipe (signals, finished threads).
 * poll() rather than lab03's select(): for two descriptors it reads simpler,
 * and ThreadSanitizer delivers signals during poll() but not select(). */
static void accept_clients(int listen_fd)
{
    pthread_attr_t attributes;
    struct sockaddr_in peer;
    socklen_t peer_len;
    struct pollfd watched[2];
    char wake_bytes[64];
    ssize_t i, got;
    int fd, stop = 0;
    int spare_fd = open("/dev/null", O_RDONLY);

    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, THREAD_STACK);
    watched[0].fd = wake_pipe[0];
    watched[0].events = POLLIN;
    watched[1].fd = listen_fd;
    watched[1].events = POLLIN;
    while (!stop) {
        if (poll(watched, 2, -1) == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "poll: %s\n", strerror(errno));
            break;
        }
        if (watched[0].revents & POLLIN) {
            while ((got = read(wake_pipe[0], wake_bytes, sizeof wake_bytes)) > 0)
                for (i = 0; i < got; i++)
                    if (wake_bytes[i] == 's')
                        stop = 1;
            reap_finished();
        }
        if (stop || !(watched[1].revents & POLLIN))
            continue;
        peer_len = sizeof peer;
        fd = accept(listen_fd, (struct sockaddr *)&peer, &peer_len);
        if (fd == -1) {
            if (errno == EMFILE || errno == ENFILE)
                spare_fd = refuse_without_descriptors(listen_fd, spare_fd);
            else if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN && errno != EWOULDBLOCK)
                fprintf(stderr, "accept: %s\n", strerror(errno));
            continue;
        }
        if (start_client(fd, &peer, &attributes) == -1)
            close(fd);
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

/* Creates the self-pipe (non-blocking ends), ignores SIGPIPE and installs
 * the stop handler. Returns 0, or -1 with errno set. */
static int install_signal_handlers(void)
{
    struct sigaction action;

    if (pipe(wake_pipe) == -1)
        return -1;
    if (set_nonblocking(wake_pipe[0]) == -1 || set_nonblocking(wake_pipe[1]) == -1)
        return -1;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, NULL) == -1)
        return -1;
    action.sa_handler = on_stop_signal;
    if (sigaction(SIGINT, &action, NULL) == -1 || sigaction(SIGTERM, &action, NULL) == -1)
        return -1;
    return 0;
}

int main(int argc, char *argv[])
{
    long port = DEFAULT_PORT;
    int have_port = 0;
    int listen_fd, i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            table.quiet = 1;
        } else if (argv[i][0] != '-' && !have_port && (port = parse_port(argv[i])) != -1) {
            have_port = 1;
        } else {
            fprintf(stderr, "%s: bad argument '%s'\n", argv[0], argv[i]);
            print_usage(stderr, argv[0]);
            return 2;
        }
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (install_signal_handlers() == -1) {
        fprintf(stderr, "signals: %s\n", strerror(errno));
        return 1;
    }
    table.wake_fd = wake_pipe[1];
    listen_fd = open_listener(port);
    if (listen_fd != -1 && (port = local_port(listen_fd)) == -1) {
        fprintf(stderr, "getsockname: %s\n", strerror(errno));
        close(listen_fd);
        listen_fd = -1;
    }
    if (listen_fd == -1) {
        close(wake_pipe[0]);
        close(wake_pipe[1]);
        return 1;
    }
    printf("listening on port %ld\n", port);

    accept_clients(listen_fd);
    close(listen_fd);
    stop_all_clients();
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    puts("server stopped");
    return 0;
}
