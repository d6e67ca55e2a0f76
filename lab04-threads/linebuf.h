/* linebuf.h - a buffered line reader, one per connection (see linebuf.c). */
#ifndef LINEBUF_H
#define LINEBUF_H

#include <stddef.h>
#include <sys/types.h>

/* Longest line accepted, in bytes, not counting the "\n" (see the README). */
#define LINE_MAX_BYTES 65536
/* Room for the longest line, a "\r" and its "\n". */
#define LINEBUF_SIZE (LINE_MAX_BYTES + 2)

enum linebuf_result { LINEBUF_NONE = 0, LINEBUF_LINE = 1, LINEBUF_TOO_LONG = 2 };

/* data[start..fill) holds the bytes received but not yet handed out.
 * data[start..scanned) is known to hold no "\n": the next search starts at
 * scanned, so a long line that arrives in many pieces is searched only once. */
struct linebuf {
    int fd;                     /* the connection it reads from */
    size_t start;               /* first byte not yet handed out */
    size_t scanned;             /* where the search for "\n" goes on */
    size_t fill;                /* end of the bytes received */
    int discarding;             /* dropping an over-long line up to its "\n" */
    char data[LINEBUF_SIZE];
};

/* Prepares lb to read from the connected socket fd. lb holds its whole
 * buffer (about 64 KiB, no malloc); the caller keeps fd open and closes it. */
void linebuf_init(struct linebuf *lb, int fd);

/* One recv() into the free space, moving the pending bytes to the front first
 * if there is no room at the end. Returns the number of bytes read (> 0),
 * 0 at end of file, -1 on error with errno set. EINTR is retried here;
 * EAGAIN/EWOULDBLOCK is returned as -1 so a non-blocking caller can wait with
 * select(). Call linebuf_next() until LINEBUF_NONE first: with a full buffer
 * there is nothing to read into (-1, errno ENOBUFS). */
ssize_t linebuf_fill(struct linebuf *lb);

/* Hands out the next complete line already buffered, without calling recv().
 * LINEBUF_LINE: *line and *len give the line without its "\n" (and without a
 * "\r" right before it); they point into lb and stay valid until the next
 * linebuf_ call. The line may contain NUL bytes and is not NUL-terminated.
 * LINEBUF_TOO_LONG: a line of more than LINE_MAX_BYTES bytes, reported once,
 * as soon as that is certain; the rest of it is dropped as it arrives, up to
 * and including its "\n". LINEBUF_NONE: no complete line buffered, call
 * linebuf_fill(). With any result but LINEBUF_LINE, *line is NULL, *len 0. */
enum linebuf_result linebuf_next(struct linebuf *lb, const char **line, size_t *len);

/* Blocking convenience: calls linebuf_next() and linebuf_fill() until there is
 * a result. Returns LINEBUF_LINE (with *line and *len as linebuf_next() sets
 * them) or LINEBUF_TOO_LONG, 0 at end of file (an unterminated last piece is
 * not a line and is dropped), -1 on error with errno set. */
int linebuf_read_line(struct linebuf *lb, const char **line, size_t *len);

/* Returns the number of bytes received but not yet handed out. */
size_t linebuf_pending(const struct linebuf *lb);

#endif
