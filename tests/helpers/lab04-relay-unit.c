/* lab04, steps 1 and 2: unit tests of the relay's log (append(), step 1)
 * and of the writer (relay_next(), relay_passed(), send_all_iov(),
 * writer_main(), step 2), which no client can see before step 3 joins it
 * to the chat.
 *
 * What it tests: this file includes the lab's relay.c and server.c, calls
 * their functions directly, even the static ones, and puts members into
 * the chat by hand, as relay_join() and leave_chat() (step 3) will. One
 * scenario a run: relay_unit SCENARIO [SCALE] prints a line per failed
 * check, then "N passed, M failed", and exits 0 only if none failed. SCALE
 * multiplies every bound (Valgrind and the sanitizers are slower). The
 * scenarios are listed in main. Its names start with ut_, so as not to
 * clash with the lab's own.
 *
 * How it is built: not by this folder's Makefile. relay_unit in
 * tests/lab04-threads.bats compiles it once per test file with the lab
 * under test (LAB_DIR: your lab04-threads/ or the solution's):
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -pthread -g [-fsanitize=...]
 *      -I LAB_DIR -o relay_unit lab04-relay-unit.c
 *      LAB_DIR/net.c LAB_DIR/linebuf.c LAB_DIR/utf8.c
 * The #include "relay.c" and "server.c" below find the lab's files through
 * -I LAB_DIR (this folder has no file of those names). It builds without
 * a warning with the labs' own flags too (-Wall -Wextra -Wpedantic
 * -Wshadow -Wformat=2).
 */
#include "relay.c"
#define main lab_server_main
#include "server.c"
#undef main

#include <fcntl.h>
#include <sys/time.h>

#define UT_STREAM_BYTES (300 * 1000)    /* send_all_iov()'s test: at most */
#define UT_BIG_BATCH 65536              /* writer_main()'s test: 32 of these */
#define UT_BIG_COUNT 32

static int ut_passed, ut_failed;
static long ut_scale = 1;
/* Where append() says that a member fell behind (step 5's part of it). */
static int ut_wake_pipe[2] = { -1, -1 };
/* Guards the flags the test's threads set when they are done. */
static pthread_mutex_t ut_flags = PTHREAD_MUTEX_INITIALIZER;
/* writer_main()'s client, at file scope: a leak checker sees it while the
 * writer may still use it. */
static struct client *ut_writer_client;

/* Counts one check and prints its failure, if any. */
static void ut_check(int ok, const char *what)
{
    if (ok) {
        ut_passed++;
        return;
    }
    ut_failed++;
    printf("FAIL: %s\n", what);
}

/* Sleeps ms milliseconds, signals or not. */
static void ut_pause(long ms)
{
    struct timespec left = { ms / 1000, ms % 1000 * 1000000L };

    while (nanosleep(&left, &left) == -1 && errno == EINTR)
        ;
}

static void ut_set(int *flag)
{
    pthread_mutex_lock(&ut_flags);
    *flag = 1;
    pthread_mutex_unlock(&ut_flags);
}

/* Waits ms milliseconds at most (scaled) for *flag; returns it. */
static int ut_wait(const int *flag, long ms)
{
    long waited;
    int set = 0;

    for (waited = 0; !set && waited <= ms * ut_scale; waited++) {
        pthread_mutex_lock(&ut_flags);
        set = *flag;
        pthread_mutex_unlock(&ut_flags);
        if (!set)
            ut_pause(1);
    }
    return set;
}

/* A scenario that hangs (a thread waiting for ever) ends here. */
static void *ut_watchdog(void *arg)
{
    (void)arg;
    ut_pause(20000 * ut_scale);
    printf("FAIL: still running after %ld s: something waits for ever\n", 20 * ut_scale);
    printf("%d passed, %d failed\n", ut_passed, ut_failed + 1);
    fflush(stdout);
    _exit(1);
}

/* Puts m into the relay's list and the chat, as relay_join() does (step 3),
 * without its welcome and news. */
static void ut_enter(struct relay_member *m)
{
    pthread_mutex_lock(&relay.lock);
    m->next = relay.members;
    relay.members = m;
    m->in_chat = 1;
    relay.in_chat++;
    pthread_mutex_unlock(&relay.lock);
}

