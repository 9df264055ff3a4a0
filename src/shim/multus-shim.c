/*
 * multus-shim: the CNI plugin a container runtime executes in thick mode. It forwards the call to
 * multus-daemon over a unix socket and prints the daemon's answer; all product logic stays in the
 * daemon (TypeScript). Written in C so that every CNI call starts in about a millisecond and the
 * host needs no library: it is linked statically (docs/performance.md, "multus-shim: how it ships").
 *
 * Input, as for any CNI plugin (CNI 1.1): CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME,
 * CNI_ARGS, CNI_PATH in the environment and the network config (JSON) on stdin, at most 4 MiB.
 * The shim reads only these top-level config keys itself:
 *   cniVersion                 the version its own errors are written in (default 1.1.0)
 *   daemonSocketDir            the daemon listens on <daemonSocketDir>/multus.sock (default /run/multus/)
 *   daemonReadyTimeoutSeconds  how long to wait for the daemon to become ready (default 60)
 *   operationTimeoutSeconds    \ the daemon's budgets (defaults 90 and 20); the whole exchange gets
 *   rollbackTimeoutSeconds     / their sum plus 20 s before the shim gives up on it
 *
 * Wire protocol (upstream Multus's thick plugin: pkg/server/api), HTTP/1.1 over the unix socket:
 *   GET /readyz            200 once the daemon serves CNI requests (anything else: not yet)
 *   POST /cni              body {"env":{"CNI_COMMAND":"ADD",...},"config":"<base64 of stdin>"};
 *                          env is the shim's whole environment, config the exact stdin bytes
 *   answer 200             {"Result":{...}}: for ADD the shim prints the Result value byte for byte
 *                          (the daemon has converted it to the requested cniVersion); otherwise
 *                          nothing
 *   answer not 200         a CNI error object {"code":N,"msg":...}: printed as is, exit 1; any other
 *                          body becomes a CNI error with code 999
 *   framing                Content-Length, chunked (with 1xx interim responses before, trailers
 *                          after) or until the connection closes; within 64 KiB of headers, 64 MiB
 *                          of body and 72 MiB received in all, else the answer is malformed (http.h)
 *
 * VERSION is answered here. ADD, CHECK, GC and STATUS first poll GET /readyz every 100 ms. DEL does
 * not wait and never depends on the daemon (CNI 1.1: DEL must succeed whenever it can): when the
 * daemon gives no complete answer (no socket, connection refused or reset, a malformed answer,
 * deadline), the DEL runs locally through the thin plugin `multus` installed next to this
 * executable, with the same environment and stdin, within the same deadline (at which the plugin's
 * process group is killed). A daemon that answers is authoritative, even with an error.
 *
 * Started with MULTUS_TS_DELEGATE_OF in its environment (Multus sets it for every delegate), the shim
 * is some network's plugin under another name, and refuses every command but VERSION with code 7
 * before it touches any socket (docs/security.md).
 *
 * Every error the shim makes itself is a CNI error on stdout with exit code 1, its message also on
 * stderr. Build: gcc -std=c11 -Wall -Wextra -Werror -O2 -static -s of all the .c files
 * here (scripts/build.ts).
 *
 * Source layout: this file is the program (the config, the socket exchange, the commands, the local
 * DEL); buf.c is the growable buffer, json.c the JSON scanner and escaping, http.c the HTTP response
 * parser. json.c and http.c do no I/O, so the fuzzers in test/fuzz/shim link them without this file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "json.h"

extern char **environ;

#define STDIN_LIMIT ((size_t)4 * 1024 * 1024)
#define DETAILS_LIMIT ((size_t)4096)
#define READY_POLL_MS 100
/* A readiness probe gets at least this long, even when daemonReadyTimeoutSeconds is 0. */
#define PROBE_MIN_MS 1000
/* Beyond operation + rollback: the daemon's queue wait (up to 10 s) and the answer's way back. */
#define EXCHANGE_SLACK_MS 20000
/* The longest pause between two waitpid(WNOHANG) of the local DEL when there is no pidfd. */
#define DEL_POLL_MAX_MS 20
#define MAX_TIMEOUT_SECONDS 3600.0

