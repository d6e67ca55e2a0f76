/* net.c - the send loop: send() reports how many bytes it took, which may be
 * fewer than asked (a full socket buffer, a signal), so the rest is sent
 * again until nothing is left.
 * Leaves out: non-blocking sockets, where "the rest" must wait (lab03).
 *
 * This is the skeleton: the "TODO step 3" is yours to write.
 * README.md explains it; the unit test tests/unit/test_net.c checks this
 * file on its own (make check LAB=02 runs it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net.h"

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step, with the "(void)name;" lines next to it
 * (they only keep the compiler quiet about names nothing uses yet). Then
 * delete this function as well, and the <stdio.h> and <stdlib.h> it needs. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* Sends all len bytes of buf: 0 once sent, -1 with errno set (see net.h). */
int send_all(int fd, const void *buf, size_t len)
{
    const char *next = buf;
    ssize_t sent;

    /* TODO step 3 (README step 3): loop while len bytes remain.
     *  - send() (man 2 send) the len bytes at next, flags 0.
     *  - -1 with errno EINTR: a signal interrupted it before any byte was
     *    taken; send again. Any other -1: return -1, errno as send() set it
     *    (EPIPE or ECONNRESET when the peer is gone).
     *  - Otherwise send() took sent bytes, maybe fewer than len: move next
     *    on by sent and take sent off len.
     * Return 0 once len reaches 0. With len 0 from the start, send nothing
     * and return 0. (next is a const char * because arithmetic on a
     * void * is not C.) */
    (void)fd;
    (void)len;
    (void)next;
    (void)sent;
    todo(3, "send every byte, in a loop (send_all)");
    return -1;
}
