/* fuzz_utf8.c - libFuzzer harness for lab02's utf8.c.
 * Each input is a line of bytes. utf8_check() must agree with the oracle
 * (oracle.c, Table 3-7 as a state machine) on the verdict, the character
 * count and the error offset, also when given only the first len - 1 bytes
 * of a buffer (it must stop at len). utf8_to_latin1() and utf8_from_latin1()
 * must write what the header says, no more bytes than it allows (len and
 * 2 * len), and a round trip must give the bytes back.
 * A disagreement is written in words (report.c) and the harness aborts.
 * FUZZ_SKIP_LATIN1=1 leaves the conversions out (a lab still at step 7);
 * FUZZ_DESCRIBE=1 prints each input first (replays); FUZZ_FOCUS=utf8_check
 * (or utf8_to_latin1, utf8_from_latin1) makes that check alone (shrinking a
 * finding keeps it a finding of the same check).
 * Leaves out speed: a slow utf8_check only shows as a libFuzzer timeout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "report.h"
#include "utf8.h"

/* Bytes after each output buffer that must stay untouched. */
#define GUARD_BYTES 32
#define GUARD_VALUE 0xA5
/* What *chars and *error_at hold before the call: "not set". */
#define NOT_SET ((size_t)-7)

static int skip_latin1 = 0;
static int describe = 0;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *value;

    (void)argc;
    (void)argv;
    value = getenv("FUZZ_SKIP_LATIN1");
    skip_latin1 = value != NULL && strcmp(value, "1") == 0;
    value = getenv("FUZZ_DESCRIBE");
    describe = value != NULL && strcmp(value, "1") == 0;
    return 0;
}

/* A copy of bytes[0..len) in a block of exactly size >= len bytes, so that
 * AddressSanitizer sees a read past it. */
static unsigned char *copy_of(const unsigned char *bytes, size_t len, size_t size)
{
    unsigned char *copy = malloc(size > 0 ? size : 1);

    if (copy == NULL) {
        perror("fuzz_utf8: malloc");
        exit(2);
    }
    if (len > 0)
        memcpy(copy, bytes, len);
    return copy;
}

/* Where the sequence that holds byte at starts, walking from 0. */
static size_t sequence_start(const unsigned char *s, size_t len, size_t at)
{
    struct oracle_step step;
    size_t pos = 0;

    while (pos < len) {
        oracle_utf8_step(s, len, pos, &step);
        if (at < pos + step.length)
            return pos;
        pos += step.length;
    }
    return len;
}

/* Words for what starts at byte at of a valid line: "E2 82 AC, the character
 * U+20AC", or that it is inside a character. */
static void describe_position(const unsigned char *s, size_t len, size_t at, char *out, size_t size)
{
    struct oracle_step step;
    size_t start;
    char hex[64];

    if (at >= len) {
        snprintf(out, size, "byte %zu is past the end (the line has %zu bytes)", at, len);
        return;
    }
    start = sequence_start(s, len, at);
    oracle_utf8_step(s, len, start, &step);
    report_hex(s + start, step.length, 0, hex, sizeof hex);
    if (start == at)
        snprintf(out, size, "at byte %zu starts %s, the character U+%04X", at, hex, (unsigned)step.code_point);
    else
        snprintf(out, size, "byte %zu is inside %s, the character U+%04X that starts at byte %zu",
                 at, hex, (unsigned)step.code_point, start);
}

/* Checks utf8_check() on s[0..len) against the oracle; the buffer it is
 * given holds size >= len bytes (the rest are the input's next bytes). */