#define DEFAULT_SOCKET_DIR "/run/multus/"
#define SOCKET_NAME "multus.sock"
#define THIN_PLUGIN "multus"
#define DAEMON_HINT "check the multus DaemonSet pod on this node (kubectl -n kube-system get pods -l app=multus -o wide; its logs)"
/* Set by Multus in every delegate's environment (src/cni/delegate-config.ts): a shim started under it
 * is a network's plugin, and would post the runtime's request to a socket that network's config chose. */
#define DELEGATE_MARKER_ENV "MULTUS_TS_DELEGATE_OF"

/* CNI error codes (CNI 1.1 "Error"; 999 is libcni's "internal"). */
enum cni_code {
	CNI_INVALID_ENV = 4,
	CNI_IO_FAILURE = 5,
	CNI_DECODING_FAILURE = 6,
	CNI_INVALID_CONFIG = 7,
	CNI_TRY_AGAIN_LATER = 11,
	CNI_INTERNAL = 999,
};

/* The version our own errors are written in: the config's cniVersion once it is known. */
static const char *error_cni_version = DEFAULT_CNI_VERSION;

/* ------------------------------------------------------------------------------------------------
 * Output and errors.
 */

static void print_cni_error(int code, const char *msg, const char *details, size_t details_len)
{
	struct buf out = {0};
	buf_append_str(&out, "{\"cniVersion\":\"");
	json_escape_append(&out, error_cni_version, strlen(error_cni_version));
	buf_printf(&out, "\",\"code\":%d,\"msg\":\"", code);
	json_escape_append(&out, msg, strlen(msg));
	buf_append_char(&out, '"');
	if (details != NULL && details_len > 0) {
		buf_append_str(&out, ",\"details\":\"");
		json_escape_append(&out, details, details_len);
		buf_append_char(&out, '"');
	}
	buf_append_str(&out, "}\n");
	(void)write_all(STDOUT_FILENO, out.data, out.len);
	buf_free(&out);

	struct buf line = {0};
	buf_printf(&line, "multus-shim: %s\n", msg);
	(void)write_all(STDERR_FILENO, line.data, line.len);
	buf_free(&line);
}

