// OpenSSL's libcrypto (Debian: libssl-dev): SHA-256 for token hashes and a constant-time
// comparison. The library nginx already links; no package to build.
#include <openssl/evp.h>
#include <openssl/crypto.h>
