/* outbuf.h - the bytes waiting for a non-blocking socket, one queue per
 * connection (see outbuf.c). */
#ifndef OUTBUF_H
#define OUTBUF_H

#include <stddef.h>

/* Bytes that may wait, at most: the caller keeps within it. */
#define OUTBUF_SIZE (64 * 1024)

/* data[sent..queued) holds the bytes queued but not sent yet. */
struct outbuf {
    int fd;                     /* the non-blocking socket it sends on */
    size_t sent;                /* first byte not sent yet */
    size_t queued;              /* end of the bytes queued */
    char data[OUTBUF_SIZE];
};

/* Prepares ob, empty, to send on the connected socket fd, which the caller
 * has made non-blocking and closes. ob holds its whole buffer (no malloc). */
void outbuf_init(struct outbuf *ob, int fd);

/* Returns the number of bytes queued but not sent yet. */
size_t outbuf_pending(const struct outbuf *ob);

/* Appends len bytes. The caller makes sure they fit:
 * outbuf_pending() + len <= OUTBUF_SIZE. */
void outbuf_append(struct outbuf *ob, const char *bytes, size_t len);

/* Sends what the socket takes now, without waiting: when it is full
 * (EAGAIN), the rest waits until select() says it is writable. Retries on
 * EINTR. Returns 0, or -1 with errno set if the peer is gone (EPIPE,
 * ECONNRESET; SIGPIPE must be ignored by the caller). */
int outbuf_flush(struct outbuf *ob);

#endif