/* Print a CNI error made by the shim itself (stdout, and its msg on stderr) and exit 1. */
static void fail(int code, const char *details, size_t details_len, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

static void fail(int code, const char *details, size_t details_len, const char *fmt, ...)
{
	struct buf msg = {0};
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	print_cni_error(code, msg.data, details, details_len);
	exit(1);
}

/* ------------------------------------------------------------------------------------------------
 * Time.
 */

static int64_t now_ms(void)
{
	struct timespec ts;
	/* CLOCK_MONOTONIC cannot fail on Linux; deadlines must not move with the wall clock. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

static int64_t seconds_to_ms(double seconds)
{
	return (int64_t)(seconds * 1000.0 + 0.5);
}

/* ------------------------------------------------------------------------------------------------
 * The config on stdin.
 */

struct shim_config {
	char *cni_version; /* NULL: the config has none */
	char *socket_path;
	double ready_timeout_s;
	double operation_timeout_s;
	double rollback_timeout_s;
};

enum { KEY_CNI_VERSION, KEY_SOCKET_DIR, KEY_READY_TIMEOUT, KEY_OPERATION_TIMEOUT, KEY_ROLLBACK_TIMEOUT, KEY_COUNT };

static void read_stdin(struct buf *in)
{
	for (;;) {
		buf_reserve(in, 65536);
		ssize_t n = read(STDIN_FILENO, in->data + in->len, in->cap - in->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(CNI_IO_FAILURE, NULL, 0, "cannot read the config on stdin: %s", strerror(errno));
		}
		if (n == 0)
			break;
		in->len += (size_t)n;
		in->data[in->len] = '\0';
		if (in->len > STDIN_LIMIT)
			fail(CNI_IO_FAILURE, NULL, 0, "config on stdin exceeds 4 MiB");
	}
}

/* A number of seconds from 0 to 3600, or the default when the key is absent. */
static bool config_seconds(const char *config, const struct json_member *m, double fallback, double *out, struct buf *problem)
{
	*out = fallback;
	if (m->type == JSON_NONE)
		return true;
	if (m->type == JSON_NUMBER) {
		/* The scanner checked the JSON number syntax, which strtod accepts (our locale is "C"). */
		char text[64];
		size_t n = m->end - m->start;
		if (n < sizeof text) {
			memcpy(text, config + m->start, n);
			text[n] = '\0';
			double v = strtod(text, NULL);
			if (isfinite(v) && v >= 0 && v <= MAX_TIMEOUT_SECONDS) {
				*out = v;
				return true;
			}
		}
	}
	size_t shown = m->end - m->start > 40 ? 40 : m->end - m->start;
	buf_printf(problem, "config key \"%s\" must be a number of seconds from 0 to %g (got %.*s)", m->name, MAX_TIMEOUT_SECONDS,
		   (int)shown, config + m->start);
	return false;
}

/*
 * Parse the config. Errors are reported only after CNI_COMMAND is known (VERSION needs no config),
 * so this returns false with a message instead of failing; *code says which CNI code applies.
 */
static bool parse_config(const struct buf *in, struct shim_config *c, int *code, struct buf *problem)
{
	struct json_member m[KEY_COUNT] = {
		[KEY_CNI_VERSION] = {.name = "cniVersion"},
		[KEY_SOCKET_DIR] = {.name = "daemonSocketDir"},
		[KEY_READY_TIMEOUT] = {.name = "daemonReadyTimeoutSeconds"},
		[KEY_OPERATION_TIMEOUT] = {.name = "operationTimeoutSeconds"},
		[KEY_ROLLBACK_TIMEOUT] = {.name = "rollbackTimeoutSeconds"},
	};
	char error[256];
	*code = CNI_DECODING_FAILURE;
	switch (json_scan_object(in->data, in->len, m, KEY_COUNT, error, sizeof error)) {
	case JSON_SCAN_OK:
		break;
	case JSON_SCAN_NOT_OBJECT:
		buf_printf(problem, "config on stdin is not a JSON object");
		return false;
	case JSON_SCAN_INVALID:
		buf_printf(problem, "config on stdin is not valid JSON: %s", error);
		return false;
	}
	*code = CNI_INVALID_CONFIG;
	for (int k = KEY_CNI_VERSION; k <= KEY_SOCKET_DIR; k++) {
		if (m[k].type != JSON_NONE && m[k].type != JSON_STRING) {
			buf_printf(problem, "config key \"%s\" must be a string", m[k].name);
			return false;
		}
	}
	if (m[KEY_CNI_VERSION].type == JSON_STRING) {
		struct buf v = {0};
		json_member_string(in->data, &m[KEY_CNI_VERSION], &v);
		c->cni_version = v.data;
	}

	struct buf dir = {0};
	if (m[KEY_SOCKET_DIR].type == JSON_STRING)
		json_member_string(in->data, &m[KEY_SOCKET_DIR], &dir);
	else
		buf_append_str(&dir, DEFAULT_SOCKET_DIR);
	if (dir.len == 0 || strlen(dir.data) != dir.len) {
		buf_printf(problem, "config key \"daemonSocketDir\" must be a non-empty path without NUL characters");
		return false;
	}
	/* "/run/multus/" and "/run/multus" name the same socket; "/" stays the root. */
	while (dir.len > 1 && dir.data[dir.len - 1] == '/')
		dir.data[--dir.len] = '\0';
	struct buf path = {0};
	buf_printf(&path, "%s%s%s", dir.data, dir.data[dir.len - 1] == '/' ? "" : "/", SOCKET_NAME);
	buf_free(&dir);
	struct sockaddr_un addr;
	if (path.len >= sizeof addr.sun_path) {
		buf_printf(problem, "the daemon socket path %s is %zu bytes, longer than a unix socket path can be (%zu): "
				    "choose a shorter daemonSocketDir", path.data, path.len, sizeof addr.sun_path - 1);
		return false;
	}
	c->socket_path = path.data;

	return config_seconds(in->data, &m[KEY_READY_TIMEOUT], 60, &c->ready_timeout_s, problem) &&
	       config_seconds(in->data, &m[KEY_OPERATION_TIMEOUT], 90, &c->operation_timeout_s, problem) &&
	       config_seconds(in->data, &m[KEY_ROLLBACK_TIMEOUT], 20, &c->rollback_timeout_s, problem);
}

/* ------------------------------------------------------------------------------------------------
 * HTTP/1.1 client over a unix socket, every wait bounded by a deadline (the parser is http.c).
 */

/* Wait for events on fd until the deadline: 1 ready, 0 deadline passed, -1 poll failed (errno). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = events};
		int r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* A connected non-blocking socket, or -1 with the reason. */
static int connect_unix(const char *path, int64_t deadline, char *reason, size_t reason_size)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	memcpy(addr.sun_path, path, strlen(path) + 1); /* the length was checked with the config */
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(reason, reason_size, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(fd, (const struct sockaddr *)&addr, sizeof addr) == 0)
			return fd;
		int err = errno;
		if (err == EINPROGRESS) {
			int ready = wait_fd(fd, POLLOUT, deadline);
			socklen_t len = sizeof err;
			if (ready == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
				return fd;
			if (ready == 0)
				err = ETIMEDOUT;
			else if (ready < 0)
				err = errno;
		}
		close(fd);
		/* EAGAIN: the daemon's accept backlog is full; EINTR: a signal. Both are worth a retry. */
		if ((err == EAGAIN || err == EINTR) && now_ms() + 10 < deadline) {
			sleep_ms(10);
			continue;
		}
		snprintf(reason, reason_size, "connect: %s", strerror(err));
		return -1;
	}
}

/*
 * Send the request and read one complete response before the deadline. False: no complete answer
 * (connect failed, the connection closed or reset first, a malformed answer, the deadline), with
 * the reason.
 */
static bool http_exchange(const char *socket_path, const struct buf *request, int64_t deadline, double budget_s,
			  struct http_response *r, char *reason, size_t reason_size)
{
	int fd = connect_unix(socket_path, deadline, reason, reason_size);
	if (fd < 0)
		return false;

	char send_error[96] = "";
	for (size_t off = 0; off < request->len;) {
		int ready = wait_fd(fd, POLLOUT, deadline);
		if (ready <= 0) {
			if (ready == 0)
				snprintf(reason, reason_size, "no complete answer within %g s (the request was not even sent)", budget_s);
			else
				snprintf(reason, reason_size, "poll: %s", strerror(errno));
			close(fd);
			return false;
		}
		ssize_t w = send(fd, request->data + off, request->len - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* The daemon may have answered and closed early: read what it said. */
			snprintf(send_error, sizeof send_error, "; send: %s", strerror(errno));
			break;
		}
		off += (size_t)w;
	}

	char chunk[65536];
	for (;;) {
		int ready = wait_fd(fd, POLLIN, deadline);
		if (ready <= 0) {
			if (ready == 0)
				snprintf(reason, reason_size, "no complete answer within %g s", budget_s);
			else
				snprintf(reason, reason_size, "poll: %s", strerror(errno));
			close(fd);
			return false;
		}
		ssize_t n = read(fd, chunk, sizeof chunk);
		bool eof = n == 0, reset = false;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno != ECONNRESET) {
				snprintf(reason, reason_size, "read: %s", strerror(errno));
				close(fd);
				return false;
			}
			eof = reset = true;
		} else if (n > 0) {
			http_receive(r, chunk, (size_t)n);
		}
		enum http_progress progress = http_advance(r, eof);
		if (progress == HTTP_COMPLETE) {
			close(fd);
			return true;
		}
		if (progress == HTTP_MALFORMED) {
			snprintf(reason, reason_size, "malformed HTTP response: %s", r->error);
			close(fd);
			return false;
		}
		if (eof) {
			snprintf(reason, reason_size, "connection %s before a complete HTTP response, %zu bytes received%s",
				 reset ? "reset" : "closed", r->received, send_error);
			close(fd);
			return false;
		}
	}
}

