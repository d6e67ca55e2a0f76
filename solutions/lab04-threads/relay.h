/* relay.h - the chat's shared log, with its flow control (see relay.c).
 * Every function takes the relay's mutex itself: callers hold no lock. */
#ifndef RELAY_H
#define RELAY_H

#include <pthread.h>
#include <stddef.h>
#include <sys/uio.h>
#include <time.h>

/* A receiver this far behind holds up every sender... */
#define RELAY_HIGH_WATER (1024 * 1024)
/* ...until it is back under this; the gap keeps senders from stopping and
 * starting for every line. See the README for how they were chosen. */
#define RELAY_LOW_WATER (512 * 1024)
/* A receiver that is not back under the low mark within this is dropped. */
#define RELAY_CATCH_UP_SECONDS 2

struct relay_batch;

/* A client as the relay sees it. Its fields belong to relay.c (under its
 * mutex), but fd and number: the server sets them before relay_join(). */
struct relay_member {
    int fd;
    unsigned long number;               /* "client-K" */
    struct relay_member *next;          /* in the relay's list, from join to remove */
    pthread_cond_t wake;                /* its writer's: a batch came, or the end */
    struct relay_batch *unsent;         /* the oldest batch its writer has not passed */
    struct relay_batch *last;           /* once it left: the last batch it passes */
    int in_chat;                        /* joined and not left: hears new batches */
    int left;                           /* left or dropped: its writer ends when done */
    int dropped;                        /* connection shut down by the relay */
    int late;                           /* dropped because it did not catch up */
    int behind;                         /* went over the high mark, not yet under the low */
    struct timespec deadline;           /* behind: when it is dropped (CLOCK_MONOTONIC) */
};

/* Sets the relay up: it writes a byte into wake_fd (non-blocking) when a
 * member falls behind, so that the thread keeping the deadlines calls
 * relay_expire() again. */
void relay_init(int wake_fd);

/* Prepares m for the connected socket fd, as client number; nothing is
 * shared yet. */
void relay_member_init(struct relay_member *m, int fd, unsigned long number);

/* Joins m (m->number set) to the chat: its writer gets "welcome client-K"
 * first, then everyone else "* client-K joined", and m hears of nothing
 * older. Waits for no receiver. */
void relay_join(struct relay_member *m);

/* Appends len bytes of lines from sender for everyone else (relay_send) or
 * for the sender alone (relay_answer). Flow control: waits while some
 * receiver is behind (until it catches up or is dropped). Returns 0 once
 * appended, -1 if the sender was dropped, the relay stops, or memory ran
 * out (the session is over). */
int relay_send(struct relay_member *sender, const char *bytes, size_t len);
int relay_answer(struct relay_member *sender, const char *bytes, size_t len);

/* Keeps the deadlines: drops the members that did not catch up in time.
 * Call it when woken through wake_fd and at the time it returns: the
 * number of milliseconds until the next deadline, or -1 if there is none
 * (wait for wake_fd). One thread calls it (the main thread). */
int relay_expire(void);

/* For m's writer thread: waits for batches, then points iov[0..max) at the
 * next ones that are for m (its own lines and others' answers are skipped)
 * and stores in *passed how many batches that covers. The batches stay
 * until relay_passed(): send them without any lock. Returns the number of
 * iov entries (0 if all were skipped), or -1 when the writer is done: m
 * left and is owed nothing, or was dropped. */
int relay_next(struct relay_member *m, struct iovec *iov, int max, size_t *passed);

/* The writer sent the passed batches (failed: it could not, and m is
 * dropped). Frees what no writer needs any more. */
void relay_passed(struct relay_member *m, size_t passed, int failed);

/* m leaves the chat: no new batch for it; its writer sends what it is owed
 * and ends. Everyone else hears "* client-K left" (not while stopping).
 * Returns 1 if the relay had dropped m for not catching up, else 0. */
int relay_leave(struct relay_member *m);

/* Takes m out of the relay once its writer has ended (or never started),
 * before its descriptor is closed. */
void relay_remove(struct relay_member *m);

/* Stop: shuts down every member's connection, so that every reader and
 * writer returns, and ends every wait in relay_send(). */
void relay_stop(void);

#endif