/* Takes m out of the chat as leave_chat() does (step 3), and marks it
 * dropped as drop() does if asked: no new batch for it, the newest one is
 * the last it is owed, and its writer hears of it. */
static void ut_leave(struct relay_member *m, int dropped)
{
    pthread_mutex_lock(&relay.lock);
    if (m->in_chat) {
        m->in_chat = 0;
        relay.in_chat--;
        m->last = relay.newest;
    }
    m->left = 1;
    m->dropped = dropped;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&relay.lock);
}

/* append() with the lock held, as its callers do. Returns the new batch,
 * or NULL if the log has none. */
static struct relay_batch *ut_append(unsigned long from, unsigned long to, const char *text)
{
    struct relay_batch *before, *batch;
    int result;

    pthread_mutex_lock(&relay.lock);
    before = relay.newest;
    result = append(from, to, text, strlen(text));
    batch = relay.newest != before ? relay.newest : NULL;
    pthread_mutex_unlock(&relay.lock);
    ut_check(result == 0, "append() returns 0 (no memory shortage here)");
    return batch;
}

/* The relay's fields, read under its lock. */
static struct relay_batch *ut_oldest(void)
{
    struct relay_batch *batch;

    pthread_mutex_lock(&relay.lock);
    batch = relay.oldest;
    pthread_mutex_unlock(&relay.lock);
    return batch;
}

static struct relay_batch *ut_newest(void)
{
    struct relay_batch *batch;

    pthread_mutex_lock(&relay.lock);
    batch = relay.newest;
    pthread_mutex_unlock(&relay.lock);
    return batch;
}

static struct relay_batch *ut_unsent(const struct relay_member *m)
{
    struct relay_batch *batch;

    pthread_mutex_lock(&relay.lock);
    batch = m->unsent;
    pthread_mutex_unlock(&relay.lock);
    return batch;
}

/* The batch holds exactly text. */
static int ut_holds(const struct relay_batch *batch, const char *text)
{
    return batch != NULL && batch->len == strlen(text) && memcmp(batch->bytes, text, batch->len) == 0;
}

/* The iov entry points at the batch's own bytes. */
static int ut_points_at(const struct iovec *iov, const struct relay_batch *batch)
{
    return batch != NULL && iov->iov_base == (const void *)batch->bytes && iov->iov_len == batch->len;
}

/* ---- step 1: append() ----------------------------------------------------- */

/* The batch's fields, its place in the log, the count of its writers. */
static void ut_append_log(void)
{
    struct relay_member one, two, three, gone;
    struct relay_batch *first, *second, *third;
    char text[] = "client-2> copy me\n";

    relay_member_init(&one, -1, 1);
    relay_member_init(&two, -1, 2);
    relay_member_init(&three, -1, 3);
    relay_member_init(&gone, -1, 4);
    ut_check(ut_append(1, 0, "client-1> nobody hears me\n") == NULL && ut_oldest() == NULL,
             "with nobody in the chat, append() appends nothing: the log stays empty");

    ut_enter(&one);
    ut_enter(&two);
    /* gone is in the list but out of the chat: a member that left */
    pthread_mutex_lock(&relay.lock);
    gone.next = relay.members;
    relay.members = &gone;
    gone.left = 1;
    pthread_mutex_unlock(&relay.lock);

    first = ut_append(1, 0, "client-1> hello\n");
    ut_check(first != NULL && ut_oldest() == first && ut_newest() == first,
             "the first batch is both the oldest and the newest of the log (relay.oldest, relay.newest)");
    if (first == NULL)
        return;
    ut_check(ut_holds(first, "client-1> hello\n"), "the batch holds the len bytes appended");
    ut_check(first->from == 1 && first->to == 0, "the batch keeps from and to as given");
    ut_check(first->unsent == 2,
             "the batch's unsent counts the members in the chat (2), not the one that left");
    ut_check(first->start == 0 && relay.appended == 16,
             "start: the bytes appended before the batch (0); relay.appended counts its bytes (16)");
    ut_check(first->next == NULL, "the newest batch has no next");

    second = ut_append(0, 2, "welcome client-2\n");
    ut_check(second != NULL && ut_oldest() == first && ut_newest() == second && first->next == second
                 && second->next == NULL,
             "a second batch goes at the newest end: relay.oldest, its next, relay.newest");
    if (second == NULL)
        return;
    ut_check(second->start == 16 && relay.appended == 33,
             "the second batch starts where the first ends (16); relay.appended is then 33");
    ut_check(second->from == 0 && second->to == 2 && second->unsent == 2,
             "the second batch keeps from 0 and to 2, and counts both writers");

    third = ut_append(2, 0, text);
    memset(text, 'X', sizeof text - 1);
    ut_check(ut_holds(third, "client-2> copy me\n"),
             "the batch holds a copy of the bytes: the caller's buffer may change afterwards");

    ut_enter(&three);
    third = ut_append(0, 0, "* client-3 joined\n");
    ut_check(third != NULL && third->unsent == 3, "with a third member in the chat, a batch counts 3 writers");
}

