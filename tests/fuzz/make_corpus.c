/* make_corpus.c - writes the fuzz harnesses' seed inputs: make_corpus DIR
 * creates DIR/utf8/ and DIR/linebuf/ and one file per seed in each.
 * utf8: the first and last character of every row of Unicode Table 3-7 and
 * one of the middle, then every ill-formed class (overlong, surrogates,
 * above U+10FFFF, F5..FF, truncated, lone continuation bytes), alone and
 * after other characters, and all 256 bytes for the Latin-1 conversions.
 * linebuf: lines with "\r\n" and lone "\r", NUL bytes, empty lines, an
 * unterminated last piece, lines around the 65536-byte limit with "\n" and
 * "\r\n", over-long lines and what follows them, each cut several ways
 * (the input format is fuzz_linebuf.c's).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* A string literal and its length, NUL bytes included. */
#define BYTES(literal) (const unsigned char *)(literal), sizeof(literal) - 1

/* The size of the biggest seed: a linebuf input is small, runs stand for
 * long lines. */
#define SEED_MAX 4096

static const char *out_dir;
static int failed = 0;

/* Writes bytes as the seed dir/name. */
static void seed(const char *dir, const char *name, const unsigned char *bytes, size_t len)
{
    char path[4096];
    FILE *file;

    snprintf(path, sizeof path, "%s/%s/%s", out_dir, dir, name);
    file = fopen(path, "wb");
    if (file == NULL || fwrite(bytes, 1, len, file) != len || fclose(file) != 0) {
        perror(path);
        failed = 1;
    }
}

/* ---- utf8 ---------------------------------------------------------------- */

static const struct utf8_seed {
    const char *name;
    const unsigned char *bytes;
    size_t len;
} utf8_seeds[] = {
    /* Table 3-7, row by row: first, a middle one, last. */
    { "row1-ascii", BYTES("\x00\x41\x7F") },
    { "row2-first", BYTES("\xC2\x80") },
    { "row2-e-acute", BYTES("Caf\xC3\xA9") },
    { "row2-last", BYTES("\xDF\xBF") },
    { "row3-first", BYTES("\xE0\xA0\x80") },
    { "row3-last", BYTES("\xE0\xBF\xBF") },
    { "row4-first", BYTES("\xE1\x80\x80") },
    { "row4-euro", BYTES("5 \xE2\x82\xAC") },
    { "row4-last", BYTES("\xEC\xBF\xBF") },
    { "row5-first", BYTES("\xED\x80\x80") },
    { "row5-last", BYTES("\xED\x9F\xBF") },
    { "row6-first", BYTES("\xEE\x80\x80") },
    { "row6-last", BYTES("\xEF\xBF\xBF") },
    { "row7-first", BYTES("\xF0\x90\x80\x80") },
    { "row7-grinning-face", BYTES("\xF0\x9F\x98\x80") },
    { "row7-last", BYTES("\xF0\xBF\xBF\xBF") },
    { "row8-first", BYTES("\xF1\x80\x80\x80") },
    { "row8-last", BYTES("\xF3\xBF\xBF\xBF") },
    { "row9-first", BYTES("\xF4\x80\x80\x80") },
    { "row9-last", BYTES("\xF4\x8F\xBF\xBF") },
    { "all-lengths", BYTES("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") },
    { "nul-inside", BYTES("a\0b") },
    { "latin1-range", BYTES("\xC3\xA9t\xC3\xA9 \xC3\xBF\xC2\xA0\xC2\x80") },
    /* Overlong forms. */
    { "overlong-c0-af", BYTES("\xC0\xAF") },
    { "overlong-c0-80", BYTES("\xC0\x80") },
    { "overlong-c1-bf", BYTES("\xC1\xBF") },
    { "overlong-e0-80", BYTES("\xE0\x80\x80") },
    { "overlong-e0-9f", BYTES("\xE0\x9F\xBF") },
    { "overlong-f0-80", BYTES("\xF0\x80\x80\x80") },
    { "overlong-f0-8f", BYTES("\xF0\x8F\xBF\xBF") },
    { "overlong-after-ascii", BYTES("\x61\x62\xE0\x80") },
    { "dot-dot-slash", BYTES("..\xC0\xAF") },
    /* Surrogates, and above U+10FFFF. */
    { "surrogate-d800", BYTES("\xED\xA0\x80") },
    { "surrogate-dfff", BYTES("\xED\xBF\xBF") },
    { "surrogate-pair", BYTES("\xED\xA0\xBD\xED\xB8\x80") },
    { "above-110000", BYTES("\xF4\x90\x80\x80") },
    { "above-13ffff", BYTES("\xF4\xBF\xBF\xBF") },
    /* Bytes that never occur. */
    { "f5", BYTES("\xF5\x80\x80\x80") },
    { "f7", BYTES("\xF7\xBF\xBF\xBF") },
    { "f8-five-bytes", BYTES("\xF8\x88\x80\x80\x80") },
    { "fc-six-bytes", BYTES("\xFC\x84\x80\x80\x80\x80") },
    { "fe", BYTES("\xFE") },
    { "ff-after-ascii", BYTES("ab\xFF") },
    /* Truncated sequences. */
    { "truncated-c3", BYTES("\xC3") },
    { "truncated-e2-82", BYTES("\xE2\x82") },
    { "truncated-f0-9f-98", BYTES("\xF0\x9F\x98") },
    { "truncated-latin1-cafe", BYTES("\x63\x61\x66\xE9") },
    { "truncated-then-ascii", BYTES("\xE2\x82" "A") },
    { "truncated-e0-a0-41", BYTES("\xE0\xA0\x41") },
    { "truncated-f4-8f-then-e9", BYTES("\xF4\x8F\xE9") },
    /* Lone continuation bytes. */
    { "lone-80", BYTES("\x80") },
    { "lone-bf", BYTES("\xBF") },
    { "lone-in-middle", BYTES("a\x80" "b") },
    { "extra-after-e-acute", BYTES("\xC3\xA9\xBF") },
    { "continuations-run", BYTES("\x80\x81\xBE\xBF") },
};

