/* replay_main.c - runs a harness on saved inputs without libFuzzer, for a
 * compiler that has none (gcc, Apple's clang): replay_utf8 FILE...
 * Each file is one input, given to LLVMFuzzerTestOneInput() as libFuzzer
 * would. A finding aborts, as under libFuzzer; a clean run prints one line
 * per file and exits 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the whole file into a malloc'd block; its size in *size. NULL on error. */
static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    uint8_t *data = NULL, *bigger;
    size_t capacity = 0, got;

    if (file == NULL)
        return NULL;
    *size = 0;
    for (;;) {
        if (*size == capacity) {
            capacity = capacity > 0 ? 2 * capacity : 4096;
            bigger = realloc(data, capacity);
            if (bigger == NULL) {
                free(data);
                fclose(file);
                return NULL;
            }
            data = bigger;
        }
        got = fread(data + *size, 1, capacity - *size, file);
        *size += got;
        if (got == 0)
            break;
    }
    if (ferror(file)) {
        free(data);
        fclose(file);
        return NULL;
    }
    fclose(file);
    return data;
}

int main(int argc, char **argv)
{
    uint8_t *data;
    size_t size;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE... (each file one input for the harness)\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; i++) {
        data = read_file(argv[i], &size);
        if (data == NULL) {
            perror(argv[i]);
            return 2;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        printf("%s: ok (%zu bytes)\n", argv[i], size);
    }
    return 0;
}
