/* relay.c - the chat's shared log: a producer/consumer buffer with one
 * producer per sender and one consumer per receiver. Senders append
 * batches of lines; each receiver's writer sends the log from its own place
 * in it, and a batch is freed once every writer has passed it: one copy of
 * each line, however many clients. Flow control with high and low water
 * marks and a deadline keeps the log, and so memory, bounded. One mutex
 * guards everything here; senders wait on one condition, each writer on
 * its own.
 */
#include "relay.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NEWS_SIZE 64                    /* "welcome client-K\n", "* client-K joined\n" */

/* Bytes appended to the log in one step: lines of one sender, or one line
 * from the relay itself (news for everyone, a welcome for one). */
struct relay_batch {
    struct relay_batch *next;           /* the next newer batch */
    unsigned long from;                 /* the sender's number; 0: the relay */
    unsigned long to;                   /* for this member alone; 0: for all but from */
    unsigned long unsent;               /* writers that have still to pass it */
    unsigned long long start;           /* bytes appended to the log before it */
    size_t len;
    char bytes[];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t caught_up;           /* senders': nobody behind any more, or stop */
    struct relay_member *members;       /* from join to remove */
    struct relay_batch *oldest, *newest;
    unsigned long long appended;        /* bytes ever appended */
    unsigned long in_chat;              /* members hearing new batches */
    unsigned long behind;               /* members behind */
    int stopping;
    int wake_fd;                        /* written to when a member falls behind */
} relay = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .caught_up = PTHREAD_COND_INITIALIZER,
    .wake_fd = -1,
};

void relay_init(int wake_fd)
{
    relay.wake_fd = wake_fd;
}

void relay_member_init(struct relay_member *m, int fd, unsigned long number)
{
    memset(m, 0, sizeof *m);
    m->fd = fd;
    m->number = number;
    pthread_cond_init(&m->wake, NULL);
}

/* How many bytes of the log m's writer has still to pass. */
static unsigned long long owed(const struct relay_member *m)
{
    const struct relay_batch *end = m->last != NULL ? m->last : relay.newest;

    return m->unsent == NULL ? 0 : end->start + end->len - m->unsent->start;
}

/* m's writer passed count batches (SIZE_MAX: all it is owed). Frees the
 * batches every writer has passed: the oldest first, since writers pass
 * them in order. Ends "behind" once m is under the low mark. */
static void pass_batches(struct relay_member *m, size_t count)
{
    struct relay_batch *batch;

    for (; count > 0 && m->unsent != NULL; count--) {
        batch = m->unsent;
        m->unsent = batch == m->last ? NULL : batch->next;
        batch->unsent--;
    }
    while (relay.oldest != NULL && relay.oldest->unsent == 0) {
        batch = relay.oldest;
        relay.oldest = batch->next;
        free(batch);
    }
    if (relay.oldest == NULL)
        relay.newest = NULL;
    if (m->behind && owed(m) < RELAY_LOW_WATER) {
        m->behind = 0;
        if (--relay.behind == 0)
            pthread_cond_broadcast(&relay.caught_up);
    }
}

/* m hears no new batch from now on; its writer passes those it is owed (up
 * to m->last), then ends. */
static void leave_chat(struct relay_member *m)
{
    if (m->in_chat) {
        m->in_chat = 0;
        relay.in_chat--;
        m->last = relay.newest;
    }
    m->left = 1;
    pthread_cond_signal(&m->wake);
}

/* Shuts m's connection down (its reader and writer wake up and end). */
static void drop(struct relay_member *m)
{
    if (!m->dropped) {
        m->dropped = 1;
        shutdown(m->fd, SHUT_RDWR);
        leave_chat(m);
    }
}

/* Appends len bytes as one batch (from, to: see struct relay_batch), wakes
 * the writers waiting for one, and marks the members now over the high mark
 * behind, each with its deadline. Returns 0, or -1 if memory ran out. */
