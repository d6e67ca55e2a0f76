/* oracle.h - what lab02's utf8.c and linebuf.c must answer, computed another
 * way (see oracle.c): the fuzz harnesses compare a lab's modules with these.
 * Written from the Unicode standard's Table 3-7 and the lab's headers, not
 * from the lab's code. */
#ifndef ORACLE_H
#define ORACLE_H

#include <stddef.h>
#include <stdint.h>

/* ---- UTF-8 --------------------------------------------------------------- */

/* One step of a strict decoder at s[pos..len), pos < len. */
struct oracle_step {
    int well_formed;        /* 1: a character; 0: an ill-formed sequence */
    size_t length;          /* bytes taken: the character's, or the maximal
                             * invalid subpart's (at least 1) */
    uint32_t code_point;    /* the character (well_formed only) */
    size_t broken_at;       /* ill-formed: the byte that broke the sequence,
                             * or len if the input ended inside it */
};

/* Decodes the sequence at s[pos..len), pos < len. */
void oracle_utf8_step(const unsigned char *s, size_t len, size_t pos, struct oracle_step *step);

/* What utf8_check() must say about s[0..len). */
struct oracle_verdict {
    int valid;
    size_t chars;           /* valid: the code points */
    size_t error_at;        /* invalid: where the first ill-formed sequence starts */
    struct oracle_step bad; /* invalid: that sequence */
};

void oracle_utf8_check(const unsigned char *s, size_t len, struct oracle_verdict *verdict);

/* Writes into why (size bytes, NUL-terminated) why the sequence at
 * s[pos..len) is ill-formed, in words: "E0 80 is an overlong start ...".
 * Returns why. */
const char *oracle_utf8_why(const unsigned char *s, size_t len, size_t pos, char *why, size_t size);

/* The Latin-1 bytes utf8_to_latin1() must write for s[0..len): one byte per
 * character (itself up to U+00FF, '?' beyond) and one '?' per maximal invalid
 * subpart. out holds len bytes; origin (len entries, or NULL) receives, for
 * each byte written, the offset of the sequence it stands for. Returns the
 * number of bytes written. */
size_t oracle_to_latin1(const unsigned char *s, size_t len, unsigned char *out, size_t *origin);

/* The UTF-8 bytes utf8_from_latin1() must write for Latin-1 s[0..len) (into
 * out, 2 * len bytes). Returns their number. */
size_t oracle_from_latin1(const unsigned char *s, size_t len, unsigned char *out);

/* ---- lines --------------------------------------------------------------- */

/* The line limit of the contract, without the "\n" (LINE_MAX_BYTES). */
#define ORACLE_LINE_MAX 65536
/* Bytes without a "\n" after which a line is certainly too long: the limit,
 * a "\r" and one more byte (LINEBUF_SIZE in linebuf.h). */
#define ORACLE_UNDECIDED_MAX (ORACLE_LINE_MAX + 2)

enum oracle_event_kind { ORACLE_LINE, ORACLE_TOO_LONG };

/* One result the line reader must hand out, in order. */
struct oracle_event {
    enum oracle_event_kind kind;
    size_t start;           /* the line's first byte in the stream */
    size_t length;          /* LINE: its bytes, without "\n" and a "\r" before it;
                             * TOO_LONG: the bytes seen before it was decided */
    size_t end;             /* the offset just past the last byte this result
                             * needs: its "\n", or the byte that made it too long */
    int complete;           /* TOO_LONG: 1 if its "\n" had come, 0 if it was
                             * decided on ORACLE_UNDECIDED_MAX bytes without one */
    size_t dropped_to;      /* TOO_LONG, not complete: the offset just past the
                             * "\n" that ends the dropping (or the stream's end) */
};

/* Splits stream[0..len) as linebuf.h says: a line ends at "\n"; a "\r" right
 * before it is not part of it; a line of more than ORACLE_LINE_MAX bytes is
 * TOO_LONG, reported once, as soon as ORACLE_UNDECIDED_MAX bytes have come
 * without a "\n" (the rest then dropped up to the "\n") or when its "\n"
 * comes; an unterminated last piece is not a line. Writes at most max events
 * (len + 1 is always enough) and returns how many there are. */
size_t oracle_split(const unsigned char *stream, size_t len, struct oracle_event *events, size_t max);

#endif
