/*
 * dpenv.c - the data path's two calls back into its worker (dpenv.h).
 */
#include "dpenv.h"

struct rules_snapshot *
dpenv_rules(const struct dp_env *env)
{
	return env->rules(env->owner);
}

void
dpenv_conn_closed(const struct dp_env *env)
{
	env->conn_closed(env->owner);
}
