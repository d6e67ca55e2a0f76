/* relay.c - the chat's shared log: a producer/consumer buffer with one
 * producer per sender and one consumer per receiver. Senders append
 * batches of lines; each receiver's writer sends the log from its own place
 * in it, and a batch is freed once every writer has passed it: one copy of
 * each line, however many clients. Flow control with high and low water
 * marks and a deadline keeps the log, and so memory, bounded. One mutex
 * guards everything here; senders wait on one condition, each writer on
 * its own.
 *
 * This is the skeleton: the structs, relay_init(), relay_member_init(),
 * relay_send() and relay_answer() are given, and each "TODO step N" is
 * yours: steps 1, 2, 3, 5 and 6 here, the others in server.c and client.c.
 * README.md explains every step; the tests named "step N" check it, and
 * `make hint LAB=04 STEP=N` gives hints, one level more each time.
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

/* Stops the server where a step is still to be written (server.c calls it
 * too). Delete each call once you have written its step, with the
 * "(void)name;" lines next to it (they only keep the compiler quiet about
 * names nothing uses yet). exit() ends every thread; the mutex, never
 * unlocked, keeps a second thread that reaches a TODO meanwhile from
 * calling exit() at the same time (exit() is not thread-safe). */
void todo(int step, const char *what)
{
    static pthread_mutex_t first = PTHREAD_MUTEX_INITIALIZER;

    pthread_mutex_lock(&first);
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

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
    /* TODO step 5: the lock is held. Return the bytes from the oldest
     * batch m has not passed to the end of the last one it will pass
     * (m->last, or the newest), 0 if none: from the batches' start, without
     * walking the log. (make hint LAB=04 STEP=5) */
    (void)m;
    todo(5, "how far behind a member is (owed)");
    return 0;
}

/* m's writer passed count batches (SIZE_MAX: all it is owed). Frees the
 * batches every writer has passed: the oldest first, since writers pass
 * them in order. Ends "behind" once m is under the low mark. */
static void pass_batches(struct relay_member *m, size_t count)
{
    struct relay_batch *batch;

    /* TODO step 2: the lock is held. m's place (m->unsent) moves on by
     * count batches, never past m->last, each with one writer fewer to
     * wait for; the batches no writer needs any more are freed, and
     * relay.oldest and relay.newest stay right. Calls: free().
     * (make hint LAB=04 STEP=2)
     * TODO step 5, later: m behind and now under RELAY_LOW_WATER is behind
     * no more; once nobody is, every waiting sender may go. Calls:
     * pthread_cond_broadcast(). (make hint LAB=04 STEP=5) */
    (void)m;
    (void)count;
    (void)batch;
    todo(2, "let a writer pass batches, free what nobody needs (pass_batches)");
}

/* m hears no new batch from now on; its writer passes those it is owed (up
 * to m->last), then ends. */
static void leave_chat(struct relay_member *m)
{
    /* TODO step 3: the lock is held. m stops hearing new batches (once
     * only: out of the chat's count, the newest batch the last it is owed),
     * is marked left, and its writer, maybe asleep in relay_next(), hears
     * of it. Calls: pthread_cond_signal(). (make hint LAB=04 STEP=3) */
    (void)m;
    todo(3, "take a member out of the chat (leave_chat)");
}

/* Shuts m's connection down (its reader and writer wake up and end). */
static void drop(struct relay_member *m)
{
    /* TODO step 3: the lock is held. Once only: m marked dropped, its
     * connection shut down both ways (its reader and writer then end as if
     * the client had gone; only its reader closes the socket), and out of
     * the chat. Calls: shutdown(), leave_chat(). (make hint LAB=04 STEP=3) */
    (void)m;
    (void)leave_chat;
    todo(3, "drop a member: shut its connection down (drop)");
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

    /* TODO step 1: the lock is held. Nobody in the chat: nothing to do.
     * Otherwise the bytes become one batch at the newest end of the log,
     * to be passed by every writer in the chat; a member whose writer had
     * passed everything gets it as its next one, and that writer is woken.
     * Returns 0, -1 if memory ran out. Calls: malloc() (once: bytes[] is a
     * flexible array member), memcpy(), pthread_cond_signal().
     * (make hint LAB=04 STEP=1)
     * TODO step 5, later: a member now over RELAY_HIGH_WATER falls behind,
     * with its deadline; then wake the main thread through relay.wake_fd.
     * Calls: clock_gettime(), write(). (make hint LAB=04 STEP=5) */
    (void)from;
    (void)to;
    (void)bytes;
    (void)len;
    (void)batch;
    (void)m;
    todo(1, "append a batch to the log, wake the writers waiting (append)");
    (void)now; /* step 5's: keep these two lines until then */
    (void)fell_behind;
    return -1;
}

/* Appends "* client-K <what>" for everyone but m. News waits for no
 * receiver: it is one short line per connection. */
