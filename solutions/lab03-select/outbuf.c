/* outbuf.c - a queue of bytes for a non-blocking socket, one per connection.
 * Shows sending that never waits: send() takes what fits in the system's
 * buffer, the rest waits here, and select() says when to go on. So one peer
 * that does not read never stalls a server that serves many (send_all()
 * would wait for it). Leaves out: growing (the caller bounds what it queues).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "outbuf.h"

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
    if (ob->queued + len > OUTBUF_SIZE) {
        /* No room after the unsent bytes: move them to the front (memmove:
         * the two areas may overlap). */
        memmove(ob->data, ob->data + ob->sent, ob->queued - ob->sent);
        ob->queued -= ob->sent;
        ob->sent = 0;
    }
    memcpy(ob->data + ob->queued, bytes, len);
    ob->queued += len;
}

int outbuf_flush(struct outbuf *ob)
{
    ssize_t sent;

    while (ob->sent < ob->queued) {
        sent = send(ob->fd, ob->data + ob->sent, ob->queued - ob->sent, 0);
        if (sent == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0; /* the socket is full: the rest waits */
            return -1;    /* EPIPE, ECONNRESET: gone */
        }
        ob->sent += (size_t)sent;
    }
    ob->sent = ob->queued = 0; /* all sent: start again at the front */
    return 0;
}
