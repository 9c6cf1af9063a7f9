// OpenSSL's libcrypto (Debian: libssl-dev): SHA-256 for token hashes, a constant-time
// comparison, MD5 for SSH key fingerprints and RSA key generation. The library nginx already links; no package to build.
#include <openssl/evp.h>
#include <openssl/crypto.h>
// Key pairs Nova generates: an RSA key, its PEM and its public numbers.
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