static void announce(const struct relay_member *m, const char *what)
{
    char news[NEWS_SIZE];
    int len;

    /* TODO step 3: the lock is held. Append "* client-K <what>\n" from m
     * for everyone (m's writer skips it). Calls: snprintf(), append().
     * (make hint LAB=04 STEP=3) */
    (void)m;
    (void)what;
    (void)news;
    (void)len;
    todo(3, "append news for everyone but one (announce)");
}

void relay_join(struct relay_member *m)
{
    char welcome[NEWS_SIZE];
    int len;

    /* TODO step 3: under the lock, in one go: m into the list and the chat,
     * then "welcome client-K" for m alone, then the news for the others.
     * So its welcome is its first line, and it hears of nothing older.
     * Calls: snprintf(), append(), announce(). (make hint LAB=04 STEP=3) */
    (void)m;
    (void)welcome;
    (void)len;
    (void)announce;
    todo(3, "join a member: welcome, then news (relay_join)");
}

int relay_expire(void)
{
    struct relay_member *m;
    struct timespec now;
    long long wait_ms = -1, ms;

    /* TODO step 5: under the lock, drop each member behind past its
     * deadline (late: relay_leave() reports it). Return the milliseconds to
     * the nearest deadline left, rounded up, or -1 if nobody is behind.
     * Calls: clock_gettime(), drop(). (make hint LAB=04 STEP=5)
     * Replace the whole body: the line below is the skeleton's, right until
     * step 5 (nobody falls behind before it: no deadline to keep). */
    (void)m;
    (void)now;
    (void)wait_ms;
    (void)ms;
    (void)owed;
    return -1;
}

/* Flow control, then the append for relay_send() and relay_answer(). */
static int append_waiting(struct relay_member *sender, unsigned long to, const char *bytes, size_t len)
{
    int result = -1;

    /* TODO step 5: under the lock, wait while a member is behind; the
     * sender dropped or the stop: append nothing, return -1. Otherwise
     * append from the sender for everyone (to 0), or from the relay for
     * the sender alone, and return what append() returns. The answer
     * "bye\n" appended, the sender leaves the chat before the unlock
     * (nothing may reach a client after its bye). Calls:
     * pthread_cond_wait(), append(), leave_chat(). (make hint LAB=04 STEP=5)
     * Replace the whole body: the lines below are the skeleton's, so that
     * steps 1 to 4 run without flow control: they append at once, and stop
     * the server here as soon as the log holds more than RELAY_HIGH_WATER
     * (a receiver that far behind). */
    pthread_mutex_lock(&relay.lock);
    if (relay.oldest != NULL && relay.appended - relay.oldest->start > RELAY_HIGH_WATER)
        todo(5, "a receiver is RELAY_HIGH_WATER behind: flow control (append_waiting)");
    result = append(to == 0 ? sender->number : 0, to, bytes, len);
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

    /* TODO step 2: under the lock, sleep while m has nothing unsent and has
     * not left. Owed nothing, or dropped: let go of all it holds, return
     * -1. Otherwise point iov at the batches meant for m, max at most,
     * never past m->last, counting in *passed every batch walked; return
     * the entries (0: all skipped). Nothing copied, nothing freed. Calls:
     * pthread_cond_wait(), pass_batches(). (make hint LAB=04 STEP=2) */
    (void)m;
    (void)iov;
    (void)max;
    (void)passed;
    (void)batch;
    (void)count;
    (void)pass_batches;
    todo(2, "wait for batches, point the writer at them (relay_next)");
    return -1;
}

void relay_passed(struct relay_member *m, size_t passed, int failed)
{
    /* TODO step 2: under the lock, m's writer passed that many batches; a
     * failed send drops m and lets go of all it is owed. Calls:
     * pass_batches(), drop() (step 3's: call it all the same).
     * (make hint LAB=04 STEP=2) */
    (void)m;
    (void)passed;
    (void)failed;
    (void)drop;
    todo(2, "the writer passed batches (relay_passed)");
}

int relay_leave(struct relay_member *m)
{
    int late;

    /* TODO step 3: under the lock, m leaves the chat and the others hear
     * "* client-K left", unless the relay is stopping. Return m->late (set
     * by relay_expire() from step 5 on). Calls: leave_chat(), announce().
     * (make hint LAB=04 STEP=3) */
    (void)m;
    (void)late;
    todo(3, "a member leaves the chat (relay_leave)");
    return 0;
}

void relay_remove(struct relay_member *m)
{
    struct relay_member **link;

    /* TODO step 3: under the lock, m out of relay.members (where it may be
     * missing: see start_client()); then its condition variable destroyed.
     * Calls: pthread_cond_destroy(). (make hint LAB=04 STEP=3) */
    (void)m;
    (void)link;
    todo(3, "take a member out of the relay's list (relay_remove)");
}

void relay_stop(void)
{
    struct relay_member *m;

    /* TODO step 6: under the lock, the relay stops (relay.stopping), every
     * member in the list is shut down, those that left included, and every
     * sender waiting in append_waiting() is woken. Calls: shutdown(),
     * pthread_cond_broadcast(). (make hint LAB=04 STEP=6) */
    (void)m;
    todo(6, "shut down every member, wake every sender (relay_stop)");
}
