// libpq (Debian: libpq-dev): the PostgreSQL client library. Only PostgresStore imports it.
#include <libpq-fe.h>
