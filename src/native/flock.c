/*
 * flock(2) for Node, which has no binding for it (src/util/file-lock.ts); part of multus-native.node
 * (native.h):
 *
 *   flock(fd: number, exclusive: boolean): 0 | errno
 *
 * It only ever tries without blocking (LOCK_NB): the event loop must never wait inside the kernel.
 * 0 means the lock is held by the open file description of `fd` (so by every process that inherits
 * the descriptor, as the delegate plugins do); EWOULDBLOCK means another holder has it; any other
 * value is the errno of a failure. Waiting and deadlines are file-lock.ts's business.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <sys/file.h>
#include <node_api.h>
#include "native.h"

static napi_value lock_fd(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	int32_t fd = -1;
	bool exclusive = false;
	napi_value out;
	int rc;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
	    napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_bool(env, argv[1], &exclusive) != napi_ok) {
		napi_throw_type_error(env, NULL, "flock(fd: number, exclusive: boolean)");
		return NULL;
	}
	do {
		rc = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
	} while (rc != 0 && errno == EINTR);
	if (napi_create_int32(env, rc == 0 ? 0 : errno, &out) != napi_ok)
		return NULL;
	return out;
}

bool register_flock(napi_env env, napi_value exports)
{
	napi_value fn;
	return napi_create_function(env, "flock", NAPI_AUTO_LENGTH, lock_fd, NULL, &fn) == napi_ok &&
	       napi_set_named_property(env, exports, "flock", fn) == napi_ok;
}
