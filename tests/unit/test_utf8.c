/* test_utf8.c - unit tests for utf8.c: strict checking and Latin-1 conversion.
 * Each case is a row of a table (the bytes, and what is expected of them),
 * plus sweeps over every code point in every encoded length.
 * Prints one line per failure and ends with "N passed, N failed"; exits 0 only
 * if none failed. Leaves out speed and inputs too big for a table.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* A string literal and its length, NUL bytes included. */
#define BYTES(literal) literal, sizeof(literal) - 1

static int tests_passed = 0;
static int tests_failed = 0;
/* Whether the Latin-1 conversions are tested too (lab02's step 7). */
static int with_latin1 = 1;

/* A case for utf8_check(). */
struct check_case {
    const char *name;
    const char *bytes;
    size_t len;
    int valid;          /* what utf8_check() must return */
    size_t expected;    /* code points if valid, offset of the error if not */
};

static const struct check_case check_cases[] = {
    /* The first and last code point of each row of Table 3-7. */
    { "U+0000", BYTES("\x00"), 1, 1 },
    { "U+007F", BYTES("\x7F"), 1, 1 },
    { "U+0080", BYTES("\xC2\x80"), 1, 1 },
    { "U+07FF", BYTES("\xDF\xBF"), 1, 1 },
    { "U+0800", BYTES("\xE0\xA0\x80"), 1, 1 },
    { "U+0FFF", BYTES("\xE0\xBF\xBF"), 1, 1 },
    { "U+1000", BYTES("\xE1\x80\x80"), 1, 1 },
    { "U+CFFF", BYTES("\xEC\xBF\xBF"), 1, 1 },
    { "U+D000", BYTES("\xED\x80\x80"), 1, 1 },
    { "U+D7FF", BYTES("\xED\x9F\xBF"), 1, 1 },
    { "U+E000", BYTES("\xEE\x80\x80"), 1, 1 },
    { "U+FFFF", BYTES("\xEF\xBF\xBF"), 1, 1 },
    { "U+10000", BYTES("\xF0\x90\x80\x80"), 1, 1 },
    { "U+3FFFF", BYTES("\xF0\xBF\xBF\xBF"), 1, 1 },
    { "U+40000", BYTES("\xF1\x80\x80\x80"), 1, 1 },
    { "U+FFFFF", BYTES("\xF3\xBF\xBF\xBF"), 1, 1 },
    { "U+100000", BYTES("\xF4\x80\x80\x80"), 1, 1 },
    { "U+10FFFF", BYTES("\xF4\x8F\xBF\xBF"), 1, 1 },
    /* Counting. */
    { "Cafe with e-acute", BYTES("Caf\xC3\xA9"), 1, 4 },
    { "NUL inside", BYTES("a\0b"), 1, 3 },
    { "empty", BYTES(""), 1, 0 },
    { "one of each length", BYTES("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), 1, 4 },
    /* Overlong forms. */
    { "overlong 2-byte C0 AF", BYTES("\xC0\xAF"), 0, 0 },
    { "overlong 2-byte C1 BF", BYTES("\xC1\xBF"), 0, 0 },
    { "overlong NUL C0 80", BYTES("\xC0\x80"), 0, 0 },
    { "overlong 3-byte E0 80 AF", BYTES("\xE0\x80\xAF"), 0, 0 },
    { "overlong 3-byte E0 9F BF", BYTES("\xE0\x9F\xBF"), 0, 0 },
    { "overlong 4-byte F0 80 80 AF", BYTES("\xF0\x80\x80\xAF"), 0, 0 },
    { "overlong 4-byte F0 8F BF BF", BYTES("\xF0\x8F\xBF\xBF"), 0, 0 },
    /* Surrogates and beyond U+10FFFF. */
    { "surrogate U+D800", BYTES("\xED\xA0\x80"), 0, 0 },
    { "surrogate U+DFFF", BYTES("\xED\xBF\xBF"), 0, 0 },
    { "U+110000", BYTES("\xF4\x90\x80\x80"), 0, 0 },
    { "F5 never starts a sequence", BYTES("\xF5\x80\x80\x80"), 0, 0 },
    { "F8 (old 5-byte form)", BYTES("\xF8\x88\x80\x80\x80"), 0, 0 },
    { "FE", BYTES("\xFE"), 0, 0 },
    { "FF after ASCII", BYTES("ab\xFF"), 0, 2 },
    /* Lone continuation bytes. */
    { "lone 80 at start", BYTES("\x80"), 0, 0 },
    { "lone BF at start", BYTES("\xBF"), 0, 0 },
    { "lone 80 in the middle", BYTES("a\x80" "b"), 0, 1 },
    { "BF after a whole e-acute", BYTES("\xC3\xA9\xBF"), 0, 2 },
    /* Truncated sequences. */
    { "truncated E2 82 at end", BYTES("\xE2\x82"), 0, 0 },
    { "truncated F0 9F 98 at end", BYTES("\xF0\x9F\x98"), 0, 0 },
    { "truncated after ASCII", BYTES("ab\xE2\x82"), 0, 2 },
    { "truncated E2 82 then ASCII", BYTES("\xE2\x82" "A"), 0, 0 },
    { "lead byte then lead byte", BYTES("\xC3\xC3\xA9"), 0, 0 },
    /* The contract's examples, and a valid prefix before the error. */
    { "61 62 E0 80", BYTES("ab\xE0\x80"), 0, 2 },
    { "63 61 66 E9 (Latin-1 Cafe)", BYTES("caf\xE9"), 0, 3 },
    { "E0 A0 41", BYTES("\xE0\xA0" "A"), 0, 0 },
    { "valid prefix then surrogate", BYTES("Caf\xC3\xA9 \xED\xA0\x80"), 0, 6 },
    { "valid prefix then U+110000", BYTES("ok\xF4\x90\x80\x80"), 0, 2 },
};

/* A case for one of the conversions. */
struct convert_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *out;
    size_t out_len;
};

static const struct convert_case from_latin1_cases[] = {
    { "empty", BYTES(""), BYTES("") },
    { "ASCII unchanged", BYTES("plain text"), BYTES("plain text") },
    { "e-acute", BYTES("Caf\xE9"), BYTES("Caf\xC3\xA9") },
    { "A0 and FF", BYTES("\xA0\xFF"), BYTES("\xC2\xA0\xC3\xBF") },
    { "NUL kept", BYTES("a\0b"), BYTES("a\0b") },
};

static const struct convert_case to_latin1_cases[] = {
    { "empty", BYTES(""), BYTES("") },
    { "e-acute", BYTES("Caf\xC3\xA9"), BYTES("Caf\xE9") },
    { "U+00FF", BYTES("\xC3\xBF"), BYTES("\xFF") },
    { "NUL kept", BYTES("a\0b"), BYTES("a\0b") },
    { "euro sign to ?", BYTES("5 \xE2\x82\xAC"), BYTES("5 ?") },
    { "emoji to ?", BYTES("\xF0\x9F\x98\x80!"), BYTES("?!") },
    { "truncated E2 82 then ASCII", BYTES("a\xE2\x82" "A"), BYTES("a?A") },
    { "truncated at end", BYTES("\xF0\x9F\x98"), BYTES("?") },
    { "overlong C0 AF", BYTES("\xC0\xAF"), BYTES("??") },
    { "surrogate ED A0 80", BYTES("\xED\xA0\x80"), BYTES("???") },
    { "U+110000", BYTES("\xF4\x90\x80\x80"), BYTES("????") },
    { "lone continuation bytes", BYTES("\x80\xBF"), BYTES("??") },
    { "FF", BYTES("x\xFFy"), BYTES("x?y") },
};

/* Prints len bytes as a C string literal: printable ASCII as is, others \xHH. */
static void print_bytes(const char *bytes, size_t len)
{
    size_t i;

    putchar('"');
    for (i = 0; i < len; i++) {
        unsigned char byte = (unsigned char)bytes[i];

        if (byte >= 0x20 && byte < 0x7F && byte != '"' && byte != '\\')
            putchar(byte);
        else
            printf("\\x%02X", byte);
    }
    putchar('"');
}

/* Prints what utf8_check() answered, or is expected to answer. */
static void print_verdict(int valid, size_t number)
{
    if (valid)
        printf("valid, %zu chars", number);
    else
        printf("invalid at byte %zu", number);
}

/* Runs one utf8_check() case; counts it and prints a line if it fails. */
static void run_check_case(const struct check_case *c)
{
    size_t chars = 0, error_at = 0;
    int valid = utf8_check(c->bytes, c->len, &chars, &error_at);
    size_t got = valid ? chars : error_at;

    if (valid == c->valid && got == c->expected) {
        tests_passed++;
        return;
    }
    tests_failed++;
    printf("FAIL utf8_check %s ", c->name);
    print_bytes(c->bytes, c->len);
    printf(": expected ");
    print_verdict(c->valid, c->expected);
    printf(", got ");
    print_verdict(valid, got);
    putchar('\n');
}

/* Runs one conversion case through convert; counts it, prints if it fails. */
static void run_convert_case(const char *what, const struct convert_case *c,
                             size_t (*convert)(const char *, size_t, char *))
{
    char out[64];
    size_t out_len = convert(c->in, c->in_len, out);

    if (out_len == c->out_len && memcmp(out, c->out, out_len) == 0) {
        tests_passed++;
        return;
    }
    tests_failed++;
    printf("FAIL %s %s ", what, c->name);
    print_bytes(c->in, c->in_len);
    printf(": expected ");
    print_bytes(c->out, c->out_len);
    printf(", got ");
    print_bytes(out, out_len);
    putchar('\n');
}

/* Counts a check that has no table row; prints failure if it failed. */
static void report(int ok, const char *name, const char *failure)
{
    if (ok) {
        tests_passed++;
        return;
    }
    tests_failed++;
    printf("FAIL %s: %s\n", name, failure);
}

/* All 256 Latin-1 bytes to UTF-8 (valid, 256 chars) and back, unchanged. */
static void test_latin1_round_trip(void)
{
    char latin1[256], utf8[512], back[256];
    size_t utf8_len, back_len, chars = 0, error_at = 0;
    int i;

    for (i = 0; i < 256; i++)
        latin1[i] = (char)i;
    utf8_len = utf8_from_latin1(latin1, sizeof latin1, utf8);
    report(utf8_len == 128 + 2 * 128, "all 256 Latin-1 bytes to UTF-8",
           "expected 384 bytes of UTF-8");
    report(utf8_check(utf8, utf8_len, &chars, &error_at) == 1 && chars == 256,
           "all 256 Latin-1 bytes to UTF-8", "expected valid UTF-8 of 256 chars");
    back_len = utf8_to_latin1(utf8, utf8_len, back);
    report(back_len == 256 && memcmp(back, latin1, 256) == 0,
           "all 256 Latin-1 bytes to UTF-8 and back", "expected the 256 bytes unchanged");
}

/* Encodes code_point in exactly length bytes with the bit patterns alone, so
 * also as an overlong form, a surrogate or beyond U+10FFFF. Returns length. */
static size_t encode(uint32_t code_point, size_t length, char *out)
{
    static const unsigned char lead[] = { 0, 0x00, 0xC0, 0xE0, 0xF0 };
    size_t i;

    for (i = length - 1; i > 0; i--) {
        out[i] = (char)(0x80 | (code_point & 0x3F));
        code_point >>= 6;
    }
    out[0] = (char)(lead[length] | code_point);
    return length;
}

/* Checks code_point encoded in length bytes: utf8_check() must find it valid
 * (one char) or invalid at byte 0, and a valid one must become its Latin-1
 * byte or '?'. Returns 1 if so; else prints the failure and returns 0. */
static int sweep_one(const char *name, uint32_t code_point, size_t length, int valid)
{
    char bytes[4], latin1[4];
    size_t chars = 0, error_at = 0, latin1_len;
    int got = utf8_check(bytes, encode(code_point, length, bytes), &chars, &error_at);
    unsigned char want_latin1 = code_point <= 0xFF ? (unsigned char)code_point : '?';

    if (got != valid || (valid ? chars != 1 : error_at != 0)) {
        printf("FAIL %s: U+%04lX as ", name, (unsigned long)code_point);
        print_bytes(bytes, length);
        printf(": expected ");
        print_verdict(valid, valid ? 1 : 0);
        printf(", got ");
        print_verdict(got, got ? chars : error_at);
        putchar('\n');
        return 0;
    }
    if (!valid || !with_latin1)
        return 1;
    latin1_len = utf8_to_latin1(bytes, length, latin1);
    if (latin1_len != 1 || (unsigned char)latin1[0] != want_latin1) {
        printf("FAIL %s: U+%04lX as ", name, (unsigned long)code_point);
        print_bytes(bytes, length);
        printf(" to Latin-1: expected ");
        print_bytes((const char *)&want_latin1, 1);
        printf(", got ");
        print_bytes(latin1, latin1_len);
        putchar('\n');
        return 0;
    }
    return 1;
}

/* Counts a sweep: sweep_one() already printed its failure, if any. */
static void count_sweep(int ok)
{
    if (ok)
        tests_passed++;
    else
        tests_failed++;
}

/* Every code point in its shortest form: valid unless a surrogate. Then every
 * overlong form and every 4-byte form beyond U+10FFFF: invalid at byte 0. */
static void test_sweeps(void)
{
    uint32_t cp;
    int ok;

    ok = 1;
    for (cp = 0; ok && cp <= 0x10FFFF; cp++) {
        size_t length = cp <= 0x7F ? 1 : cp <= 0x7FF ? 2 : cp <= 0xFFFF ? 3 : 4;
        int surrogate = cp >= 0xD800 && cp <= 0xDFFF;

        ok = sweep_one("every code point", cp, length, !surrogate);
    }
    count_sweep(ok);

    ok = 1;
    for (cp = 0; ok && cp <= 0xFFFF; cp++) {
        if (cp <= 0x7F)
            ok = sweep_one("every overlong form", cp, 2, 0);
        if (ok && cp <= 0x7FF)
            ok = sweep_one("every overlong form", cp, 3, 0);
        if (ok)
            ok = sweep_one("every overlong form", cp, 4, 0);
    }
    count_sweep(ok);

    ok = 1;
    for (cp = 0x110000; ok && cp <= 0x1FFFFF; cp++)
        ok = sweep_one("beyond U+10FFFF", cp, 4, 0);
    count_sweep(ok);
}

/* test_utf8 [check|latin1]: all the tests, or only those of utf8_check(),
 * or only the conversions (which rely on utf8_check() too). */
int main(int argc, char *argv[])
{
    int check_only = argc > 1 && strcmp(argv[1], "check") == 0;
    int latin1_only = argc > 1 && strcmp(argv[1], "latin1") == 0;
    size_t i;

    if (argc > 2 || (argc == 2 && !check_only && !latin1_only)) {
        fprintf(stderr, "usage: %s [check|latin1]\n", argv[0]);
        return 2;
    }
    with_latin1 = !check_only;
    if (!latin1_only)
        for (i = 0; i < sizeof check_cases / sizeof check_cases[0]; i++)
            run_check_case(&check_cases[i]);
    if (with_latin1) {
        for (i = 0; i < sizeof from_latin1_cases / sizeof from_latin1_cases[0]; i++)
            run_convert_case("utf8_from_latin1", &from_latin1_cases[i], utf8_from_latin1);
        for (i = 0; i < sizeof to_latin1_cases / sizeof to_latin1_cases[0]; i++)
            run_convert_case("utf8_to_latin1", &to_latin1_cases[i], utf8_to_latin1);
        test_latin1_round_trip();
    }
    test_sweeps();

    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
