#include <hiredis/hiredis.h>

// hiredis 0.14 (Debian's) allocates an array's element table as soon as the array's header
// arrives, for whatever count the header says: `*700170005` took 5.6 GB before one element came
// (found by Tests/Fuzz/RedisReplyFuzz.swift; hiredis 1.0 added a limit, `maxelements`). A bounded
// reader builds replies with hiredis's own functions, except that the array constructor returns
// NULL past cshim_redis_max_elements(), which the reader reports as REDIS_ERR_OOM.

/// Makes `reader` (a context's, or one of redisReaderCreate) build its replies with the bounded functions.
void cshim_bound_reader(redisReader *reader);

/// The largest array a bounded reader takes: the largest legitimate reply is an index or a log of
/// a few thousand entries.
int cshim_redis_max_elements(void);
