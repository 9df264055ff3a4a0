/*
 * multus-native.node: the system calls Node has no binding for, as one Node-API module (ABI-stable:
 * any Node >= 18 loads it) that the SEA loads from its own directory (src/util/native.ts). Each unit
 * registers its functions on the module's exports.
 */
#ifndef MULTUS_NATIVE_H
#define MULTUS_NATIVE_H
#include <stdbool.h>
#include <node_api.h>

/* flock.c: flock(fd, exclusive) */
bool register_flock(napi_env env, napi_value exports);
/* spawn.c: spawn(file, argv, env, fds), reap(pid) */
bool register_spawn(napi_env env, napi_value exports);

#endif
