/*
 * buf.h: the growable byte buffer every unit of multus-shim builds its strings in, and the two
 * things any unit may need when memory runs out: write_all and out_of_memory.
 */
#ifndef MULTUS_SHIM_BUF_H
#define MULTUS_SHIM_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* The version of the errors written before the config's own cniVersion is known (out_of_memory's). */
#define DEFAULT_CNI_VERSION "1.1.0"

/* A growable byte buffer, always NUL-terminated once anything is in it. {0} is an empty buffer. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Room for `extra` more bytes and the NUL; allocation failure ends the program (out_of_memory). */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

/* Write all of it, through partial writes and EINTR; false with errno when a write fails. */
bool write_all(int fd, const char *p, size_t n);

/* The shim is short-lived: running out of memory prints a constant CNI error (code 11) and exits 1. */
void out_of_memory(void) __attribute__((noreturn));

#endif
