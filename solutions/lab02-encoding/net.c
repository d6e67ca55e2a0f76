/* net.c - the send loop: send() reports how many bytes it took, which may be
 * fewer than asked (a full socket buffer, a signal), so the rest is sent
 * again until nothing is left.
 * Leaves out: non-blocking sockets, where "the rest" must wait (lab03).
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net.h"

int send_all(int fd, const void *buf, size_t len)
{
    const char *next = buf;
    ssize_t sent;

    while (len > 0) {
        sent = send(fd, next, len, 0);
        if (sent == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        next += sent;
        len -= (size_t)sent;
    }
    return 0;
}
