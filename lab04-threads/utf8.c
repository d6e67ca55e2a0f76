/* utf8.c - strict UTF-8 checking and Latin-1 conversion, by hand.
 * Shows how a character's bytes are laid out and which sequences a strict
 * decoder refuses (RFC 3629, Unicode Table 3-7), counting in size_t, never
 * with strlen (a NUL byte is a character), and how to show other people's
 * bytes on a terminal without letting them drive it (control characters).
 * Leaves out other encodings (no iconv), normalisation, and how many columns
 * a character takes on screen.
 */
#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

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
    const struct utf8_row *row;
    unsigned char min, max;
    uint32_t value;
    size_t i;

    if (s[0] <= 0x7F) {
        *used = 1;
        *code_point = s[0];
        return 1;
    }
    row = find_row(s[0]);
    if (row == NULL) {
        *used = 1;
        return 0;
    }
    value = s[0] & (0xFF >> (row->length + 1));  /* the x bits of the first byte */
    min = row->second_min;
    max = row->second_max;
    for (i = 1; i < row->length; i++) {
        if (i == avail || s[i] < min || s[i] > max) {
            *used = i;
            return 0;
        }
        value = (value << 6) | (s[i] & 0x3F);
        min = 0x80;
        max = 0xBF;
    }
    *used = row->length;
    *code_point = value;
    return 1;
}

/* Returns 1 and the code point count if buf[0..len) is strict UTF-8, else 0
 * and the offset where the first ill-formed sequence starts. */
int utf8_check(const char *buf, size_t len, size_t *chars, size_t *error_at)
{
    const unsigned char *bytes = (const unsigned char *)buf;
    size_t pos = 0, count = 0, used;
    uint32_t code_point;

    while (pos < len) {
        if (!decode_char(bytes + pos, len - pos, &used, &code_point)) {
            *error_at = pos;
            return 0;
        }
        pos += used;
        count++;
    }
    *chars = count;
    return 1;
}

/* Converts Latin-1 to UTF-8; out holds 2*len bytes. Returns its length. */
size_t utf8_from_latin1(const char *in, size_t len, char *out)
{
    size_t i, out_len = 0;

    for (i = 0; i < len; i++) {
        unsigned char byte = (unsigned char)in[i];

        /* Latin-1 byte N is code point U+00NN: 0xxxxxxx or 110000xx 10xxxxxx. */
        if (byte <= 0x7F) {
            out[out_len++] = (char)byte;
        } else {
            out[out_len++] = (char)(0xC0 | (byte >> 6));
            out[out_len++] = (char)(0x80 | (byte & 0x3F));
        }
    }
    return out_len;
}

/* Converts UTF-8 to Latin-1, '?' for what Latin-1 lacks and for each
 * maximal invalid subpart; out holds len bytes. Returns its length. */
size_t utf8_to_latin1(const char *in, size_t len, char *out)
{
    const unsigned char *bytes = (const unsigned char *)in;
    size_t pos = 0, out_len = 0, used;
    uint32_t code_point = 0;

    while (pos < len) {
        if (decode_char(bytes + pos, len - pos, &used, &code_point) && code_point <= 0xFF)
            out[out_len++] = (char)code_point;
        else
            out[out_len++] = '?';   /* beyond Latin-1, or one ill-formed piece */
        pos += used;
    }
    return out_len;
}

/* Appends the byte as \xNN to out at *out_len. */
static void escape_byte(unsigned char byte, char *out, size_t *out_len)
{
    static const char hex[] = "0123456789ABCDEF";

    out[(*out_len)++] = '\\';
    out[(*out_len)++] = 'x';
    out[(*out_len)++] = hex[byte >> 4];
    out[(*out_len)++] = hex[byte & 0x0F];
}

/* Returns 1 for a control character: C0 (TAB aside), DEL, or C1
 * (U+0080..U+009F, which some terminals obey too: U+009B means ESC [). */
static int is_control(uint32_t code_point)
{
    return (code_point < 0x20 && code_point != '\t') || (code_point >= 0x7F && code_point <= 0x9F);
}

/* Copies in to out with control characters and ill-formed bytes as \xNN;
 * out holds UTF8_ESCAPED_SIZE(len) bytes. Returns its length. */
size_t utf8_escape_controls(const char *in, size_t len, char *out)
{
    const unsigned char *bytes = (const unsigned char *)in;
    size_t pos = 0, out_len = 0, used, i;
    uint32_t code_point = 0;
    int shown;

    while (pos < len) {
        shown = decode_char(bytes + pos, len - pos, &used, &code_point) && !is_control(code_point);
        for (i = 0; i < used; i++) {
            if (shown)
                out[out_len++] = (char)bytes[pos + i];
            else
                escape_byte(bytes[pos + i], out, &out_len);
        }
        pos += used;
    }
    return out_len;
}
