/* multus-native.node's entry point: every unit's functions on one exports object (native.h). */
#define NAPI_VERSION 8
#include "native.h"

NAPI_MODULE_INIT()
{
	if (!register_flock(env, exports) || !register_spawn(env, exports))
		return NULL;
	return exports;
}
