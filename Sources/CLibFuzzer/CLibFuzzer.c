// Declarations only (include/CLibFuzzer.h); this file gives the target a translation unit.