static void check_utf8_check(const unsigned char *input, size_t len, size_t size)
{
    struct oracle_verdict verdict;
    unsigned char *copy = copy_of(input, size, size);
    size_t chars = NOT_SET, error_at = NOT_SET;
    int result;
    char hex[160], why[256], where[256], longer[128] = "";

    report_check("utf8_check");

    oracle_utf8_check(copy, len, &verdict);
    result = utf8_check((const char *)copy, len, &chars, &error_at);
    if (size > len)
        snprintf(longer, sizeof longer, " (the first %zu bytes of a buffer of %zu: utf8_check must stop at len)",
                 len, size);

    if (result != 0 && result != 1) {
        report_line("your utf8_check returns %d for %s; it returns 1 (valid) or 0 (invalid)%s",
                    result, report_hex(copy, len, 0, hex, sizeof hex), longer);
    } else if (!verdict.valid && result == 1) {
        report_line("your utf8_check accepts %s, which is invalid at byte %zu: %s%s",
                    report_hex(copy, len, verdict.error_at, hex, sizeof hex), verdict.error_at,
                    oracle_utf8_why(copy, len, verdict.error_at, why, sizeof why), longer);
        report_line("  utf8_check must return 0 and set *error_at to %zu (README step 4)", verdict.error_at);
    } else if (verdict.valid && result == 0) {
        if (error_at == NOT_SET) {
            report_line("your utf8_check refuses %s, which is valid UTF-8 (%zu char%s), and does not set *error_at%s",
                        report_hex(copy, len, 0, hex, sizeof hex), verdict.chars, PLURAL(verdict.chars), longer);
        } else {
            describe_position(copy, len, error_at, where, sizeof where);
            report_line("your utf8_check refuses %s at byte %zu; it is valid UTF-8 (%zu char%s): %s%s",
                        report_hex(copy, len, error_at, hex, sizeof hex), error_at, verdict.chars,
                        PLURAL(verdict.chars), where, longer);
        }
        report_line("  utf8_check must return 1 and set *chars to %zu (README step 4)", verdict.chars);
    } else if (verdict.valid && chars != verdict.chars) {
        if (chars == NOT_SET)
            report_line("your utf8_check returns 1 for %s but does not set *chars (%zu expected)%s",
                        report_hex(copy, len, 0, hex, sizeof hex), verdict.chars, longer);
        else
            report_line("your utf8_check counts %zu chars in %s; there are %zu (a character counts once, whatever its bytes)%s",
                        chars, report_hex(copy, len, 0, hex, sizeof hex), verdict.chars, longer);
    } else if (!verdict.valid && error_at != verdict.error_at) {
        oracle_utf8_why(copy, len, verdict.error_at, why, sizeof why);
        if (error_at == NOT_SET)
            report_line("your utf8_check refuses %s but does not set *error_at; the error is at byte %zu (%s)%s",
                        report_hex(copy, len, verdict.error_at, hex, sizeof hex), verdict.error_at, why, longer);
        else
            report_line("your utf8_check says the error is at byte %zu; it is at byte %zu (%s), in %s%s",
                        error_at, verdict.error_at, why,
                        report_hex(copy, len, verdict.error_at, hex, sizeof hex), longer);
        if (error_at == verdict.bad.broken_at && verdict.bad.broken_at != verdict.error_at)
            report_line("  byte %zu broke the sequence; the offset is where that sequence starts (README step 4)",
                        error_at);
        else if (error_at == verdict.error_at + 1)
            report_line("  offsets count from 0: the first byte is byte 0");
    } else {
        free(copy);
        return;
    }
    free(copy);
    report_abort();
}

/* A block of size + GUARD_BYTES bytes, the last GUARD_BYTES set to GUARD_VALUE. */
static unsigned char *guarded(size_t size)
{
    unsigned char *block = malloc(size + GUARD_BYTES);

    if (block == NULL) {
        perror("fuzz_utf8: malloc");
        exit(2);
    }
    memset(block, 0, size);
    memset(block + size, GUARD_VALUE, GUARD_BYTES);
    return block;
}

/* The first byte of block[size..size + GUARD_BYTES) that was written, or -1. */
static long guard_broken(const unsigned char *block, size_t size)
{
    size_t i;

    for (i = 0; i < GUARD_BYTES; i++)
        if (block[size + i] != GUARD_VALUE)
            return (long)i;
    return -1;
}

/* Words for what utf8_to_latin1() turns the sequence at s[at..] into. */
static void describe_latin1_source(const unsigned char *s, size_t len, size_t at, char *out, size_t size)
{
    struct oracle_step step;
    char hex[64], why[256];

    oracle_utf8_step(s, len, at, &step);
    report_hex(s + at, step.length, 0, hex, sizeof hex);
    if (step.well_formed && step.code_point <= 0xFF)
        snprintf(out, size, "%s (byte %zu) is U+%04X, Latin-1 byte %02X", hex, at,
                 (unsigned)step.code_point, (unsigned)step.code_point);
    else if (step.well_formed)
        snprintf(out, size, "%s (byte %zu) is U+%04X, which Latin-1 lacks: one '?'", hex, at,
                 (unsigned)step.code_point);
    else
        snprintf(out, size, "%s (byte %zu) is one maximal invalid subpart, one '?': %s", hex, at,
                 oracle_utf8_why(s, len, at, why, sizeof why));
}

/* Checks utf8_to_latin1() on s[0..len): its bytes, its length, its bound. */
static void check_to_latin1(const unsigned char *input, size_t len)
{
    unsigned char *copy = copy_of(input, len, len);
    unsigned char *out = guarded(len), *expected = guarded(len);
    size_t *origin = malloc((len > 0 ? len : 1) * sizeof *origin);
    size_t written, expected_len, i;
    long broken;
    char hex[160], got[160], want[160], source[400];

    report_check("utf8_to_latin1");

    if (origin == NULL) {
        perror("fuzz_utf8: malloc");
        exit(2);
    }
    expected_len = oracle_to_latin1(copy, len, expected, origin);
    written = utf8_to_latin1((const char *)copy, len, (char *)out);
    broken = guard_broken(out, len);
    if (broken >= 0) {
        report_line("your utf8_to_latin1 writes past the end of out for %s: out holds len = %zu bytes, and byte %zu was written",
                    report_hex(copy, len, 0, hex, sizeof hex), len, len + (size_t)broken);
    } else if (written > len) {
        report_line("your utf8_to_latin1 returns %zu for %zu bytes of UTF-8; Latin-1 is never longer (out holds len bytes)",
                    written, len);
    } else if (written != expected_len || memcmp(out, expected, written) != 0) {
        for (i = 0; i < written && i < expected_len && out[i] == expected[i]; i++)
            ;
        report_line("your utf8_to_latin1 turns %s into %s (%zu byte%s); expected %s (%zu byte%s)",
                    report_hex(copy, len, i < expected_len ? origin[i] : len, hex, sizeof hex),
                    report_hex(out, written, i, got, sizeof got), written, PLURAL(written),
                    report_hex(expected, expected_len, i, want, sizeof want), expected_len, PLURAL(expected_len));
        if (i < expected_len) {
            describe_latin1_source(copy, len, origin[i], source, sizeof source);
            report_line("  the first difference is output byte %zu: %s (README step 7)", i, source);
        } else {
            report_line("  your output goes on after the %zu bytes expected (README step 7)", expected_len);
        }
    } else {
        free(copy);
        free(out);
        free(expected);
        free(origin);
        return;
    }
    report_abort();
}