/* ------------------------------------------------------------------------------------------------
 * The commands.
 */

static void print_version(void)
{
	static const char out[] = "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n";
	if (!write_all(STDOUT_FILENO, out, sizeof out - 1))
		fail(CNI_IO_FAILURE, NULL, 0, "cannot write the answer to stdout: %s", strerror(errno));
}

/*
 * ADD, CHECK, GC, STATUS: wait until GET /readyz answers 200, polling every 100 ms. A daemon that
 * answers 404 there is upstream's (v4.x serves /healthz only): from then on /healthz is the probe.
 */
static void wait_until_ready(const struct shim_config *c)
{
	static const char readyz[] = "GET /readyz HTTP/1.1\r\nHost: multus\r\nConnection: close\r\n\r\n";
	static const char healthz[] = "GET /healthz HTTP/1.1\r\nHost: multus\r\nConnection: close\r\n\r\n";
	const char *path = "/readyz";
	struct buf request = {0};
	buf_append(&request, readyz, sizeof readyz - 1);
	int64_t deadline = now_ms() + seconds_to_ms(c->ready_timeout_s);
	char last[320];
	for (;;) {
		int64_t started = now_ms();
		int64_t probe_deadline = deadline > started + PROBE_MIN_MS ? deadline : started + PROBE_MIN_MS;
		struct http_response r = {0};
		char reason[256];
		bool answered = http_exchange(c->socket_path, &request, probe_deadline, (double)(probe_deadline - started) / 1000, &r,
					      reason, sizeof reason);
		int status = r.status;
		http_response_free(&r);
		if (answered && status == 200) {
			buf_free(&request);
			return;
		}
		if (answered && status == 404 && strcmp(path, "/readyz") == 0) {
			path = "/healthz";
			request.len = 0;
			buf_append(&request, healthz, sizeof healthz - 1);
			continue;
		}
		if (answered)
			snprintf(last, sizeof last, "GET %s answered HTTP %d", path, status);
		else
			snprintf(last, sizeof last, "%s", reason);
		int64_t now = now_ms();
		if (now >= deadline)
			break;
		int64_t next = started + READY_POLL_MS;
		sleep_ms((next < deadline ? next : deadline) - now);
	}
	fail(CNI_TRY_AGAIN_LATER, NULL, 0, "multus-daemon is not ready at %s after %g s (last: %s): " DAEMON_HINT, c->socket_path,
	     c->ready_timeout_s, last);
}

