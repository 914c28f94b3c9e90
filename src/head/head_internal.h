/* Internal helpers shared by the head's source files. */
#ifndef AETHER_HEAD_INTERNAL_H
#define AETHER_HEAD_INTERNAL_H

#include "aether/head.h"
#include "head/head_step.h"

/* AETHER_OK for a head built by aether_head_init. */
aether_status aether_head_check_(const aether_head *head);

#endif
