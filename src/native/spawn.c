/*
 * Fork-less process creation for the delegates (src/cni/exec-plugin.ts): posix_spawn(3), which
 * glibc implements with clone(CLONE_VM | CLONE_VFORK), so starting a plugin costs the same whatever
 * the size of the Node process. Node's child_process forks: the kernel copies the page tables of
 * the whole heap and every page the parent then writes is copied again (copy-on-write), ≈ 1–2 ms of
 * the daemon's CPU per delegate and a blocked event loop meanwhile (docs/performance.md).
 *
 *   spawn(file: string, argv: string[], env: string[], fds: number[]): number[] | number
 *     Starts `file` (searched in PATH when it holds no "/", as execvp does) with `argv` (argv[0]
 *     included) and exactly `env`, in a session of its own (setsid: its process group is its PID),
 *     every signal at its default disposition and none blocked (Node ignores SIGPIPE; a plugin must
 *     not inherit that) — but for glibc's two internal real-time signals (32 and 33), which its
 *     posix_spawn leaves ignored across the exec; a program's libc installs its own handlers for
 *     them when it uses them. Its fd 0, 1, 2 are fresh pipes; fds[i] becomes its fd 3 + i; nothing else
 *     crosses (every other descriptor of ours is close-on-exec). Returns [pid, stdin, stdout, stderr]
 *     (our pipe ends, close-on-exec, for net.Socket), or the errno of a failure: posix_spawn reports
 *     the exec's own error (ENOENT, EACCES, ETXTBSY) as its result.
 *   reap(pid: number): number[] | null
 *     waitpid(pid, WNOHANG): null while it runs, else [exitCode, signal] (one of them -1).
 *
 * The caller reaps: libuv waits only for the children it started itself, so nothing else takes the
 * exit status; a child stays a zombie (its PID, and its process group for a kill, not reusable)
 * until reaped.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <node_api.h>
#include "native.h"

#define MAX_INHERITED 64

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void free_strings(char **list)
{
	if (list == NULL)
		return;
	for (char **p = list; *p != NULL; p++)
		free(*p);
	free(list);
}

/* A JS array of strings as a NULL-terminated C array (NULL on a type error or no memory). */
static char **string_array(napi_env env, napi_value array)
{
	uint32_t n = 0;
	bool is_array = false;
	if (napi_is_array(env, array, &is_array) != napi_ok || !is_array || napi_get_array_length(env, array, &n) != napi_ok)
		return NULL;
	char **out = calloc((size_t)n + 1, sizeof(char *));
	if (out == NULL)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		napi_value item;
		size_t len = 0;
		if (napi_get_element(env, array, i, &item) != napi_ok || napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok)
			goto fail;
		out[i] = malloc(len + 1);
		if (out[i] == NULL || napi_get_value_string_utf8(env, item, out[i], len + 1, &len) != napi_ok || strlen(out[i]) != len)
			goto fail; /* a NUL inside a string would cut it short silently: refuse */
	}
	return out;
fail:
	free_strings(out);
	return NULL;
}

static napi_value int_value(napi_env env, int32_t v)
{
	napi_value out;
	return napi_create_int32(env, v, &out) == napi_ok ? out : NULL;
}

