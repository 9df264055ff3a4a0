/*
 * json.h: a validating JSON scanner (RFC 8259) that finds chosen top-level members of an object
 * without building a tree, the decoding of one string member, and JSON string escaping. multus-shim
 * reads its config on stdin and the daemon's answers with it.
 */
#ifndef MULTUS_SHIM_JSON_H
#define MULTUS_SHIM_JSON_H

#include <stddef.h>

#include "buf.h"

enum json_type { JSON_NONE, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL };

/* A wanted top-level member: filled in when the key occurs (the last occurrence wins, as in Go). */
struct json_member {
	const char *name;
	enum json_type type;
	size_t start, end; /* the value's bytes: [start, end) */
};

enum json_scan { JSON_SCAN_OK, JSON_SCAN_NOT_OBJECT, JSON_SCAN_INVALID };

/*
 * Check that s[0, len) is one JSON object and record the wanted top-level members (type JSON_NONE
 * when absent); nested values are checked and skipped, so a key inside them never matches.
 * JSON_SCAN_NOT_OBJECT: some other first character; JSON_SCAN_INVALID: error says why and where.
 */
enum json_scan json_scan_object(const char *s, size_t len, struct json_member *members, size_t count, char *error,
				size_t error_size);

/* Decode (to UTF-8) a string member that json_scan_object has found in s: out is replaced. */
void json_member_string(const char *s, const struct json_member *m, struct buf *out);

/*
 * Append s as the inside of a JSON string: quote and backslash escaped, control characters as
 * \u00XX, valid UTF-8 as is, every byte that is not part of valid UTF-8 as \ufffd.
 */
void json_escape_append(struct buf *b, const char *s, size_t n);

#endif
