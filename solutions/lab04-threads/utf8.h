/* utf8.h - strict UTF-8 checking, Latin-1 conversion, and control
 * characters made visible (see utf8.c). */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/* Checks buf[0..len) as strict UTF-8 (RFC 3629 / Unicode Table 3-7: no overlong
 * forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF, no truncated
 * sequence, no F5..FF, no lone continuation byte). NUL is a character like any.
 * Valid: returns 1 and stores the number of code points in *chars.
 * Invalid: returns 0 and stores in *error_at the 0-based offset of the first
 * byte of the first ill-formed sequence, where a strict decoder stops
 * (bytes 61 62 E0 80 give 2; 63 61 66 E9 give 3; E0 A0 41 gives 0). */
int utf8_check(const char *buf, size_t len, size_t *chars, size_t *error_at);

/* Converts len ISO-8859-1 bytes to UTF-8 into out, which must hold 2*len
 * bytes. Returns the UTF-8 length. Nothing is NUL-terminated. */
size_t utf8_from_latin1(const char *in, size_t len, char *out);

/* Converts len bytes of UTF-8 to ISO-8859-1 into out, which must hold len
 * bytes: U+0000..U+00FF become one byte, a character Latin-1 lacks becomes
 * '?', and each ill-formed sequence (as utf8_check() sees it) becomes one '?'
 * per maximal invalid subpart, after which conversion goes on.
 * Returns the Latin-1 length. Nothing is NUL-terminated. */
size_t utf8_to_latin1(const char *in, size_t len, char *out);

/* Longest result of utf8_escape_controls() for len bytes: each byte may
 * become the four characters \xNN. */
#define UTF8_ESCAPED_SIZE(len) (4 * (len))

/* Copies len bytes of a line from someone else into out, which must hold
 * UTF8_ESCAPED_SIZE(len) bytes, so that printing it cannot move the cursor,
 * clear the screen or forge a line: each control character becomes \xNN
 * (two uppercase hex digits): bytes 00..1F except TAB, 7F, the characters
 * U+0080..U+009F (as their two bytes: C2 9B gives \xC2\x9B), and every
 * byte of an ill-formed sequence (as utf8_check() sees it). Everything else,
 * a backslash included, is copied as it is. Returns the length written;
 * out holds no NUL byte and is not NUL-terminated. */
size_t utf8_escape_controls(const char *in, size_t len, char *out);

#endif
