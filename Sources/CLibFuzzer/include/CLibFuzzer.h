#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver for programs that have their own main (SwiftPM gives every executable
// one). Defined by the fuzzer runtime that -sanitize=fuzzer links; only referenced then.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
