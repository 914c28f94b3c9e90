/* Internal helpers shared by the head's source files. */
#ifndef AETHER_HEAD_INTERNAL_H
#define AETHER_HEAD_INTERNAL_H

#include "aether/head.h"

/* AETHER_OK for a head built by aether_head_init. */
aether_status aether_head_check_(const aether_head *head);

/* 1 if every one of the n floats is finite. */
int aether_head_all_finite_(const float *x, size_t n);

#endif