/* Every byte 00..FF: Latin-1 input for utf8_from_latin1(), and a feast of
 * ill-formed UTF-8. */
static void utf8_all_bytes(void)
{
    unsigned char bytes[256];
    int i;

    for (i = 0; i < 256; i++)
        bytes[i] = (unsigned char)i;
    seed("utf8", "all-bytes", bytes, sizeof bytes);
}

/* ---- linebuf ------------------------------------------------------------- */

/* An input being written in fuzz_linebuf.c's format. */
struct encoder {
    unsigned char bytes[SEED_MAX];
    size_t len;
};

/* Starts an input: flags, then the piece codes (count of them first). */
static void begin(struct encoder *e, int read_line, const unsigned char *pieces, size_t count)
{
    e->bytes[0] = (unsigned char)(read_line ? 1 : 0);
    e->bytes[1] = (unsigned char)count;
    memcpy(e->bytes + 2, pieces, count);
    e->len = 2 + count;
}

/* Adds text to the stream, an FF byte as a run of one. */
static void text(struct encoder *e, const unsigned char *bytes, size_t len)
{
    size_t i;

    for (i = 0; i < len && e->len + 4 < SEED_MAX; i++) {
        if (bytes[i] == 0xFF) {
            memcpy(e->bytes + e->len, "\xFF\x00\x01\xFF", 4);
            e->len += 4;
        } else {
            e->bytes[e->len++] = bytes[i];
        }
    }
}

/* Adds count copies of byte to the stream, as runs. */
static void run(struct encoder *e, unsigned char byte, size_t count)
{
    size_t part;

    while (count > 0 && e->len + 4 < SEED_MAX) {
        e->bytes[e->len++] = 0xFF;
        if (count >= 49152 && count <= 81919) {
            part = count;
            e->bytes[e->len++] = (unsigned char)(0x80 | ((part - 49152) >> 8));
            e->bytes[e->len++] = (unsigned char)((part - 49152) & 0xFF);
        } else {
            part = count > 32767 ? 32767 : count;
            e->bytes[e->len++] = (unsigned char)(part >> 8);
            e->bytes[e->len++] = (unsigned char)(part & 0xFF);
        }
        e->bytes[e->len++] = byte;
        count -= part;
    }
}

/* The ways each linebuf seed is cut: piece codes (see fuzz_linebuf.c). */
static const struct cut {
    const char *name;
    int read_line;
    const unsigned char *pieces;
    size_t count;
} cuts[] = {
    { "whole", 0, BYTES("") },
    { "bytes", 0, BYTES("\x01") },
    { "3-1-7", 0, BYTES("\x03\x01\x07") },
    { "big-small", 1, BYTES("\xC0\x01\x05") },     /* 66557, 1, 5: read_line */
    { "4k-then-rest", 0, BYTES("\x83\x00") },      /* 4093, then the rest */
};

/* One linebuf seed per cut: name-CUT. The stream is made by make(e). */
static void linebuf_seed(const char *name, void (*make)(struct encoder *))
{
    struct encoder e;
    char full[256];
    size_t i;

    for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        begin(&e, cuts[i].read_line, cuts[i].pieces, cuts[i].count);
        make(&e);
        snprintf(full, sizeof full, "%s-%s", name, cuts[i].name);
        seed("linebuf", full, e.bytes, e.len);
    }
}

