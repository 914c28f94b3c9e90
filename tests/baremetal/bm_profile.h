/* Instruction profile hooks (tests/baremetal/profile.c, AETHER_BM_PROFILE). */
#ifndef AETHER_BM_PROFILE_H
#define AETHER_BM_PROFILE_H

#if defined(AETHER_BM_PROFILE)
void bm_profile_start(void);
void bm_profile_stop(void);
void bm_profile_print(void);
#else
static inline void bm_profile_start(void)
{
}
static inline void bm_profile_stop(void)
{
}
static inline void bm_profile_print(void)
{
}
#endif

#endif
