/* utf8.c - strict UTF-8 checking and Latin-1 conversion, by hand.
 * Shows how a character's bytes are laid out and which sequences a strict
 * decoder refuses (RFC 3629, Unicode Table 3-7), counting in size_t, never
 * with strlen (a NUL byte is a character). Leaves out other encodings (no
 * iconv), normalisation, and how many columns a character takes on screen.
 *
 * This is the skeleton: each "TODO step N" is yours to write, in order.
 * README.md explains every step; tests/unit/test_utf8.c checks this file on
 * its own (make check LAB=02 runs it); `make hint LAB=02` gives hints, one
 * level more at each call.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "utf8.h"

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

/*
 * The bit patterns (x: bits of the code point):
 *   0xxxxxxx                              U+0000..U+007F
 *   110xxxxx 10xxxxxx                     U+0080..U+07FF
 *   1110xxxx 10xxxxxx 10xxxxxx            U+0800..U+FFFF
 *   11110xxx 10xxxxxx 10xxxxxx 10xxxxxx   U+10000..U+10FFFF
 * The patterns alone would let through overlong forms (C0 AF for '/'),
 * surrogates (ED A0 80 for U+D800) and code points above U+10FFFF (F4 90 80 80),
 * so Unicode Table 3-7 lists the well-formed sequences exactly. Only the range
 * of the second byte varies; a third and fourth byte are always 80..BF.
 * 00..7F is one byte on its own; 80..C1 and F5..FF never start a sequence.
 */
static const struct utf8_row {
    unsigned char first_min, first_max;   /* range of the first byte */
    unsigned char second_min, second_max; /* range of the second byte */
    size_t length;                        /* bytes in the sequence */
} utf8_rows[] = {
    { 0xC2, 0xDF, 0x80, 0xBF, 2 },  /* U+0080..U+07FF (C0, C1: overlong) */
    { 0xE0, 0xE0, 0xA0, 0xBF, 3 },  /* U+0800..U+0FFF (E0 80..9F: overlong) */
    { 0xE1, 0xEC, 0x80, 0xBF, 3 },  /* U+1000..U+CFFF */
    { 0xED, 0xED, 0x80, 0x9F, 3 },  /* U+D000..U+D7FF (ED A0..BF: surrogates) */
    { 0xEE, 0xEF, 0x80, 0xBF, 3 },  /* U+E000..U+FFFF */
    { 0xF0, 0xF0, 0x90, 0xBF, 4 },  /* U+10000..U+3FFFF (F0 80..8F: overlong) */
    { 0xF1, 0xF3, 0x80, 0xBF, 4 },  /* U+40000..U+FFFFF */
    { 0xF4, 0xF4, 0x80, 0x8F, 4 },  /* U+100000..U+10FFFF (F4 90..BF: too big) */
};

/* Returns the row of Table 3-7 that first_byte starts, or NULL if none. */
static const struct utf8_row *find_row(unsigned char first_byte)
{
    size_t i;

    for (i = 0; i < sizeof utf8_rows / sizeof utf8_rows[0]; i++)
        if (first_byte >= utf8_rows[i].first_min && first_byte <= utf8_rows[i].first_max)
            return &utf8_rows[i];
    return NULL;
}

/* Decodes the sequence at s[0..avail), avail > 0.
 * Well-formed: returns 1, stores its length in *used and its value in
 * *code_point. Ill-formed: returns 0 and stores in *used the length of its
 * maximal invalid subpart: the bytes that began a well-formed sequence before
 * it went wrong, at least 1 (E2 82 41 gives 2: the 41 starts afresh). */
static int decode_char(const unsigned char *s, size_t avail, size_t *used, uint32_t *code_point)
{
    /* TODO step 4 (README step 4): decode the one sequence at s, as the
     * comment above says. An ASCII byte is a character on its own. Any
     * other first byte has a row of the table (find_row(); NULL: it starts
     * no sequence), which gives the length and the range of the second
     * byte; the next bytes are 80..BF, and a line may end before the
     * sequence does. The code point is the x bits of the first byte, then
     * 6 bits per next byte. (make hint LAB=02 STEP=4) */
    (void)s;
    (void)avail;
    (void)used;
    (void)code_point;
    (void)find_row;
    todo(4, "decode one UTF-8 sequence (decode_char)");
    return 0;
}

/* Returns 1 and the code point count if buf[0..len) is strict UTF-8, else 0
 * and the offset where the first ill-formed sequence starts. */
int utf8_check(const char *buf, size_t len, size_t *chars, size_t *error_at)
{
    const unsigned char *bytes = (const unsigned char *)buf;
    size_t pos = 0, count = 0, used;
    uint32_t code_point;

    /* TODO step 4 (README step 4): walk the line with decode_char(),
     * counting characters. All well-formed: *chars, return 1. Otherwise
     * *error_at = the offset where the first ill-formed sequence starts
     * (not the byte that broke it), return 0. Read the bytes through bytes
     * (unsigned char); len, never strlen(), says where the line ends.
     * (make hint LAB=02 STEP=4) */
    (void)bytes;
    (void)len;
    (void)chars;
    (void)error_at;
    (void)pos;
    (void)count;
    (void)used;
    (void)code_point;
    (void)decode_char;
    todo(4, "check a line as strict UTF-8 and count its characters (utf8_check)");
    return 0;
}

/* Converts Latin-1 to UTF-8; out holds 2*len bytes. Returns its length. */
size_t utf8_from_latin1(const char *in, size_t len, char *out)
{
    size_t i, out_len = 0;

    /* TODO step 7 (README step 7): Latin-1 byte N is the code point
     * U+00NN: write each one in UTF-8 into out (one byte up to 7F, two
     * from 80 on: E9 gives C3 A9). Returns the number of bytes written.
     * (make hint LAB=02 STEP=7) */
    (void)in;
    (void)len;
    (void)out;
    (void)i;
    (void)out_len;
    todo(7, "convert Latin-1 to UTF-8 (utf8_from_latin1)");
    return 0;
}

/* Converts UTF-8 to Latin-1, '?' for what Latin-1 lacks and for each
 * maximal invalid subpart; out holds len bytes. Returns its length. */
size_t utf8_to_latin1(const char *in, size_t len, char *out)
{
    const unsigned char *bytes = (const unsigned char *)in;
    size_t pos = 0, out_len = 0, used;
    uint32_t code_point = 0;

    /* TODO step 7 (README step 7): walk the bytes with decode_char(), as
     * utf8_check() does, one byte out for each sequence: the code point
     * itself up to U+00FF, '?' above it, and '?' for each ill-formed piece,
     * the walk going on after it (C0 AF gives "??"). Returns the number of
     * bytes written. (make hint LAB=02 STEP=7) */
    (void)bytes;
    (void)len;
    (void)out;
    (void)pos;
    (void)out_len;
    (void)used;
    (void)code_point;
    todo(7, "convert UTF-8 to Latin-1, '?' for what it lacks (utf8_to_latin1)");
    return 0;
}
