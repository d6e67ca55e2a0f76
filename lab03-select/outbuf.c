/* outbuf.c - a queue of bytes for a non-blocking socket, one per connection.
 * Shows sending that never waits: send() takes what fits in the system's
 * buffer, the rest waits here, and select() says when to go on. So one peer
 * that does not read never stalls a server that serves many (send_all()
 * would wait for it). Leaves out: growing (the caller bounds what it queues).
 *
 * This is the skeleton: outbuf_init() and outbuf_pending() are given, and
 * the two "TODO step 4" functions are yours (README.md, step 4; hints:
 * make hint LAB=03 STEP=4).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "outbuf.h"

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step of this file is written, delete this function as well,
 * and the <stdio.h> and <stdlib.h> it needs. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

void outbuf_init(struct outbuf *ob, int fd)
{
    ob->fd = fd;
    ob->sent = 0;
    ob->queued = 0;
}

size_t outbuf_pending(const struct outbuf *ob)
{
    return ob->queued - ob->sent;
}

void outbuf_append(struct outbuf *ob, const char *bytes, size_t len)
{
    /* TODO step 4: add the len bytes after the bytes queued. The caller
     * made sure that the unsent bytes and these fit in data; when they do
     * not fit after queued, make room first by moving the unsent bytes to
     * the front (the two areas may overlap). (make hint LAB=03 STEP=4) */
    (void)ob;
    (void)bytes;
    (void)len;
    todo(4, "append an answer to the client's queue (outbuf_append)");
}

int outbuf_flush(struct outbuf *ob)
{
    ssize_t sent;

    /* TODO step 4: send() the unsent bytes until none is left or the
     * socket is full, and never wait: not send_all(), which would wait for
     * this client while every other one waits too. A full socket (EAGAIN)
     * is no error: the rest waits until select() says there is room. EINTR:
     * try again; any other error: -1, the peer is gone. Once all is sent,
     * the queue starts again at the front. (make hint LAB=03 STEP=4) */
    (void)ob;
    (void)sent;
    todo(4, "send what the socket takes of the answer queue (outbuf_flush)");
    return -1;
}