static void lines_plain(struct encoder *e) { text(e, BYTES("one\ntwo\nthree\n")); }
static void lines_crlf(struct encoder *e) { text(e, BYTES("dos\r\nmid\rdle\r\n\r\ntwo\r\r\n\rx\n")); }
static void lines_cut_cr(struct encoder *e) { text(e, BYTES("cut\r")); text(e, BYTES("\nfin\r\n")); }
static void lines_nul(struct encoder *e) { text(e, BYTES("a\0b\n\0\n\n\nx\n")); }
static void lines_utf8(struct encoder *e) { text(e, BYTES("Caf\xC3\xA9\n\xF0\x9F\x98\x80\r\n\xFF\xFE\n")); }
static void lines_unterminated(struct encoder *e) { text(e, BYTES("first\nlast")); }
static void lines_only_cr(struct encoder *e) { text(e, BYTES("\r\r\r\n\r")); }

static void limit_minus_1(struct encoder *e) { run(e, 'a', 65535); text(e, BYTES("\nok\n")); }
static void limit(struct encoder *e) { run(e, 'b', 65536); text(e, BYTES("\nok\n")); }
static void limit_plus_1(struct encoder *e) { run(e, 'c', 65537); text(e, BYTES("\nok\n")); }
static void limit_crlf(struct encoder *e) { run(e, 'd', 65536); text(e, BYTES("\r\nok\n")); }
static void limit_plus_1_crlf(struct encoder *e) { run(e, 'e', 65537); text(e, BYTES("\r\nok\n")); }
static void full_buffer(struct encoder *e) { run(e, 'f', 65538); text(e, BYTES("\nok\n")); }
static void full_buffer_plus_1(struct encoder *e) { run(e, 'f', 65539); text(e, BYTES("\r\nok\n")); }
static void limit_then_cr(struct encoder *e) { run(e, 'g', 65536); text(e, BYTES("\r")); }
static void limit_unterminated(struct encoder *e) { text(e, BYTES("x\n")); run(e, 'h', 65537); }

static void after_short_line(struct encoder *e)
{
    text(e, BYTES("before\n"));
    run(e, 'i', 65536);
    text(e, BYTES("\nafter\n"));
}

static void two_long_lines(struct encoder *e)
{
    text(e, BYTES("start\n"));
    run(e, 'j', 70000);
    text(e, BYTES("\n"));
    run(e, 'k', 65536);
    text(e, BYTES("\r\nok\n"));
}

static void very_long_line(struct encoder *e)
{
    text(e, BYTES("before\n"));
    run(e, 'l', 150000);
    text(e, BYTES("\nok\n"));
}

static void long_line_unterminated(struct encoder *e)
{
    text(e, BYTES("before\n"));
    run(e, 'm', 100000);
}

static void many_short_then_long(struct encoder *e)
{
    size_t i;

    for (i = 0; i < 40; i++)
        text(e, BYTES("ab\r\n"));
    run(e, 'n', 65400);
    text(e, BYTES("\n"));
    run(e, 'o', 200);
    text(e, BYTES("\n"));
}

int main(int argc, char **argv)
{
    char path[4096];
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (writes DIR/utf8/ and DIR/linebuf/)\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0777) == -1 && errno != EEXIST) {
        perror(out_dir);
        return 1;
    }
    for (i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", out_dir, i == 0 ? "utf8" : "linebuf");
        if (mkdir(path, 0777) == -1 && errno != EEXIST) {
            perror(path);
            return 1;
        }
    }

    for (i = 0; i < sizeof utf8_seeds / sizeof utf8_seeds[0]; i++)
        seed("utf8", utf8_seeds[i].name, utf8_seeds[i].bytes, utf8_seeds[i].len);
    utf8_all_bytes();

    linebuf_seed("plain", lines_plain);
    linebuf_seed("crlf", lines_crlf);
    linebuf_seed("cr-cut-from-lf", lines_cut_cr);
    linebuf_seed("nul", lines_nul);
    linebuf_seed("utf8", lines_utf8);
    linebuf_seed("unterminated", lines_unterminated);
    linebuf_seed("only-cr", lines_only_cr);
    linebuf_seed("65535", limit_minus_1);
    linebuf_seed("65536", limit);
    linebuf_seed("65537", limit_plus_1);
    linebuf_seed("65536-crlf", limit_crlf);
    linebuf_seed("65537-crlf", limit_plus_1_crlf);
    linebuf_seed("65538", full_buffer);
    linebuf_seed("65539-crlf", full_buffer_plus_1);
    linebuf_seed("65536-cr-eof", limit_then_cr);
    linebuf_seed("65537-eof", limit_unterminated);
    linebuf_seed("65536-after-short", after_short_line);
    linebuf_seed("two-long", two_long_lines);
    linebuf_seed("150000", very_long_line);
    linebuf_seed("100000-eof", long_line_unterminated);
    linebuf_seed("short-then-long", many_short_then_long);
    return failed;
}
