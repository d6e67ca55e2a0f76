/* linebuf.c - a buffered line reader, one per connection.
 * Shows framing over a byte stream: recv() returns pieces of any size, a line
 * is cut on "\n" only once it is complete, and an over-long line is refused in
 * constant memory (one fixed buffer inside the struct, no malloc).
 * Leaves out: checking the characters (utf8.c does that) and reading pipes or
 * files (recv() works on sockets only).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "linebuf.h"

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
    size_t pending = lb->fill - lb->start;

    memmove(lb->data, lb->data + lb->start, pending);
    lb->scanned -= lb->start;
    lb->fill = pending;
    lb->start = 0;
}

/* Returns the index of the first "\n" in data[from..fill), or fill if none. */
static size_t find_newline(const struct linebuf *lb, size_t from)
{
    const char *newline;

    if (from == lb->fill)           /* memchr() wants a valid pointer, even for 0 bytes */
        return lb->fill;
    newline = memchr(lb->data + from, '\n', lb->fill - from);
    return newline != NULL ? (size_t)(newline - lb->data) : lb->fill;
}

/* One recv() into the free space: > 0 bytes read, 0 end of file, -1 errno. */
ssize_t linebuf_fill(struct linebuf *lb)
{
    ssize_t received;

    /* Move bytes only when they block the way: most of the time everything
     * was handed out and the buffer simply starts over. */
    if (lb->start == lb->fill)
        empty_buffer(lb);
    else if (lb->fill == LINEBUF_SIZE && lb->start > 0)
        compact_buffer(lb);
    if (lb->fill == LINEBUF_SIZE) {   /* linebuf_next() would have said TOO_LONG */
        errno = ENOBUFS;
        return -1;
    }
    do {
        received = recv(lb->fd, lb->data + lb->fill, LINEBUF_SIZE - lb->fill, 0);
    } while (received == -1 && errno == EINTR);
    if (received > 0)
        lb->fill += (size_t)received;
    return received;
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

    if (lb->discarding) {
        end = find_newline(lb, lb->start);
        if (end == lb->fill) {
            empty_buffer(lb);           /* all of it belongs to the dropped line */
            return LINEBUF_NONE;
        }
        lb->start = end + 1;
        lb->scanned = lb->start;
        lb->discarding = 0;
    }

    end = find_newline(lb, lb->scanned);
    if (end == lb->fill) {
        lb->scanned = lb->fill;         /* so these bytes are never searched again */
        /* LINEBUF_SIZE bytes and still no "\n": even if the last one is a
         * "\r", more than LINE_MAX_BYTES bytes come before the "\n". */
        if (lb->fill - lb->start == LINEBUF_SIZE) {
            empty_buffer(lb);
            lb->discarding = 1;
            return LINEBUF_TOO_LONG;
        }
        return LINEBUF_NONE;
    }

    line_start = lb->start;
    line_len = end - line_start;
    if (line_len > 0 && lb->data[end - 1] == '\r')
        line_len--;
    lb->start = end + 1;
    lb->scanned = lb->start;
    if (line_len > LINE_MAX_BYTES)
        return LINEBUF_TOO_LONG;
    *line = lb->data + line_start;
    *len = line_len;
    return LINEBUF_LINE;
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
