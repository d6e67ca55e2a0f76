/* net.c - the send loop, and switching a descriptor to non-blocking mode.
 * send() reports how many bytes it took, which may be fewer than asked (a
 * full socket buffer, a signal), so send_all() sends the rest until nothing
 * is left. A select() loop must never wait inside a call: its sockets are
 * non-blocking and keep what they could not send for later.
 */
#include <errno.h>
#include <fcntl.h>
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

int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1)
        return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}
