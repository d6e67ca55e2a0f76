/* linebuf.c - a buffered line reader, one per connection.
 * Shows framing over a byte stream: recv() returns pieces of any size, a line
 * is cut on "\n" only once it is complete, and an over-long line is refused in
 * constant memory (one fixed buffer inside the struct, no malloc).
 * Leaves out: checking the characters (utf8.c does that) and reading pipes or
 * files (recv() works on sockets only).
 *
 * This is the skeleton: each "TODO step N" is yours to write, in order.
 * README.md explains every step; tests/unit/test_linebuf.c checks this file
 * on its own (make check LAB=02 runs it).
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
    /* TODO step 1 (README step 1): the pending bytes are data[start..fill).
     *  - Move them to data[0] with memmove() (man 3 memmove), not memcpy():
     *    the two areas may overlap.
     *  - Every index moves back by start: scanned too, so that it still
     *    points at the same byte (the bytes before it hold no '\n', that
     *    stays true). fill becomes the number of pending bytes, start 0. */
    (void)lb;
    todo(1, "move the pending bytes to the front (compact_buffer)");
}

/* Returns the index of the first "\n" in data[from..fill), or fill if none. */
static size_t find_newline(const struct linebuf *lb, size_t from)
{
    /* TODO step 2 (README step 2): look for '\n' in the fill - from bytes
     * that start at data + from with memchr() (man 3 memchr). It returns a
     * pointer to the byte, or NULL: turn the pointer into an index by
     * subtracting lb->data; return lb->fill when there is none.
     * When from == fill there is nothing to search: return fill without
     * calling memchr(), which wants a valid pointer even for 0 bytes.
     * Not strchr(): it stops at the first '\0', and a line may hold one. */
    (void)lb;
    (void)from;
    todo(2, "find the next newline (find_newline)");
    return 0;
}

/* One recv() into the free space: > 0 bytes read, 0 end of file, -1 errno. */
ssize_t linebuf_fill(struct linebuf *lb)
{
    ssize_t received;

    /* TODO step 1 (README step 1): one recv() into the free space.
     *  - Make room first, moving bytes only when they block the way. If
     *    every byte was handed out (start == fill), empty_buffer(): the
     *    buffer starts over, nothing to move. Otherwise, if the bytes reach
     *    the end of the buffer (fill == LINEBUF_SIZE) and start > 0,
     *    compact_buffer().
     *  - Still no room (fill == LINEBUF_SIZE with start 0): one unfinished
     *    line fills the whole buffer. linebuf_next() reports such a line as
     *    LINEBUF_TOO_LONG before that can happen, so the caller skipped it:
     *    set errno to ENOBUFS and return -1.
     *  - recv() (man 2 recv) into data + fill, at most LINEBUF_SIZE - fill
     *    bytes, flags 0. While it gives -1 with errno EINTR (a signal
     *    interrupted the wait, no byte was lost), call it again.
     *  - If bytes came, add their number to fill.
     * Return what recv() returned: the number of bytes (> 0), 0 at end of
     * file, or -1 with errno as recv() set it (EAGAIN included: lab03's
     * non-blocking sockets rely on it). */
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

    /* TODO step 2 (README step 2): cut the next line, in three parts.
     *  1. Dropping the rest of an over-long line (discarding set): look for
     *     '\n' from start. None: every byte buffered belongs to that line,
     *     so empty_buffer() and return LINEBUF_NONE. Found at index end:
     *     the line ends there; start and scanned go to end + 1, discarding
     *     back to 0, and go on with part 2.
     *  2. Look for '\n' from scanned, not from start: the bytes before
     *     scanned were searched already and hold none. None found: set
     *     scanned to fill, so these bytes are never searched again. Then,
     *     if the buffer holds LINEBUF_SIZE bytes of this one line (fill -
     *     start == LINEBUF_SIZE), it is too long whatever comes next:
     *     empty_buffer(), set discarding, return LINEBUF_TOO_LONG (once:
     *     part 1 drops the rest as it arrives). Otherwise LINEBUF_NONE.
     *  3. Found at index end: the line is data[start..end). Leave out a '\r'
     *     right before the '\n' (only that one). Move start and scanned to
     *     end + 1: the bytes after belong to the next line. A line longer
     *     than LINE_MAX_BYTES gives LINEBUF_TOO_LONG (it is complete: nothing
     *     left to drop). Otherwise set *line and *len and return
     *     LINEBUF_LINE. */
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