/* A writer asleep on its member's condition, as in relay_next() (step 2). */
struct ut_sleeper {
    struct relay_member *m;
    int waiting, woken;
};

static void *ut_sleep_until_batch(void *arg)
{
    struct ut_sleeper *sleeper = arg;

    pthread_mutex_lock(&relay.lock);
    while (sleeper->m->unsent == NULL) {
        ut_set(&sleeper->waiting); /* under the lock: nothing slips in before the wait */
        pthread_cond_wait(&sleeper->m->wake, &relay.lock);
    }
    pthread_mutex_unlock(&relay.lock);
    ut_set(&sleeper->woken);
    return NULL;
}

/* Which writers get the batch as their next one, and are woken. */
static void ut_append_wake(void)
{
    struct relay_member one, two, late;
    struct relay_batch *first, *second, *third;
    struct ut_sleeper sleeper = { .m = &late };
    pthread_t thread;

    relay_member_init(&one, -1, 1);
    relay_member_init(&two, -1, 2);
    relay_member_init(&late, -1, 3);
    ut_enter(&one);
    ut_enter(&two);

    first = ut_append(1, 0, "client-1> first\n");
    ut_check(first != NULL && ut_unsent(&one) == first && ut_unsent(&two) == first,
             "a member in the chat whose writer has passed everything (m->unsent NULL) gets the new batch "
             "as its next one (m->unsent)");
    second = ut_append(2, 0, "client-2> second\n");
    ut_check(second != NULL && ut_unsent(&one) == first && ut_unsent(&two) == first,
             "a member whose writer has a batch to pass keeps it: a newer batch does not replace m->unsent");
    ut_check(ut_unsent(&late) == NULL, "a member not in the chat gets no batch");

    ut_enter(&late);
    pthread_create(&thread, NULL, ut_sleep_until_batch, &sleeper);
    if (!ut_wait(&sleeper.waiting, 2000)) {
        ut_check(0, "(the test's sleeping writer did not start)");
        return;
    }
    third = ut_append(1, 0, "client-1> wake up\n");
    ut_check(third != NULL && ut_unsent(&late) == third,
             "a member that joined after the older batches gets the new one as its next");
    if (!ut_wait(&sleeper.woken, 2000)) {
        ut_check(0, "a writer asleep on its member's condition (m->wake) was not woken within 2 s by "
                    "the append() that gave it a batch: signal that condition");
        return;
    }
    ut_check(1, "");
    pthread_join(thread, NULL);
}

/* ---- step 2: relay_next(), relay_passed(), pass_batches() ------------------ */

/* relay_next() in a thread of its own, to see whether it waits. */
struct ut_next {
    struct relay_member *m;
    struct iovec iov[SEND_BATCHES];
    size_t passed;
    int result, done;
};

static void *ut_call_next(void *arg)
{
    struct ut_next *call = arg;
    struct iovec iov[SEND_BATCHES];
    size_t passed = 0;
    int result = relay_next(call->m, iov, SEND_BATCHES, &passed);

    pthread_mutex_lock(&ut_flags);
    memcpy(call->iov, iov, sizeof iov);
    call->passed = passed;
    call->result = result;
    call->done = 1;
    pthread_mutex_unlock(&ut_flags);
    return NULL;
}

/* Starts relay_next(m) in a thread; returns 1 if it returned within ms
 * (the thread joined), 0 if it still waits. */
