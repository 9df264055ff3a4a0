/*
 * http.c: the HTTP/1.1 response parser (http_receive, http_advance): the status line and header
 * fields, interim 1xx responses, and the body's framing (none, Content-Length, chunked, until EOF),
 * each within a limit, and all of it within HTTP_RECEIVE_LIMIT bytes. Declared in http.h.
 */
#define _GNU_SOURCE
#include "http.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum http_progress http_malformed(struct http_response *r, const char *what)
{
	snprintf(r->error, sizeof r->error, "%s", what);
	return HTTP_MALFORMED;
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* The status line and header fields in raw[base, base + end), end being where "\r\n\r\n" starts. */
static bool http_parse_head(struct http_response *r, size_t base, size_t end)
{
	const char *s = r->raw.data + base;
	const char *stop = s + end + 2; /* past the CRLF of the last line */
	const char *eol = memmem(s, end + 2, "\r\n", 2);
	size_t n = (size_t)(eol - s);
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ' || s[9] < '1' || s[9] > '5' ||
	    s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' || (n > 12 && s[12] != ' ')) {
		http_malformed(r, "the status line is not HTTP/1.x");
		return false;
	}
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');

	bool have_length = false, transfer_encoding = false, chunked = false;
	size_t length = 0;
	for (const char *line = eol + 2; line < stop; line = eol + 2) {
		eol = memmem(line, (size_t)(stop - line), "\r\n", 2);
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL || colon == line || memchr(line, ' ', (size_t)(colon - line)) != NULL ||
		    memchr(line, '\t', (size_t)(colon - line)) != NULL) {
			http_malformed(r, "a header line is not \"name: value\"");
			return false;
		}
		const char *v = colon + 1, *v_end = eol;
		while (v < v_end && (*v == ' ' || *v == '\t'))
			v++;
		while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
			v_end--;
		size_t name_len = (size_t)(colon - line);
		if (name_is(line, name_len, "content-length")) {
			size_t value = 0;
			if (v == v_end) {
				http_malformed(r, "an empty Content-Length");
				return false;
			}
			for (const char *d = v; d < v_end; d++) {
				if (*d < '0' || *d > '9' || value > HTTP_BODY_LIMIT) {
					http_malformed(r, *d < '0' || *d > '9' ? "Content-Length is not a number" : "the body exceeds 64 MiB");
					return false;
				}
				value = value * 10 + (size_t)(*d - '0');
			}
			if (value > HTTP_BODY_LIMIT || (have_length && value != length)) {
				http_malformed(r, value > HTTP_BODY_LIMIT ? "the body exceeds 64 MiB" : "conflicting Content-Length headers");
				return false;
			}
			have_length = true;
			length = value;
		} else if (name_is(line, name_len, "transfer-encoding")) {
			/* The body is chunked when chunked is the last coding (RFC 9112 section 6.3). */
			const char *last = v;
			for (const char *d = v; d < v_end; d++)
				if (*d == ',')
					last = d + 1;
			while (last < v_end && (*last == ' ' || *last == '\t'))
				last++;
			transfer_encoding = true;
			chunked = name_is(last, (size_t)(v_end - last), "chunked");
		}
	}
	if (r->status < 200 || r->status == 204 || r->status == 304)
		r->framing = FRAMING_NONE;
	else if (transfer_encoding)
		r->framing = chunked ? FRAMING_CHUNKED : FRAMING_EOF;
	else if (have_length)
		r->framing = FRAMING_LENGTH;
	else
		r->framing = FRAMING_EOF;
	r->content_length = length;
	return true;
}

/* A hexadecimal digit's value, or -1. */
static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decode the chunks that have arrived (RFC 9112 section 7.1) into r->chunked. */
static enum http_progress http_decode_chunks(struct http_response *r)
{
	for (;;) {
		const char *s = r->raw.data + r->chunk_pos;
		size_t avail = r->raw.len - r->chunk_pos;
		switch (r->chunk_state) {
		case CHUNK_SIZE_LINE: {
			const char *eol = memmem(s, avail, "\r\n", 2);
			/* Too long whether its CRLF has arrived or not (without it, the last byte may be its CR). */
			if (eol == NULL)
				return avail > HTTP_CHUNK_LINE_LIMIT + 1 ? http_malformed(r, "a chunk-size line is too long") : HTTP_INCOMPLETE;
			size_t line = (size_t)(eol - s), size = 0, i = 0;
			if (line > HTTP_CHUNK_LINE_LIMIT)
				return http_malformed(r, "a chunk-size line is too long");
			for (; i < line; i++) {
				int d = hex_digit(s[i]);
				if (d < 0)
					break;
				if (size > HTTP_BODY_LIMIT)
					return http_malformed(r, "the body exceeds 64 MiB");
				size = size * 16 + (size_t)d;
			}
			if (i == 0 || (i < line && s[i] != ';' && s[i] != ' ' && s[i] != '\t'))
				return http_malformed(r, "a chunk-size line is not hexadecimal");
			if (size > HTTP_BODY_LIMIT - r->chunked.len)
				return http_malformed(r, "the body exceeds 64 MiB");
			r->chunk_pos += line + 2;
			/* The last chunk (size 0) is followed by trailer fields, if any, and an empty line. */
			r->chunk_state = size == 0 ? CHUNK_TRAILER : CHUNK_DATA;
			r->chunk_left = size;
			break;
		}
		case CHUNK_DATA: {
			/* Copied out as it arrives: a large chunk does not wait whole in raw. */
			size_t n = avail < r->chunk_left ? avail : r->chunk_left;
			buf_append(&r->chunked, s, n);
			r->chunk_pos += n;
			r->chunk_left -= n;
			if (r->chunk_left > 0)
				return HTTP_INCOMPLETE;
			r->chunk_state = CHUNK_DATA_END;
			break;
		}
		case CHUNK_DATA_END:
			if (avail < 2)
				return HTTP_INCOMPLETE;
			if (s[0] != '\r' || s[1] != '\n')
				return http_malformed(r, "a chunk is not followed by CRLF");
			r->chunk_pos += 2;
			r->chunk_state = CHUNK_SIZE_LINE;
			break;
		case CHUNK_TRAILER: {
			bool done = (avail >= 2 && s[0] == '\r' && s[1] == '\n') || memmem(s, avail, "\r\n\r\n", 4) != NULL;
			if (!done)
				return avail > HTTP_HEADER_LIMIT ? http_malformed(r, "the trailer exceeds 64 KiB") : HTTP_INCOMPLETE;
			r->body = r->chunked.len > 0 ? r->chunked.data : "";
			r->body_len = r->chunked.len;
			return HTTP_COMPLETE;
		}
		}
	}
}

