// glibc functions that Swift's Glibc module leaves out (they are declared only under
// _GNU_SOURCE). No library of its own: glibc provides the symbols.

// renameat2(2) with RENAME_EXCHANGE (Linux 3.15, glibc 2.28): two names in a directory swap
// their files atomically. The JSON-file store replaces a record this way, so the replaced
// version's file is kept for the next write instead of being freed.
int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);

static inline int alliance_exchange_names(int directory, const char *first, const char *second) {
    return renameat2(directory, first, directory, second, 1u << 1 /* RENAME_EXCHANGE */);
}