static int ut_next_returns(struct ut_next *call, pthread_t *thread, struct relay_member *m, long ms)
{
    memset(call, 0, sizeof *call);
    call->m = m;
    pthread_create(thread, NULL, ut_call_next, call);
    if (!ut_wait(&call->done, ms))
        return 0;
    pthread_join(*thread, NULL);
    return 1;
}

/* m's writer passes everything it is owed, as a writer would. */
static void ut_pass_all(struct relay_member *m)
{
    struct iovec iov[SEND_BATCHES];
    size_t passed;
    int rounds;

    for (rounds = 0; rounds < 100 && ut_unsent(m) != NULL; rounds++) {
        passed = 0;
        if (relay_next(m, iov, SEND_BATCHES, &passed) == -1)
            break;
        relay_passed(m, passed, 0);
    }
}

/* Which batches a writer is pointed at, and what passing them frees. */
static void ut_next_passed(void)
{
    struct relay_member one, two;
    struct relay_batch *b1, *b2, *b3, *b4, *b5;
    struct iovec iov[SEND_BATCHES];
    size_t passed = 0;
    int count;

    relay_member_init(&one, -1, 1);
    relay_member_init(&two, -1, 2);
    ut_enter(&one);
    ut_enter(&two);
    b1 = ut_append(2, 0, "client-2> one\n");               /* for client-1 */
    b2 = ut_append(1, 0, "client-1> two\n");               /* for client-2 */
    b3 = ut_append(0, 2, "ERR invalid UTF-8 at byte 0\n"); /* for client-2 alone */
    b4 = ut_append(0, 1, "bye\n");                         /* for client-1 alone */
    if (b1 == NULL || b2 == NULL || b3 == NULL || b4 == NULL) {
        ut_check(0, "(append() did not make the test's four batches: step 1 first)");
        return;
    }

    count = relay_next(&one, iov, SEND_BATCHES, &passed);
    ut_check(count == 2, "of 4 batches, client-1's writer gets 2 iov entries: client-2's line and the "
                         "answer for client-1 (not its own line, not client-2's answer)");
    ut_check(passed == 4, "relay_next() counts in *passed every batch it walked (4), skipped or not");
    ut_check(count == 2 && ut_points_at(&iov[0], b1) && ut_points_at(&iov[1], b4),
             "each iov entry points at a batch's own bytes (iov_base = batch->bytes, iov_len = its len): "
             "nothing is copied");
    relay_passed(&one, passed, 0);
    ut_check(ut_unsent(&one) == NULL, "once client-1's writer passed all 4 batches, its m->unsent is NULL");
    ut_check(ut_oldest() == b1 && ut_newest() == b4,
             "the log keeps every batch that client-2's writer has not passed yet");

    count = relay_next(&two, iov, 1, &passed);
    ut_check(count == 1 && passed == 2 && ut_points_at(&iov[0], b2),
             "with max 1, client-2's writer gets 1 entry (client-1's line), having walked 2 batches");
    relay_passed(&two, passed, 0);
    ut_check(ut_oldest() == b3 && ut_unsent(&two) == b3,
             "the batches every writer has passed are freed, the oldest first: the log now starts at the "
             "third one, client-2's next");

    count = relay_next(&two, iov, SEND_BATCHES, &passed);
    ut_check(count == 1 && passed == 2 && ut_points_at(&iov[0], b3),
             "client-2's writer then gets its answer, and walks past client-1's");
    relay_passed(&two, passed, 0);
    ut_check(ut_oldest() == NULL && ut_newest() == NULL && ut_unsent(&two) == NULL,
             "once every writer has passed every batch, the log is empty: relay.oldest and relay.newest NULL");

    b5 = ut_append(1, 0, "client-1> again\n");
    ut_check(b5 != NULL && ut_oldest() == b5 && ut_newest() == b5,
             "after the log emptied, a new batch is again both the oldest and the newest");
    count = relay_next(&two, iov, SEND_BATCHES, &passed);
    ut_check(count == 1 && ut_points_at(&iov[0], b5), "client-2's writer gets that new batch");
    relay_passed(&two, passed, 0);
    ut_pass_all(&one);
    ut_check(ut_oldest() == NULL, "the log is empty again once both writers passed it");
}