static void build_cni_request(const struct buf *config, struct buf *request)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct buf body = {0};
	buf_append_str(&body, "{\"env\":{");
	bool first = true;
	for (char **e = environ; *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		if (eq == NULL || eq == *e)
			continue; /* not NAME=VALUE: upstream skips these too */
		if (!first)
			buf_append_char(&body, ',');
		first = false;
		buf_append_char(&body, '"');
		json_escape_append(&body, *e, (size_t)(eq - *e));
		buf_append_str(&body, "\":\"");
		json_escape_append(&body, eq + 1, strlen(eq + 1));
		buf_append_char(&body, '"');
	}
	/* config: []byte in upstream's Go request, hence standard base64 with padding. */
	buf_append_str(&body, "},\"config\":\"");
	const unsigned char *in = (const unsigned char *)config->data;
	buf_reserve(&body, (config->len + 2) / 3 * 4 + 2);
	for (size_t i = 0; i < config->len; i += 3) {
		size_t n = config->len - i < 3 ? config->len - i : 3;
		uint32_t v = (uint32_t)in[i] << 16 | (n > 1 ? (uint32_t)in[i + 1] << 8 : 0) | (n > 2 ? in[i + 2] : 0);
		char quad[4] = {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63], n > 1 ? alphabet[v >> 6 & 63] : '=', n > 2 ? alphabet[v & 63] : '='};
		buf_append(&body, quad, 4);
	}
	buf_append_str(&body, "\"}");

	buf_printf(request, "POST /cni HTTP/1.1\r\nHost: multus\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			    "Connection: close\r\n\r\n", body.len);
	buf_append(request, body.data, body.len);
	buf_free(&body);
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

/* The daemon answered: its answer decides, whatever it is. Does not return. */
static void pass_answer_through(const char *command, const struct http_response *r) __attribute__((noreturn));

static void pass_answer_through(const char *command, const struct http_response *r)
{
	const char *body = r->body;
	size_t len = r->body_len;
	size_t details_len = len < DETAILS_LIMIT ? len : DETAILS_LIMIT;
	char error[256];

	if (r->status == 200) {
		/* CNI 1.1: only ADD prints a result; DEL, CHECK, GC and STATUS print nothing on success. */
		if (strcmp(command, "ADD") != 0 || is_blank(body, len))
			exit(0);
		struct json_member result = {.name = "Result"};
		enum json_scan scan = json_scan_object(body, len, &result, 1, error, sizeof error);
		if (scan != JSON_SCAN_OK)
			fail(CNI_INTERNAL, body, details_len, "multus-daemon answered HTTP 200 for %s with a body that is not a JSON object%s%s",
			     command, scan == JSON_SCAN_INVALID ? ": " : "", scan == JSON_SCAN_INVALID ? error : "");
		/* Go's Response{Result *current.Result} encodes a missing result as null. */
		if (result.type == JSON_NONE || result.type == JSON_NULL)
			exit(0);
		if (!write_all(STDOUT_FILENO, body + result.start, result.end - result.start) || !write_all(STDOUT_FILENO, "\n", 1))
			fail(CNI_IO_FAILURE, NULL, 0, "cannot write the result to stdout: %s", strerror(errno));
		exit(0);
	}

	struct json_member m[2] = {{.name = "code"}, {.name = "msg"}};
	if (json_scan_object(body, len, m, 2, error, sizeof error) == JSON_SCAN_OK && m[0].type == JSON_NUMBER && m[1].type == JSON_STRING) {
		/* A CNI error from the daemon: the runtime gets it verbatim. */
		bool ok = write_all(STDOUT_FILENO, body, len) && (body[len - 1] == '\n' || write_all(STDOUT_FILENO, "\n", 1));
		struct buf msg = {0}, line = {0};
		json_member_string(body, &m[1], &msg);
		buf_printf(&line, "multus-shim: multus-daemon answered HTTP %d for %s: %s\n", r->status, command, msg.data);
		(void)write_all(STDERR_FILENO, line.data, line.len);
		if (!ok)
			fail(CNI_IO_FAILURE, NULL, 0, "cannot write the error to stdout: %s", strerror(errno));
		exit(1);
	}
	fail(CNI_INTERNAL, body, details_len, "multus-daemon answered HTTP %d for %s", r->status, command);
}

/* The directory this executable is in, from /proc/self/exe (argv[0] may be anything); NULL: why. */
static char *own_directory(const char **why)
{
	struct buf self = {0};
	for (size_t size = 256;; size *= 2) {
		buf_reserve(&self, size);
		ssize_t n = readlink("/proc/self/exe", self.data, size);
		if (n < 0) {
			*why = strerror(errno);
			buf_free(&self);
			return NULL;
		}
		if ((size_t)n < size) {
			self.len = (size_t)n;
			self.data[n] = '\0';
			break;
		}
		if (size > 65536) {
			*why = "the path is too long";
			buf_free(&self);
			return NULL;
		}
	}
	char *slash = strrchr(self.data, '/');
	if (slash == NULL) {
		*why = "the path has no directory";
		buf_free(&self);
		return NULL;
	}
	*(slash == self.data ? slash + 1 : slash) = '\0';
	return self.data;
}

/*
 * DEL without the daemon: run the thin plugin next to this executable with our environment and
 * stdin; its stdout and stderr are ours, its exit status becomes ours. Does not return.
 */
static void run_local_del(const char *argv0, const struct shim_config *c, const struct buf *config, const char *why)
	__attribute__((noreturn));

/* Why `path` cannot be run as the thin plugin; NULL when it can. */
static const char *unusable_plugin(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? "missing" : strerror(errno);
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if (access(path, X_OK) != 0)
		return "not executable";
	return NULL;
}

/*
 * Wait for the plugin until the deadline: 1 it has exited (*status), 0 the deadline passed (it still
 * runs), -1 waitpid failed (errno). A pidfd makes the wait pollable (Linux 5.3+). Without one (an
 * older kernel, or a seccomp filter answering pidfd_open with ENOSYS or EPERM) waitpid(WNOHANG) is
 * polled instead, so the deadline holds either way.
 */
static int wait_plugin(pid_t pid, int64_t deadline, int *status)
{
	pid_t done;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		int ready = wait_fd(pidfd, POLLIN, deadline);
		close(pidfd);
		if (ready == 0)
			return 0;
		if (ready == 1) {
			while ((done = waitpid(pid, status, 0)) < 0 && errno == EINTR)
				;
			return done < 0 ? -1 : 1;
		}
		/* poll failed: fall back to polling waitpid */
	}
	/* From 1 ms, doubling up to DEL_POLL_MAX_MS: a quick plugin is not held back by the polling. */
	int64_t pause = 1;
	for (;;) {
		done = waitpid(pid, status, WNOHANG);
		if (done == pid)
			return 1;
		if (done < 0 && errno != EINTR)
			return -1;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		sleep_ms(pause < left ? pause : left);
		pause = pause * 2 < DEL_POLL_MAX_MS ? pause * 2 : DEL_POLL_MAX_MS;
	}
}

