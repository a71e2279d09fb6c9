/*
 * group_int.h: internals shared by the group module's files (records.c, coordinator.c).
 */
#ifndef STRATA_GROUP_INT_H
#define STRATA_GROUP_INT_H

#include "strata/group.h"

/* A bounds-checked big-endian reader with a sticky error (records are disk bytes). */
typedef struct gc_rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool err;
} gc_rd_t;

void gc_rd_init(gc_rd_t *r, const uint8_t *p, size_t len);
int16_t gc_rd_i16(gc_rd_t *r);
int32_t gc_rd_i32(gc_rd_t *r);
int64_t gc_rd_i64(gc_rd_t *r);
/** An int16-length string copied into a new allocation; NULL for null (-1) or error. */
char *gc_rd_str(gc_rd_t *r, bool *is_null);
/** An int32-length bytes value borrowed from the input; *len -1 for null. */
const uint8_t *gc_rd_bytes(gc_rd_t *r, int32_t *len);

void gc_wr_i16(buf_t *b, int16_t v);
void gc_wr_i32(buf_t *b, int32_t v);
void gc_wr_i64(buf_t *b, int64_t v);
void gc_wr_str(buf_t *b, const char *s); /* NULL writes a null string (-1) */
void gc_wr_bytes(buf_t *b, const uint8_t *p, size_t len);

#endif