/* When relay_next() waits, and when the writer is done. */
static void ut_next_wait(void)
{
    struct relay_member one, two, leaving, dropped;
    struct relay_batch *batch, *last, *after;
    struct ut_next call;
    pthread_t thread;

    relay_member_init(&one, -1, 1);
    relay_member_init(&two, -1, 2);
    relay_member_init(&leaving, -1, 3);
    relay_member_init(&dropped, -1, 4);
    ut_enter(&one);
    ut_enter(&two);

    if (ut_next_returns(&call, &thread, &one, 200)) {
        ut_check(0, "relay_next() returned with nothing to send: it must sleep on m->wake while its "
                    "member has nothing unsent and has not left");
        return;
    }
    batch = ut_append(2, 0, "client-2> wake up\n");
    if (!ut_wait(&call.done, 2000)) {
        ut_check(0, "relay_next() did not return within 2 s of a batch for its member (append() signals "
                    "m->wake, and relay_next() checks again after each wake-up)");
        return;
    }
    pthread_join(thread, NULL);
    ut_check(call.result == 1 && call.passed == 1 && ut_points_at(&call.iov[0], batch),
             "woken by a batch, relay_next() points at it: 1 entry, 1 batch passed");
    relay_passed(&one, call.passed, 0);

    if (ut_next_returns(&call, &thread, &one, 200)) {
        ut_check(0, "relay_next() returned with nothing to send: it must sleep while its member has "
                    "nothing unsent and has not left");
        return;
    }
    ut_leave(&one, 0);
    if (!ut_wait(&call.done, 2000)) {
        ut_check(0, "relay_next() did not return within 2 s of its member leaving (leave_chat() "
                    "signals m->wake): a member that left and is owed nothing is done");
        return;
    }
    pthread_join(thread, NULL);
    ut_check(call.result == -1, "relay_next() returns -1 once its member left and is owed nothing");

    /* A member that leaves while owed a batch gets it, and nothing newer. */
    ut_enter(&leaving);
    last = ut_append(2, 0, "client-2> the last for client-3\n");
    ut_leave(&leaving, 0);
    after = ut_append(2, 0, "client-2> too late for client-3\n");
    ut_check(after != NULL && after->unsent == 1, "a batch appended after a member left does not count it");
    if (!ut_next_returns(&call, &thread, &leaving, 2000)) {
        ut_check(0, "relay_next() waited though its member, gone, is still owed a batch");
        return;
    }
    ut_check(call.result == 1 && call.passed == 1 && ut_points_at(&call.iov[0], last),
             "a member that left gets the batches up to m->last, and none beyond (1 entry, 1 passed)");
    relay_passed(&leaving, call.passed, 0);
    if (!ut_next_returns(&call, &thread, &leaving, 2000)) {
        ut_check(0, "relay_next() waited once its member, gone, had passed m->last: it must return -1");
        return;
    }
    ut_check(call.result == -1, "relay_next() returns -1 once a member that left has passed m->last");

    /* A dropped member's writer ends at once and lets go of its batches. */
    ut_pass_all(&two);
    ut_enter(&dropped);
    ut_append(2, 0, "client-2> never sent to client-4\n");
    ut_append(2, 0, "client-2> nor this\n");
    ut_leave(&dropped, 1);
    if (!ut_next_returns(&call, &thread, &dropped, 2000)) {
        ut_check(0, "relay_next() waited for a dropped member: it must return -1 at once");
        return;
    }
    ut_check(call.result == -1, "relay_next() returns -1 for a dropped member, even with batches unsent");
    ut_pass_all(&two);
    ut_check(ut_oldest() == NULL, "a dropped member's writer lets go of every batch it still held "
                                  "(pass_batches() with SIZE_MAX): otherwise the log keeps them for ever");
}

/* ---- step 2: send_all_iov() and writer_main() ----------------------------- */

/* Cut anywhere, with empty entries among them (the relay makes none, but a
 * loop must not trip on them). */
static const size_t ut_pieces[SEND_BATCHES] = { 1, 0, 5000, 65536, 3, 100000, 0, 7,
                                                20000, 1, 65536, 2, 30000, 4096, 9000, 17 };

/* The byte at offset i of the stream: a period of 251 (a prime), so that a
 * piece sent twice, lost or out of order shows. */
