// SPDX-License-Identifier: MIT
/// @file real_funcs.h
/// @brief X(name, type) for each real function hooks.def names (its H, F and C lines), for
/// real.h and real.cpp to declare, define, resolve and check the pointers. Include it with X
/// defined; it has no include guard, so a file may include it several times.
#define H(file, name, op, shape, heat) X(name, VALLEY_SIG_##shape(op))
#define F(name, ret, params, args, fallback) X(name, ret params)
#define C(file, name, type) X(name, type)
#include "hooks.def"
