/* linebuf.c - a buffered line reader, one per connection.
 * Shows framing over a byte stream: recv() returns pieces of any size, a line
 * is cut on "\n" only once it is complete, and an over-long line is refused in
 * constant memory (one fixed buffer inside the struct, no malloc).
 * Leaves out: checking the characters (utf8.c does that) and reading pipes or
 * files (recv() works on sockets only).
 *
 * This is the skeleton: each "TODO step N" is yours to write, in order.
 * README.md explains every step; tests/unit/test_linebuf.c checks this file
 * on its own (make check LAB=02 runs it); `make hint LAB=02` gives hints,
 * one level more at each call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "linebuf.h"

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

/* Starts lb empty, reading from fd. */
void linebuf_init(struct linebuf *lb, int fd)
{
    lb->fd = fd;
    lb->start = 0;
    lb->scanned = 0;
    lb->fill = 0;
    lb->discarding = 0;
}

/* Forgets every byte received: the buffer starts over at its front. */
static void empty_buffer(struct linebuf *lb)
{
    lb->start = 0;
    lb->scanned = 0;
    lb->fill = 0;
}

/* Moves the bytes not yet handed out to the front, to make room at the end. */
static void compact_buffer(struct linebuf *lb)
{
    /* TODO step 1 (README step 1): move the pending bytes,
     * data[start..fill), to the front of data, and every index back with
     * them: each must still point at the same byte, scanned too. The two
     * areas may overlap: memmove() (man 3 memmove), not memcpy().
     * (make hint LAB=02 STEP=1) */
    (void)lb;
    todo(1, "move the pending bytes to the front (compact_buffer)");
}

/* Returns the index of the first "\n" in data[from..fill), or fill if none. */
static size_t find_newline(const struct linebuf *lb, size_t from)
{
    /* TODO step 2 (README step 2): the index of the first '\n' in
     * data[from..fill), or fill if there is none. A line may hold '\0'
     * bytes, so search by length with memchr() (man 3 memchr), never
     * strchr(). (make hint LAB=02 STEP=2) */
    (void)lb;
    (void)from;
    todo(2, "find the next newline (find_newline)");
    return 0;
}

/* One recv() into the free space: > 0 bytes read, 0 end of file, -1 errno. */
ssize_t linebuf_fill(struct linebuf *lb)
{
    ssize_t received;

    /* TODO step 1 (README step 1): one recv() (man 2 recv) into the free
     * space after fill. Make room first, but move bytes only when they are
     * in the way: with nothing pending, start over (empty_buffer()); with
     * the bytes pending at the very end of data, compact_buffer(). A recv()
     * that a signal interrupted (EINTR) received nothing: make it again.
     * Returns the number of bytes received (added to fill), 0 at end of
     * file, -1 with recv()'s errno (EAGAIN too: lab03 needs it), or -1
     * with errno ENOBUFS when one unfinished line fills all of data.
     * (make hint LAB=02 STEP=1) */
    (void)lb;
    (void)received;
    (void)compact_buffer;
    todo(1, "receive into the line reader's free space (linebuf_fill)");
    return -1;
}

/* Hands out the next complete line already buffered; never calls recv().
 * Results as in linebuf.h. */
enum linebuf_result linebuf_next(struct linebuf *lb, const char **line, size_t *len)
{
    size_t end, line_start, line_len;

    *line = NULL;
    *len = 0;
    /* Given, and right: with no byte buffered there is no line to hand out
     * and nothing to drop. It lets linebuf_read_line() reach linebuf_fill()
     * (step 1) before it needs step 2. */
    if (lb->start == lb->fill)
        return LINEBUF_NONE;

    /* TODO step 2 (README step 2): hand out the next complete line, as
     * linebuf.h says.
     *  - The line is data[start..end), where data[end] is the first '\n',
     *    without a '\r' right before it; start then moves past the '\n'.
     *  - Search from scanned, not from start (find_newline()), and keep in
     *    scanned how far the search went.
     *  - Over LINE_MAX_BYTES: LINEBUF_TOO_LONG, once. A complete line is
     *    judged whole; a full buffer without '\n' is too long at once:
     *    empty_buffer(), and drop the rest of that line as it comes, up
     *    to its '\n' (the discarding flag).
     * (make hint LAB=02 STEP=2) */
    (void)end;
    (void)line_start;
    (void)line_len;
    (void)find_newline;
    todo(2, "cut the next line out of the buffer (linebuf_next)");
    return LINEBUF_NONE;
}

/* Blocks until a line, an over-long line (once), end of file (0) or -1. */
int linebuf_read_line(struct linebuf *lb, const char **line, size_t *len)
{
    enum linebuf_result result;
    ssize_t received;

    for (;;) {
        result = linebuf_next(lb, line, len);
        if (result != LINEBUF_NONE)
            return (int)result;
        received = linebuf_fill(lb);
        if (received == 0) {
            /* End of file: an unterminated last piece is not a line. */
            empty_buffer(lb);
            lb->discarding = 0;
            return 0;
        }
        if (received < 0)
            return -1;
    }
}

/* Returns the number of bytes received but not yet handed out. */
size_t linebuf_pending(const struct linebuf *lb)
{
    return lb->fill - lb->start;
}