static int append(unsigned long from, unsigned long to, const char *bytes, size_t len)
{
    struct relay_batch *batch;
    struct relay_member *m;
    struct timespec now;
    int fell_behind = 0;

    if (relay.in_chat == 0)
        return 0; /* nobody to send it to */
    batch = malloc(sizeof *batch + len);
    if (batch == NULL)
        return -1;
    *batch = (struct relay_batch){ .from = from, .to = to, .unsent = relay.in_chat,
                                   .start = relay.appended, .len = len };
    memcpy(batch->bytes, bytes, len);
    *(relay.newest != NULL ? &relay.newest->next : &relay.oldest) = batch;
    relay.newest = batch;
    relay.appended += len;
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (m = relay.members; m != NULL; m = m->next) {
        if (m->in_chat && m->unsent == NULL) {
            m->unsent = batch; /* its writer was waiting: this is next */
            pthread_cond_signal(&m->wake);
        }
        if (!m->behind && !m->dropped && owed(m) > RELAY_HIGH_WATER) {
            m->behind = 1;
            m->deadline = (struct timespec){ now.tv_sec + RELAY_CATCH_UP_SECONDS, now.tv_nsec };
            relay.behind++;
            fell_behind = 1;
        }
    }
    /* The thread that keeps the deadlines (relay_expire()) may be asleep
     * with none to keep. A full pipe holds a wake-up already. */
    if (fell_behind && write(relay.wake_fd, "d", 1) == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
        perror("write");
    return 0;
}

/* Appends "* client-K <what>" for everyone but m. News waits for no
 * receiver: it is one short line per connection. */
static void announce(const struct relay_member *m, const char *what)
{
    char news[NEWS_SIZE];
    int len = snprintf(news, sizeof news, "* client-%lu %s\n", m->number, what);

    append(m->number, 0, news, (size_t)len);
}

void relay_join(struct relay_member *m)
{
    char welcome[NEWS_SIZE];
    int len;

    pthread_mutex_lock(&relay.lock);
    m->next = relay.members;
    relay.members = m;
    m->in_chat = 1;
    relay.in_chat++;
    len = snprintf(welcome, sizeof welcome, "welcome client-%lu\n", m->number);
    append(0, m->number, welcome, (size_t)len);
    announce(m, "joined");
    pthread_mutex_unlock(&relay.lock);
}

int relay_expire(void)
{
    struct relay_member *m;
    struct timespec now;
    long long wait_ms = -1, ms;

    pthread_mutex_lock(&relay.lock);
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (m = relay.members; m != NULL; m = m->next) {
        if (!m->behind || m->dropped)
            continue;
        ms = (m->deadline.tv_sec - now.tv_sec) * 1000LL + (m->deadline.tv_nsec - now.tv_nsec) / 1000000;
        if (ms <= 0) {
            m->late = 1;
            drop(m);
        } else if (wait_ms == -1 || ms < wait_ms) {
            wait_ms = ms;
        }
    }
    pthread_mutex_unlock(&relay.lock);
    return wait_ms == -1 ? -1 : (int)wait_ms + 1; /* + 1: not a little before it */
}

/* Flow control, then the append for relay_send() and relay_answer(). */
static int append_waiting(struct relay_member *sender, unsigned long to, const char *bytes, size_t len)
{
    int result = -1;

    /* Woken when nobody is behind any more: caught up, or dropped at the
     * deadline by relay_expire() and let go by its writer. */
    pthread_mutex_lock(&relay.lock);
    while (relay.behind > 0 && !sender->dropped && !relay.stopping)
        pthread_cond_wait(&relay.caught_up, &relay.lock);
    if (!sender->dropped && !relay.stopping)
        result = append(to == 0 ? sender->number : 0, to, bytes, len);
    /* "bye" is the last line its client gets: it leaves the chat in the
     * same step, before anyone can append more (relay_leave() comes later). */
    if (result == 0 && to != 0 && len == 4 && memcmp(bytes, "bye\n", 4) == 0)
        leave_chat(sender);
    pthread_mutex_unlock(&relay.lock);
    return result;
}

int relay_send(struct relay_member *sender, const char *bytes, size_t len)
{
    return append_waiting(sender, 0, bytes, len);
}

int relay_answer(struct relay_member *sender, const char *bytes, size_t len)
{
    return append_waiting(sender, sender->number, bytes, len);
}

int relay_next(struct relay_member *m, struct iovec *iov, int max, size_t *passed)
{
    struct relay_batch *batch;
    int count = 0;

    *passed = 0;
    pthread_mutex_lock(&relay.lock);
    while (m->unsent == NULL && !m->left)
        pthread_cond_wait(&m->wake, &relay.lock);
    if (m->unsent == NULL || m->dropped) {
        pass_batches(m, SIZE_MAX); /* dropped: let go of the rest */
        pthread_mutex_unlock(&relay.lock);
        return -1;
    }
    for (batch = m->unsent; batch != NULL && count < max; batch = batch->next) {
        ++*passed;
        if (batch->to == 0 ? batch->from != m->number : batch->to == m->number)
            iov[count++] = (struct iovec){ .iov_base = batch->bytes, .iov_len = batch->len };
        if (batch == m->last)
            break;
    }
    pthread_mutex_unlock(&relay.lock);
    return count;
}

void relay_passed(struct relay_member *m, size_t passed, int failed)
{
    pthread_mutex_lock(&relay.lock);
    if (failed)
        drop(m);
    pass_batches(m, failed ? SIZE_MAX : passed);
    pthread_mutex_unlock(&relay.lock);
}

int relay_leave(struct relay_member *m)
{
    int late;

    pthread_mutex_lock(&relay.lock);
    leave_chat(m);
    if (!relay.stopping)
        announce(m, "left");
    late = m->late;
    pthread_mutex_unlock(&relay.lock);
    return late;
}

void relay_remove(struct relay_member *m)
{
    struct relay_member **link;

    pthread_mutex_lock(&relay.lock);
    for (link = &relay.members; *link != NULL && *link != m; link = &(*link)->next)
        ;
    if (*link == m)
        *link = m->next;
    pthread_mutex_unlock(&relay.lock);
    pthread_cond_destroy(&m->wake);
}

void relay_stop(void)
{
    struct relay_member *m;

    pthread_mutex_lock(&relay.lock);
    relay.stopping = 1;
    for (m = relay.members; m != NULL; m = m->next)
        shutdown(m->fd, SHUT_RDWR);
    pthread_cond_broadcast(&relay.caught_up);
    pthread_mutex_unlock(&relay.lock);
}
