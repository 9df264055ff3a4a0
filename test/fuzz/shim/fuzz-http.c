/*
 * fuzz-http.c: libFuzzer target for src/shim/http.c, built with ASan and UBSan by
 * test/fuzz/shim/build-fuzzers.ts, with small limits (-DHTTP_BODY_LIMIT=4096 and so on, see there) so
 * that short inputs reach every limit the parser has. The input is one peer's bytes: it is given to
 * http_receive + http_advance in pieces whose lengths come from the input's own bytes (1 to 16
 * bytes mostly, up to 4 KiB at times), as reads from a socket would split it, then the end of the
 * stream. Checked after every step besides "no crash, leak or undefined behaviour": the status and
 * body of a complete response (the body inside raw, or the decoded chunks, and within the body
 * limit), a reason for a malformed one, and that raw never holds more than the parser still needs.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define CHECK(cond)                                                                                      \
	do {                                                                                             \
		if (!(cond)) {                                                                           \
			fprintf(stderr, "fuzz-http: check failed at line %d: %s\n", __LINE__, #cond);    \
			abort();                                                                         \
		}                                                                                        \
	} while (0)

static size_t max(size_t a, size_t b)
{
	return a > b ? a : b;
}

static void check(const struct http_response *r, enum http_progress progress, size_t fed)
{
	CHECK(r->received == fed);
	CHECK(r->raw.len <= r->received); /* raw only ever loses bytes */
	CHECK(r->raw.data == NULL || r->raw.data[r->raw.len] == '\0');
	switch (progress) {
	case HTTP_COMPLETE: {
		CHECK(r->head_end > 0 && r->head_end <= r->raw.len);
		CHECK(r->status >= 200 && r->status <= 599);
		CHECK(r->body != NULL && r->body_len <= HTTP_BODY_LIMIT);
		if (r->framing == FRAMING_CHUNKED) {
			CHECK(r->body_len == r->chunked.len && (r->body_len == 0 || r->body == r->chunked.data));
		} else {
			CHECK(r->body >= r->raw.data + r->head_end && r->body_len <= r->raw.len - (size_t)(r->body - r->raw.data));
			CHECK(r->framing != FRAMING_NONE || r->body_len == 0);
			CHECK(r->framing != FRAMING_LENGTH || r->body_len == r->content_length);
		}
		/* Read every byte of the body, as the shim does: ASan checks each one is inside a buffer. */
		volatile unsigned char sum = 0;
		for (size_t i = 0; i < r->body_len; i++)
			sum = (unsigned char)(sum + (unsigned char)r->body[i]);
		(void)sum;
		break;
	}
	case HTTP_MALFORMED:
		CHECK(r->error[0] != '\0' && memchr(r->error, '\0', sizeof r->error) != NULL);
		break;
	case HTTP_INCOMPLETE:
		CHECK(r->received <= HTTP_RECEIVE_LIMIT);
		if (r->head_end == 0) {
			CHECK(r->raw.len <= HTTP_HEADER_LIMIT);
		} else if (r->framing == FRAMING_CHUNKED) {
			/* Decoded chunks are gone from raw: what is left is one unfinished line or trailer. */
			CHECK(r->chunk_pos == r->head_end);
			CHECK(r->raw.len - r->head_end <= max(HTTP_CHUNK_LINE_LIMIT + 1, HTTP_HEADER_LIMIT));
			CHECK(r->chunked.len <= HTTP_BODY_LIMIT);
		}
		break;
	default:
		CHECK(!"http_advance returned no http_progress");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response r = {0};
	enum http_progress progress = HTTP_INCOMPLETE;
	size_t off = 0;
	while (off < size && progress == HTTP_INCOMPLETE) {
		/* The piece's length from the byte it starts with: 1 to 16, or 32 to 4096 for a high bit. */
		unsigned char b = data[off];
		size_t len = b & 0x80 ? ((size_t)(b & 0x7f) + 1) * 32 : (size_t)(b & 0x0f) + 1;
		if (len > size - off)
			len = size - off;
		http_receive(&r, data + off, len);
		off += len;
		progress = http_advance(&r, false);
		check(&r, progress, off);
	}
	if (progress == HTTP_INCOMPLETE) {
		progress = http_advance(&r, true);
		check(&r, progress, off);
	}
	http_response_free(&r);
	return 0;
}
