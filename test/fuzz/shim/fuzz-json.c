/*
 * fuzz-json.c: libFuzzer target for src/shim/json.c, built with ASan and UBSan by
 * test/fuzz/shim/build-fuzzers.ts. The input is scanned as the config on stdin or a daemon answer
 * would be (json_scan_object with the members the shim looks for, and a few more), each string member
 * found is decoded (json_member_string), and the whole input is escaped (json_escape_append). Checked
 * besides "no crash, leak or undefined behaviour": each member's bytes are a value of its type inside
 * the input, a decoded string is never longer than its JSON text, and an escaped input is always a
 * valid JSON string that decodes back to the input when that is UTF-8 (to valid UTF-8 otherwise).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define CHECK(cond)                                                                                      \
	do {                                                                                             \
		if (!(cond)) {                                                                           \
			fprintf(stderr, "fuzz-json: check failed at line %d: %s\n", __LINE__, #cond);    \
			abort();                                                                         \
		}                                                                                        \
	} while (0)

/* The shim's own keys, the daemon's answer keys, and two that no real input has ("" and "a"). */
static const char *const names[] = {"cniVersion", "daemonSocketDir", "daemonReadyTimeoutSeconds", "operationTimeoutSeconds",
				    "rollbackTimeoutSeconds", "Result", "code", "msg", "", "a"};
#define NAMES (sizeof names / sizeof names[0])

/* UTF-8 as RFC 3629 defines it, written apart from json.c's check so that the two are compared. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		unsigned char lo = 0x80, hi = 0xbf; /* the allowed range of the second byte */
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			if (c == 0xf4)
				hi = 0x8f; /* past U+10FFFF */
		} else {
			return false;
		}
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

/* A value's bytes as json_scan_object recorded them: the type's first and last characters. */
static void check_member(const char *s, size_t size, const struct json_member *m)
{
	CHECK(m->start < m->end && m->end <= size);
	const char *v = s + m->start;
	size_t n = m->end - m->start;
	switch (m->type) {
	case JSON_OBJECT: CHECK(n >= 2 && v[0] == '{' && v[n - 1] == '}'); break;
	case JSON_ARRAY: CHECK(n >= 2 && v[0] == '[' && v[n - 1] == ']'); break;
	case JSON_STRING: CHECK(n >= 2 && v[0] == '"' && v[n - 1] == '"'); break;
	case JSON_NUMBER: CHECK((v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) && v[n - 1] >= '0' && v[n - 1] <= '9'); break;
	case JSON_TRUE: CHECK(n == 4 && memcmp(v, "true", 4) == 0); break;
	case JSON_FALSE: CHECK(n == 5 && memcmp(v, "false", 5) == 0); break;
	case JSON_NULL: CHECK(n == 4 && memcmp(v, "null", 4) == 0); break;
	case JSON_NONE: CHECK(!"a member found with type JSON_NONE"); break;
	}
}

/* {"k":"<escaped bytes>"}: must scan as an object whose k is a string; returns k decoded. */
static void escape_and_decode(const char *s, size_t n, struct buf *decoded)
{
	struct buf esc = {0};
	buf_append_str(&esc, "{\"k\":\"");
	size_t from = esc.len;
	json_escape_append(&esc, s, n);
	/* The escaped text is printable UTF-8: no control character, no invalid byte. */
	CHECK(valid_utf8((const unsigned char *)esc.data + from, esc.len - from));
	for (size_t i = from; i < esc.len; i++)
		CHECK((unsigned char)esc.data[i] >= 0x20);
	buf_append_str(&esc, "\"}");
	struct json_member k = {.name = "k"};
	char error[256];
	CHECK(json_scan_object(esc.data, esc.len, &k, 1, error, sizeof error) == JSON_SCAN_OK);
	CHECK(k.type == JSON_STRING);
	json_member_string(esc.data, &k, decoded);
	buf_free(&esc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct json_member m[NAMES];
	for (size_t i = 0; i < NAMES; i++)
		m[i] = (struct json_member){.name = names[i], .type = JSON_OBJECT, .start = SIZE_MAX, .end = SIZE_MAX}; /* must be reset */
	char error[256];
	memset(error, 'x', sizeof error);
	enum json_scan scan = json_scan_object(s, size, m, NAMES, error, sizeof error);
	CHECK(scan == JSON_SCAN_OK || scan == JSON_SCAN_NOT_OBJECT || scan == JSON_SCAN_INVALID);
	if (scan == JSON_SCAN_INVALID)
		CHECK(error[0] != '\0' && memchr(error, '\0', sizeof error) != NULL);

	struct buf out = {0}, again = {0};
	if (scan == JSON_SCAN_OK) {
		for (size_t i = 0; i < NAMES; i++) {
			if (m[i].type == JSON_NONE)
				continue;
			check_member(s, size, &m[i]);
			if (m[i].type != JSON_STRING)
				continue;
			json_member_string(s, &m[i], &out);
			CHECK(out.data != NULL && out.data[out.len] == '\0');
			/* An escape never decodes to more bytes than it takes (\uXXXX: at most 3, a pair 4). */
			CHECK(out.len <= m[i].end - m[i].start - 2);
			escape_and_decode(out.data, out.len, &again);
			if (valid_utf8((const unsigned char *)out.data, out.len))
				CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
		}
	}

	/* The input as a JSON string, as the shim escapes env values and error details. */
	escape_and_decode(s, size, &again);
	if (valid_utf8(data, size))
		CHECK(again.len == size && (size == 0 || memcmp(again.data, data, size) == 0));
	else
		CHECK(valid_utf8((const unsigned char *)again.data, again.len));

	buf_free(&out);
	buf_free(&again);
	return 0;
}