/*
 * A chunked body. What has been decoded leaves raw at once, so raw holds the header block and at
 * most one incomplete chunk-size line or trailer, however many chunks came before: only the decoded
 * body (HTTP_BODY_LIMIT) grows.
 */
static enum http_progress http_advance_chunks(struct http_response *r)
{
	enum http_progress progress = http_decode_chunks(r);
	if (progress == HTTP_INCOMPLETE && r->chunk_pos > r->head_end) {
		size_t keep = r->raw.len - r->chunk_pos;
		memmove(r->raw.data + r->head_end, r->raw.data + r->chunk_pos, keep);
		r->raw.len = r->head_end + keep;
		r->raw.data[r->raw.len] = '\0';
		r->chunk_pos = r->head_end;
	}
	return progress;
}

/* Drops raw's first n bytes (interim responses already parsed). */
static void drop_front(struct http_response *r, size_t n)
{
	if (n == 0)
		return;
	memmove(r->raw.data, r->raw.data + n, r->raw.len - n);
	r->raw.len -= n;
	r->raw.data[r->raw.len] = '\0';
}

/* The status line, the header fields and the body, as far as they have arrived. */
static enum http_progress http_parse(struct http_response *r, bool eof)
{
	/* Interim responses (100 Continue) are skipped over and dropped together, once: one move per call,
	 * not one per interim response (a peer sending thousands would make it quadratic). */
	size_t skip = 0;
	while (r->head_end == 0) {
		size_t from = r->scanned > skip + 3 ? r->scanned - 3 : skip;
		const char *hit = r->raw.len - skip < 4 ? NULL : memmem(r->raw.data + from, r->raw.len - from, "\r\n\r\n", 4);
		if (hit == NULL) {
			drop_front(r, skip);
			r->scanned = r->raw.len;
			return r->raw.len > HTTP_HEADER_LIMIT ? http_malformed(r, "the header block exceeds 64 KiB") : HTTP_INCOMPLETE;
		}
		size_t end = (size_t)(hit - (r->raw.data + skip));
		if (!http_parse_head(r, skip, end))
			return HTTP_MALFORMED;
		if (r->status < 200) {
			skip += end + 4;
			r->scanned = skip;
			continue;
		}
		drop_front(r, skip);
		r->head_end = end + 4;
		r->chunk_pos = r->head_end;
	}
	size_t have = r->raw.len - r->head_end;
	switch (r->framing) {
	case FRAMING_NONE:
		r->body = r->raw.data + r->head_end;
		r->body_len = 0;
		return HTTP_COMPLETE;
	case FRAMING_LENGTH:
		if (have < r->content_length)
			return HTTP_INCOMPLETE;
		r->body = r->raw.data + r->head_end;
		r->body_len = r->content_length;
		return HTTP_COMPLETE;
	case FRAMING_EOF:
		if (have > HTTP_BODY_LIMIT)
			return http_malformed(r, "the body exceeds 64 MiB");
		if (!eof)
			return HTTP_INCOMPLETE;
		r->body = r->raw.data + r->head_end;
		r->body_len = have;
		return HTTP_COMPLETE;
	case FRAMING_CHUNKED:
		return http_advance_chunks(r);
	}
	return http_malformed(r, "unknown framing");
}

/* Declared in http.h. */
void http_receive(struct http_response *r, const void *p, size_t n)
{
	buf_append(&r->raw, p, n);
	r->received = n > SIZE_MAX - r->received ? SIZE_MAX : r->received + n;
}

/* Declared in http.h. */
enum http_progress http_advance(struct http_response *r, bool eof)
{
	enum http_progress progress = http_parse(r, eof);
	if (progress == HTTP_INCOMPLETE && r->received > HTTP_RECEIVE_LIMIT)
		return http_malformed(r, "the response is not complete after 72 MiB (64 MiB of body plus 8 MiB for headers and chunk framing)");
	return progress;
}

void http_response_free(struct http_response *r)
{
	buf_free(&r->raw);
	buf_free(&r->chunked);
}
