/*
 * gw_auth: API keys. A key names its client; events carry that client_id.
 *
 * The key file holds one "<key> <client_id>" per line; blank lines and lines starting
 * with '#' are skipped. Keys are 16 to 256 printable ASCII characters without spaces;
 * client ids follow the event identifier rule ([A-Za-z0-9][A-Za-z0-9._:-]{0,63}).
 * Without a key file the gateway is open and every event's client is "anonymous".
 *
 * Read-only after gw_auth_load: lookups may run on any thread.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stddef.h>

#define GW_AUTH_ANONYMOUS "anonymous"

struct gw_auth;

/* Loads path. Errors name the file and line: `keys.txt:3: client id "a b" is not an
 * identifier`. Returns NULL with errstr filled. */
struct gw_auth *gw_auth_load(const char *path, char *errstr, size_t errstr_size);
void gw_auth_destroy(struct gw_auth *auth);

/* The client named by the Authorization header value ("Bearer <key>"), or NULL when the
 * header is missing, malformed or names no key. Every key is compared in full, in
 * constant time per key, so the answer's timing does not reveal how much of a key
 * matched. Cost: O(keys x key length). */
const char *gw_auth_client(const struct gw_auth *auth, const char *authorization);

#endif