static unsigned char ut_pattern(size_t i)
{
    return (unsigned char)(i % 251);
}

/* A reader that takes a socket to its end, slowly, checking the pattern. */
struct ut_reader {
    int fd;
    size_t received, wrong_at;
    int done;
};

static void *ut_read_slowly(void *arg)
{
    struct ut_reader *reader = arg;
    unsigned char buf[3000];
    size_t received = 0, wrong_at = SIZE_MAX;
    ssize_t got, i;

    for (;;) {
        got = read(reader->fd, buf, sizeof buf);
        if (got == -1 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        for (i = 0; i < got; i++)
            if (wrong_at == SIZE_MAX && buf[i] != ut_pattern(received + (size_t)i))
                wrong_at = received + (size_t)i;
        received += (size_t)got;
        if (received % 30000 < 3000)
            ut_pause(2); /* now and then: the writer's writev() waits */
    }
    pthread_mutex_lock(&ut_flags);
    reader->received = received;
    reader->wrong_at = wrong_at;
    reader->done = 1;
    pthread_mutex_unlock(&ut_flags);
    return NULL;
}

static void ut_on_tick(int signo)
{
    (void)signo; /* only interrupts a blocked writev(): EINTR, or fewer bytes */
}

/* Starts (interval_us > 0) or stops (0) a SIGALRM every interval_us. */
static void ut_ticks(long interval_us)
{
    struct itimerval timer;

    memset(&timer, 0, sizeof timer);
    timer.it_interval.tv_usec = interval_us;
    timer.it_value.tv_usec = interval_us;
    setitimer(ITIMER_REAL, &timer, NULL);
}

/* send_all_iov() in a thread of its own, so that a call that never returns
 * does not hang the test. Static: such a call goes on using it after its
 * scenario has given up (the process then ends with the call running). */
static struct {
    int fd, count, result, done;
    struct iovec iov[3];
} ut_tail_call;

static void *ut_call_send_all_iov(void *arg)
{
    int result;

    (void)arg;
    result = send_all_iov(ut_tail_call.fd, ut_tail_call.iov, ut_tail_call.count);
    pthread_mutex_lock(&ut_flags);
    ut_tail_call.result = result;
    ut_tail_call.done = 1;
    pthread_mutex_unlock(&ut_flags);
    return NULL;
}

/* len bytes of bytes (0: none), then two empty entries: the last entries
 * of an iov array may be empty. Once every byte is sent, only those are
 * left, and writev() of nothing but empty entries returns 0: a loop that
 * waits for it to take them never ends. Returns 0 if the call did not
 * return within 2 s (the scenario must stop there). */
static int ut_send_empty_tail(unsigned char *bytes, size_t len)
{
    unsigned char got[64];
    char what[300];
    size_t received = 0;
    ssize_t n;
    pthread_t thread;
    int pair[2];

    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    memset(&ut_tail_call, 0, sizeof ut_tail_call);
    ut_tail_call.fd = pair[0];
    ut_tail_call.count = 3;
    ut_tail_call.iov[0].iov_base = bytes;
    ut_tail_call.iov[0].iov_len = len;
    ut_tail_call.iov[1].iov_base = bytes + len;
    ut_tail_call.iov[2].iov_base = bytes + len;
    pthread_create(&thread, NULL, ut_call_send_all_iov, NULL);
    if (!ut_wait(&ut_tail_call.done, 2000)) {
        snprintf(what, sizeof what,
                 "send_all_iov() of %zu bytes followed by 2 empty entries (iov_len 0) did not return within "
                 "2 s: once every byte is sent it must stop, even with empty entries left (writev() of "
                 "empty entries only returns 0, again and again)",
                 len);
        ut_check(0, what);
        return 0;
    }
    pthread_join(thread, NULL);
    snprintf(what, sizeof what, "send_all_iov() of %zu bytes followed by 2 empty entries returns 0", len);
    ut_check(ut_tail_call.result == 0, what);
    close(pair[0]); /* the reader then gets what was sent, and the end */
    while (received < sizeof got && (n = read(pair[1], got + received, sizeof got - received)) > 0)
        received += (size_t)n;
    snprintf(what, sizeof what, "send_all_iov() of %zu bytes followed by 2 empty entries sends those bytes, "
             "once each", len);
    ut_check(received == len && memcmp(got, bytes, len) == 0, what);
    close(pair[1]);
    return 1;
}

static void ut_send_all_iov(void)
{
    static unsigned char stream[UT_STREAM_BYTES];
    struct iovec iov[SEND_BATCHES];
    struct ut_reader reader = { 0 };
    struct sigaction action;
    pthread_t thread;
    int pair[2], small = 4096, i;
    size_t offset = 0, total = 0;

    for (i = 0; i < SEND_BATCHES; i++) {
        iov[i].iov_base = stream + total;
        iov[i].iov_len = ut_pieces[i];
        total += ut_pieces[i];
    }
    for (offset = 0; offset < total; offset++)
        stream[offset] = ut_pattern(offset);
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    reader.fd = pair[1];
    pthread_create(&thread, NULL, ut_read_slowly, &reader);

    /* A signal every 2 ms, without SA_RESTART: a blocked writev() returns
     * early, with part of the bytes, or -1 and EINTR. */
    memset(&action, 0, sizeof action);
    action.sa_handler = ut_on_tick;
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, NULL);
    ut_ticks(2000);
    ut_check(send_all_iov(pair[0], iov, SEND_BATCHES) == 0, "send_all_iov() returns 0 once all is sent");
    ut_ticks(0);
    ut_check(send_all_iov(pair[0], iov, 0) == 0, "send_all_iov() of no buffer (count 0) returns 0 at once");
    close(pair[0]);
    if (!ut_wait(&reader.done, 5000)) {
        ut_check(0, "(the test's reader did not reach the end of the stream)");
        return;
    }
    pthread_join(thread, NULL);
    close(pair[1]);
    ut_check(reader.received == total, "the reader gets as many bytes as the buffers hold, each once, "
                                       "with writev() cut anywhere and interrupted by signals (EINTR)");
    ut_check(reader.wrong_at == SIZE_MAX, "the bytes arrive in order: buffer after buffer, and the rest of "
                                          "a buffer cut in two from where writev() stopped");

    /* The other side gone: -1 with writev()'s errno, not a loop for ever. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    close(pair[1]);
    iov[0].iov_base = stream;
    iov[0].iov_len = 1000;
    errno = 0;
    ut_check(send_all_iov(pair[0], iov, 1) == -1 && errno == EPIPE,
             "send_all_iov() to a connection the other side closed returns -1, errno EPIPE from writev()");
    close(pair[0]);

    /* Empty entries at the end: done once the bytes are sent. */
    if (ut_send_empty_tail(stream, 10))
        ut_send_empty_tail(stream, 0);
}