static napi_value js_spawn(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4];
	char *file = NULL;
	char **args = NULL, **envp = NULL;
	int inherited[MAX_INHERITED];
	uint32_t n_inherited = 0;
	int pipes[6] = { -1, -1, -1, -1, -1, -1 }; /* stdin r/w, stdout r/w, stderr r/w */
	int sources[3 + MAX_INHERITED];
	int n_sources = 0;
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	bool actions_ok = false, attr_ok = false;
	napi_value result = NULL;
	size_t len = 0;
	int err = 0;
	pid_t pid = -1;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 ||
	    napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
		napi_throw_type_error(env, NULL, "spawn(file: string, argv: string[], env: string[], fds: number[])");
		return NULL;
	}
	file = malloc(len + 1);
	args = string_array(env, argv[1]);
	envp = string_array(env, argv[2]);
	if (file == NULL || napi_get_value_string_utf8(env, argv[0], file, len + 1, &len) != napi_ok || strlen(file) != len || args == NULL || envp == NULL ||
	    napi_get_array_length(env, argv[3], &n_inherited) != napi_ok || n_inherited > MAX_INHERITED) {
		napi_throw_type_error(env, NULL, "spawn(file: string, argv: string[], env: string[], fds: number[]): bad argument");
		goto out;
	}
	for (uint32_t i = 0; i < n_inherited; i++) {
		napi_value item;
		if (napi_get_element(env, argv[3], i, &item) != napi_ok || napi_get_value_int32(env, item, &inherited[i]) != napi_ok || inherited[i] < 0) {
			napi_throw_type_error(env, NULL, "spawn: fds must be descriptors");
			goto out;
		}
	}
	if (pipe2(pipes, O_CLOEXEC) != 0 || pipe2(pipes + 2, O_CLOEXEC) != 0 || pipe2(pipes + 4, O_CLOEXEC) != 0) {
		err = errno;
		goto out;
	}
	/*
	 * Every descriptor the child gets is first duplicated above its target range (close-on-exec), so
	 * no source sits on a slot another dup2 fills first, and no dup2 maps a descriptor onto itself
	 * (that would leave it close-on-exec).
	 */
	int floor = 3 + (int)n_inherited;
	int wanted[3 + MAX_INHERITED];
	wanted[0] = pipes[0];
	wanted[1] = pipes[3];
	wanted[2] = pipes[5];
	for (uint32_t i = 0; i < n_inherited; i++)
		wanted[3 + i] = inherited[i];
	for (int i = 0; i < 3 + (int)n_inherited; i++) {
		sources[i] = fcntl(wanted[i], F_DUPFD_CLOEXEC, floor);
		if (sources[i] < 0) {
			err = errno;
			goto out;
		}
		n_sources++;
	}
	if ((err = posix_spawn_file_actions_init(&actions)) != 0)
		goto out;
	actions_ok = true;
	for (int i = 0; i < n_sources; i++)
		if ((err = posix_spawn_file_actions_adddup2(&actions, sources[i], i)) != 0)
			goto out;
	if ((err = posix_spawnattr_init(&attr)) != 0)
		goto out;
	attr_ok = true;
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	if ((err = posix_spawnattr_setsigdefault(&attr, &all)) != 0 || (err = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) != 0)
		goto out;
	err = strchr(file, '/') == NULL ? posix_spawnp(&pid, file, &actions, &attr, args, envp) : posix_spawn(&pid, file, &actions, &attr, args, envp);
	if (err != 0)
		goto out;
	/* The child's ends are its own now. */
	close(pipes[0]);
	close(pipes[3]);
	close(pipes[5]);
	pipes[0] = pipes[3] = pipes[5] = -1;
	napi_value arr;
	if (napi_create_array_with_length(env, 4, &arr) != napi_ok || napi_set_element(env, arr, 0, int_value(env, pid)) != napi_ok ||
	    napi_set_element(env, arr, 1, int_value(env, pipes[1])) != napi_ok || napi_set_element(env, arr, 2, int_value(env, pipes[2])) != napi_ok ||
	    napi_set_element(env, arr, 3, int_value(env, pipes[4])) != napi_ok) {
		/* Nothing sensible left to do with a child we cannot describe: stop it; the caller gets an error. */
		kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		err = ENOMEM;
		goto out;
	}
	pipes[1] = pipes[2] = pipes[4] = -1;
	result = arr;
out:
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (actions_ok)
		posix_spawn_file_actions_destroy(&actions);
	close_all(sources, n_sources);
	close_all(pipes, 6);
	free(file);
	free_strings(args);
	free_strings(envp);
	if (result == NULL && err != 0)
		result = int_value(env, err);
	return result;
}

static napi_value js_reap(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	int32_t pid = 0;
	int status = 0;
	pid_t got;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0) {
		napi_throw_type_error(env, NULL, "reap(pid: number)");
		return NULL;
	}
	do
		got = waitpid(pid, &status, WNOHANG);
	while (got < 0 && errno == EINTR);
	napi_value out;
	if (got == 0) {
		napi_get_null(env, &out);
		return out;
	}
	if (got < 0) {
		/* ECHILD: not our child, or already reaped; report it as gone. */
		napi_throw_error(env, NULL, "reap: no such child");
		return NULL;
	}
	int32_t code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	int32_t sig = WIFSIGNALED(status) ? WTERMSIG(status) : -1;
	if (napi_create_array_with_length(env, 2, &out) != napi_ok || napi_set_element(env, out, 0, int_value(env, code)) != napi_ok ||
	    napi_set_element(env, out, 1, int_value(env, sig)) != napi_ok)
		return NULL;
	return out;
}

bool register_spawn(napi_env env, napi_value exports)
{
	napi_value spawn_fn, reap_fn;
	return napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, js_spawn, NULL, &spawn_fn) == napi_ok &&
	       napi_set_named_property(env, exports, "spawn", spawn_fn) == napi_ok &&
	       napi_create_function(env, "reap", NAPI_AUTO_LENGTH, js_reap, NULL, &reap_fn) == napi_ok &&
	       napi_set_named_property(env, exports, "reap", reap_fn) == napi_ok;
}