/* Checks utf8_from_latin1() on s[0..len), and the round trip back. */
static void check_from_latin1(const unsigned char *input, size_t len)
{
    unsigned char *copy = copy_of(input, len, len);
    unsigned char *out = guarded(2 * len), *expected = guarded(2 * len), *back;
    size_t written, expected_len, back_len, i;
    long broken;
    char hex[160], got[160], want[160];

    report_check("utf8_from_latin1");

    expected_len = oracle_from_latin1(copy, len, expected);
    written = utf8_from_latin1((const char *)copy, len, (char *)out);
    broken = guard_broken(out, 2 * len);
    if (broken >= 0) {
        report_line("your utf8_from_latin1 writes past the end of out for Latin-1 %s: out holds 2 * len = %zu bytes, and byte %zu was written",
                    report_hex(copy, len, 0, hex, sizeof hex), 2 * len, 2 * len + (size_t)broken);
        report_abort();
    }
    if (written != expected_len || memcmp(out, expected, written) != 0) {
        for (i = 0; i < written && i < expected_len && out[i] == expected[i]; i++)
            ;
        report_line("your utf8_from_latin1 turns Latin-1 %s into %s (%zu byte%s); expected %s (%zu byte%s)",
                    report_hex(copy, len, 0, hex, sizeof hex),
                    report_hex(out, written > 2 * len ? 2 * len : written, i, got, sizeof got), written, PLURAL(written),
                    report_hex(expected, expected_len, i, want, sizeof want), expected_len, PLURAL(expected_len));
        report_line("  Latin-1 byte N is U+00NN: one byte up to 7F, two from 80 on (E9 gives C3 A9) (README step 7)");
        report_abort();
    }
    /* Latin-1 -> UTF-8 -> Latin-1 gives the bytes back. */
    back = guarded(written);
    back_len = utf8_to_latin1((const char *)out, written, (char *)back);
    if (back_len != len || memcmp(back, copy, len) != 0 || guard_broken(back, written) >= 0) {
        report_line("the round trip Latin-1 -> UTF-8 -> Latin-1 changes %s: utf8_from_latin1 then utf8_to_latin1 give %s",
                    report_hex(copy, len, 0, hex, sizeof hex),
                    report_hex(back, back_len > written ? written : back_len, 0, got, sizeof got));
        report_abort();
    }
    free(back);
    free(copy);
    free(out);
    free(expected);
}

/* UTF-8 made only of U+0000..U+00FF goes to Latin-1 and back unchanged. */
static void check_round_trip_utf8(const unsigned char *input, size_t len)
{
    struct oracle_verdict verdict;
    unsigned char *latin1, *back;
    size_t latin1_len, back_len, i;
    char hex[160], got[160];

    report_check("utf8_from_latin1");

    oracle_utf8_check(input, len, &verdict);
    if (!verdict.valid)
        return;
    for (i = 0; i < len; i++)
        if (input[i] > 0xC3)        /* a character above U+00FF */
            return;
    latin1 = guarded(len);
    latin1_len = utf8_to_latin1((const char *)input, len, (char *)latin1);
    back = guarded(2 * latin1_len);
    back_len = utf8_from_latin1((const char *)latin1, latin1_len, (char *)back);
    if (back_len != len || memcmp(back, input, len) != 0) {
        report_line("the round trip UTF-8 -> Latin-1 -> UTF-8 changes %s into %s",
                    report_hex(input, len, 0, hex, sizeof hex),
                    report_hex(back, back_len > 2 * latin1_len ? 2 * latin1_len : back_len, 0, got, sizeof got));
        report_line("  every character of it is U+0000..U+00FF, which Latin-1 has (README step 7)");
        report_abort();
    }
    free(latin1);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char hex[160];

    if (describe)
        fprintf(stderr, "input: %zu bytes: %s\n", size, report_hex(data, size, 0, hex, sizeof hex));
    if (report_focus("utf8_check")) {
        check_utf8_check(data, size, size);
        if (size > 0)
            check_utf8_check(data, size - 1, size);
    }
    if (!skip_latin1 && report_focus("utf8_to_latin1"))
        check_to_latin1(data, size);
    if (!skip_latin1 && report_focus("utf8_from_latin1")) {
        check_from_latin1(data, size);
        check_round_trip_utf8(data, size);
    }
    return 0;
}
