/*
 * json.c: the validating JSON scanner (json_scan_object), the decoding of a string member
 * (json_member_string), JSON string escaping (json_escape_append) and their UTF-8 helpers.
 * Declared in json.h; everything else here is private to this unit.
 */
#define _GNU_SOURCE
#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JSON_DEPTH_LIMIT 512

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0 when the bytes there are not one. */
static size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Declared in json.h: escapes per RFC 8259 section 7, every invalid UTF-8 byte as U+FFFD. */
void json_escape_append(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned char c = u[i];
		if (c == '"' || c == '\\') {
			buf_append_char(b, '\\');
			buf_append_char(b, (char)c);
			i++;
		} else if (c < 0x20) {
			buf_printf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			buf_append_char(b, (char)c);
			i++;
		} else {
			size_t len = utf8_sequence_length(u + i, n - i);
			if (len == 0) {
				buf_append_str(b, "\\ufffd");
				i++;
			} else {
				buf_append(b, u + i, len);
				i += len;
			}
		}
	}
}

struct json_parser {
	const char *s;
	size_t len;
	size_t pos;
	unsigned depth;
	char error[200];
};

static int json_peek(const struct json_parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static bool json_error(struct json_parser *p, const char *what)
{
	int c = json_peek(p);
	if (c < 0)
		snprintf(p->error, sizeof p->error, "%s at byte %zu (the input ends there)", what, p->pos);
	else if (c > 0x20 && c < 0x7f)
		snprintf(p->error, sizeof p->error, "%s at byte %zu (found '%c')", what, p->pos, c);
	else
		snprintf(p->error, sizeof p->error, "%s at byte %zu (found byte 0x%02x)", what, p->pos, (unsigned)c);
	return false;
}

static void json_skip_ws(struct json_parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		p->pos++;
	}
}

static bool json_hex4(struct json_parser *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int c = json_peek(p);
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return json_error(p, "expected 4 hex digits after \\u");
		v = v * 16 + (uint32_t)d;
		p->pos++;
	}
	*out = v;
	return true;
}

static void utf8_append(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	}
	buf_append(b, u, n);
}

/* A string starting at the opening quote; decoded into out (UTF-8) unless out is NULL. */
static bool json_string(struct json_parser *p, struct buf *out)
{
	p->pos++;
	for (;;) {
		int c = json_peek(p);
		if (c < 0)
			return json_error(p, "unterminated string");
		if (c == '"') {
			p->pos++;
			return true;
		}
		if (c < 0x20)
			return json_error(p, "control character inside a string");
		if (c != '\\') {
			if (out != NULL)
				buf_append_char(out, (char)c);
			p->pos++;
			continue;
		}
		p->pos++;
		char plain;
		switch (json_peek(p)) {
		case '"': plain = '"'; break;
		case '\\': plain = '\\'; break;
		case '/': plain = '/'; break;
		case 'b': plain = '\b'; break;
		case 'f': plain = '\f'; break;
		case 'n': plain = '\n'; break;
		case 'r': plain = '\r'; break;
		case 't': plain = '\t'; break;
		case 'u': {
			uint32_t cp;
			p->pos++;
			if (!json_hex4(p, &cp))
				return false;
			if (cp >= 0xd800 && cp <= 0xdbff && p->pos + 1 < p->len && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
				size_t low_at = p->pos;
				uint32_t low;
				p->pos += 2;
				if (!json_hex4(p, &low))
					return false;
				if (low >= 0xdc00 && low <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
				} else {
					p->pos = low_at; /* a lone high surrogate; the next escape stands alone */
					cp = 0xfffd;
				}
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				cp = 0xfffd; /* a lone surrogate has no UTF-8 form (Go decodes it the same way) */
			}
			if (out != NULL)
				utf8_append(out, cp);
			continue;
		}
		default:
			return json_error(p, "invalid escape in a string");
		}
		if (out != NULL)
			buf_append_char(out, plain);
		p->pos++;
	}
}

static bool json_digits(struct json_parser *p, const char *what)
{
	int c = json_peek(p);
	if (c < '0' || c > '9')
		return json_error(p, what);
	while ((c = json_peek(p)) >= '0' && c <= '9')
		p->pos++;
	return true;
}

static bool json_number(struct json_parser *p)
{
	if (json_peek(p) == '-')
		p->pos++;
	if (json_peek(p) == '0')
		p->pos++;
	else if (!json_digits(p, "expected a digit"))
		return false;
	if (json_peek(p) == '.') {
		p->pos++;
		if (!json_digits(p, "expected a digit after the decimal point"))
			return false;
	}
	if (json_peek(p) == 'e' || json_peek(p) == 'E') {
		p->pos++;
		if (json_peek(p) == '+' || json_peek(p) == '-')
			p->pos++;
		if (!json_digits(p, "expected a digit in the exponent"))
			return false;
	}
	return true;
}

