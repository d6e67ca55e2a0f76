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
 * README.md explains every step; the tests named "step N" check it.
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
    /* TODO step 5: the bytes from the start of the oldest batch m has not
     * passed to the end of the last one it will pass (m->last once it
     * left, otherwise the newest); 0 when it has passed everything. Each
     * batch knows where it starts in the log: no need to walk the list.
     * The lock is held. */
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

    /* TODO step 2: the lock is held. m's place in the log (m->unsent) moves
     * on by count batches, never beyond m->last (past it m is owed nothing:
     * NULL); each batch passed has one writer fewer to wait for. Then free
     * the batches at the old end of the log that no writer needs any more,
     * and keep relay.oldest and relay.newest right (both NULL once the log
     * is empty). A batch in the middle cannot be free while an older one is
     * not: every writer passes them in order.
     * TODO step 5, later: last, if m was behind and now owes less than
     * RELAY_LOW_WATER, it is not behind any more; when the last member
     * behind catches up, the senders waiting in append_waiting() may go. */
    (void)m;
    (void)count;
    (void)batch;
    todo(2, "let a writer pass batches, free what nobody needs (pass_batches)");
}

/* m hears no new batch from now on; its writer passes those it is owed (up
 * to m->last), then ends. */
static void leave_chat(struct relay_member *m)
{
    /* TODO step 3: the lock is held. A member still in the chat stops
     * counting among those that hear new batches, and the newest batch is
     * the last it is owed. In any case it has left (a second call changes
     * nothing more), and its writer, which may be asleep in relay_next(),
     * must hear of it. */
    (void)m;
    todo(3, "take a member out of the chat (leave_chat)");
}

/* Shuts m's connection down (its reader and writer wake up and end). */
static void drop(struct relay_member *m)
{
    /* TODO step 3: the lock is held. Once only: mark m dropped, shutdown()
     * its socket both ways and take it out of the chat. Its reader's recv()
     * returns at once and its writer's send() fails: both end as if the
     * client had gone. Not close(): the reader owns the descriptor and
     * closes it, once, at its very end. */
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

    /* TODO step 1: the lock is held (every caller holds it). With nobody in
     * the chat there is nothing to do. Otherwise the bytes become a new
     * batch at the newest end of the log (the oldest too, if the log was
     * empty): one malloc() for the struct and its bytes, its fields set
     * (every writer in the chat has to pass it; start: the bytes appended
     * before it), relay.appended counting them.
     * Then the writers: a member in the chat whose writer has passed
     * everything (no unsent batch) is asleep in relay_next(), or about to
     * be: this batch is its next one; wake that writer (its own condition,
     * which only it waits on).
     * TODO step 5, later: in the same walk over the members, one that is
     * not behind nor dropped and now owes more than RELAY_HIGH_WATER falls
     * behind: mark it, count it, and give it its deadline,
     * RELAY_CATCH_UP_SECONDS from now on CLOCK_MONOTONIC. If one fell
     * behind, write a byte into relay.wake_fd: the main thread may be
     * asleep in poll() with no deadline to keep (a full pipe, EAGAIN, holds
     * a wake-up already). */
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

    /* TODO step 3: the lock is held. The line, "\n" included, is appended
     * as a batch from m for everyone: m's own writer skips it. */
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

    /* TODO step 3: all of it under the lock, in one go, so that no other
     * batch comes in between: m goes into the list of members and into the
     * chat (it counts in the batches appended from now on, and in none
     * before), then its welcome is appended, from the relay for m alone,
     * then the news that it joined. So its welcome is its first line, and
     * it hears of nothing older. */
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

    /* TODO step 5: under the lock, look at each member behind and not yet
     * dropped: past its deadline it is late (relay_leave() reports it) and
     * dropped; otherwise it counts for the shortest wait. Return that wait
     * in milliseconds, rounded up (woken a little early, the main thread
     * would find nothing to drop), or -1 if nobody is behind. CLOCK_MONOTONIC
     * as in append(): setting the clock must not move a deadline.
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

    /* TODO step 5: where a sender waits: in its reader thread, before its
     * batch enters the log, so that it calls no recv() meanwhile and TCP
     * slows its client down. Under the lock, wait on relay.caught_up as
     * long as some member is behind; a drop of the sender, or the stop,
     * ends the wait too, and then nothing is appended (-1: the session is
     * over). Otherwise append the bytes: from the sender for everyone
     * (to == 0), or from the relay for the sender alone (an answer).
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

    /* TODO step 2: the consumer's side, under the lock. Sleep on m->wake
     * while m's writer has nothing unsent and m has not left (woken, test
     * again: a wake-up proves nothing). Owed nothing after all (it left),
     * or dropped: let go of every batch it still holds, so that they can be
     * freed, and return -1. Otherwise walk the log from m->unsent, up to
     * max entries and never beyond m->last: every batch walked counts in
     * *passed, and those meant for m (for everyone but their sender, or for
     * m alone) get an iov entry pointing at their bytes. Return the number
     * of entries, 0 if all were skipped.
     * Nothing is copied and nothing freed here: the writer sends straight
     * from the batches, without the lock, for no one frees a batch that a
     * writer has not passed yet. */
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
    /* TODO step 2: under the lock, the writer has passed that many batches.
     * A failed send means the client is gone: drop it (drop(), step 3) and
     * let go of everything it is still owed. */
    (void)m;
    (void)passed;
    (void)failed;
    (void)drop;
    todo(2, "the writer passed batches (relay_passed)");
}

int relay_leave(struct relay_member *m)
{
    int late;

    /* TODO step 3: under the lock, m leaves the chat, and everyone else
     * hears "* client-K left", unless the relay is stopping (nobody would
     * read it). Return whether the relay had dropped m for not catching up
     * (m->late, which relay_expire() sets from step 5 on). */
    (void)m;
    (void)late;
    todo(3, "a member leaves the chat (relay_leave)");
    return 0;
}

void relay_remove(struct relay_member *m)
{
    struct relay_member **link;

    /* TODO step 3: under the lock, take m out of relay.members (a pointer
     * to a pointer walks the list with no special case for its head; m may
     * be missing: start_client() removes a member that never joined). Then
     * destroy its condition variable: nobody waits on it any more. */
    (void)m;
    (void)link;
    todo(3, "take a member out of the relay's list (relay_remove)");
}

void relay_stop(void)
{
    struct relay_member *m;

    /* TODO step 6: under the lock, the relay stops (no more batches, no
     * more news) and every member's connection is shut down, including
     * those that left but whose writer is still sending: they are still in
     * the list until relay_remove(). Readers get end of file, writers fail
     * their send. Wake every sender waiting in append_waiting() too. */
    (void)m;
    todo(6, "shut down every member, wake every sender (relay_stop)");
}
