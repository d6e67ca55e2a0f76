/* net.h - socket helpers shared by the server and the client (see net.c). */
#ifndef NET_H
#define NET_H

#include <stddef.h>

/* Sends all len bytes of buf on the connected socket fd, calling send() as
 * often as needed: send() may take fewer bytes than asked. Safe for len 0.
 * Returns 0 once everything is sent, -1 on error with errno set (EPIPE or
 * ECONNRESET: the peer is gone). Retries only when send() was interrupted
 * (EINTR). SIGPIPE must be ignored by the caller. Blocks: for a few bytes
 * on a fresh socket, or on a blocking socket only. */
int send_all(int fd, const void *buf, size_t len);

/* Makes fd non-blocking: a call that would wait fails with EAGAIN instead.
 * Returns 0, or -1 with errno set. */
int set_nonblocking(int fd);

#endif
