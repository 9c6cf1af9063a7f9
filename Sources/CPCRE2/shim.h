// PCRE2 (Debian: libpcre2-dev), 8-bit code units (UTF-8). Swift cannot import the
// width-generic macro names (pcre2_compile → pcre2_compile_8), so callers use the _8 names.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