static void run_local_del(const char *argv0, const struct shim_config *c, const struct buf *config, const char *why)
{
	struct buf plugin = {0};
	const char *unusable = "missing";
	/* The directory the runtime ran us from (argv[0], e.g. /opt/cni/bin/multus-shim, a symlink or not). */
	const char *slash = strrchr(argv0, '/');
	if (slash != NULL) {
		buf_append(&plugin, argv0, (size_t)(slash - argv0 + 1));
		buf_append_str(&plugin, THIN_PLUGIN);
		unusable = unusable_plugin(plugin.data);
	}
	/* Else the directory of the executable itself (where a symlinked shim really is). */
	if (unusable != NULL) {
		const char *dir_problem = "";
		char *dir = own_directory(&dir_problem);
		if (dir == NULL)
			fail(CNI_TRY_AGAIN_LATER, NULL, 0, "multus-daemon unreachable at %s (%s), and the DEL cannot run locally: readlink /proc/self/exe: %s",
			     c->socket_path, why, dir_problem);
		plugin.len = 0;
		buf_printf(&plugin, "%s%s" THIN_PLUGIN, dir, dir[strlen(dir) - 1] == '/' ? "" : "/");
		free(dir);
		unusable = unusable_plugin(plugin.data);
	}
	if (unusable != NULL)
		fail(CNI_TRY_AGAIN_LATER, NULL, 0, "multus-daemon unreachable at %s (%s), and the DEL cannot run locally: %s is %s: "
		     "install the thin multus binary next to multus-shim", c->socket_path, why, plugin.data, unusable);

	struct buf line = {0};
	buf_printf(&line, "multus-shim: multus-daemon unreachable at %s (%s); DEL runs locally through %s\n", c->socket_path, why, plugin.data);
	(void)write_all(STDERR_FILENO, line.data, line.len);
	buf_free(&line);

	/* argv[0] in our style: /opt/cni/bin/multus-shim runs /opt/cni/bin/multus as ".../multus". */
	struct buf name = {0};
	const char *base = strrchr(argv0, '/');
	buf_append(&name, argv0, base == NULL ? 0 : (size_t)(base - argv0 + 1));
	buf_append_str(&name, THIN_PLUGIN);
	char *child_argv[] = {name.data, NULL};

	int stdin_pipe[2];
	if (pipe2(stdin_pipe, O_CLOEXEC) != 0)
		fail(CNI_TRY_AGAIN_LATER, NULL, 0, "cannot run %s for the DEL: pipe: %s", plugin.data, strerror(errno));
	int64_t deadline = now_ms() + seconds_to_ms(c->operation_timeout_s + c->rollback_timeout_s) + EXCHANGE_SLACK_MS;
	pid_t pid = fork();
	if (pid < 0)
		fail(CNI_TRY_AGAIN_LATER, NULL, 0, "cannot run %s for the DEL: fork: %s", plugin.data, strerror(errno));
	if (pid == 0) {
		/* Its own process group, so that the deadline can kill the plugin's children with it. */
		(void)setpgid(0, 0);
		/* An ignored signal stays ignored across exec: give the plugin the default back. */
		signal(SIGPIPE, SIG_DFL);
		if (dup2(stdin_pipe[0], STDIN_FILENO) < 0)
			fail(CNI_TRY_AGAIN_LATER, NULL, 0, "cannot run %s for the DEL: dup2: %s", plugin.data, strerror(errno));
		execve(plugin.data, child_argv, environ);
		fail(CNI_TRY_AGAIN_LATER, NULL, 0, "cannot run %s for the DEL: exec: %s", plugin.data, strerror(errno));
	}
	(void)setpgid(pid, pid); /* also here: whichever of the two runs first */
	close(stdin_pipe[0]);

	/* Feed stdin without blocking: a plugin that never reads it must not hang us. */
	int flags = fcntl(stdin_pipe[1], F_GETFL);
	if (flags >= 0)
		(void)fcntl(stdin_pipe[1], F_SETFL, flags | O_NONBLOCK);
	for (size_t off = 0; off < config->len;) {
		if (wait_fd(stdin_pipe[1], POLLOUT, deadline) != 1)
			break;
		ssize_t w = write(stdin_pipe[1], config->data + off, config->len - off);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break; /* EPIPE: the plugin exited or closed stdin; its exit status tells */
		}
		off += (size_t)w;
	}
	close(stdin_pipe[1]);

	int status;
	int waited = wait_plugin(pid, deadline, &status);
	if (waited == 0) {
		/* The group: a delegate still holding our stdout would keep the runtime waiting. */
		if (kill(-pid, SIGKILL) != 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		fail(CNI_INTERNAL, NULL, 0, "the local DEL through %s did not finish within %g s and was killed", plugin.data,
		     c->operation_timeout_s + c->rollback_timeout_s + EXCHANGE_SLACK_MS / 1000.0);
	}
	if (waited < 0)
		fail(CNI_INTERNAL, NULL, 0, "the local DEL through %s: waitpid: %s", plugin.data, strerror(errno));
	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	fail(CNI_INTERNAL, NULL, 0, "the local DEL through %s was killed by signal %d (%s)", plugin.data, WTERMSIG(status),
	     strsignal(WTERMSIG(status)));
}

