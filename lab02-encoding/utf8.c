/* utf8.c - strict UTF-8 checking and Latin-1 conversion, by hand.
 * Shows how a character's bytes are laid out and which sequences a strict
 * decoder refuses (RFC 3629, Unicode Table 3-7), counting in size_t, never
 * with strlen (a NUL byte is a character). Leaves out other encodings (no
 * iconv), normalisation, and how many columns a character takes on screen.
 *
 * This is the skeleton: each "TODO step N" is yours to write, in order.
 * README.md explains every step; tests/unit/test_utf8.c checks this file on
 * its own (make check LAB=02 runs it).
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
    /* TODO step 4 (README step 4): decode one sequence with the table.
     *  - s[0] up to 0x7F: one byte, whose value is the code point.
     *  - Otherwise find_row(s[0]). NULL: this byte never starts a sequence
     *    (a continuation byte 80..BF, C0, C1, F5..FF): *used = 1, return 0.
     *  - The code point starts with the x bits of the first byte: the bits
     *    after its leading 1s and their 0 (5 bits for a 2-byte sequence,
     *    4 for 3 bytes, 3 for 4 bytes).
     *  - Then bytes 1 to row->length - 1. Each must be there (index below
     *    avail: a line may end in the middle of a sequence) and within its
     *    range: second_min..second_max for byte 1, 0x80..0xBF for the
     *    others. The first that is not: *used = its index (the bytes before
     *    it, which looked right so far), return 0. Each byte that is adds its
     *    6 low bits: code point = code point shifted left by 6, OR the byte's
     *    bits (byte & 0x3F).
     *  - All there: *used = row->length, *code_point = the value, return 1.
     * The table does the strict part: check the second byte against its row
     * and overlong forms, surrogates and values above U+10FFFF never pass. */
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

    /* TODO step 4 (README step 4): walk the len bytes from pos 0 with
     * decode_char(bytes + pos, len - pos, &used, &code_point).
     *  - Well-formed: one more character (count), and pos moves on by used.
     *  - Ill-formed: *error_at = pos, where that sequence starts (not
     *    pos + used: the offset of the sequence, not of the byte that broke
     *    it), return 0.
     *  - The end reached: *chars = count, return 1.
     * bytes is buf seen as unsigned char: as a plain char, a byte above 0x7F
     * may be negative and compare wrongly. No strlen(): len says where the
     * line ends, and a NUL byte is a character like any other. */
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

    /* TODO step 7 (README step 7): Latin-1 byte N is the code point U+00NN.
     * For each of the len bytes (as an unsigned char):
     *  - up to 0x7F: copy it as it is (0xxxxxxx);
     *  - 0x80 to 0xFF: two bytes, 110000xx 10xxxxxx: 0xC0 with the byte's
     *    top 2 bits, then 0x80 with its low 6 bits (E9 gives C3 A9).
     * Return the number of bytes written into out (between len and 2*len).
     * out is a separate buffer: converting in place would overwrite bytes
     * not yet read, since the text grows. */
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

    /* TODO step 7 (README step 7): walk the len bytes with decode_char(), as
     * utf8_check() does, writing one byte into out per step:
     *  - a well-formed character up to U+00FF: the byte of that value;
     *  - a character above U+00FF (the euro sign, an emoji): '?';
     *  - an ill-formed piece: '?', then go on after its used bytes (so
     *    C0 AF gives "??", and a 41 after a cut sequence stays an 'A').
     * Return the number of bytes written into out (at most len). */
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
