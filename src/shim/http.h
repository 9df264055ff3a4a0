/*
 * http.h: the parser of one HTTP/1.1 response (RFC 9112) as multus-shim receives it from the
 * daemon, fed as bytes arrive. No I/O here: the socket exchange is multus-shim.c's.
 */
#ifndef MULTUS_SHIM_HTTP_H
#define MULTUS_SHIM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * The limits. The messages name these values; test/fuzz/shim/fuzz-http.c builds http.c with much
 * smaller ones (-D), so that its short inputs reach every limit.
 */
#ifndef HTTP_BODY_LIMIT
#define HTTP_BODY_LIMIT ((size_t)64 * 1024 * 1024)
#endif
/* The header block, and also the trailer of a chunked body. */
#ifndef HTTP_HEADER_LIMIT
#define HTTP_HEADER_LIMIT ((size_t)64 * 1024)
#endif
/* A chunk-size line, its extensions included. */
#ifndef HTTP_CHUNK_LINE_LIMIT
#define HTTP_CHUNK_LINE_LIMIT ((size_t)1024)
#endif
/*
 * All bytes received for one response, whatever its framing: the body plus this allowance for the
 * header block, interim 1xx responses, chunk-size lines and their extensions, and the trailer. A
 * real chunked answer spends a few bytes per chunk; a peer that sends tiny chunks with long
 * extensions, or endless interim responses, is cut off here instead of being read forever.
 */
#ifndef HTTP_FRAMING_ALLOWANCE
#define HTTP_FRAMING_ALLOWANCE ((size_t)8 * 1024 * 1024)
#endif
#define HTTP_RECEIVE_LIMIT (HTTP_BODY_LIMIT + HTTP_FRAMING_ALLOWANCE)

enum http_progress { HTTP_INCOMPLETE, HTTP_COMPLETE, HTTP_MALFORMED };
enum http_framing { FRAMING_NONE, FRAMING_LENGTH, FRAMING_CHUNKED, FRAMING_EOF };
/* Where a chunked body's decoding is: what the bytes at chunk_pos are. */
enum http_chunk_state { CHUNK_SIZE_LINE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILER };

/* {0} is a response before its first byte: give it bytes with http_receive, then call http_advance. */
struct http_response {
	struct buf raw;        /* bytes received and still needed: an interim 1xx response and decoded chunks removed */
	size_t received;       /* every byte received, interim responses included: at most HTTP_RECEIVE_LIMIT */
	size_t scanned;        /* raw bytes already searched for the end of the header block */
	size_t head_end;       /* 0 until the header block is complete, then where the body starts */
	int status;
	enum http_framing framing;
	size_t content_length;
	enum http_chunk_state chunk_state;
	size_t chunk_pos;      /* chunked: where the undecoded bytes start in raw (head_end after each http_advance) */
	size_t chunk_left;     /* chunked, in CHUNK_DATA: the current chunk's bytes still to come */
	struct buf chunked;    /* chunked: the decoded body */
	const char *body;      /* once complete: in raw, or in chunked for a chunked body */
	size_t body_len;
	char error[160];
};

/* n more bytes from the peer. */
void http_receive(struct http_response *r, const void *p, size_t n);

/*
 * Parse what has arrived; eof: the peer has closed, nothing more will. HTTP_COMPLETE: status and
 * body are set. HTTP_MALFORMED: error says why (a framing error, a limit, or HTTP_RECEIVE_LIMIT
 * bytes without a complete response). Call it again only after more bytes or the eof.
 */
enum http_progress http_advance(struct http_response *r, bool eof);

void http_response_free(struct http_response *r);

#endif