int main(int argc, char **argv)
{
	(void)argc;
	/* A daemon that closes early must give us EPIPE, not kill us. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fail(CNI_INTERNAL, NULL, 0, "cannot ignore SIGPIPE: %s", strerror(errno));

	struct buf config = {0};
	read_stdin(&config);
	struct shim_config c = {0};
	struct buf problem = {0};
	int problem_code = 0;
	bool config_ok = parse_config(&config, &c, &problem_code, &problem);
	if (c.cni_version != NULL)
		error_cni_version = c.cni_version; /* set only when the config is valid JSON */

	const char *command = getenv("CNI_COMMAND");
	if (command == NULL || command[0] == '\0')
		fail(CNI_INVALID_ENV, NULL, 0, "required env variables [CNI_COMMAND] missing");
	if (strcmp(command, "VERSION") == 0) {
		print_version();
		return 0;
	}
	bool del = strcmp(command, "DEL") == 0;
	if (!del && strcmp(command, "ADD") != 0 && strcmp(command, "CHECK") != 0 && strcmp(command, "GC") != 0 &&
	    strcmp(command, "STATUS") != 0)
		fail(CNI_INVALID_ENV, NULL, 0, "unknown CNI_COMMAND: %s", command);
	if (!config_ok)
		fail(problem_code, NULL, 0, "%s", problem.data);
	/* Under any name (the gate refuses multus-shim as a type; an alias reaches this binary anyway): before
	 * any socket is touched, and with no local DEL, which would run the thin plugin under the same marker. */
	const char *parent = getenv(DELEGATE_MARKER_ENV);
	if (parent != NULL && parent[0] != '\0')
		fail(CNI_INVALID_CONFIG, "MULTUS_ERR_DELEGATE_REFUSED", strlen("MULTUS_ERR_DELEGATE_REFUSED"),
		     "multus-shim was started as a delegate of Multus (" DELEGATE_MARKER_ENV "=%s in its environment): Multus never runs "
		     "itself as a network's plugin, since that network's config would choose the daemon socket it posts the request to; "
		     "use the plugin itself in the network's config", parent);

	/* CNI 1.1 DEL must succeed whenever it can, so it never waits for the daemon's readiness. */
	if (!del)
		wait_until_ready(&c);

	struct buf request = {0};
	build_cni_request(&config, &request);
	double budget_s = c.operation_timeout_s + c.rollback_timeout_s + EXCHANGE_SLACK_MS / 1000.0;
	int64_t deadline = now_ms() + seconds_to_ms(budget_s);
	struct http_response r = {0};
	char reason[320];
	if (http_exchange(c.socket_path, &request, deadline, budget_s, &r, reason, sizeof reason))
		pass_answer_through(command, &r);
	if (del)
		run_local_del(argv[0] != NULL ? argv[0] : THIN_PLUGIN, &c, &config, reason);
	fail(CNI_TRY_AGAIN_LATER, NULL, 0, "multus-daemon at %s did not answer the %s (%s): " DAEMON_HINT, c.socket_path, command, reason);
}