static bool json_literal(struct json_parser *p, const char *word)
{
	size_t n = strlen(word);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return json_error(p, "expected a JSON value");
	p->pos += n;
	return true;
}

static bool json_container(struct json_parser *p, struct json_member *members, size_t count);

/* One value at p->pos (no leading whitespace). */
static bool json_value(struct json_parser *p, enum json_type *type)
{
	int c = json_peek(p);
	switch (c) {
	case '{': *type = JSON_OBJECT; return json_container(p, NULL, 0);
	case '[': *type = JSON_ARRAY; return json_container(p, NULL, 0);
	case '"': *type = JSON_STRING; return json_string(p, NULL);
	case 't': *type = JSON_TRUE; return json_literal(p, "true");
	case 'f': *type = JSON_FALSE; return json_literal(p, "false");
	case 'n': *type = JSON_NULL; return json_literal(p, "null");
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			*type = JSON_NUMBER;
			return json_number(p);
		}
		return json_error(p, "expected a JSON value");
	}
}

/*
 * An object or array starting at its opening bracket. For the top-level object, members lists the
 * keys to record; nested containers pass none, so their keys are only validated.
 */
static bool json_container(struct json_parser *p, struct json_member *members, size_t count)
{
	bool object = p->s[p->pos] == '{';
	char close = object ? '}' : ']';
	if (++p->depth > JSON_DEPTH_LIMIT)
		return json_error(p, "JSON nested deeper than 512 levels");
	p->pos++;
	json_skip_ws(p);
	if (json_peek(p) == close) {
		p->pos++;
		p->depth--;
		return true;
	}
	struct buf key = {0};
	bool ok = false;
	for (;;) {
		struct json_member *member = NULL;
		if (object) {
			json_skip_ws(p);
			if (json_peek(p) != '"') {
				json_error(p, "expected a string key");
				break;
			}
			key.len = 0;
			if (!json_string(p, members != NULL ? &key : NULL))
				break;
			for (size_t i = 0; i < count; i++) {
				/* An empty first key leaves key.data NULL, which memcmp must not get even for 0 bytes. */
				if (key.len == strlen(members[i].name) && (key.len == 0 || memcmp(key.data, members[i].name, key.len) == 0))
					member = &members[i];
			}
			json_skip_ws(p);
			if (json_peek(p) != ':') {
				json_error(p, "expected ':' after an object key");
				break;
			}
			p->pos++;
		}
		json_skip_ws(p);
		size_t start = p->pos;
		enum json_type type = JSON_NONE;
		if (!json_value(p, &type))
			break;
		if (member != NULL) {
			member->type = type;
			member->start = start;
			member->end = p->pos;
		}
		json_skip_ws(p);
		int c = json_peek(p);
		if (c == ',') {
			p->pos++;
			continue;
		}
		if (c == close) {
			p->pos++;
			p->depth--;
			ok = true;
			break;
		}
		json_error(p, object ? "expected ',' or '}' after an object member" : "expected ',' or ']' after an array element");
		break;
	}
	buf_free(&key);
	return ok;
}

enum json_scan json_scan_object(const char *s, size_t len, struct json_member *members, size_t count, char *error,
				size_t error_size)
{
	struct json_parser p = {.s = s, .len = len};
	for (size_t i = 0; i < count; i++)
		members[i].type = JSON_NONE;
	json_skip_ws(&p);
	if (json_peek(&p) != '{') {
		if (json_peek(&p) < 0) {
			snprintf(error, error_size, "it is empty");
			return JSON_SCAN_INVALID;
		}
		return JSON_SCAN_NOT_OBJECT;
	}
	if (!json_container(&p, members, count)) {
		snprintf(error, error_size, "%s", p.error);
		return JSON_SCAN_INVALID;
	}
	json_skip_ws(&p);
	if (p.pos != p.len) {
		json_error(&p, "unexpected data after the JSON object");
		snprintf(error, error_size, "%s", p.error);
		return JSON_SCAN_INVALID;
	}
	return JSON_SCAN_OK;
}

/* The member was validated by json_scan_object, so the string decodes to its closing quote. */
void json_member_string(const char *s, const struct json_member *m, struct buf *out)
{
	struct json_parser p = {.s = s, .len = m->end, .pos = m->start};
	out->len = 0;
	buf_reserve(out, 0);
	out->data[0] = '\0';
	(void)json_string(&p, out);
}

