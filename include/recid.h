/*
 * Record ids: SHA-256 over a packed binary record, so the same reading has
 * the same id forever (DESIGN invariant 3). Hex only on the wire.
 */
#ifndef OUTPOST_RECID_H
#define OUTPOST_RECID_H

#include <stddef.h>

#include "reading.h"

/* Fills r->id from agent id, device, sensor, ts and value. */
void recid_reading(const char *agent_id, struct reading *r);
/*
 * For a reading stamped before the wall clock was trusted: over agent id,
 * device, sensor, boot id, r->mono_ns and value instead of ts, so that
 * correcting ts later keeps the id (DESIGN invariant 3).
 */
void recid_reading_mono(
    const char *agent_id, const char *boot_id, struct reading *r);
/* A summary's id: agent id, device, sensor, period start and length. */
void recid_summary(const char *agent_id, const char *device, const char *sensor,
    double period_start, double period_s, unsigned char out[RECORD_ID_LEN]);
/* Generic form: SHA-256 over the concatenation of the given parts. */
void
recid_sha256(const void *data, size_t len, unsigned char out[RECORD_ID_LEN]);
/* Writes 64 hex characters and a NUL into hex (65 bytes). */
void recid_hex(const unsigned char id[RECORD_ID_LEN], char hex[65]);

#endif