/* writer_main() in a thread, and whether it has returned. */
struct ut_writer {
    struct client *client;
    int done;
};

static void *ut_run_writer(void *arg)
{
    struct ut_writer *run = arg;

    writer_main(run->client);
    ut_set(&run->done);
    return NULL;
}

/* Takes the relay's lock within ms milliseconds (scaled), or returns 0. */
static int ut_lock_within(long ms)
{
    long waited;

    for (waited = 0; waited <= ms * ut_scale; waited++) {
        if (pthread_mutex_trylock(&relay.lock) == 0)
            return 1;
        ut_pause(1);
    }
    return 0;
}

/* Reads len bytes from fd, waiting 2 s (scaled) at most for each piece;
 * returns how many came. */
static size_t ut_read(int fd, char *buf, size_t len)
{
    struct pollfd ready = { .fd = fd, .events = POLLIN };
    size_t got = 0;
    ssize_t n;

    while (got < len && poll(&ready, 1, (int)(2000 * ut_scale)) == 1) {
        n = read(fd, buf + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static void ut_writer_main(void)
{
    static char expected[4096], got[UT_BIG_BATCH * UT_BIG_COUNT], big[UT_BIG_BATCH];
    struct client *client = ut_writer_client = malloc(sizeof *client);
    struct relay_member two;
    struct ut_writer run = { .client = client };
    pthread_t writer;
    char line[64];
    size_t len = 0;
    int pair[2], i, locked = 1;

    relay_member_init(&two, -1, 2);
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    relay_member_init(&client->member, pair[0], 1);
    ut_enter(&client->member);
    ut_enter(&two);
    pthread_create(&writer, NULL, ut_run_writer, &run);

    /* 40 lines for client-1 among others' answers and its own lines: more
     * batches than one relay_next() hands out. */
    for (i = 0; i < 40; i++) {
        snprintf(line, sizeof line, "client-2> line %02d\n", i);
        ut_append(2, 0, line);
        memcpy(expected + len, line, strlen(line));
        len += strlen(line);
        if (i % 10 == 3)
            ut_append(0, 2, "ERR line too long\n");
        if (i % 10 == 7)
            ut_append(1, 0, "client-1> its own line\n");
    }
    ut_append(1, 0, "client-1> skipped, at the end\n");
    ut_check(ut_read(pair[1], got, len) == len && memcmp(got, expected, len) == 0,
             "writer_main() sends its client the lines meant for it, in order, each once (40 lines in "
             "more batches than SEND_BATCHES, among lines not for it)");
    ut_pass_all(&two);
    for (i = 0; i < 2000 * ut_scale && ut_oldest() != NULL; i++)
        ut_pause(1);
    ut_check(ut_oldest() == NULL, "the writer tells the relay each batch it passed, sent or skipped "
                                  "(relay_passed()): once both writers passed them all, the log is empty");

    /* 2 MB for a client that reads nothing for now: the writer waits in
     * its send, and must not hold the relay's lock meanwhile. */
    memset(big, 'z', sizeof big);
    big[UT_BIG_BATCH - 1] = '\n';
    for (i = 0; i < UT_BIG_COUNT && locked; i++) {
        locked = ut_lock_within(2000);
        if (locked) {
            append(2, 0, big, sizeof big);
            pthread_mutex_unlock(&relay.lock);
        }
        ut_pause(i < 4 ? 20 : 0); /* let the writer take the first ones */
    }
    ut_check(locked, "while the writer waits in a send its client does not read, the relay's lock is "
                     "free (another thread could not take it within 2 s): send without any lock held");
    if (!locked) /* the writer keeps the lock: nothing more to see */
        return;
    ut_check(ut_read(pair[1], got, sizeof got) == sizeof got,
             "once its client reads again, the writer sends the rest (2 MB)");
    ut_pass_all(&two);

    ut_leave(&client->member, 0);
    if (!ut_wait(&run.done, 2000)) {
        ut_check(0, "writer_main() did not return within 2 s of its member leaving, owed nothing: "
                    "relay_next() returns -1, and the writer ends");
        return;
    }
    ut_check(1, "");
    pthread_join(writer, NULL);
    ut_check(fcntl(pair[0], F_GETFD) != -1, "the writer leaves the socket open: its reader closes it");
    close(pair[0]);
    close(pair[1]);
    /* Still in the relay's list (relay_remove() is step 3's), where nothing
     * looks any more. */
    free(client);
    ut_writer_client = NULL;
}

int main(int argc, char *argv[])
{
    static const struct {
        const char *name;
        void (*run)(void);
    } scenarios[] = {
        { "append-log", ut_append_log },
        { "append-wake", ut_append_wake },
        { "next-passed", ut_next_passed },
        { "next-wait", ut_next_wait },
        { "send-all-iov", ut_send_all_iov },
        { "writer-main", ut_writer_main },
    };
    pthread_t watchdog;
    size_t i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s SCENARIO [SCALE]\n", argv[0]);
        return 2;
    }
    if (argc > 2 && atol(argv[2]) > 0)
        ut_scale = atol(argv[2]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (pipe(ut_wake_pipe) == -1 || fcntl(ut_wake_pipe[1], F_SETFL, O_NONBLOCK) == -1) {
        perror("pipe");
        return 2;
    }
    relay_init(ut_wake_pipe[1]);
    pthread_create(&watchdog, NULL, ut_watchdog, NULL);
    pthread_detach(watchdog);
    for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (strcmp(argv[1], scenarios[i].name) == 0) {
            scenarios[i].run();
            printf("%d passed, %d failed\n", ut_passed, ut_failed);
            close(ut_wake_pipe[0]);
            close(ut_wake_pipe[1]);
            return ut_failed == 0 ? 0 : 1;
        }
    }
    fprintf(stderr, "%s: no scenario %s\n", argv[0], argv[1]);
    return 2;
}
